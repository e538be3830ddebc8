"""The conductor's queries: every read and write of instance data.

Functions take a SQLAlchemy session (see session.session_scope) so the
conductor decides the transaction boundaries; they return model rows, and
``objects_from`` turns rows into wire objects.
"""
import collections
import json

import sqlalchemy as sa

from agent import exception
from agent.db import models
from agent.db import session as db_session
from agent.objects import states

M = models
#: instance columns a boot request may set beyond the basics
BOOT_OPTIONS = ('kernel_ref', 'ramdisk_ref', 'config_drive', 'user_data',
                'key_name', 'key_data')
#: session.info key: uuids of instances changed in the session's transaction
#: (conductor.watch wakes the waiters of each after the commit)
CHANGED_KEY = 'hvagent_changed_instances'


def mark_changed(session, uuid, busy=None):
    """Note a change of instance ``uuid`` for after the commit
    (agent.conductor.watch); ``busy``: whether a task still runs on it
    after the change (None: not known here)."""
    session.info.setdefault(CHANGED_KEY, {})[uuid] = busy


def _in(column, name):
    return column.in_(sa.bindparam(name, expanding=True))


_INSTANCES = M.Instance.__table__
_INSERT_INSTANCE = sa.insert(_INSTANCES)
_INSERT_METADATA = sa.insert(M.InstanceMetadata.__table__)
#: a row as _READ selects it, for one made without reading it back
_READ_COLUMNS = collections.namedtuple(
    'InstanceRow', [c.name for c in _INSTANCES.c] + ['flavor_name'])
# The statements of the boot path, built once: constructing a select costs
# more than running it on SQLite (~0.2 ms of CPU per query saved).
_INSTANCE = sa.select(M.Instance).where(M.Instance.uuid == sa.bindparam('u'))
_BY_REF = sa.select(M.Instance).where(
    M.Instance.deleted == 0, sa.or_(M.Instance.uuid == sa.bindparam('ref'),
                                    M.Instance.name == sa.bindparam('ref')))
# reads that only become wire objects select plain rows (columns by name),
# not ORM objects: loading entities costs more than the query
_METADATA = sa.select(M.InstanceMetadata.__table__).where(
    _in(M.InstanceMetadata.instance_uuid, 'uuids'))
_BDMS = sa.select(M.BlockDeviceMapping.__table__).where(
    _in(M.BlockDeviceMapping.instance_uuid, 'uuids')).order_by(
    M.BlockDeviceMapping.id)
_READ = sa.select(*M.Instance.__table__.c,
                  M.Flavor.name.label('flavor_name')).join(
    M.Flavor, M.Flavor.id == M.Instance.flavor_id)
_READ_BY_REF = _READ.where(
    M.Instance.deleted == 0, sa.or_(M.Instance.uuid == sa.bindparam('ref'),
                                    M.Instance.name == sa.bindparam('ref')))
_READ_LIVE = _READ.where(M.Instance.uuid == sa.bindparam('u'),
                         M.Instance.deleted == 0)
_STATE = sa.select(M.Instance.vm_state, M.Instance.task_state,
                   M.Instance.power_state).where(
    M.Instance.uuid == sa.bindparam('u'), M.Instance.deleted == 0)
_SERVICES = M.Service.__table__
_HEARTBEAT = sa.update(_SERVICES).where(
    _SERVICES.c.host == sa.bindparam('h'),
    _SERVICES.c.binary == sa.bindparam('b')).values(
    report_count=sa.func.coalesce(_SERVICES.c.report_count, 0) + 1,
    last_seen_up=sa.bindparam('now'))
_EVENTS, _ACTIONS = M.InstanceActionEvent.__table__, \
    M.InstanceAction.__table__
_EVENT_FINISH = sa.update(_EVENTS).where(
    _EVENTS.c.id == sa.bindparam('eid')).values(
    finish_time=sa.bindparam('now'), result=sa.bindparam('res'),
    traceback=sa.bindparam('tb'))
_ACTION_FINISH = sa.update(_ACTIONS).where(
    _ACTIONS.c.id == sa.bindparam('aid'),
    _ACTIONS.c.finish_time.is_(None)).values(
    finish_time=sa.bindparam('now'), result=sa.bindparam('res'),
    message=sa.bindparam('msg'))
_ACTION_START = sa.insert(_ACTIONS)
#: an event of an action starts unless the same event of that action is
#: open already (a start sent again after its first attempt committed)
_EVENT_START = sa.insert(_EVENTS).from_select(
    ['action_id', 'event', 'host', 'start_time'],
    sa.select(sa.bindparam('action_id', type_=sa.Integer),
              sa.bindparam('event', type_=sa.String),
              sa.bindparam('host', type_=sa.String),
              sa.bindparam('now', type_=sa.DateTime)).where(~sa.exists().where(
                  _EVENTS.c.action_id == sa.bindparam('action_id'),
                  _EVENTS.c.event == sa.bindparam('event'),
                  _EVENTS.c.finish_time.is_(None))))
_ACTION_ID = sa.select(M.InstanceAction.id).where(
    M.InstanceAction.instance_uuid == sa.bindparam('u'),
    M.InstanceAction.request_id == sa.bindparam('rid')).order_by(
    M.InstanceAction.id.desc()).limit(1)
_OPEN_EVENT = sa.select(
    M.InstanceActionEvent.id, M.InstanceActionEvent.action_id).join(
    M.InstanceAction,
    M.InstanceAction.id == M.InstanceActionEvent.action_id).where(
    M.InstanceAction.instance_uuid == sa.bindparam('u'),
    M.InstanceAction.request_id == sa.bindparam('rid'),
    M.InstanceActionEvent.event == sa.bindparam('event'),
    M.InstanceActionEvent.finish_time.is_(None)).order_by(
    M.InstanceActionEvent.id.desc()).limit(1)


# ---------------------------------------------------------------- flavors
def flavor_get_by_name(session, name):
    row = session.scalar(sa.select(M.Flavor).where(M.Flavor.name == name))
    if row is None:
        raise exception.FlavorNotFound(flavor=name)
    return row


def flavor_list(session):
    return session.scalars(sa.select(M.Flavor).order_by(
        M.Flavor.memory_mb, M.Flavor.name)).all()


# -------------------------------------------------------------- instances
def instance_create(session, *, uuid, name, project_id, user_id, flavor,
                    image_ref, availability_zone, hints, metadata,
                    options=None, fixed_ips=0):
    """``options``: boot options (BOOT_OPTIONS columns), all optional;
    ``fixed_ips``: how many ports the boot allocates (quota usage).
    Core INSERTs (the boot path's hottest write); returns a plain row of
    every column, with ``flavor_name``, as instance_read does."""
    now = M.utcnow()
    values = dict(dict.fromkeys(BOOT_OPTIONS), config_drive=False)
    values.update(
        options or {}, uuid=uuid, name=name, project_id=project_id,
        user_id=user_id, host=None, node=None, flavor_id=flavor.id,
        vcpus=flavor.vcpus, memory_mb=flavor.memory_mb,
        root_gb=flavor.root_gb, image_ref=image_ref,
        availability_zone=availability_zone, vm_state=states.BUILDING,
        task_state=states.SCHEDULING, power_state=states.NOSTATE,
        scheduler_hints=json.dumps(hints or {}), launched_at=None,
        deleted_at=None, deleted=0, claimed=False, compute_released=False,
        isolated=False, fixed_ips=fixed_ips, rescue_image_ref=None,
        rescue_kernel_ref=None, rescue_ramdisk_ref=None, created_at=now,
        updated_at=None)
    values['id'] = session.execute(
        _INSERT_INSTANCE, values).inserted_primary_key[0]
    if metadata:
        session.execute(_INSERT_METADATA, [
            {'instance_uuid': uuid, 'key': key, 'value': value}
            for key, value in metadata.items()])
    mark_changed(session, uuid, busy=values.get('task_state') is not None)
    return _READ_COLUMNS(**values, flavor_name=flavor.name)


def instance_get(session, uuid, for_update=False, fresh=False):
    """The instance's row (``fresh``: read anew from the database, not
    the session's copy)."""
    query = _INSTANCE.with_for_update(of=M.Instance) if for_update \
        else _INSTANCE
    row = session.scalar(query, {'u': uuid}, execution_options={
        'populate_existing': True} if fresh else {})
    if row is None:
        raise exception.InstanceNotFound(instance=uuid)
    return row


def instance_state(conn, uuid):
    """(vm_state, task_state, power_state) of a live instance, or None:
    one narrow read for waiters, who need the whole instance only once
    (``conn``: a session or a Core connection)."""
    return conn.execute(_STATE, {'u': uuid}).first()


def _the_one(rows, ref):
    """The only instance ``ref`` names among ``rows`` (at most two read)."""
    if not rows:
        raise exception.InstanceNotFound(instance=ref)
    if len(rows) > 1:
        raise exception.HVAgentError(
            'More than one instance is named %r; use its uuid' % ref)
    return rows[0]


def instance_get_by_ref(session, ref, project_id=None):
    """Find a live instance by uuid or by (unique) name."""
    query = _BY_REF.where(M.Instance.project_id == project_id) \
        if project_id else _BY_REF
    return _the_one(session.scalars(query.limit(2), {'ref': ref}).all(), ref)


def instance_read(session, ref):
    """instance_get_by_ref for reading only: a plain row of the instance's
    columns and ``flavor_name`` (for to_objects), no ORM object."""
    return _the_one(session.execute(_READ_BY_REF.limit(2),
                                    {'ref': ref}).all(), ref)


def instance_read_uuid(session, uuid):
    """instance_read by uuid alone (what agents name): the live instance's
    plain row, else InstanceNotFound."""
    row = session.execute(_READ_LIVE, {'u': uuid}).first()
    if row is None:
        raise exception.InstanceNotFound(instance=uuid)
    return row


def instance_list(session, host=None, project_id=None, deleted=False):
    query = sa.select(M.Instance).order_by(M.Instance.created_at,
                                           M.Instance.id)
    if not deleted:
        query = query.where(M.Instance.deleted == 0)
    if host is not None:
        query = query.where(M.Instance.host == host)
    if project_id is not None:
        query = query.where(M.Instance.project_id == project_id)
    return session.scalars(query).all()


def instance_count_by_vm_state(session):
    """{vm_state: number of live (not deleted) instances}."""
    return dict(session.execute(
        sa.select(M.Instance.vm_state, sa.func.count())
        .where(M.Instance.deleted == 0).group_by(M.Instance.vm_state)).all())


def _task_state_in(expected):
    expected = list(expected)
    clauses = [M.Instance.task_state.in_([s for s in expected if s])]
    if None in expected:
        clauses.append(M.Instance.task_state.is_(None))
    return sa.or_(*clauses)


def instance_update(session, uuid, updates, expected_task_state=None,
                    host=None, reread=True):
    """Apply ``updates``; with ``expected_task_state`` (a list) only if the
    current task_state is one of them, and with ``host`` only if the
    instance is on that host, atomically (compare and swap). Returns the
    row read anew, or None if ``reread`` is False."""
    session.flush()     # a Core UPDATE: pending ORM changes go first
    query = sa.update(_INSTANCES).where(M.Instance.uuid == uuid,
                                        M.Instance.deleted == 0)
    if expected_task_state is not None:
        query = query.where(_task_state_in(expected_task_state))
    if host is not None:
        query = query.where(M.Instance.host == host)
    values = dict(updates, updated_at=M.utcnow())
    mark_changed(session, uuid, busy=updates['task_state'] is not None
                 if 'task_state' in updates else None)
    if session.execute(query.values(**values)).rowcount != 1:
        row = instance_get(session, uuid, fresh=True)
        if row.deleted:
            raise exception.InstanceNotFound(instance=uuid)
        if host is not None and row.host != host:
            raise exception.InstanceNotOnHost(instance=uuid, actual=row.host,
                                              host=host)
        raise exception.UnexpectedTaskState(
            instance=uuid, actual=row.task_state,
            expected=', '.join(str(s) for s in expected_task_state))
    if not reread:
        return None
    # the UPDATE bypassed the session: read the row anew, once
    return session.scalar(_INSTANCE, {'u': uuid},
                          execution_options={'populate_existing': True})


def instance_mark_deleted(session, row):
    row.vm_state = states.DELETED
    row.task_state = None
    row.power_state = states.NOSTATE
    row.deleted = row.id
    row.deleted_at = M.utcnow()
    session.execute(sa.delete(M.BlockDeviceMapping).where(
        M.BlockDeviceMapping.instance_uuid == row.uuid))


def metadata_get(session, uuids):
    rows = session.execute(_METADATA, {'uuids': list(uuids)}).all()
    out = {u: {} for u in uuids}
    for r in rows:
        out[r.instance_uuid][r.key] = r.value
    return out


# ------------------------------------------------------------------ faults
def fault_create(session, uuid, message, details='', host=None, code=500):
    row = M.InstanceFault(instance_uuid=uuid, message=message[:1024],
                          details=(details or '')[:65535], host=host,
                          code=code)
    session.add(row)
    return row


def faults_latest(session, uuids):
    rows = session.scalars(sa.select(M.InstanceFault).where(
        M.InstanceFault.instance_uuid.in_(uuids)).order_by(
        M.InstanceFault.id)).all()
    return {r.instance_uuid: r for r in rows}


# ----------------------------------------------------------- block devices
def bdm_list(session, uuids):
    rows = session.execute(_BDMS, {'uuids': list(uuids)}).all()
    out = {u: [] for u in uuids}
    for r in rows:
        out[r.instance_uuid].append(r)
    return out


def bdm_get(session, uuid, volume_id):
    return session.scalar(sa.select(M.BlockDeviceMapping).where(
        M.BlockDeviceMapping.instance_uuid == uuid,
        M.BlockDeviceMapping.volume_id == volume_id))


def bdm_holder(session, volume_id):
    """The uuid of the instance ``volume_id`` is attached to, or None."""
    return session.scalar(sa.select(M.BlockDeviceMapping.instance_uuid)
                          .where(M.BlockDeviceMapping.volume_id == volume_id))


def bdm_create(session, uuid, volume_id, connection_info):
    """Attach ``volume_id`` to ``uuid``; VolumeInUse if it is attached
    already, here or elsewhere. What decides is the unique constraint on
    volume_id: of transactions racing past this read, one INSERT wins on
    every backend and the others fail with IntegrityError (their
    transaction is lost: see lifecycle.LifecycleManager.instance_action)."""
    holder = bdm_holder(session, volume_id)
    if holder is not None:
        raise exception.VolumeInUse(volume_id=volume_id, instance=holder)
    row = M.BlockDeviceMapping(instance_uuid=uuid, volume_id=volume_id,
                               connection_info=json.dumps(connection_info),
                               status='attaching')
    session.add(row)
    session.flush()
    return row


# ----------------------------------------------------------------- actions
def action_start(session, uuid, action, request_id, user_id, project_id,
                 result=None):
    """Record an action (finished at once with ``result``, if given) in
    one Core INSERT; returns its id."""
    now = M.utcnow()
    return session.execute(_ACTION_START, {
        'instance_uuid': uuid, 'action': action, 'request_id': request_id,
        'user_id': user_id, 'project_id': project_id, 'start_time': now,
        'finish_time': now if result else None,
        'result': result}).inserted_primary_key[0]


def action_get(session, uuid, request_id):
    row = session.scalar(sa.select(M.InstanceAction).where(
        M.InstanceAction.instance_uuid == uuid,
        M.InstanceAction.request_id == request_id).order_by(
        M.InstanceAction.id.desc()).limit(1))
    if row is None:
        raise exception.NotFound('No action %s for instance %s'
                                 % (request_id, uuid))
    return row


def action_finish(row, result, message=None):
    if row.finish_time is None:
        row.finish_time = M.utcnow()
        row.result = result
        row.message = message and message[:1024]


def action_id_get(session, uuid, request_id):
    """The id of the instance's latest action of ``request_id``, or None."""
    return session.scalar(_ACTION_ID, {'u': uuid, 'rid': request_id})


def event_start(session, action_id, event, host):
    """Add an event (started now) to an action, unless that event of the
    action is open already: one Core INSERT ... SELECT."""
    session.execute(_EVENT_START, {'action_id': action_id, 'event': event,
                                   'host': host, 'now': M.utcnow()})


def event_finish(session, uuid, request_id, event, result, traceback,
                 finish_action=True):
    """Finish the latest unfinished ``event`` of the action, and (unless
    ``finish_action`` is False: a step of a longer action, such as a move)
    the action (result 'Success' or 'Error'); in two UPDATEs after one
    read."""
    found = session.execute(_OPEN_EVENT, {
        'u': uuid, 'rid': request_id, 'event': event}).first()
    action_id = found[1] if found else action_id_get(session, uuid,
                                                     request_id)
    if action_id is None:
        raise exception.NotFound('No action %s for instance %s'
                                 % (request_id, uuid))
    now = M.utcnow()
    if found:
        session.execute(_EVENT_FINISH, {'eid': found[0], 'now': now,
                                        'res': result, 'tb': traceback})
    if not finish_action:
        return
    session.execute(_ACTION_FINISH, {
        'aid': action_id, 'now': now, 'res': result,
        'msg': None if result == 'Success' else 'Error'})


def action_list(session, uuid):
    return session.scalars(sa.select(M.InstanceAction).where(
        M.InstanceAction.instance_uuid == uuid).order_by(
        M.InstanceAction.id)).all()


# ------------------------------------------------------ services and nodes
def service_heartbeat(session, host, binary):
    """Count a heartbeat: one UPDATE; the first one adds the service."""
    if session.execute(_HEARTBEAT, {'h': host, 'b': binary,
                                    'now': M.utcnow()}).rowcount:
        return
    session.add(M.Service(host=host, binary=binary, report_count=1,
                          last_seen_up=M.utcnow(),
                          topic=binary.replace('hvagent-', '')))
    session.flush()


_HEARTBEATS = sa.update(_SERVICES).where(
    _in(_SERVICES.c.host, 'hosts'),
    _SERVICES.c.binary == sa.bindparam('b')).values(
    report_count=sa.func.coalesce(_SERVICES.c.report_count, 0) + 1,
    last_seen_up=sa.bindparam('now'))


def service_heartbeats(session, hosts, binary, now):
    """Count a heartbeat of each of ``hosts`` (existing services) in one
    UPDATE; how many rows it changed."""
    return session.execute(_HEARTBEATS, {'hosts': sorted(hosts),
                                         'b': binary, 'now': now}).rowcount


def compute_node_report(session, node_uuid, host, values, now):
    """Record a known node's report (REPORTED_NODE_FIELDS in ``values``):
    one UPDATE; False if the node is not (any more) ``host``'s."""
    return bool(session.execute(_REPORT, dict(
        values, node_uuid=node_uuid, node_host=host, now=now)).rowcount)


def compute_node_reports(session, reports, now):
    """Record known nodes' reports, ``{node uuid: (host, values)}``: one
    executemany where the driver counts its rows (MariaDB, SQLite), else
    one UPDATE each; the uuids whose row is not (any more) that host's."""
    if len(reports) > 1 and \
            session.get_bind().dialect.supports_sane_multi_rowcount:
        params = [dict(values, node_uuid=uuid, node_host=host, now=now)
                  for uuid, (host, values) in reports.items()]
        if session.execute(_REPORT, params).rowcount == len(params):
            return []
    # one by one (again, when a row went: the same values, no new bump)
    return [uuid for uuid, (host, values) in reports.items()
            if not compute_node_report(session, uuid, host, values, now)]


def record_heartbeat(engine, host, binary):
    """A controller's own heartbeat (hvagent-conductor, hvagent-scheduler),
    straight in the database; compute agents send theirs to the
    conductor."""
    with db_session.session_scope(engine) as s:
        service_heartbeat(s, host, binary)


def service_list(session):
    return session.scalars(sa.select(M.Service).order_by(
        M.Service.host, M.Service.binary)).all()


def service_set_disabled(session, host, binary, disabled, reason):
    """Disable (with ``reason``) or enable (the reason cleared) a
    service; its row. ``updated_at`` moves even when nothing else does:
    the scheduler's host cache re-reads the services changed since its
    last look (host_state._read_changed_services)."""
    row = session.scalar(sa.select(M.Service).where(
        M.Service.host == host, M.Service.binary == binary
    ).with_for_update())
    if row is None:
        raise exception.ServiceNotFound(host=host, binary=binary)
    row.disabled = disabled
    row.disabled_reason = reason if disabled else None
    row.updated_at = M.utcnow()
    session.flush()
    return row


REPORTED_NODE_FIELDS = ('hypervisor_type', 'availability_zone', 'vcpus',
                        'memory_mb', 'local_gb', 'free_ram_mb',
                        'free_disk_gb', 'cpu_load')


IDENTITY_FILE = '<state_path>/compute_node_uuid'


#: what the scheduler reads of a report (agent.scheduler.host_state): a
#: change of one of these bumps the node's generation, so schedulers read
#: the row again; free RAM, free disk and load change at every report and
#: are not read there (the usage columns are the claims')
SCHEDULED_NODE_FIELDS = ('availability_zone', 'vcpus', 'memory_mb',
                         'local_gb')
_NODES = M.ComputeNode.__table__
_GENERATION = sa.func.coalesce(_NODES.c.generation, 0)
# generation first: MySQL evaluates SET assignments left to right, with
# the values already assigned, where the others read the old row
_REPORT = sa.update(_NODES).where(
    _NODES.c.uuid == sa.bindparam('node_uuid'),
    _NODES.c.host == sa.bindparam('node_host')).ordered_values(
    (_NODES.c.generation, sa.case(
        (sa.and_(*(_NODES.c[name].is_not_distinct_from(sa.bindparam(name))
                   for name in SCHEDULED_NODE_FIELDS)), _GENERATION),
        else_=_GENERATION + 1)),
    (_NODES.c.reported_at, sa.bindparam('now')),
    *((_NODES.c[name], sa.bindparam(name)) for name in REPORTED_NODE_FIELDS))


def compute_node_update(session, node):
    """Record a resource report; the usage columns stay the claims'. A
    known node on its own host is one UPDATE; a new node is added, one
    claimed by another host refused."""
    values = {name: getattr(node, name) for name in REPORTED_NODE_FIELDS}
    if compute_node_report(session, node.uuid, node.host, values,
                           M.utcnow()):
        return
    row = session.scalar(sa.select(M.ComputeNode).where(
        M.ComputeNode.uuid == node.uuid))
    if row is None:
        other = session.scalar(sa.select(M.ComputeNode).where(
            M.ComputeNode.host == node.host))
        if other is not None:
            raise exception.ComputeHostTaken(
                host=node.host, owner=other.uuid, node=node.uuid,
                identity=IDENTITY_FILE)
        row = M.ComputeNode(uuid=node.uuid, host=node.host, generation=0,
                            vcpus_used=0, memory_mb_used=0, local_gb_used=0,
                            running_vms=0)
        session.add(row)
    elif row.host != node.host:
        raise exception.ComputeNodeHostMismatch(
            node=node.uuid, owner=row.host, host=node.host,
            identity=IDENTITY_FILE)
    if row.generation is None or any(
            getattr(row, name) != values[name]
            for name in SCHEDULED_NODE_FIELDS):
        row.generation = (row.generation or 0) + 1
    for name, value in values.items():
        setattr(row, name, value)
    row.reported_at = M.utcnow()
    session.flush()


def compute_node_list(session):
    return session.scalars(sa.select(M.ComputeNode).order_by(
        M.ComputeNode.host)).all()
