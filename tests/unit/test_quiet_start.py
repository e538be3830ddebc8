"""A daemon's start writes nothing to stderr before its own log lines: no
warning from what its libraries import (an operator reads each line in
the journal as something to act on)."""
import subprocess
import sys

import pytest

ENTRY_POINTS = ['agent.compute.main', 'agent.conductor.main',
                'agent.scheduler.main', 'agent.api.main', 'agent.allinone',
                'agent.cli']


@pytest.mark.parametrize('module', ENTRY_POINTS)
def test_importing_an_entry_point_warns_nothing(module):
    proc = subprocess.run([sys.executable, '-c', 'import ' + module],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ''
