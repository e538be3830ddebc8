"""Instance change notices: the conductor's batching publisher and the
waiting side's bookkeeping (no broker: a recording client)."""
import threading
import time

from agent.cli import change_waiter
from agent.conductor import change_notices


class RecordingAPI:
    def __init__(self, block=None, fail=False):
        self.sent, self.block, self.fail = [], block, fail

    def instances_changed(self, ctxt, uuids, busy):
        if self.block is not None:
            self.block.wait(5)
        if self.fail:
            raise OSError('broker away')
        self.sent.append((list(uuids), list(busy)))


def _until(cond, timeout=5):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_changes_while_sending_go_together_in_the_next_notice():
    gate = threading.Event()
    api = RecordingAPI(block=gate)
    pub = change_notices.Publisher(api).start()
    try:
        pub.changed({'a': True})
        time.sleep(0.05)                 # 'a' is being sent (blocked)
        for u, busy in (('b', True), ('c', None), ('b', False)):
            pub.changed({u: busy})       # the last change of b wins
        gate.set()
        _until(lambda: len(api.sent) == 2)
        assert api.sent == [(['a'], ['a']), (['b', 'c'], [])]
    finally:
        pub.stop()


def test_a_big_batch_is_split_and_a_failed_notice_is_dropped(caplog):
    api = RecordingAPI()
    pub = change_notices.Publisher(api)
    uuids = ['%04d' % i for i in range(change_notices.MAX_UUIDS + 1)]
    pub.changed(dict.fromkeys(uuids, False))
    pub.start()
    try:
        _until(lambda: len(api.sent) == 2)
        assert [len(x) for x, _ in api.sent] == [change_notices.MAX_UUIDS, 1]
        api.fail = True
        pub.changed({'x': False})
        _until(lambda: 'not sent' in caplog.text)
    finally:
        pub.stop()
    assert pub.sent == 2


def test_a_waiter_wakes_for_its_uuid_only():
    w = change_waiter.ChangeWaiter()
    mine, other = w.watch('u1'), w.watch('u2')
    w.wake(['u1', 'u3'])
    assert mine.is_set() and not other.is_set()
    w.unwatch('u1', mine)
    w.unwatch('u2', other)
    assert w._events == {}


def test_a_settle_only_waiter_sleeps_through_busy_notices():
    """Without echo a wait needs no read while a task still runs."""
    w = change_waiter.ChangeWaiter()
    settle, every = w.watch('u1', every=False), w.watch('u1')
    w.wake(['u1'], busy=['u1'])          # e.g. scheduling -> spawning
    assert every.is_set() and not settle.is_set()
    w.wake(['u1'])                       # spawning -> active, no task
    assert settle.is_set()
    before = time.monotonic()
    w.wake(['u2'], busy=['u2'])
    assert not w.watch('u2', since=before, every=False).is_set()
    assert w.watch('u2', since=before).is_set()


def test_a_notice_before_the_wait_began_is_not_missed():
    """A boot's instance may be active before its caller starts waiting:
    a notice after ``since`` sets the event at once, one before does not."""
    w = change_waiter.ChangeWaiter()
    before = time.monotonic()
    w.wake(['u1'])
    assert w.watch('u1', since=before).is_set()
    assert not w.watch('u1', since=time.monotonic()).is_set()
    assert not w.watch('u2', since=before).is_set()


def test_old_notices_are_forgotten(monkeypatch):
    w = change_waiter.ChangeWaiter()
    w.wake(['old'])
    now = time.monotonic()
    monkeypatch.setattr(change_waiter.time, 'monotonic',
                        lambda: now + change_waiter.RECENT + 1)
    w.wake(['new'])
    assert list(w._recent) == ['new']
