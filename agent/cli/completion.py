"""Shell completion for hvctl, generated from the command table."""
import argparse

SCRIPT = '''# bash completion for hvctl (generated: hvctl complete bash)
_hvctl() {
    local cur prev cmd i opts
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    cmd=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            %(pattern)s) cmd="${COMP_WORDS[i]}"; break ;;
        esac
    done
    case "$prev" in
%(values)s
    esac
    case "$cmd" in
%(options)s
    esac
    if [[ -z "$cmd" && "$cur" != -* ]]; then
        COMPREPLY=($(compgen -W "%(commands)s" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    fi
}
complete -F _hvctl hvctl'''


def _flat(args):
    for arg in args:
        yield from _flat(arg.args) if hasattr(arg, 'args') else (arg,)


def _words(args):
    """What may follow a command: its positional choices, its options."""
    flat = list(_flat(args))
    return ' '.join(
        [w for a in flat if a.positional for w in a.kwargs.get('choices', ())]
        + ['--help'] + [f for a in flat for f in _flags(a) if f[0] == '-'])


def _flags(arg):
    """--shared and --no-shared of a BooleanOptionalAction."""
    if arg.kwargs.get('action') is argparse.BooleanOptionalAction:
        return arg.flags + tuple('--no-' + f[2:] for f in arg.flags)
    return arg.flags


def _values(args):
    """A case arm per option with choices (or a file) to complete."""
    arms = {}
    for arg in _flat(args):
        if arg.positional:
            continue
        if 'choices' in arg.kwargs:
            words = ' '.join(arg.kwargs['choices'])
            reply = 'COMPREPLY=($(compgen -W "%s" -- "$cur"))' % words
        elif arg.kwargs.get('metavar') == 'FILE' or 'FileType' in repr(
                arg.kwargs.get('type')):
            reply = 'COMPREPLY=($(compgen -f -- "$cur"))'
        else:
            continue
        arms.setdefault(reply, []).extend(arg.flags)
    return ['        %s) %s; return ;;' % ('|'.join(dict.fromkeys(flags)), reply)
            for reply, flags in arms.items()]


def bash(global_options, commands):
    """The bash completion script for these global options and commands."""
    every = list(global_options) + [a for c in commands for a in c.args]
    options = ['        "") opts="%s" ;;' % _words(global_options)]
    options += ['        %s) opts="%s" ;;' % (c.name, _words(c.args))
                for c in commands]
    return SCRIPT % {
        'pattern': '|'.join(c.name for c in commands),
        'commands': ' '.join(c.name for c in commands),
        'values': '\n'.join(_values(every)),
        'options': '\n'.join(options)}
