"""nova's shapes of servers, flavors and key pairs (microversion 2.1),
built from the conductor's objects. Pure: no I/O."""
import datetime
import hashlib
from typing import Any

from agent.objects import states

#: nova's status for each vm_state (task_state refines a few, below)
STATUS = {states.BUILDING: 'BUILD', states.ACTIVE: 'ACTIVE',
          states.STOPPED: 'SHUTOFF', states.PAUSED: 'PAUSED',
          states.ERROR: 'ERROR', states.DELETED: 'DELETED',
          states.RESIZED: 'VERIFY_RESIZE', states.SUSPENDED: 'SUSPENDED',
          states.RESCUED: 'RESCUE'}
TASK_STATUS = {states.REBOOTING: 'REBOOT', states.REBOOTING_HARD:
               'HARD_REBOOT', states.MIGRATING: 'MIGRATING',
               states.REBUILDING: 'REBUILD',
               states.REBUILD_SPAWNING: 'REBUILD',
               states.RESIZE_PREP: 'RESIZE',
               states.RESIZE_MIGRATING: 'RESIZE',
               states.RESIZE_FINISH: 'RESIZE',
               states.RESIZE_REVERTING: 'REVERT_RESIZE'}
#: nova's power_state numbers
POWER = {states.NOSTATE: 0, states.RUNNING: 1, states.PAUSED_POWER: 3,
         states.SHUTDOWN: 4, states.CRASHED: 6}


def timestamp(when: datetime.datetime | None) -> str | None:
    """nova's form: 2026-12-07T03:04:05Z (naive datetimes are UTC)."""
    return when.strftime('%Y-%m-%dT%H:%M:%SZ') if when else None


def status(vm_state: str, task_state: str | None) -> str:
    if task_state == states.REBUILD_SPAWNING:   # whatever it was before
        return 'REBUILD'
    if vm_state == states.ACTIVE and task_state in TASK_STATUS:
        return TASK_STATUS[task_state]
    return STATUS.get(vm_state, 'UNKNOWN')


def links(base: str, kind: str, ident: str) -> list[dict[str, str]]:
    return [{'rel': 'self', 'href': '%s/compute/v2.1/%s/%s'
             % (base, kind, ident)},
            {'rel': 'bookmark', 'href': '%s/compute/%s/%s'
             % (base, kind, ident)}]


def host_id(project_id: str, host: str | None) -> str:
    """nova's opaque hostId: the same for a project's servers on one
    host, telling nothing of the host's name."""
    if not host:
        return ''
    return hashlib.sha224((project_id + host).encode()).hexdigest()


def addresses(ports: list[Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for port in ports:
        entries = out.setdefault(port.network.name, [])
        entries.append({'version': 6 if ':' in port.ip_address else 4,
                        'addr': port.ip_address,
                        'OS-EXT-IPS:type': 'fixed',
                        'OS-EXT-IPS-MAC:mac_addr': port.mac_address})
        if port.floating_ip is not None:
            entries.append({'version': 4,
                            'addr': port.floating_ip.address,
                            'OS-EXT-IPS:type': 'floating',
                            'OS-EXT-IPS-MAC:mac_addr': port.mac_address})
    return out


def server_summary(inst: Any, base: str) -> dict[str, Any]:
    return {'id': inst.uuid, 'name': inst.name,
            'links': links(base, 'servers', inst.uuid)}


def server(inst: Any, ports: list[Any], base: str,
           admin: bool) -> dict[str, Any]:
    """A server's detail; ``admin`` adds the host attributes."""
    groups = sorted({g.name for p in ports for g in p.security_groups})
    out = dict(server_summary(inst, base), **{
        'status': status(inst.vm_state, inst.task_state),
        'tenant_id': inst.project_id, 'user_id': inst.user_id,
        'metadata': inst.metadata,
        'hostId': host_id(inst.project_id, inst.host),
        'image': {'id': inst.image_ref,
                  'links': [{'rel': 'bookmark', 'href': '%s/compute/images/%s'
                             % (base, inst.image_ref)}]}
        if inst.image_ref else '',
        'flavor': {'id': str(inst.flavor.id), 'links': links(
            base, 'flavors', str(inst.flavor.id))[1:]},
        'created': timestamp(inst.created_at),
        'updated': timestamp(inst.updated_at or inst.created_at),
        'addresses': addresses(ports),
        'accessIPv4': '', 'accessIPv6': '',
        'OS-DCF:diskConfig': 'MANUAL',
        'progress': 0,
        'OS-EXT-AZ:availability_zone': inst.availability_zone or '',
        'config_drive': 'True' if inst.config_drive else '',
        'key_name': inst.key_name,
        'OS-SRV-USG:launched_at': timestamp(inst.launched_at),
        'OS-SRV-USG:terminated_at': timestamp(inst.deleted_at),
        'OS-EXT-STS:task_state': inst.task_state,
        'OS-EXT-STS:vm_state': inst.vm_state,
        'OS-EXT-STS:power_state': POWER.get(inst.power_state, 0),
        'os-extended-volumes:volumes_attached': [
            {'id': b.volume_id} for b in inst.block_devices],
        'security_groups': [{'name': g} for g in groups],
    })
    if inst.isolated:
        # hvagent's own, only while itsec's quarantine (the isolate
        # action) holds: nova's strict clients (Tempest) refuse keys
        # they do not know
        out['hvagent:isolated'] = True
    if inst.fault is not None:
        out['fault'] = {'code': inst.fault.code,
                        'message': inst.fault.message,
                        'created': timestamp(inst.fault.created_at)}
    if admin:
        out.update({'OS-EXT-SRV-ATTR:host': inst.host,
                    'OS-EXT-SRV-ATTR:hypervisor_hostname': inst.node,
                    'OS-EXT-SRV-ATTR:instance_name': 'instance-' + inst.uuid})
    return out


def flavor(fl: Any, base: str, detail: bool = True) -> dict[str, Any]:
    ident = str(fl.id)
    out: dict[str, Any] = {'id': ident, 'name': fl.name,
                           'links': links(base, 'flavors', ident)}
    if detail:
        out.update({'vcpus': fl.vcpus, 'ram': fl.memory_mb,
                    'disk': fl.root_gb, 'swap': '',
                    'OS-FLV-EXT-DATA:ephemeral': fl.ephemeral_gb,
                    'OS-FLV-DISABLED:disabled': False,
                    'os-flavor-access:is_public': fl.is_public,
                    'rxtx_factor': 1.0})
    return out


def keypair(kp: dict[str, Any], view: str = 'list') -> dict[str, Any]:
    """nova 2.1's key pair (``type`` came with 2.2) as a list item, the
    create answer (``view='create'``: its user, the private key of a
    generated pair) or a show (``view='show'``: the record's fields)."""
    out = {'name': kp['name'], 'public_key': kp['public_key'],
           'fingerprint': kp['fingerprint']}
    if view in ('create', 'show'):
        out['user_id'] = kp['user_id']
    if view == 'show':
        out.update({'id': kp.get('id'), 'created_at': kp.get('created_at'),
                    'updated_at': None, 'deleted': False,
                    'deleted_at': None})
    if kp.get('private_key'):
        out['private_key'] = kp['private_key']
    return out
