"""The conductor's volume endpoint: file-backed volumes hvagent-api makes
(the file is the API's to create and remove). A volume is ``in-use``
while a block device mapping names it, else ``available``; attaching
goes through instance_action like any other. An extend of an attached
volume is its instance's ``extend_volume`` action: the agent has QEMU
grow the file and tell the guest (virDomainBlockResize)."""
import json

import oslo_messaging as messaging
import sqlalchemy as sa

from agent import exception
from agent.conductor import endpoint
from agent.conductor import lifecycle
from agent.conductor import quota
from agent.db import api as db
from agent.db import api_models
from agent.db import models as M
from agent.db import paging
from agent.objects import actions as user_actions
from agent.objects import fields as f
from agent.rpc import checks

V = api_models.Volume
ID = f.UUID()


def _volumes(s, rows):
    attached = {volume_id: (instance, status) for volume_id, instance, status
                in s.execute(sa.select(
                    M.BlockDeviceMapping.volume_id,
                    M.BlockDeviceMapping.instance_uuid,
                    M.BlockDeviceMapping.status).where(
                    M.BlockDeviceMapping.volume_id.in_(
                        [r.id for r in rows])))} if rows else {}
    return [{k: getattr(r, k) for k in (
        'id', 'name', 'project_id', 'user_id', 'size_gb', 'path')} | {
        'created_at': r.created_at.isoformat(),
        'attached_to': attached.get(r.id, (None,))[0],
        'status': _status(attached.get(r.id))}
        for r in rows]


def _status(mapping):
    """cinder's status of a volume with that (instance, mapping status),
    or None when it has no mapping."""
    if mapping is None:
        return 'available'
    return 'extending' if mapping[1] == 'extending' else 'in-use'


def _get(s, volume_id):
    row = s.get(V, volume_id)
    if row is None:
        raise exception.NotFound('Volume %s could not be found' % volume_id)
    return row


class VolumeManager(endpoint.Endpoint):
    target = messaging.Target(version='1.22')  # see conductor_rpcapi.ConductorAPI

    @checks.expects(volume_id=ID, name=f.String(max_length=255),
                 size_gb=f.Integer(min=1, max=16384),
                 path=f.String(max_length=1024))
    def volume_create(self, ctxt, volume_id, name, size_gb, path):
        """Record a volume of the caller's project (quota checked)."""
        with self._session() as s:
            quota.check(s, ctxt.project_id, {'volumes': 1})
            row = V(id=volume_id, name=name, project_id=ctxt.project_id,
                    user_id=ctxt.user_id, size_gb=size_gb, path=path,
                    created_at=M.utcnow())
            s.add(row)
            s.flush()
            return _volumes(s, [row])[0]

    @checks.expects(project_id=f.String(max_length=64, nullable=True),
                 limit=f.Integer(min=1, max=10000, nullable=True),
                 marker=f.UUID(nullable=True))
    def volume_list(self, ctxt, project_id, limit, marker):
        query = sa.select(V)
        if project_id is not None:
            query = query.where(V.project_id == project_id)
        with self._session() as s:
            return _volumes(s, paging.page(s, query, V, V.id, V.id, limit,
                                           marker))

    @checks.expects(volume_id=ID)
    def volume_show(self, ctxt, volume_id):
        with self._session() as s:
            return _volumes(s, [_get(s, volume_id)])[0]

    @checks.expects(volume_id=ID, new_size_gb=f.Integer(min=1, max=16384))
    def volume_extend(self, ctxt, volume_id, new_size_gb):
        """A volume grows (never shrinks). Detached: its new size is
        recorded (hvagent-api has grown the file). Attached: the size is
        put on its mapping (``extending``) in the same transaction as the
        instance's ``extend_volume`` action (refused with nothing changed
        while the instance is busy or in a state that forbids it) and
        cast to its agent; the volume takes it once the hypervisor grew
        it (block_device_update's ``extended``). The volume."""
        declared = user_actions.BY_NAME['extend_volume']
        with self._session() as s:
            row = s.scalar(sa.select(V).where(V.id == volume_id)
                           .with_for_update())
            if row is None:
                raise exception.NotFound(
                    'Volume %s could not be found' % volume_id)
            if new_size_gb <= row.size_gb:
                raise exception.InvalidRPCPayload(
                    'new size %d GiB: a volume only grows (it has %d GiB)'
                    % (new_size_gb, row.size_gb))
            bdm = s.scalar(sa.select(M.BlockDeviceMapping).where(
                M.BlockDeviceMapping.volume_id == volume_id))
            cast = None
            if bdm is not None:
                instance = db.instance_get(s, bdm.instance_uuid)
                lifecycle.check_allowed(instance, declared)
                info = json.loads(bdm.connection_info or '{}')
                info['size_bytes'] = str(new_size_gb << 30)
                bdm.connection_info = json.dumps(info)
                bdm.status = 'extending'    # what a restarted agent retries
                db.instance_update(s, instance.uuid,
                                   {'task_state': declared.task_state},
                                   expected_task_state=[None])
                db.action_start(s, instance.uuid, declared.name,
                                ctxt.request_id, ctxt.user_id,
                                ctxt.project_id)
                cast = (instance.host, instance.uuid)
            else:
                row.size_gb = new_size_gb   # (attached: once it grew)
            s.flush()
            volume = _volumes(s, [row])[0]
        if cast is not None:
            self.compute.extend_volume(ctxt, cast[0], cast[1],
                                       volume_id=volume_id)
        return volume

    @checks.expects(volume_id=ID)
    def volume_delete(self, ctxt, volume_id):
        """Forget an available volume; an attached one is refused."""
        with self._session() as s:
            volume = _volumes(s, [_get(s, volume_id)])[0]
            if volume['attached_to']:
                raise exception.Conflict(
                    what='Volume %s is attached to %s: an attachment'
                    % (volume_id, volume['attached_to']))
            s.delete(_get(s, volume_id))


