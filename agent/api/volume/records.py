"""What Block Storage does with volumes: sparse raw files in ``[api]
volume_dir`` made and removed here, recorded (and quota-checked) by the
conductor; attached to and detached from instances through the agent."""
import os
import uuid

from oslo_config import cfg

from agent import exception
from agent.api import deps
from agent.api.compute import instances
from agent.objects import actions as user_actions

CONF = cfg.CONF


def fetch(caller, volume_id, rule):
    volume = deps.conductor().volume_show(caller.ctxt,
                                          volume_id=str(volume_id))
    caller.guard({'project_id': volume['project_id'],
                  'user_id': volume['user_id']}, 'volume:show', rule,
                 exception.NotFound('Volume %s could not be found'
                                    % volume_id))
    return volume


def new_volume(caller, name, size_gb):
    caller.check('volume:create')
    volume_id = str(uuid.uuid4())
    path = os.path.join(os.path.abspath(CONF.api.volume_dir), volume_id)
    volume = deps.conductor().volume_create(
        caller.ctxt, volume_id=volume_id, name=name, size_gb=size_gb,
        path=path)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'xb') as f:
            f.truncate(size_gb << 30)
    except OSError:
        deps.conductor().volume_delete(caller.ctxt, volume_id=volume_id)
        raise
    return volume


def extend(caller, volume_id, new_size_gb):
    """Grow a volume of the caller's (volume:extend): a detached one's
    file here, then the record; an attached one's record and its
    instance's extend_volume action (the agent's hypervisor grows the
    file and the guest sees it). The volume as the conductor has it."""
    volume = fetch(caller, volume_id, 'volume:extend')
    if new_size_gb <= volume['size_gb']:
        raise exception.InvalidRPCPayload(
            'New size for extend must be greater than current size '
            '(%d GiB)' % volume['size_gb'])
    if not volume['attached_to']:
        with open(volume['path'], 'r+b') as f:    # sparse: only grows
            f.seek(0, os.SEEK_END)
            if f.tell() < new_size_gb << 30:
                f.truncate(new_size_gb << 30)
    return deps.conductor().volume_extend(
        caller.ctxt, volume_id=str(volume_id), new_size_gb=new_size_gb)


def remove(caller, volume_id):
    volume = fetch(caller, volume_id, 'volume:delete')
    deps.conductor().volume_delete(caller.ctxt, volume_id=str(volume_id))
    try:
        os.unlink(volume['path'])
    except FileNotFoundError:
        pass


def attachment(caller, server_id, volume_id, action):
    """Attach (``attach_volume``) or detach one of the server's project's
    volumes through the agent; the instance."""
    inst = instances.fetch(caller, server_id,
                         user_actions.BY_NAME[action].rule)
    volume = fetch(caller, volume_id, 'volume:show')
    if volume['project_id'] != inst.project_id:
        raise exception.Conflict(what='Volume %s is of another project; '
                                 'an attachment' % volume_id)
    info = {'driver_volume_type': 'file', 'format': 'raw',
            'path': volume['path']} if action == 'attach_volume' else {}
    return deps.conductor().instance_action(
        caller.ctxt, ref=inst.uuid, action=action, volume_id=volume['id'],
        connection_info=info)


