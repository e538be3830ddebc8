"""service.Periodic: runs on its interval, on a kick, and a burst of kicks
within ``settle`` makes one run."""
import threading

from agent.daemon import service
from tests.fixtures.waiting import assert_stays


class Runs:
    def __init__(self):
        self.count = 0
        self.ran = threading.Event()

    def __call__(self):
        self.count += 1
        self.ran.set()


def test_a_burst_of_kicks_within_settle_makes_one_run():
    runs = Runs()
    task = service.Periodic('t', 3600, runs, run_now=False, settle=0.3)
    task.start()
    try:
        for _ in range(20):          # all well within the 0.3 s settle
            task.kick()
        assert runs.ran.wait(10)
        runs.ran.clear()
        # the burst was one run; a later kick is another
        assert_stays(lambda: not runs.ran.is_set(), 0.5,
                     message='no second run without a kick')
        assert runs.count == 1
        task.kick()
        assert runs.ran.wait(10)
        assert runs.count == 2
    finally:
        task.stop()


def test_runs_at_start_and_stop_ends_a_settle_wait():
    runs = Runs()
    task = service.Periodic('t', 3600, runs, run_now=True, settle=3600)
    task.start()
    assert runs.ran.wait(10)
    task.kick()                      # now settling for an hour
    task.stop(wait=False)
    task.join(timeout=10)
    assert not task._thread.is_alive()
    assert runs.count == 1
