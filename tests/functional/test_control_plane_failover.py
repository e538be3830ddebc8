"""Two conductors and two schedulers serve the same topics active-active;
one of each is killed (SIGKILL) in the middle of a boot storm, on MariaDB
and on PostgreSQL over RabbitMQ. Every boot a client asked for ends active
or in error with a fault (the survivors' sweep settles what the dead
conductor left in ``scheduling``), every client gets an answer or a clear
error, and the hosts' usage is exactly the sum of the claims held: none
leaked, none taken twice (tests.functional.boot_storm)."""
import pytest

from tests.fixtures import brokers
from tests.functional import boot_storm
from tools.fleet import cloud

CALL_TIMEOUT = 6


@pytest.mark.parametrize('backend', [
    'mysql',
    # the same storm on PostgreSQL: slow (CI's time), run with --run-slow
    pytest.param('postgresql', marks=pytest.mark.slow)])
def test_killing_a_conductor_and_a_scheduler_mid_storm_loses_no_boot(
        tmp_path, backend):
    brokers.broker_or_skip()
    fleet = cloud.Fleet(
        tmp_path, hosts=4, per_process=2, db=backend, report_interval=2,
        extra={'DEFAULT': {'rpc_call_timeout': CALL_TIMEOUT},
               # the dead conductor's boots are swept after 2 x 6 s
               'conductor': {'sweep_interval': 1,
                             'scheduling_timeout': 30}})

    def kill_one_of_each():
        for name in ('conductor-0', 'scheduler-0'):
            fleet.procs[name].kill()

    try:
        fleet.start(conductors=2, schedulers=2)
        outcome = boot_storm.run(fleet, tmp_path, kill_one_of_each)
    finally:
        fleet.stop()
    boot_storm.check(outcome)
    # two conductors (schedulers) of one host share conductor.<host>:
    # a probe the other answers still proves the link, so no heartbeat
    # was skipped and no warning logged
    for name in ('conductor-1', 'scheduler-1'):
        log = (tmp_path / ('%s.log' % name)).read_text()
        assert 'cannot reach its own queue' not in log, name
