"""Named points where a fault test can stop a process mid-operation.

The fault tests kill the agent (SIGKILL) in the middle of a spawn, a
reboot, an attach or a delete, and check what the restarted agent repairs.
Killing at a random moment rarely lands inside an operation that takes
milliseconds, so the code marks its risky moments with ``hit('name')``
and a test starts the process with

    HVAGENT_FAILPOINTS=compute_attach_volume.done,libvirt.spawn.defined

On reaching a listed point the process writes ``failpoint <name> reached``
to stderr and then blocks that thread forever, until the test kills it.
Without the variable (every real deployment) ``hit`` is one set lookup.
The names in use: ``<event>.start`` (task_state set, nothing done) and
``<event>.done`` (the driver's work done, the final states not yet written)
for every compute manager operation, e.g. ``compute_reboot_instance.done``,
``libvirt.spawn.defined`` (domain defined, not started),
``libvirt.resize.offered`` (a resize's source: the guest stopped and its
disk offered, not reported) and ``libvirt.resize.received`` (its
destination: the disk in place, the domain not defined).

It lives in virt/ because both the drivers and the agent use it, and
dependencies point from agent/ to virt/.
"""
import os
import sys
import threading

ENV = 'HVAGENT_FAILPOINTS'
_ARMED = frozenset(filter(None, (
    p.strip() for p in os.environ.get(ENV, '').split(','))))


def hit(name: str) -> None:
    """Block forever if ``name`` is armed; return at once otherwise."""
    if name in _ARMED:
        sys.stderr.write('failpoint %s reached\n' % name)
        sys.stderr.flush()
        threading.Event().wait()
