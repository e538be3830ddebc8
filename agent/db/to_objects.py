"""Rows to wire objects (the conductor answers with objects, never rows)."""
import datetime
import json

import sqlalchemy as sa

from agent import objects
from agent.db import api as db
from agent.db import models
from agent.db import net_models as N
from agent.objects import states


def flavor(row):
    return objects.Flavor(id=row.id, name=row.name, vcpus=row.vcpus,
                          memory_mb=row.memory_mb, root_gb=row.root_gb,
                          ephemeral_gb=row.ephemeral_gb,
                          is_public=row.is_public)


def _fault(row):
    return objects.InstanceFault(
        instance_uuid=row.instance_uuid, code=row.code, message=row.message,
        details=row.details or '', host=row.host, created_at=row.created_at)


def _bdm(row):
    return objects.BlockDevice(
        volume_id=row.volume_id, device_name=row.device_name,
        connection_info=json.loads(row.connection_info or '{}'),
        status=row.status)


def instances(session, rows, metadata=None, bdms=None):
    """Whole Instance objects, with at most three batched reads for any
    count (faults are read for instances in error only); ``metadata`` and
    ``bdms`` (by uuid), when the caller knows them, save their reads."""
    uuids = [r.uuid for r in rows]
    if not uuids:
        return []
    if metadata is None:
        metadata = db.metadata_get(session, uuids)
    if bdms is None:
        bdms = db.bdm_list(session, uuids)
    failed = [r.uuid for r in rows if r.vm_state == states.ERROR]
    faults = db.faults_latest(session, failed) if failed else {}
    out = []
    for r in rows:
        fault = faults.get(r.uuid)
        out.append(objects.Instance(
            uuid=r.uuid, name=r.name, project_id=r.project_id,
            user_id=r.user_id, host=r.host, node=r.node,
            availability_zone=r.availability_zone,
            flavor=objects.Flavor(
                id=r.flavor_id, name=_flavor_name(r), vcpus=r.vcpus,
                memory_mb=r.memory_mb, root_gb=r.root_gb),
            image_ref=r.image_ref, vm_state=r.vm_state,
            **{k: getattr(r, k) for k in db.BOOT_OPTIONS},
            task_state=r.task_state, power_state=r.power_state,
            isolated=bool(r.isolated), metadata=metadata[r.uuid],
            rescue_image_ref=r.rescue_image_ref,
            rescue_kernel_ref=r.rescue_kernel_ref,
            rescue_ramdisk_ref=r.rescue_ramdisk_ref,
            block_devices=[_bdm(b) for b in bdms[r.uuid]],
            fault=fault and _fault(fault), created_at=r.created_at,
            updated_at=r.updated_at, launched_at=r.launched_at,
            deleted_at=r.deleted_at))
    return out


def _flavor_name(row):
    """An ORM Instance's flavor.name, or a plain row's ``flavor_name``
    (db.instance_read)."""
    name = getattr(row, 'flavor_name', None)
    return row.flavor.name if name is None else name


def instance(session, row):
    return instances(session, [row])[0]


def action(row):
    return objects.InstanceAction(
        instance_uuid=row.instance_uuid, action=row.action,
        request_id=row.request_id, user_id=row.user_id,
        project_id=row.project_id, start_time=row.start_time,
        finish_time=row.finish_time, result=row.result, message=row.message,
        events=[objects.InstanceActionEvent(
            event=e.event, host=e.host, start_time=e.start_time,
            finish_time=e.finish_time, result=e.result,
            traceback=e.traceback) for e in row.events])


def service(row, down_time):
    now = models.utcnow()
    up = (row.last_seen_up is not None and
          now - row.last_seen_up <= datetime.timedelta(seconds=down_time))
    return objects.Service(
        id=row.id, host=row.host, binary=row.binary,
        disabled=bool(row.disabled), disabled_reason=row.disabled_reason,
        report_count=row.report_count or 0, last_seen_up=row.last_seen_up,
        updated_at=row.updated_at, up=up)


def compute_node(row):
    return objects.ComputeNode(**{
        name: getattr(row, name) for name in (
            'uuid', 'host', 'hypervisor_type', 'availability_zone', 'vcpus',
            'memory_mb', 'local_gb', 'vcpus_used', 'memory_mb_used',
            'local_gb_used', 'free_ram_mb', 'free_disk_gb', 'running_vms',
            'cpu_load')}, updated_at=row.reported_at)


def migration(row):
    return objects.Migration(**{
        name: getattr(row, name) for name in objects.Migration.fields})


_ADDRESSES = sa.select(
    N.Port.instance_uuid, N.Network.name, N.Port.ip_address).join(
    N.Network, N.Network.id == N.Port.network_id).where(
    N.Port.instance_uuid.in_(sa.bindparam('uuids', expanding=True))).order_by(
    N.Port.id)


def add_addresses(s, instances):
    """Fill ``networks`` of wire instances with 'network=ip' strings."""
    if instances:
        rows = s.execute(_ADDRESSES,
                         {'uuids': [i.uuid for i in instances]}).all()
        for inst in instances:
            inst.update(networks=['%s=%s' % (name, ip) for uuid, name, ip
                                  in rows if uuid == inst.uuid])
    return instances


# ------------------------------------------------------------ networking
def network(row, ports=0):
    subnet = row.subnets[0] if row.subnets else None
    return objects.Network(
        uuid=row.uuid, name=row.name, network_type=row.network_type,
        segmentation_id=row.segmentation_id,
        physical_network=row.physical_network, mtu=row.mtu,
        cidr=subnet and subnet.cidr, subnet_id=subnet and subnet.uuid,
        subnet_name=subnet and subnet.name,
        gateway_ip=subnet and subnet.gateway_ip,
        dns_nameservers=json.loads(subnet and subnet.dns_nameservers or '[]'),
        allocation_pools=json.loads(
            subnet and subnet.allocation_pools or '[]'),
        ports=ports, external=bool(row.external),
        project_id=row.project_id, shared=bool(row.shared))


def security_group(row, names=None, members=None):
    """``names``: group id -> name, ``members``: group id -> port IPs, for
    rules that name a remote group."""
    names, members = names or {}, members or {}
    return objects.SecurityGroup(
        uuid=row.uuid, name=row.name, project_id=row.project_id,
        description=row.description, rules=[objects.SecurityGroupRule(
            uuid=r.uuid, direction=r.direction, ethertype=r.ethertype,
            protocol=r.protocol, port_range_min=r.port_range_min,
            port_range_max=r.port_range_max,
            remote_ip_prefix=r.remote_ip_prefix,
            remote_group=names.get(r.remote_group_id),
            remote_ips=members.get(r.remote_group_id, []))
            for r in row.rules])


def port(row, groups=(), quarantined=False, floating=None):
    return objects.Port(
        uuid=row.uuid, network=network(row.network),
        instance_uuid=row.instance_uuid, mac_address=row.mac_address,
        ip_address=row.ip_address, status=row.status, host=row.host,
        security_groups=list(groups), quarantined=quarantined,
        floating_ip=floating and floating_ip(floating),
        reserved=row.reserved, project_id=row.project_id,
        port_security_enabled=row.port_security_enabled is not False)


def floating_ip(row):
    port_row = row.port
    return objects.FloatingIP(
        uuid=row.uuid, address=row.address, network=network(row.network),
        project_id=row.project_id, port_uuid=port_row and port_row.uuid,
        instance_uuid=port_row and port_row.instance_uuid,
        fixed_ip=port_row and port_row.ip_address,
        host=port_row and port_row.host)
