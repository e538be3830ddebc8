"""No shell command is ever built from input: every process the code starts
gets an argument list, never a command line for a shell to parse.

The scan reads the source of every Python module we ship or run (agent/,
virt/, net/, tools/) with ``ast`` and refuses ``shell=True``,
``os.system``/``os.popen``/``commands``-style helpers, and subprocess calls
whose command is a string (a literal, an f-string, ``%`` or ``.format()``),
which with ``shell=False`` would only work for one-word commands anyway.
"""
import ast
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = ('agent', 'virt', 'net', 'tools')
SUBPROCESS = {'run', 'Popen', 'call', 'check_call', 'check_output'}
FORBIDDEN = {('os', 'system'), ('os', 'popen'), ('subprocess', 'getoutput'),
             ('subprocess', 'getstatusoutput'), ('os', 'execl'),
             ('os', 'execlp'), ('os', 'spawnl'), ('os', 'spawnlp'),
             ('pty', 'spawn')}


def sources():
    files = []
    for pkg in PACKAGES:
        files += sorted((REPO / pkg).rglob('*.py'))
    # tools/ scripts without the .py suffix that are Python
    for path in sorted((REPO / 'tools').rglob('*')):
        if path.is_file() and path.suffix == '' and \
                path.read_bytes()[:40].startswith(b'#!') and \
                b'python' in path.read_bytes().split(b'\n', 1)[0]:
            files.append(path)
    return files


def _dotted(node):
    """('os', 'system') for os.system, ('subprocess', 'run') for
    subprocess.run; (None, name) for a bare name."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id, node.attr
    if isinstance(node, ast.Name):
        return None, node.id
    return None, None


def _is_string_built(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)) \
            and _is_string_built(node.left):
        return True
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == 'format')


def offences(path, root=REPO):
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        where = '%s:%d' % (path.relative_to(root), node.lineno)
        for kw in node.keywords:
            if kw.arg == 'shell' and not (
                    isinstance(kw.value, ast.Constant) and
                    kw.value.value is False):
                found.append('%s shell=%s' % (where, ast.unparse(kw.value)))
        module, name = _dotted(node.func)
        if (module, name) in FORBIDDEN:
            found.append('%s %s.%s()' % (where, module, name))
        if module == 'subprocess' and name in SUBPROCESS and node.args and \
                _is_string_built(node.args[0]):
            found.append('%s subprocess.%s(<a string command>)'
                         % (where, name))
    return found


def test_the_scan_finds_what_it_must_refuse(tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text(
        'import os, subprocess\n'
        'subprocess.run("ls " + name, shell=True)\n'
        'subprocess.Popen(f"ip link del {name}")\n'
        'subprocess.check_output("virsh %s" % name)\n'
        'os.system("rm -rf " + path)\n'
        'os.popen(cmd)\n'
        'subprocess.run(["ip", "link", "del", name])\n')
    found = offences(bad, root=tmp_path)
    assert [f.split()[0] for f in found] == [
        'bad.py:2', 'bad.py:2', 'bad.py:3', 'bad.py:4', 'bad.py:5',
        'bad.py:6'], found


def test_sources_are_found():
    files = {p.relative_to(REPO).as_posix() for p in sources()}
    assert {'virt/libvirt/disk.py', 'net/privileged.py'} <= files


@pytest.mark.parametrize('path', sources(),
                         ids=lambda p: p.relative_to(REPO).as_posix())
def test_no_shell_command_is_built(path):
    assert offences(path) == []
