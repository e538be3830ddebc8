"""Evacuate: rebuild the instances of a dead host on other hosts (topic
``conductor_api``, admins only; nova's evacuate).

Only from a host whose agent is down (its heartbeat older than
``service_down_time``): the admin's call says it is fenced. In one
transaction the move is recorded (a migration of type ``evacuation``), the
scheduler claims a destination for it, then the instance becomes the
destination's at once (its claim moves, the source's is released, task
``rebuilding``, action ``evacuate``) and ``rebuild_instance`` is cast
there: the destination builds the guest again from its image, as a boot
does, and reports ``evacuation_done``. The dead host keeps the move's
``cleanup_host``: when its agent comes back it finds the instance gone
elsewhere and destroys its old guest instead of starting it (nova's
``_destroy_evacuated_instances``).
"""
import logging
import uuid as uuidlib

import oslo_messaging as messaging
import sqlalchemy as sa
from oslo_config import cfg

from agent import exception
from agent.conductor import endpoint
from agent.conductor import migration_steps as steps
from agent.conductor import migrations
from agent.conductor import secgroups
from agent.db import api as db
from agent.db import models
from agent.db import net_models as N
from agent.db import to_objects
from agent.objects import fields as f
from agent.objects import states as S
from agent.rpc import checks
from agent.scheduler import claim
from agent.scheduler import rpcapi as scheduler_rpcapi

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

#: the vm_states an instance may be evacuated in
EVACUABLE = (S.ACTIVE, S.STOPPED, S.PAUSED, S.ERROR)


def _host_up(s, host):
    row = s.scalar(sa.select(models.Service).where(
        models.Service.host == host,
        models.Service.binary == 'hvagent-compute'))
    return row is not None and to_objects.service(
        row, CONF.service_down_time).up


class EvacuationManager(endpoint.Endpoint):
    target = messaging.Target(version='1.12')  # see conductor_rpcapi

    def __init__(self, engine=None, scheduler=None, compute=None):
        super().__init__(engine, compute)
        self.scheduler = scheduler or scheduler_rpcapi.SchedulerAPI()

    @checks.expects(ref=f.String(max_length=255),
                    host=f.String(max_length=255, nullable=True))
    def evacuate(self, ctxt, ref, host):
        """Rebuild ``ref`` (on a host that is down) on ``host`` (None: the
        scheduler picks); return the Migration."""
        migrations.require_admin(ctxt, 'evacuate an instance')
        with self._session() as s:
            row = db.instance_get_by_ref(s, ref)
            if row.vm_state not in EVACUABLE or row.task_state is not None:
                raise exception.InstanceInvalidState(
                    action='evacuate', instance=row.uuid,
                    vm_state=row.vm_state, task_state=row.task_state)
            if not row.host or _host_up(s, row.host):
                raise exception.MigrationPreCheckError(
                    instance=row.uuid, reason='its host %s is up: evacuate '
                    'only from a host that is down (and fenced)' % row.host)
            mig = models.Migration(
                uuid=str(uuidlib.uuid4()), instance_uuid=row.uuid,
                migration_type='evacuation', status=S.MIGRATION_ACCEPTED,
                source_compute=row.host, block_migration=False,
                request_id=ctxt.request_id, user_id=ctxt.user_id,
                project_id=ctxt.project_id)
            spec = migrations.begin_move(s, ctxt, row, mig, S.REBUILDING,
                                         'evacuate', host)
            mig_uuid, instance_uuid = mig.uuid, row.uuid
        try:
            dest = self.scheduler.select_destination_for_move(ctxt, spec)
        except Exception as e:
            self._fail(mig_uuid, 'No destination: %s' % exception.text(e))
            raise
        out, peers = self._switch(mig_uuid, dest)
        LOG.info('Evacuating %s from %s to %s', instance_uuid,
                 out.source_compute, dest)
        self.compute.rebuild_instance(ctxt, dest, instance_uuid, mig_uuid)
        self.refresh_hosts(ctxt, peers - {dest})
        return out

    def _switch(self, migration_uuid, dest):
        """The instance and its ports become ``dest``'s; the dead source
        is left to clean up when it comes back."""
        with self._session() as s:
            mig = steps.get(s, migration_uuid, for_update=True)
            steps.transition(s, mig, 'rebuild', S.MIGRATION_SWITCHED,
                             S.MIGRATION_ACCEPTED)
            instance = db.instance_get(s, mig.instance_uuid, for_update=True)
            claim.switch_over(s, mig, instance)
            s.execute(sa.update(N.Port).where(
                N.Port.instance_uuid == mig.instance_uuid).values(host=dest))
            mig.cleanup_host = mig.source_compute
            peers = secgroups.peer_hosts(s, mig.instance_uuid)
            return to_objects.migration(mig), peers

    def _fail(self, migration_uuid, reason):
        with self._session() as s:
            steps.fail_unstarted(s, migration_uuid, reason)
