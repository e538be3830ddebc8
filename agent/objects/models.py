"""The wire objects themselves. Bump VERSION (and say why) on any change."""
from agent.objects import base
from agent.objects import fields as f
from agent.objects import states

NAME = f.String(max_length=255)
#: the services that keep a row in ``services`` (heartbeats); only the
#: compute agent's can be disabled (no new instance on its host)
COMPUTE_BINARY = 'hvagent-compute'
SERVICE_BINARIES = (COMPUTE_BINARY, 'hvagent-conductor', 'hvagent-scheduler')


@base.register
class Flavor(base.HVObject):
    # 1.0: initial version
    VERSION = '1.0'
    fields = {
        'id': f.Integer(nullable=True),
        'name': NAME,
        'vcpus': f.Integer(min=1, max=1024),
        'memory_mb': f.Integer(min=1),
        'root_gb': f.Integer(min=0),
        'ephemeral_gb': f.Integer(min=0, default=0),
        'is_public': f.Boolean(default=True),
    }


@base.register
class BlockDevice(base.HVObject):
    """A volume attached (or being attached) to an instance."""
    # 1.0: initial version
    # 1.1: status 'extending' (connection_info's size_bytes: the new size)
    VERSION = '1.1'
    fields = {
        'volume_id': f.UUID(),
        'device_name': f.String(max_length=32, nullable=True),
        'connection_info': f.Dict(value_field=f.String(max_length=4096)),
        'status': f.Enum(['attaching', 'attached', 'detaching', 'extending'],
                         default='attaching'),
    }


@base.register
class InstanceFault(base.HVObject):
    # 1.0: initial version
    VERSION = '1.0'
    fields = {
        'instance_uuid': f.UUID(),
        'code': f.Integer(default=500),
        'message': f.String(max_length=1024),
        'details': f.String(max_length=65535, default=''),
        'host': f.String(nullable=True),
        'created_at': f.DateTime(nullable=True),
    }


@base.register
class Instance(base.HVObject):
    # 1.0: initial version
    # 1.1: kernel_ref, ramdisk_ref, config_drive, user_data, key_name,
    #      key_data (boot options)
    # 1.2: isolated
    # 1.3: vm_state resized, task_states resize_* (resize, cold migration;
    #      sent only by a conductor of RPC 1.13, to agents of compute 1.4)
    # 1.4: vm_states suspended and rescued, task_states suspending,
    #      resuming, extending_volume, rebuild_spawning, rescuing,
    #      unrescuing; rescue_image_ref, rescue_kernel_ref,
    #      rescue_ramdisk_ref (conductor 1.22, compute 1.6)
    VERSION = '1.4'
    fields = {
        'uuid': f.UUID(),
        'name': NAME,
        'project_id': f.String(max_length=64),
        'user_id': f.String(max_length=64),
        'host': f.String(nullable=True),
        'node': f.String(nullable=True),
        'availability_zone': f.String(nullable=True),
        'flavor': f.Object('Flavor'),
        'image_ref': f.String(max_length=1024, nullable=True),
        'kernel_ref': f.String(max_length=1024, nullable=True),
        'ramdisk_ref': f.String(max_length=1024, nullable=True),
        'rescue_image_ref': f.String(max_length=1024, nullable=True,
                                     default=None),
        'rescue_kernel_ref': f.String(max_length=1024, nullable=True,
                                      default=None),
        'rescue_ramdisk_ref': f.String(max_length=1024, nullable=True,
                                       default=None),
        'config_drive': f.Boolean(default=False),
        'user_data': f.String(max_length=65535, nullable=True),
        'key_name': f.String(max_length=255, nullable=True),
        'key_data': f.String(max_length=16384, nullable=True),
        'vm_state': f.Enum(states.VM_STATES),
        'task_state': f.Enum(states.TASK_STATES, nullable=True),
        'power_state': f.Enum(states.POWER_STATES, default=states.NOSTATE),
        'isolated': f.Boolean(default=False),
        'metadata': f.Dict(),
        'block_devices': f.List(f.Object('BlockDevice')),
        'networks': f.List(f.String(max_length=255)),
        'fault': f.Object('InstanceFault', nullable=True),
        'created_at': f.DateTime(nullable=True),
        'updated_at': f.DateTime(nullable=True),
        'launched_at': f.DateTime(nullable=True),
        'deleted_at': f.DateTime(nullable=True),
    }


@base.register
class ComputeNode(base.HVObject):
    """A host's resources as its agent reports them."""
    # 1.0: initial version
    VERSION = '1.0'
    fields = {
        'uuid': f.UUID(),
        'host': NAME,
        'hypervisor_type': f.String(max_length=64),
        'availability_zone': f.String(nullable=True),
        'vcpus': f.Integer(min=0),
        'memory_mb': f.Integer(min=0),
        'local_gb': f.Integer(min=0),
        'vcpus_used': f.Integer(min=0, default=0),
        'memory_mb_used': f.Integer(min=0, default=0),
        'local_gb_used': f.Integer(min=0, default=0),
        'free_ram_mb': f.Integer(nullable=True),
        'free_disk_gb': f.Integer(nullable=True),
        'running_vms': f.Integer(min=0, default=0),
        'cpu_load': f.Float(nullable=True),
        'updated_at': f.DateTime(nullable=True),
    }


@base.register
class Service(base.HVObject):
    # 1.0: initial version
    # 1.1: id, updated_at (the services row's; os-services shows them)
    VERSION = '1.1'
    fields = {
        'id': f.Integer(min=1, nullable=True),
        'host': NAME,
        'binary': f.Enum(SERVICE_BINARIES),
        'disabled': f.Boolean(default=False),
        'disabled_reason': f.String(nullable=True),
        'report_count': f.Integer(min=0, default=0),
        'last_seen_up': f.DateTime(nullable=True),
        'updated_at': f.DateTime(nullable=True),
        'up': f.Boolean(default=False),
    }


@base.register
class InstanceActionEvent(base.HVObject):
    # 1.0: initial version
    VERSION = '1.0'
    fields = {
        'event': NAME,
        'host': f.String(nullable=True),
        'start_time': f.DateTime(nullable=True),
        'finish_time': f.DateTime(nullable=True),
        'result': f.Enum(['Success', 'Error'], nullable=True),
        'traceback': f.String(max_length=65535, nullable=True),
    }


@base.register
class InstanceAction(base.HVObject):
    """One user-visible request against an instance: who, what, when, result."""
    # 1.0: initial version
    VERSION = '1.0'
    fields = {
        'instance_uuid': f.UUID(),
        'action': NAME,
        'request_id': f.String(max_length=64),
        'user_id': f.String(max_length=64, nullable=True),
        'project_id': f.String(max_length=64, nullable=True),
        'start_time': f.DateTime(nullable=True),
        'finish_time': f.DateTime(nullable=True),
        'result': f.Enum(['Success', 'Error'], nullable=True),
        'message': f.String(max_length=1024, nullable=True),
        'events': f.List(f.Object('InstanceActionEvent')),
    }


@base.register
class RequestSpec(base.HVObject):
    """What the scheduler needs to place one instance."""
    # 1.0: initial version
    # 1.1: migration_uuid and requested_host, for a move: the claim is the
    #      migration's, on ``requested_host`` only when given
    VERSION = '1.1'
    fields = {
        'instance_uuid': f.UUID(),
        'project_id': f.String(max_length=64),
        'vcpus': f.Integer(min=1),
        'memory_mb': f.Integer(min=1),
        'root_gb': f.Integer(min=0),
        'availability_zone': f.String(nullable=True),
        'same_host': f.List(f.UUID(), max_items=100),
        'different_host': f.List(f.UUID(), max_items=100),
        'ignore_hosts': f.List(f.String(), max_items=1000),
        'migration_uuid': f.UUID(nullable=True, default=None),
        'requested_host': f.String(max_length=255, nullable=True,
                                   default=None),
    }


@base.register
class Migration(base.HVObject):
    """One move of an instance between hosts and how far it got."""
    # 1.0: initial version
    # 1.1: old_flavor_id, new_flavor_id, old_vm_state (resize, migrate),
    #      cleanup_host
    # 1.2: source_address (where the destination reads a resized disk)
    VERSION = '1.2'
    fields = {
        'uuid': f.UUID(),
        'instance_uuid': f.UUID(),
        'migration_type': f.Enum(states.MIGRATION_TYPES),
        'status': f.Enum(states.MIGRATION_STATUSES),
        'source_compute': NAME,
        'dest_compute': f.String(max_length=255, nullable=True),
        'block_migration': f.Boolean(default=True),
        'shared_storage': f.Boolean(default=False),
        'dest_address': f.String(max_length=255, nullable=True),
        'source_address': f.String(max_length=255, nullable=True,
                                   default=None),
        'memory_total': f.Integer(min=0, default=0),
        'memory_processed': f.Integer(min=0, default=0),
        'memory_remaining': f.Integer(min=0, default=0),
        'disk_total': f.Integer(min=0, default=0),
        'disk_processed': f.Integer(min=0, default=0),
        'disk_remaining': f.Integer(min=0, default=0),
        'downtime_ms': f.Integer(min=0, nullable=True),
        'error': f.String(max_length=1024, nullable=True),
        'old_flavor_id': f.Integer(nullable=True, default=None),
        'new_flavor_id': f.Integer(nullable=True, default=None),
        'old_vm_state': f.Enum(states.VM_STATES, nullable=True, default=None),
        'cleanup_host': f.String(max_length=255, nullable=True,
                                 default=None),
        'created_at': f.DateTime(nullable=True),
        'updated_at': f.DateTime(nullable=True),
    }
