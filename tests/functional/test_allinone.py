"""hvagent-allinone on embedded defaults: the README's first command."""
import os
import subprocess
import sys

BIN = os.path.dirname(sys.executable)


def test_allinone_boots_prints_console_and_exits_0(tmp_path):
    conf = tmp_path / 'hvagent.conf'
    conf.write_text('[DEFAULT]\nstate_path = %s\n' % tmp_path)
    proc = subprocess.run(
        [os.path.join(BIN, 'hvagent-allinone'), '--config-file', str(conf),
         '--name', 'demo<&;>'], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for line in ('building  task_state=scheduling',
                 'active    task_state=None',
                 '--- console ---', 'deleted'):
        assert line in out, out
    assert out.index('scheduling') < out.index('active') < \
        out.index('--- console ---') < out.index('deleted')
    assert 'demo<&;>' in out.split('--- console ---')[1]
    assert (tmp_path / 'hvagent.sqlite').exists()
    # a second run on the same state works as well (idempotent set-up)
    again = subprocess.run(
        [os.path.join(BIN, 'hvagent-allinone'), '--config-file', str(conf)],
        capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stdout + again.stderr
