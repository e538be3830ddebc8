"""The conductor's notices of changed instances: a fanout cast to every
process that waits on instances (hvctl --wait, the fleet's clients), so a
waiter wakes when its instance changes instead of holding one of the
conductor's handler threads in a long poll (instance_wait).

A notice names only instance uuids, and which of them still have a task
running after the change (``busy``: a waiter for a settled state need not
read those; it reads the instance itself, in its own scope). A notice is
signed as a controller, and only controllers' broker users can read or
write the fanout exchange (a compute node's permissions reach
``compute_fanout`` only: agent.security.broker_perms).

Version history:
  1.0 - instances_changed(uuids, busy)
"""
from agent.rpc import clients

TOPIC = 'instance_changes'


class ChangesAPI(clients.Client):
    TOPIC = TOPIC
    VERSION = '1.0'
    SERVICE = 'conductor'

    def instances_changed(self, ctxt, *, uuids, busy):
        self._fanout(ctxt, 'instances_changed', uuids=uuids, busy=busy)
