"""Deferred, batched deletion of port devices.

Deleting a link makes the kernel wait for an RCU grace period before it
answers (rcu_barrier() in netdev_run_todo): ~18 ms here for one tap, and
about as long for fifty deleted in one request. A guest's port is of no use
once it is off its bridge and down, so unplugging does only that, in one
netlink request (~0.1 ms), and puts the device in link group ``GROUP``; a
thread then deletes the whole group at once (``ip link del group``),
however many ports went meanwhile, off the caller's path.

Nothing is lost if the agent dies first: a device left in ``GROUP`` is
off every bridge and down, and the next pass (``kick()`` at start) deletes
it. A port plugged again under the same name while its old device waits
is given a new device after ``flush()``: a device is never taken back out
of the group, so the thread can never delete one that is in use.
"""
import logging
import threading
import time

from net import boundary
from net import model

LOG = logging.getLogger(__name__)
#: link group of devices waiting for deletion ('hv'); never one's own
GROUP = model.DISCARD_GROUP
IDLE_EXIT = 2.0                 # s the thread waits for work, then ends


class Reaper:
    """The deletion thread of one network namespace (None: ours)."""

    def __init__(self, netns=None):
        self.netns = netns
        self._cond = threading.Condition()
        self._asked = self._done = 0       # passes asked for / finished
        self._thread = None
        self.passes = 0                    # deletion requests the kernel ran
        self.seconds = 0.0                 # ... and the time they took

    def discard(self, name):
        """Take ``name`` off its bridge, down, and have it deleted soon;
        False if there is no such link."""
        if not boundary.link_discard(name, GROUP, self.netns):
            return False
        self.kick()
        return True

    def kick(self):
        """Ask for a pass: everything in GROUP now will be deleted."""
        with self._cond:
            self._asked += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, daemon=True,
                    name='net-reaper-%s' % (self.netns or 'host'))
                self._thread.start()
            self._cond.notify_all()

    def flush(self, timeout=30.0):
        """Delete what is in GROUP now (discarded by this or an earlier
        run) and wait for it; False on timeout."""
        self.kick()
        with self._cond:
            target = self._asked
            return self._cond.wait_for(lambda: self._done >= target, timeout)

    def _run(self):
        while True:
            with self._cond:
                if not self._cond.wait_for(lambda: self._asked > self._done,
                                           IDLE_EXIT):
                    self._thread = None
                    return
                target = self._asked
            start = time.monotonic()
            try:
                boundary.link_del_group(GROUP, self.netns)
                self.passes += 1
                self.seconds += time.monotonic() - start
            except boundary.NetError as exc:
                # left in the group, off every bridge: the next pass
                # deletes them; a namespace that is gone took them along
                LOG.warning('Deleting discarded port devices: %s', exc)
            with self._cond:
                self._done = target
                self._cond.notify_all()
