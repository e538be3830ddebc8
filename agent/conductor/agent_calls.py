"""What compute agents call: the conductor's agent-facing endpoint.

The agent never opens the database; it reads its instances and records
their state, faults, action events, resource reports and heartbeats here.
Served on topic ``conductor`` to controllers and compute nodes alike; a
compute node (``ctxt.host_scope``, checked by the dispatcher from the
message's signature) reads and changes only the instances and ports bound
to its own host and reports only for its own host. Anything else is
answered as if it did not exist (InstanceNotFound) or BusNotTrusted.
"""
import contextlib
import json
import logging

import oslo_messaging as messaging
import sqlalchemy as sa

from agent import context as context_mod
from agent import exception
from agent import image_refs
from agent.conductor import endpoint
from agent.conductor import images
from agent.conductor import ipam
from agent.conductor import networks
from agent.conductor import report_batcher
from agent.conductor import secgroups
from agent.db import api as db
from agent.db import api_models
from agent.db import models
from agent.db import net_models as N
from agent.db import to_objects
from agent.objects import fields as f
from agent.objects import states
from agent.rpc import checks
from agent.scheduler import claim
from agent.security import bus_auth
from agent.security import image_grants

LOG = logging.getLogger(__name__)

INSTANCE_UPDATES = f.Struct({
    'vm_state': f.Enum([s for s in states.VM_STATES if s != states.DELETED]),
    'task_state': f.Enum(states.TASK_STATES, nullable=True),
    'power_state': f.Enum(states.POWER_STATES),
    'launched_at': f.DateTime(nullable=True),
})
UUID = f.UUID()
HOST = f.String()
RESULT = f.Enum(['Success', 'Error'])
REQUEST_ID = f.String(max_length=64)
TASK_STATES = f.List(f.Enum(states.TASK_STATES, nullable=True), nullable=True)


def confine(ctxt, host):
    """A compute node may act only for its own host."""
    scope = ctxt.host_scope
    if scope is not None and host != scope:
        raise exception.BusNotTrusted(
            reason='compute:%s cannot act for host %s' % (scope, host))


@contextlib.contextmanager
def _scoped(ctxt, uuid):
    """Where the instance's host is checked in a query (host=scope), a
    compute node learns no more than that the instance is not its own."""
    try:
        yield
    except exception.InstanceNotOnHost:
        if ctxt.host_scope is None:
            raise
        raise exception.InstanceNotFound(instance=uuid) from None


def _own(s, ctxt, uuid, for_update=False):
    """The instance row, if the caller may see it: a controller any, a
    compute node only one on its host (else InstanceNotFound)."""
    row = db.instance_get(s, uuid, for_update=for_update)
    scope = ctxt.host_scope
    if scope is not None and row.host != scope:
        raise exception.InstanceNotFound(instance=uuid)
    return row


_INCOMING = (states.MIGRATION_PREPARING, states.MIGRATION_RUNNING)


def _own_or_incoming(s, ctxt, uuid):
    """``_own``, or an instance migrating live to the caller's host (its
    destination prepares its files): (row, the caller's host)."""
    row = db.instance_get(s, uuid)
    scope = ctxt.host_scope
    if scope is None or row.host == scope:
        return row, row.host
    if s.scalar(sa.select(models.Migration.id).where(
            models.Migration.instance_uuid == uuid,
            models.Migration.dest_compute == scope,
            models.Migration.status.in_(_INCOMING)).limit(1)) is None:
        raise exception.InstanceNotFound(instance=uuid)
    return row, scope


class AgentManager(endpoint.Endpoint):
    """What compute agents call (topic ``conductor``): their instances,
    operations, faults, action events, block devices, resource reports,
    heartbeats, image grants and ports."""
    target = messaging.Target(version='1.22')  # see conductor_rpcapi.ConductorAPI

    def __init__(self, engine=None, compute=None):
        super().__init__(engine, compute)
        self.reports = report_batcher.ReportBatcher(self.engine)

    @checks.expects(instance_uuid=UUID)
    def instance_get(self, ctxt, instance_uuid):
        with self._session() as s:
            return to_objects.instance(s, _own(s, ctxt, instance_uuid))

    @checks.expects(host=HOST)
    def instances_get_by_host(self, ctxt, host):
        confine(ctxt, host)
        with self._session() as s:
            return to_objects.instances(s, db.instance_list(s, host=host))

    @checks.expects(instance_uuid=UUID, updates=INSTANCE_UPDATES,
                 expected_task_state=TASK_STATES)
    def instance_update(self, ctxt, instance_uuid, updates,
                        expected_task_state):
        with self._session() as s, _scoped(ctxt, instance_uuid):
            row = db.instance_update(s, instance_uuid, updates,
                                     expected_task_state,
                                     host=ctxt.host_scope)
            return to_objects.instance(s, row)

    @checks.expects(instance_uuid=UUID)
    def instance_destroy(self, ctxt, instance_uuid):
        """Mark the instance deleted and free its claim (once)."""
        with self._session() as s:
            row = _own(s, ctxt, instance_uuid, for_update=True)
            if row.deleted:
                return
            claim.release(s, row)
            # its addresses leave its groups: the rules naming them shrink
            # (its own host's too: the agent unplugs before this call)
            peers = secgroups.peer_hosts(s, instance_uuid)
            ipam.release(s, instance_uuid)
            images.abandon(s, instance_uuid)
            db.instance_mark_deleted(s, row)
        self.refresh_hosts(ctxt, peers)
        LOG.info('Instance %s deleted', instance_uuid)

    @checks.expects(instance_uuid=UUID, message=f.String(max_length=1024),
                 details=f.String(max_length=65535, default=''),
                 host=f.String(nullable=True))
    def instance_fault_create(self, ctxt, instance_uuid, message, details,
                              host):
        with self._session() as s:
            _own(s, ctxt, instance_uuid)
            db.fault_create(s, instance_uuid, message, details,
                            ctxt.host_scope or host)

    @checks.expects(instance_uuid=UUID, request_id=REQUEST_ID,
                 event=f.String(), host=f.String(nullable=True))
    def action_event_start(self, ctxt, instance_uuid, request_id, event,
                           host):
        with self._session() as s:
            _own(s, ctxt, instance_uuid)
            event_start(s, ctxt, instance_uuid, request_id, event,
                         ctxt.host_scope or host)

    @checks.expects(instance_uuid=UUID, request_id=REQUEST_ID,
                 event=f.String(), result=RESULT,
                 traceback=f.String(max_length=65535, nullable=True))
    def action_event_finish(self, ctxt, instance_uuid, request_id, event,
                            result, traceback):
        with self._session() as s:
            _own(s, ctxt, instance_uuid)
            db.event_finish(s, instance_uuid, request_id, event, result,
                            traceback)

    # -------------------------------------- an agent operation, in two calls
    @checks.expects(instance_uuid=UUID, host=HOST, request_id=REQUEST_ID,
                 event=f.String(), expected_task_state=TASK_STATES,
                 updates=f.Struct(INSTANCE_UPDATES.fields, nullable=True))
    def operation_start(self, ctxt, instance_uuid, host, request_id, event,
                        expected_task_state, updates):
        """Begin an agent operation in one transaction and return the
        instance: it must be ``host``'s and (if given) in one of
        ``expected_task_state`` -- else InstanceNotOnHost or
        UnexpectedTaskState, and nothing is recorded; ``updates`` are
        applied and the action event is started."""
        confine(ctxt, host)
        with self._session() as s, _scoped(ctxt, instance_uuid):
            if updates:              # checked in the UPDATE's WHERE
                db.instance_update(s, instance_uuid, updates,
                                   expected_task_state, host=host,
                                   reread=False)
            # a plain row: loading an ORM object costs more than the query
            row = db.instance_read_uuid(s, instance_uuid)
            if not updates:
                if row.host != host:
                    raise exception.InstanceNotOnHost(
                        instance=instance_uuid, actual=row.host, host=host)
                if expected_task_state is not None and \
                        row.task_state not in expected_task_state:
                    raise exception.UnexpectedTaskState(
                        instance=instance_uuid, actual=row.task_state,
                        expected=', '.join(map(str, expected_task_state)))
            event_start(s, ctxt, instance_uuid, request_id, event, host)
            return to_objects.add_addresses(
                s, [to_objects.instance(s, row)])[0]

    @checks.expects(instance_uuid=UUID, request_id=REQUEST_ID, event=f.String(),
                 result=RESULT,
                 updates=f.Struct(INSTANCE_UPDATES.fields, nullable=True),
                 expected_task_state=TASK_STATES,
                 fault_message=f.String(max_length=1024, nullable=True),
                 traceback=f.String(max_length=65535, nullable=True),
                 host=f.String(nullable=True))
    def operation_finish(self, ctxt, instance_uuid, request_id, event, result,
                         updates, expected_task_state, fault_message,
                         traceback, host):
        """End an agent operation in one transaction: the final states
        (compare and swap on ``expected_task_state``), the fault if any,
        the event's result. If the swap fails nothing is recorded."""
        scope = ctxt.host_scope
        with self._session() as s, _scoped(ctxt, instance_uuid):
            if updates:
                db.instance_update(s, instance_uuid, updates,
                                   expected_task_state, host=scope,
                                   reread=False)
                if updates.get('vm_state') == states.SUSPENDED:
                    # its memory is on disk: the host's vCPUs and RAM are
                    # the scheduler's again (a resume claims them back)
                    claim.release_compute(
                        s, db.instance_read_uuid(s, instance_uuid))
            elif scope is not None:
                _own(s, ctxt, instance_uuid)
            if fault_message:
                db.fault_create(s, instance_uuid, fault_message,
                                traceback or '', scope or host)
            if event == images.SNAPSHOT_EVENT and result == 'Error':
                images.abandon(s, instance_uuid)
            db.event_finish(s, instance_uuid, request_id, event, result,
                            traceback)

    @checks.expects(instance_uuid=UUID, volume_id=UUID,
                 status=f.Enum(['attached'], nullable=True),
                 device_name=f.String(max_length=32, nullable=True),
                 destroy=f.Boolean(default=False),
                 extended=f.Boolean(default=False))
    def block_device_update(self, ctxt, instance_uuid, volume_id, status,
                            device_name, destroy, extended=False):
        """``extended`` (1.22): the hypervisor grew the volume to the size
        the mapping records for its extend: the volume's record takes
        that size (what an agent may confirm, never choose)."""
        with self._session() as s:
            _own(s, ctxt, instance_uuid)
            row = db.bdm_get(s, instance_uuid, volume_id)
            if row is None:
                return
            if destroy:
                s.delete(row)
                return
            if extended and row.status == 'extending':
                size = int(json.loads(row.connection_info or '{}').get(
                    'size_bytes') or 0) >> 30
                volume = s.get(api_models.Volume, volume_id)
                if volume is not None and size > volume.size_gb:
                    volume.size_gb = size
            if status:
                row.status = status
            if device_name:
                row.device_name = device_name

    @checks.expects(node=f.Object('ComputeNode'))
    def compute_node_update(self, ctxt, node):
        """Record a resource report; it is the agent's heartbeat too. A
        node recorded before is queued and written with others
        (report_batcher); a new one is checked and written at once."""
        confine(ctxt, node.host)
        if self.reports.accept(node):
            return
        with self._session() as s:
            db.compute_node_update(s, node)
            db.service_heartbeat(s, node.host, 'hvagent-compute')
        self.reports.learned(node)

    @checks.expects(service=f.Object('Service'))
    def service_heartbeat(self, ctxt, service):
        confine(ctxt, service.host)
        if ctxt.host_scope is not None and \
                service.binary != 'hvagent-compute':
            raise exception.BusNotTrusted(
                reason='a compute node beats only for hvagent-compute')
        with self._session() as s:
            db.service_heartbeat(s, service.host, service.binary)

    @checks.expects(instance_uuid=UUID)
    def image_grant(self, ctxt, instance_uuid):
        """A short-lived grant (agent.security.image_grants) to read the instance's
        images from hvagent-api: those of its image, kernel and ramdisk
        references (and its rescue images while it is rescued or being
        rescued) that are API image ids, each checked again to be an
        active image the instance's project sees (else ImageNotFound, and
        the build fails). None if it boots from no API image."""
        with self._session() as s:
            row, host = _own_or_incoming(s, ctxt, instance_uuid)
            owner = context_mod.RequestContext(project_id=row.project_id)
            ids = []
            refs = (row.image_ref, row.kernel_ref, row.ramdisk_ref)
            if row.vm_state == states.RESCUED or \
                    row.task_state == states.RESCUING:
                refs += (row.rescue_image_ref, row.rescue_kernel_ref,
                         row.rescue_ramdisk_ref)
            for ref in refs:
                image_id = image_refs.image_id(ref)
                if image_id is None:
                    continue
                image = s.get(api_models.Image, image_id)
                if not images.visible(image, owner) or \
                        image.status != 'active':
                    raise exception.ImageNotFound(
                        image=image_id, reason='not an image the '
                        'instance\'s project may use (any more)')
                ids.append(image_id)
            if not ids:
                return None
            return image_grants.issue(bus_auth.keyring(), instance_uuid,
                                      row.project_id, ids, host)

    # ---------------------------------------------------------------- ports
    @checks.expects(instance_uuid=UUID, host=HOST)
    def ports_bind(self, ctxt, instance_uuid, host):
        """Bind the instance's ports to ``host``; return every port of the
        host (what the agent wires, serves DHCP and filters). A compute
        node binds only its own instances to itself."""
        confine(ctxt, host)
        with self._session() as s:
            if ctxt.host_scope is not None:
                _own(s, ctxt, instance_uuid)
            s.execute(sa.update(N.Port).where(
                N.Port.instance_uuid == instance_uuid).values(host=host))
            # its addresses join its groups' members: the hosts of ports
            # whose rules name those groups learn them now
            others = secgroups.peer_hosts(s, instance_uuid) - {host}
            out = networks.host_port_objects(s, host)
        self.refresh_hosts(ctxt, others)
        return out

    @checks.expects(host=HOST)
    def ports_get_by_host(self, ctxt, host):
        confine(ctxt, host)
        with self._session() as s:
            return networks.host_port_objects(s, host)

    @checks.expects(instance_uuid=UUID, status=f.Enum(['DOWN', 'ACTIVE']))
    def ports_set_status(self, ctxt, instance_uuid, status):
        with self._session() as s:
            if ctxt.host_scope is not None:
                _own(s, ctxt, instance_uuid)
            s.execute(sa.update(N.Port).where(
                N.Port.instance_uuid == instance_uuid).values(status=status))


def event_start(s, ctxt, instance_uuid, request_id, event, host):
    action_id = db.action_id_get(s, instance_uuid, request_id)
    if action_id is None:
        # the agent acts on its own (start-up recovery, power sync)
        action_id = db.action_start(s, instance_uuid, event, request_id,
                                    ctxt.user_id, ctxt.project_id)
    db.event_start(s, action_id, event, host)
