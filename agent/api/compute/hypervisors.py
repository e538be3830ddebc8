"""Hosts as nova shows them at microversion 2.1: ``os-hypervisors``
(list, detail, show: admin and itsec) and ``os-availability-zone``
(every caller: the zones there are)."""
from typing import Any

from fastapi import APIRouter
from fastapi import Depends

from agent import exception
from agent.api import deps
from agent.api.compute import microversions
from agent.objects import models as object_models

router = APIRouter(prefix=microversions.PREFIX, tags=['compute'],
                   dependencies=[Depends(microversions.negotiate)])
DEFAULT_ZONE = 'nova'


def _computes(caller):
    return [i for i in deps.conductor().host_list(caller.ctxt)
            if i['service'].binary == object_models.COMPUTE_BINARY]


def hypervisor(item: dict[str, Any], detail: bool) -> dict[str, Any]:
    """nova's hypervisor (its id is the compute service's)."""
    svc, node = item['service'], item['node']
    out: dict[str, Any] = {
        'id': svc.id, 'hypervisor_hostname': svc.host,
        'state': 'up' if svc.up else 'down',
        'status': 'disabled' if svc.disabled else 'enabled'}
    if detail:
        n = node or object_models.ComputeNode(
            host=svc.host, hypervisor_type='unknown', vcpus=0,
            memory_mb=0, local_gb=0)
        out.update({
            'hypervisor_type': n.hypervisor_type, 'hypervisor_version': 1,
            'host_ip': None, 'vcpus': n.vcpus, 'vcpus_used': n.vcpus_used,
            'memory_mb': n.memory_mb, 'memory_mb_used': n.memory_mb_used,
            'local_gb': n.local_gb, 'local_gb_used': n.local_gb_used,
            'free_ram_mb': n.memory_mb - n.memory_mb_used,
            'free_disk_gb': n.local_gb - n.local_gb_used,
            'disk_available_least': n.free_disk_gb,
            'running_vms': n.running_vms, 'current_workload': 0,
            'cpu_info': '{}',
            'service': {'id': svc.id, 'host': svc.host,
                        'disabled_reason': svc.disabled_reason}})
    return out


@router.get('/os-hypervisors')
def hypervisor_list(caller: deps.Caller = deps.CALLER):
    caller.check('host:list')
    return {'hypervisors': [hypervisor(i, False) for i in _computes(caller)]}


@router.get('/os-hypervisors/detail')
def hypervisor_detail(caller: deps.Caller = deps.CALLER):
    caller.check('host:list')
    return {'hypervisors': [hypervisor(i, True) for i in _computes(caller)]}


@router.get('/os-hypervisors/{hypervisor_id}')
def hypervisor_show(hypervisor_id: str, caller: deps.Caller = deps.CALLER):
    caller.check('host:list')
    for item in _computes(caller):
        if str(item['service'].id) == hypervisor_id:
            return {'hypervisor': hypervisor(item, True)}
    raise exception.NotFound('Hypervisor %s could not be found'
                             % hypervisor_id[:64])


def zone_of(node) -> str:
    """A compute node's zone: the one it names, else ``nova``."""
    return (node and node.availability_zone) or DEFAULT_ZONE


@router.get('/os-availability-zone')
def zone_list(caller: deps.Caller = deps.CALLER):
    """The zones of the compute hosts (``nova`` for those naming none)."""
    caller.check('flavor:list')
    zones = sorted({zone_of(i['node']) for i in _computes(caller)})
    return {'availabilityZoneInfo': [
        {'zoneName': z, 'zoneState': {'available': True}, 'hosts': None}
        for z in zones]}


@router.get('/os-availability-zone/detail')
def zone_detail(caller: deps.Caller = deps.CALLER):
    """The zones with their hosts and compute services (admin, itsec)."""
    caller.check('host:list')
    zones: dict[str, dict[str, Any]] = {}
    for item in _computes(caller):
        svc, node = item['service'], item['node']
        zone = zone_of(node)
        zones.setdefault(zone, {})[svc.host] = {svc.binary: {
            'available': svc.up and not svc.disabled,
            'active': not svc.disabled,
            'updated_at': svc.updated_at and svc.updated_at.strftime(
                '%Y-%m-%dT%H:%M:%S.%f')}}
    return {'availabilityZoneInfo': [
        {'zoneName': z, 'zoneState': {'available': True}, 'hosts': hosts}
        for z, hosts in sorted(zones.items())]}
