"""The compute manager's snapshot (nova's createImage): the instance's
root disk into the image the conductor recorded for it (``saving``,
agent.conductor.snapshots), uploaded to hvagent-api with the
conductor's upload grant for that one image.

The grant is asked first: with no image saving (its owner deleted it, or
a first attempt uploaded it before the agent was killed) there is
nothing to copy, and the snapshot ends. A restarted agent runs it again
(recovery: task ``image_snapshot``); the driver drops a copy left
behind. A failure (SnapshotFailed: a full disk, the quota, a refusal of
the API) leaves the instance as it was, with the fault; the conductor
removes the image.
"""
import logging

from agent.objects import actions as user_actions
from agent.objects import fields as f
from agent.rpc import checks
from virt import driver as virt_driver

LOG = logging.getLogger(__name__)
UUID = f.UUID()


class SnapshotMixin:
    """Mixed into ComputeManager (uses its driver, conductor and _run)."""

    @checks.expects(instance_uuid=UUID)
    def snapshot_instance(self, ctxt, instance_uuid):
        def snapshot(ctxt, instance):
            granted = self.conductor.image_upload_grant(
                ctxt, instance_uuid=instance.uuid)
            if granted is None:
                LOG.info('Snapshot of %s: no image is saving (uploaded '
                         'already, or deleted); nothing to do',
                         instance.uuid)
            else:
                self.driver.snapshot(instance.uuid, virt_driver.SnapshotTarget(
                    granted['image_id'], granted['grant']))
            return {'power_state': self.driver.get_info(
                instance.uuid).power_state}
        self._run(ctxt, instance_uuid, 'snapshot_instance',
                  user_actions.task_states_of('snapshot_instance'), snapshot,
                  capability='supports_snapshot')
