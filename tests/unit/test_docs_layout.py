"""The documentation cannot go stale silently.

docs/layout.md names every package and module of agent/, virt/ and net/
(a package as ``agent/api/``, a module as ``agent/api/app.py``, each in
backquotes); every relative link in README.md and docs/*.md points to a
file that exists.
"""
import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parents[2]
LAYOUT = REPO / 'docs' / 'layout.md'
TOPS = ('agent', 'virt', 'net')
#: a path under one of TOPS written in backquotes
MENTION = re.compile(r'`((?:%s)/[\w./]*)`' % '|'.join(TOPS))
#: [text](target) outside code; images ![..](..) alike
LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')
FENCE = re.compile(r'^(```|~~~).*?^\1', re.M | re.S)
CODE_SPAN = re.compile(r'`[^`\n]*`')


def source_tree(root=REPO):
    """Every package (``dir/``: a directory holding Python files) and every
    module (``.py`` but ``__init__.py``) under TOPS, relative to root."""
    found = set()
    for top in TOPS:
        for path in (root / top).rglob('*.py'):
            rel = path.relative_to(root)
            if '__pycache__' in rel.parts:
                continue
            parent = rel.parent
            while parent != pathlib.Path('.'):
                found.add(parent.as_posix() + '/')
                parent = parent.parent
            if path.name != '__init__.py':
                found.add(rel.as_posix())
    return found


def mentioned(text):
    return set(MENTION.findall(text))


def layout_problems(tree, text):
    """What docs/layout.md lacks and what it names that is gone, as lines
    telling what to add or remove."""
    named = mentioned(text)
    problems = ['add a row for `%s` (what it does, one line)' % p
                for p in sorted(tree - named)]
    problems += ['remove or rename `%s`: it no longer exists' % p
                 for p in sorted(named - tree)]
    return problems


def relative_links(text):
    """Link targets that are files of this repository (no scheme, no
    mail address, no bare anchor), the anchor dropped."""
    text = CODE_SPAN.sub('', FENCE.sub('', text))
    for target in LINK.findall(text):
        if re.match(r'^[a-z][a-z0-9+.-]*:', target, re.I) or \
                target.startswith('#'):
            continue
        yield target.split('#', 1)[0]


def broken_links(doc):
    return ['%s: link to %s, which does not exist'
            % (doc.relative_to(REPO), target)
            for target in relative_links(doc.read_text())
            if not (doc.parent / target).exists()]


def documents():
    return [REPO / 'README.md'] + sorted((REPO / 'docs').glob('*.md'))


def test_layout_names_every_package_and_module():
    problems = layout_problems(source_tree(), LAYOUT.read_text())
    assert not problems, 'docs/layout.md is stale:\n' + '\n'.join(problems)


def test_layout_check_sees_additions_and_removals():
    tree = {'agent/', 'agent/a.py', 'net/'}
    text = '| `agent/` | x |\n| `agent/a.py` | y |\n| `net/gone.py` | z |'
    assert layout_problems(tree, text) == [
        'add a row for `net/` (what it does, one line)',
        'remove or rename `net/gone.py`: it no longer exists']
    assert layout_problems(tree, text.replace('net/gone.py', 'net/')) == []


def test_source_tree_lists_packages_and_modules(tmp_path):
    for rel in ('agent/__init__.py', 'agent/db/migrations/env.py',
                'net/__pycache__/x.py', 'virt/fake.py'):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text('')
    assert source_tree(tmp_path) == {
        'agent/', 'agent/db/', 'agent/db/migrations/',
        'agent/db/migrations/env.py', 'virt/', 'virt/fake.py'}


def test_relative_links_point_to_files():
    broken = [line for doc in documents() for line in broken_links(doc)]
    assert not broken, '\n'.join(broken)


def test_relative_links_skip_urls_anchors_and_code():
    text = ('[a](docs/x.md#part) [b](https://example.org) [c](#here)\n'
            '`[d](in/code.md)`\n```\n[e](in/fence.md)\n```\n'
            '[f](mailto:x@example.org) [g](../README.md)')
    assert list(relative_links(text)) == ['docs/x.md', '../README.md']
