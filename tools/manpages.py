"""Man pages of hvctl(1), the daemons (8) and hvagent.conf(5), in roff,
from the argument parsers and the oslo.config option definitions.

    tools/build-manpages OUTDIR      # OUTDIR/man1/hvctl.1.gz ...

hvctl's page is written from ``agent.cli.build_parser()`` (built from
hvctl's command table) and lists every sub-command with its help. The
daemons' pages list the oslo.config command-line options (and
hvagent-api's own); hvagent.conf(5) lists every group and option of
``agent.conf.opts.list_opts()`` with its type, default and help.
"""
import argparse
import datetime
import gzip
import pathlib
import sys

from oslo_config import cfg

from agent import cli
from agent.cli import commands
from agent.conf import opts as conf_opts
from agent.metrics import registry

DATE = datetime.date(2026, 12, 5)
CONF_FILE = '/etc/hvagent/hvagent.conf'
#: where oslo.config looks when no --config-file is given
DEFAULT_FILES = ('the first found of ~/.hvagent/hvagent.conf, '
                 '~/hvagent.conf, /etc/hvagent/hvagent.conf, '
                 '/etc/hvagent.conf')
EXIT = (('0', 'stopped cleanly (SIGTERM)'),
        ('75', 'stopped with operations still running past '
         'graceful_shutdown_timeout (EX_TEMPFAIL): the next start\'s '
         'recovery takes those instances over'),
        ('78', 'refused its configuration (EX_CONFIG), told in one log '
         'line: systemd does not restart it'))
DAEMONS = {
    'hvagent-compute': (
        'the hvagent compute node daemon',
        'runs on each hypervisor host: it serves the RPC topic '
        'compute.HOST, builds and manages the guests through the virt '
        'driver ([compute] driver: libvirt or fake), plugs their network '
        'ports and reports the host\'s resources and heartbeat to the '
        'conductor every report_interval seconds.'),
    'hvagent-conductor': (
        'the hvagent conductor',
        'owns the database: every other service and hvctl reach it over '
        'RPC. It keeps the instances, networks, quotas and the services\' '
        'heartbeats, and drives each instance operation.'),
    'hvagent-scheduler': (
        'the hvagent scheduler',
        'places new instances: it filters the compute hosts that are up '
        'and enabled, weighs them and claims resources on the chosen one.'),
    'hvagent-api': (
        'the hvagent REST API server',
        'serves the REST API on [api] bind_host and bind_port and talks to '
        'the conductor over RPC. With --bootstrap it makes --user admin of '
        '--project and exits (password from --password-file, else '
        '$HVAGENT_BOOTSTRAP_PASSWORD, else asked on the terminal).'),
    'hvagent-console-proxy': (
        'the hvagent console proxy',
        'serves the guests\' interactive consoles on [console] proxy_host '
        'and proxy_port: the browser pages (xterm.js for serial, noVNC for '
        'VNC) and WebSockets that carry a console token. It asks the '
        'conductor over RPC to check and use up each token, then relays the '
        'session to the guest\'s console server on its compute host.'),
}


def _breakable(word):
    """A long word (a URL, a list of defaults) may break after , / = ? :
    rather than overflow the line."""
    if len(word) < 30:
        return word
    for ch in ',/=?':
        word = word.replace(ch, ch + '\\:')
    return word


def esc(text):
    """Text for roff: backslashes, minus signs, no control line; long
    words get break points."""
    text = str(text).replace('\\', '\\e').replace('-', '\\-')
    text = '\n'.join(' '.join(_breakable(w) for w in line.split(' '))
                     for line in text.split('\n'))
    lines = []
    for line in text.split('\n'):
        if line.startswith(('.', "'")):
            line = '\\&' + line
        lines.append(line)
    return '\n'.join(lines)


def header(name, section, summary):
    return ['.TH %s %s %s "hvagent %s" "hvagent"'
            % (esc(name).upper(), section, DATE.isoformat(),
               registry.version()),
            # ragged right, no hyphenation: option names and URLs stay
            # whole and groff never has to stretch a line
            '.ad l', '.nh',
            '.SH NAME', '%s \\- %s' % (esc(name), esc(summary))]


def para(text):
    return ['.PP', esc(' '.join(text.split()))]


def item(term, text):
    return ['.TP', term] + ([esc(' '.join(text.split()))] if text else [])


# --- argparse ---------------------------------------------------------------

def _flags(action):
    """Bold flags with the italic metavar: ``\\fB\\-\\-flavor\\fR \\fIFLAVOR\\fR``."""
    if not action.option_strings:
        return '\\fI%s\\fR' % esc(action.metavar or action.dest)
    meta = ''
    if action.nargs != 0:
        name = action.metavar or action.dest.upper()
        if action.choices:
            name = '{%s}' % ','.join(map(str, action.choices))
        meta = ' \\fI%s\\fR' % esc(name)
    return ', '.join('\\fB%s\\fR%s' % (esc(f), meta)
                     for f in action.option_strings)


def _help(action):
    text = action.help or ''
    if action.default not in (None, False, [], argparse.SUPPRESS) and \
            action.option_strings and action.nargs != 0:
        text += ' (default: %s)' % action.default
    return text.strip()


def actions(parser, skip_help=True):
    out = []
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            continue
        if skip_help and isinstance(a, argparse._HelpAction):
            continue
        out += item(_flags(a), _help(a))
    return out


def subcommands(parser):
    """[(name, sub-parser, help)] of every sub-command, hidden ones too."""
    [sub] = [a for a in parser._actions
             if isinstance(a, argparse._SubParsersAction)]
    helps = {a.dest: a.help for a in sub._choices_actions}
    return [(name, p, helps.get(name)) for name, p in sub.choices.items()]


def usage(parser, prog):
    text = parser.format_usage().split(':', 1)[1].strip()
    text = ' '.join(text.split()).replace(prog, '', 1).strip()
    return text.replace('[-h] ', '').replace('[-h]', '').strip()


def hvctl():
    parser = cli.build_parser()
    doc = cli.__doc__.split('\n\n')
    out = header('hvctl', 1, commands.SUMMARY.split(': ', 1)[1].rstrip('.'))
    out += ['.SH SYNOPSIS', '.B hvctl', '[\\fIOPTIONS\\fR] \\fICOMMAND\\fR '
            '[\\fIARGUMENTS\\fR]']
    out += ['.SH DESCRIPTION'] + para(doc[-1]) + para(
        'Every command is listed below with its arguments; hvctl COMMAND '
        '-h prints the same.')
    out += ['.SH OPTIONS'] + actions(parser)
    out += ['.SH COMMANDS']
    for name, sub, text in subcommands(parser):
        out += ['.SS %s' % esc(name), '.B hvctl %s' % esc(name),
                esc(usage(sub, 'hvctl ' + name))]
        if text:
            out += para(text[0].upper() + text[1:] + '.')
        out += ['.RS'] + actions(sub) + ['.RE']
    out += ['.SH ENVIRONMENT'] + item(
        '\\fBHVAGENT_ENDPOINT\\fR', 'The hvagent-api URL when --endpoint '
        'is not given.')
    out += item('\\fBHVCTL_PASSWORD\\fR, \\fBHVCTL_NEW_PASSWORD\\fR',
                'Passwords of login and password when no file is given.')
    out += ['.SH FILES'] + item('\\fI%s\\fR' % CONF_FILE, 'The '
                                'configuration (transport_url, [bus]).')
    out += see_also('hvagent.conf(5)', 'hvagent-api(8)',
                    'hvagent-conductor(8)')
    return '\n'.join(out) + '\n'


# --- oslo.config -----------------------------------------------------------

def oslo_cli_actions():
    """The command-line options every daemon takes from oslo.config."""
    out = []
    for opt in cfg.ConfigOpts._make_config_options([], []):
        out += item('\\fB\\-\\-%s\\fR \\fI%s\\fR' % (
            esc(opt.dest.replace('_', '-')), esc(opt.metavar or 'VALUE')),
            opt.help.replace('%(default)s', DEFAULT_FILES))
    return out


def daemon(name):
    summary, description = DAEMONS[name]
    out = header(name, 8, summary)
    out += ['.SH SYNOPSIS', '.B %s' % esc(name),
            '[\\fB\\-\\-config\\-file\\fR \\fIPATH\\fR] '
            '[\\fB\\-\\-config\\-dir\\fR \\fIDIR\\fR]']
    if name == 'hvagent-api':
        out += ['.br', '.B %s' % esc(name), '\\fB\\-\\-bootstrap\\fR '
                '[\\fB\\-\\-user\\fR \\fIUSER\\fR] [\\fB\\-\\-project\\fR '
                '\\fIPROJECT\\fR] [\\fB\\-\\-password\\-file\\fR '
                '\\fIFILE\\fR]']
    out += ['.SH DESCRIPTION'] + para('%s %s' % (name, description))
    out += para('Its settings come from %s (see hvagent.conf(5)); under '
                'systemd it runs as the %s.service unit.' % (CONF_FILE, name))
    out += ['.SH OPTIONS']
    if name == 'hvagent-api':
        from agent.api import main as api_main
        out += actions(api_main.parser())
    out += oslo_cli_actions()
    out += ['.SH EXIT STATUS']
    for code, text in EXIT:
        out += item('\\fB%s\\fR' % code, text)
    out += ['.SH FILES'] + item('\\fI%s\\fR' % CONF_FILE, 'The '
                                'configuration.')
    out += see_also('hvagent.conf(5)', 'hvctl(1)',
                    *('%s(8)' % d for d in DAEMONS if d != name))
    return '\n'.join(out) + '\n'


def _type(opt):
    t = opt.type
    name = getattr(t, 'type_name', None) or type(t).__name__.lower()
    extra = []
    for attr, label in (('min', 'min'), ('max', 'max')):
        value = getattr(t, attr, None)
        if value is not None:
            extra.append('%s %s' % (label, value))
    choices = getattr(t, 'choices', None)
    if choices:
        extra.append('one of: %s' % ', '.join(
            str(c) for c in choices))
    return '; '.join([name] + extra)


def _default(opt):
    if opt.sample_default is not None:
        return opt.sample_default
    if opt.secret:
        return '(secret)'
    value = opt.default
    if value is None or value == '' or value == []:
        return '(none)'
    if isinstance(value, (list, tuple)):
        return ','.join(map(str, value))
    if isinstance(value, dict):
        return ','.join('%s:%s' % kv for kv in value.items())
    return str(value)


def groups():
    """[(group name, [opts])] as the sample file has them."""
    out = []
    for group, options in conf_opts.list_opts():
        name = group if isinstance(group, str) else group.name
        out.append((name, options))
    return out


def conf():
    out = header('hvagent.conf', 5, 'configuration of the hvagent services '
                 'and hvctl')
    out += ['.SH SYNOPSIS', '.I %s' % CONF_FILE]
    out += ['.SH DESCRIPTION'] + para(
        'An INI file read by hvagent-compute, hvagent-conductor, '
        'hvagent-scheduler, hvagent-api and hvctl (oslo.config: '
        '\\-\\-config\\-file adds files, \\-\\-config\\-dir a directory of '
        '*.conf files read after them). Each [group] below lists its '
        'options as name = default (type), then what the option does. The '
        'packages install it as a commented sample, every option at its '
        'default.'.replace('\\-', '-'))
    out += ['.SH OPTIONS']
    for name, options in groups():
        out += ['.SS [%s]' % esc(name)]
        for opt in options:
            term = '\\fB%s\\fR = \\fI%s\\fR (%s)' % (
                esc(opt.dest), esc(_default(opt)), esc(_type(opt)))
            text = opt.help or ''
            if opt.deprecated_for_removal:
                text += ' Deprecated for removal.'
            out += item(term, text)
    out += see_also('hvctl(1)', *('%s(8)' % d for d in DAEMONS))
    return '\n'.join(out) + '\n'


def see_also(*pages):
    return ['.SH SEE ALSO', ', '.join(
        '\\fB%s\\fR(%s)' % (esc(p.split('(')[0]), p.split('(')[1][:-1])
        for p in pages)]


def pages():
    """{'man1/hvctl.1': roff text, ...}."""
    out = {'man1/hvctl.1': hvctl(), 'man5/hvagent.conf.5': conf()}
    for name in DAEMONS:
        out['man8/%s.8' % name] = daemon(name)
    return out


def write(outdir, compress=True):
    """Write every page under ``outdir``; return the paths."""
    written = []
    for rel, text in pages().items():
        path = pathlib.Path(outdir) / (rel + ('.gz' if compress else ''))
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode()
        if compress:   # reproducible: no name, no time stamp
            data = gzip.compress(data, compresslevel=9, mtime=0)
        path.write_bytes(data)
        written.append(path)
    return written


def main(argv):
    p = argparse.ArgumentParser(prog='build-manpages', description=(
        __doc__.split('\n\n')[0]))
    p.add_argument('outdir')
    p.add_argument('--no-gzip', action='store_true',
                   help='plain roff files (no .gz)')
    args = p.parse_args(argv)
    for path in write(args.outdir, not args.no_gzip):
        print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
