"""The fleet harness (tools/fleet) runs end to end, small: simulated
hosts on the real agent, conductor and scheduler processes, RabbitMQ,
clients booting and deleting; every boot lands, on the fleet's hosts."""
import json
import subprocess
import sys

from tests.fixtures import brokers
from tools.fleet import cloud


def test_a_small_fleet_storm(tmp_path):
    brokers.broker_or_skip()
    out = subprocess.run(
        [sys.executable, '-m', 'tools.fleet', '--hosts', '4',
         '--per-process', '2', '--clients', '3', '--seconds', '4',
         '--db', 'sqlite', '--report-interval', '2', '--json',
         '--keep', str(tmp_path)],
        cwd=cloud.ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    storm = json.loads(out.stdout.splitlines()[-1])
    assert storm['boots'] > 0 and storm['failed'] == 0, storm
    assert 1 <= storm['hosts_used'] <= 4
    assert set(storm['cpu_ms_per_boot']) == {'conductor', 'scheduler',
                                            'hosts', 'load'}
    assert 'conductor CPU' in out.stdout and 'per resource report' in \
        out.stdout
