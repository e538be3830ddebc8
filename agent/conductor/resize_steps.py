"""The steps of a resize or cold migration the agents report (topic
``conductor``); the requests are agent.conductor.resizes.

  source       resize_instance: the guest stopped, its disk offered at
               the source's address -> resize_migrated: in one
               transaction the instance becomes the destination's with
               the new flavor, the destination's claim the instance's
               and the source's claim (old flavor) the migration's;
               ``finish_resize`` cast to the destination (post-migrating)
  destination  finish_resize: the guest made from the same image and
               disk, started if it ran before -> resize_finished: vm_state
               resized, task_state None                      (finished)
  confirm      (resizes.resize_confirm) the source's claim released; the
               source removes its guest and ports     (confirmed)
  revert       (resizes.resize_revert, or a failed finish_resize) the
               instance back on the source with its old flavor, the
               destination's claim released; the destination removes its
               guest (migration_cleaned), then the source starts it
               (finish_revert_resize -> resize_reverted)
                                                  (reverting -> reverted)
  either side  resize_failed: before the switch the guest stays on the
               source (error, the destination's claim released); a failed
               finish reverts to the source; a failed finish of a revert
               leaves the instance in error on the source.

A compute node is admitted only for its own side of a migration, as in
migration_steps.
"""
import logging

import oslo_messaging as messaging
import sqlalchemy as sa

from agent import exception
from agent.conductor import endpoint
from agent.conductor import migration_steps as steps
from agent.conductor import secgroups
from agent.db import api as db
from agent.db import models
from agent.db import net_models as N
from agent.db import to_objects
from agent.objects import fields as f
from agent.objects import states as S
from agent.rpc import checks
from agent.scheduler import claim
from virt import migration as virt_migration

LOG = logging.getLogger(__name__)

UUID, HOST = steps.UUID, steps.HOST
POWER = f.Enum(S.POWER_STATES)
#: the steps that can fail, with the side that reports it
FAILING = (steps.RESIZE_INSTANCE, steps.FINISH_RESIZE, steps.FINISH_REVERT)


def apply_flavor(instance, flavor):
    """The instance's size is ``flavor``'s (its resources copied in, as a
    boot does, so a release frees what the claim took)."""
    instance.flavor_id, instance.flavor = flavor.id, flavor
    instance.vcpus, instance.memory_mb = flavor.vcpus, flavor.memory_mb
    instance.root_gb = flavor.root_gb


def _ports_to(s, instance_uuid, host):
    s.execute(sa.update(N.Port).where(
        N.Port.instance_uuid == instance_uuid).values(host=host))


def switch_back(s, mig, instance, reason=None):
    """Revert ``mig`` (finished, or switched and its finish failed) in the
    caller's transaction: the instance on its source again with the old
    flavor, the destination's claim released, the destination to clean
    up; a ``reason`` makes it a failure (a fault, and the migration ends
    in error instead of reverted). Return the hosts whose port rules
    change."""
    steps.transition(s, mig, 'revert', S.MIGRATION_REVERTING,
                     S.MIGRATION_FINISHED, S.MIGRATION_SWITCHED)
    claim.switch_back(s, mig, instance)
    apply_flavor(instance, s.get(models.Flavor, mig.old_flavor_id))
    _ports_to(s, instance.uuid, mig.source_compute)
    instance.task_state = S.RESIZE_REVERTING
    mig.cleanup_host = mig.dest_compute
    if reason:
        mig.error = reason[:1024]
        db.fault_create(s, instance.uuid, reason, host=mig.dest_compute)
    return secgroups.peer_hosts(s, instance.uuid)


def _get(s, ctxt, migration_uuid, host, side):
    row = steps.get(s, migration_uuid, for_update=True)
    steps.admit(ctxt, row, host, side)
    if row.migration_type not in S.RESIZE_TYPES:
        raise exception.MigrationNotFound(migration=migration_uuid)
    return row


class ResizeSteps(endpoint.Endpoint):
    """What the source and destination agents report of a resize."""
    target = messaging.Target(version='1.14')  # see conductor_rpcapi

    @checks.expects(migration_uuid=UUID, host=HOST,
                    address=f.String(max_length=255, nullable=True))
    def resize_migrated(self, ctxt, migration_uuid, host, address=None):
        """The source stopped the guest and offers its disk at
        ``address`` (its hypervisor's, as the destination's peer_uri
        template takes it; an IP address or a host name, checked here):
        the instance is the destination's now, with its new flavor."""
        if address is not None:
            try:
                address = virt_migration.check_address(address)
            except ValueError as e:
                raise exception.InvalidRPCPayload(
                    'migration address: %s' % e) from None
        with self._session() as s:
            row = _get(s, ctxt, migration_uuid, host, steps.SOURCE)
            if row.status != S.MIGRATION_RUNNING:
                return to_objects.migration(row)    # a repeated report
            row.source_address = address
            steps.transition(s, row, 'switch', S.MIGRATION_SWITCHED,
                             S.MIGRATION_RUNNING)
            instance = db.instance_get(s, row.instance_uuid, for_update=True)
            claim.switch_over(s, row, instance, keep_source=True)
            apply_flavor(instance, s.get(models.Flavor, row.new_flavor_id))
            instance.task_state = S.RESIZE_FINISH
            _ports_to(s, row.instance_uuid, row.dest_compute)
            steps.finish_event(s, row, steps.RESIZE_INSTANCE, 'Success')
            peers = secgroups.peer_hosts(s, row.instance_uuid)
            dest, instance_uuid = row.dest_compute, row.instance_uuid
            out = to_objects.migration(row)
        LOG.info('Resize %s: %s is %s\'s now', migration_uuid,
                 instance_uuid, dest)
        self.compute.finish_resize(ctxt, dest, instance_uuid, migration_uuid)
        self.refresh_hosts(ctxt, peers - {host, dest})
        return out

    @checks.expects(migration_uuid=UUID, host=HOST, power_state=POWER)
    def resize_finished(self, ctxt, migration_uuid, host, power_state):
        """The destination made the guest: it waits for confirm or
        revert (VERIFY_RESIZE)."""
        with self._session() as s:
            row = _get(s, ctxt, migration_uuid, host, steps.DEST)
            if row.status != S.MIGRATION_SWITCHED:
                return
            steps.transition(s, row, 'finish', S.MIGRATION_FINISHED,
                             S.MIGRATION_SWITCHED)
            db.instance_update(s, row.instance_uuid, {
                'vm_state': S.RESIZED, 'task_state': None,
                'power_state': power_state},
                expected_task_state=[S.RESIZE_FINISH], reread=False)
            steps.finish_event(s, row, steps.FINISH_RESIZE, 'Success',
                               final=True)

    @checks.expects(migration_uuid=UUID, host=HOST, power_state=POWER)
    def resize_reverted(self, ctxt, migration_uuid, host, power_state):
        """The source runs the guest again (if it ran before): the
        revert is over."""
        with self._session() as s:
            row = _get(s, ctxt, migration_uuid, host, steps.SOURCE)
            if row.status != S.MIGRATION_REVERTING:
                return
            steps.transition(s, row, 'end', S.MIGRATION_ERROR if row.error
                             else S.MIGRATION_REVERTED,
                             S.MIGRATION_REVERTING)
            db.instance_update(s, row.instance_uuid, {
                'vm_state': row.old_vm_state, 'task_state': None,
                'power_state': power_state},
                expected_task_state=[S.RESIZE_REVERTING], reread=False)
            steps.finish_event(s, row, steps.FINISH_REVERT, 'Success',
                               final=not row.error)
            if row.error:
                self._finish_action(s, row, row.error)

    @checks.expects(migration_uuid=UUID, host=HOST, event=f.Enum(FAILING),
                    reason=f.String(max_length=1024),
                    traceback=f.String(max_length=65535, nullable=True))
    def resize_failed(self, ctxt, migration_uuid, host, event, reason,
                      traceback):
        """The step ``event`` failed on the side that runs it."""
        with self._session() as s:
            row = _get(s, ctxt, migration_uuid, host, steps.STEPS[event])
            instance = db.instance_get(s, row.instance_uuid, for_update=True)
            revert, peers = self._failed(s, row, instance, event, reason,
                                         traceback)
            dest, instance_uuid = row.dest_compute, row.instance_uuid
        LOG.warning('Resize %s of %s: %s failed: %s', migration_uuid,
                    instance_uuid, event, reason)
        if revert:
            self.compute.revert_resize(ctxt, dest, instance_uuid,
                                       migration_uuid)
            self.refresh_hosts(ctxt, peers - {dest})

    def _failed(self, s, row, instance, event, reason, traceback):
        """Record the failure per step; (revert?, hosts to refresh)."""
        if event == steps.RESIZE_INSTANCE:
            if row.status in S.MIGRATION_ACTIVE:
                # the guest is (started again) on the source
                steps.fail(s, row, instance, reason, event=event,
                           traceback=traceback)
                row.cleanup_host = None     # nothing made on the destination
            return False, set()
        if event == steps.FINISH_RESIZE:
            if row.status != S.MIGRATION_SWITCHED:
                return False, set()
            steps.finish_event(s, row, event, 'Error', traceback)
            return True, switch_back(s, row, instance, reason)
        if row.status == S.MIGRATION_REVERTING:     # FINISH_REVERT
            steps.transition(s, row, 'end', S.MIGRATION_ERROR,
                             S.MIGRATION_REVERTING)
            row.error = reason[:1024]
            instance.vm_state, instance.task_state = S.ERROR, None
            db.fault_create(s, instance.uuid, reason, traceback or '',
                            row.source_compute)
            steps.finish_event(s, row, event, 'Error', traceback)
            self._finish_action(s, row, reason)
        return False, set()

    @staticmethod
    def _finish_action(s, row, message):
        try:
            db.action_finish(db.action_get(s, row.instance_uuid,
                                           row.request_id), 'Error', message)
        except exception.NotFound:
            pass
