"""SQLAlchemy models. Change them only together with a new migration."""
import datetime

import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agent.db.base import Base  # noqa: F401 (callers use models.utcnow)
from agent.db.base import TimestampMixin  # noqa: F401 (callers use models.utcnow)
from agent.db.base import utcnow  # noqa: F401 (callers use models.utcnow)


class Service(TimestampMixin, Base):
    __tablename__ = 'services'
    __table_args__ = (UniqueConstraint('host', 'binary',
                                       name='uniq_services0host0binary'),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    binary: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str | None] = mapped_column(String(64))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(String(255))
    report_count: Mapped[int] = mapped_column(Integer, default=0)
    last_seen_up: Mapped[datetime.datetime | None] = mapped_column(DateTime)


class ComputeNode(TimestampMixin, Base):
    """Capacity comes from the agent's reports; the ``*_used`` columns and
    ``running_vms`` belong to the scheduler's claims and the conductor's
    releases, so a report never overwrites a claim in flight."""
    __tablename__ = 'compute_nodes'
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    host: Mapped[str] = mapped_column(String(255), unique=True)
    hypervisor_type: Mapped[str] = mapped_column(String(64))
    availability_zone: Mapped[str | None] = mapped_column(String(255))
    vcpus: Mapped[int] = mapped_column(Integer, default=0)
    memory_mb: Mapped[int] = mapped_column(Integer, default=0)
    local_gb: Mapped[int] = mapped_column(Integer, default=0)
    vcpus_used: Mapped[int] = mapped_column(Integer, default=0)
    memory_mb_used: Mapped[int] = mapped_column(Integer, default=0)
    local_gb_used: Mapped[int] = mapped_column(Integer, default=0)
    running_vms: Mapped[int] = mapped_column(Integer, default=0)
    free_ram_mb: Mapped[int | None] = mapped_column(Integer)
    free_disk_gb: Mapped[int | None] = mapped_column(Integer)
    cpu_load: Mapped[float | None] = mapped_column(Float)
    reported_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    # bumped on every change (report or claim) so the scheduler can read only
    # the rows that changed since its last look
    generation: Mapped[int] = mapped_column(BigInteger, default=0)


class Flavor(TimestampMixin, Base):
    __tablename__ = 'flavors'
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    vcpus: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    root_gb: Mapped[int] = mapped_column(Integer)
    ephemeral_gb: Mapped[int] = mapped_column(Integer, default=0)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)


class Instance(TimestampMixin, Base):
    """The flavor's resources are copied in, as Nova does, so a release
    frees exactly what the claim took even if the flavor changes later."""
    __tablename__ = 'instances'
    __table_args__ = (Index('instances_host_idx', 'host'),
                      Index('instances_project_idx', 'project_id'))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    host: Mapped[str | None] = mapped_column(String(255))
    node: Mapped[str | None] = mapped_column(String(255))
    availability_zone: Mapped[str | None] = mapped_column(String(255))
    flavor_id: Mapped[int] = mapped_column(ForeignKey('flavors.id'))
    vcpus: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    root_gb: Mapped[int] = mapped_column(Integer)
    image_ref: Mapped[str | None] = mapped_column(String(1024))
    kernel_ref: Mapped[str | None] = mapped_column(String(1024))
    ramdisk_ref: Mapped[str | None] = mapped_column(String(1024))
    # rescued: what it boots from meanwhile (its own disk is the second)
    rescue_image_ref: Mapped[str | None] = mapped_column(String(1024))
    rescue_kernel_ref: Mapped[str | None] = mapped_column(String(1024))
    rescue_ramdisk_ref: Mapped[str | None] = mapped_column(String(1024))
    config_drive: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=sa.false())
    user_data: Mapped[str | None] = mapped_column(Text)
    key_name: Mapped[str | None] = mapped_column(String(255))
    key_data: Mapped[str | None] = mapped_column(Text)
    vm_state: Mapped[str] = mapped_column(String(32))
    task_state: Mapped[str | None] = mapped_column(String(32))
    power_state: Mapped[str] = mapped_column(String(32), default='nostate')
    scheduler_hints: Mapped[str | None] = mapped_column(Text)
    launched_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    deleted_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    # 0 while alive, the row id once deleted (soft delete, as Nova does)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    # True while the host's claim for this instance is held
    claimed: Mapped[bool] = mapped_column(Boolean, default=False)
    # suspended: the claim's vCPUs and RAM are given back to the host (its
    # disk stays claimed) until a resume takes them again
    compute_released: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=sa.false())
    # quarantined by itsec: paused, every port of it drops all traffic
    isolated: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=sa.false())
    # fixed IPs held (one per requested network; 0 once a build failed):
    # written with the row, so the fixed_ips quota counts it atomically
    fixed_ips: Mapped[int] = mapped_column(Integer, default=0,
                                           server_default='0')
    flavor: Mapped[Flavor] = relationship(lazy='joined')


class InstanceAction(Base):
    __tablename__ = 'instance_actions'
    __table_args__ = (Index('instance_actions_uuid_idx', 'instance_uuid',
                            'request_id'),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_uuid: Mapped[str] = mapped_column(String(36))
    action: Mapped[str] = mapped_column(String(255))
    request_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(64))
    project_id: Mapped[str | None] = mapped_column(String(64))
    start_time: Mapped[datetime.datetime] = mapped_column(
        DateTime, default=utcnow)
    finish_time: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    result: Mapped[str | None] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(String(1024))
    events: Mapped[list['InstanceActionEvent']] = relationship(
        back_populates='action', order_by='InstanceActionEvent.id',
        lazy='selectin')


class InstanceActionEvent(Base):
    __tablename__ = 'instance_actions_events'
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey('instance_actions.id'))
    event: Mapped[str] = mapped_column(String(255))
    host: Mapped[str | None] = mapped_column(String(255))
    start_time: Mapped[datetime.datetime] = mapped_column(
        DateTime, default=utcnow)
    finish_time: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    result: Mapped[str | None] = mapped_column(String(16))
    traceback: Mapped[str | None] = mapped_column(Text)
    action: Mapped[InstanceAction] = relationship(back_populates='events')


class InstanceFault(Base):
    __tablename__ = 'instance_faults'
    __table_args__ = (Index('instance_faults_uuid_idx', 'instance_uuid'),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_uuid: Mapped[str] = mapped_column(String(36))
    code: Mapped[int] = mapped_column(Integer, default=500)
    message: Mapped[str] = mapped_column(String(1024))
    details: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime, default=utcnow)


class InstanceMetadata(Base):
    __tablename__ = 'instance_metadata'
    __table_args__ = (UniqueConstraint('instance_uuid', 'key',
                                       name='uniq_instance_metadata0key'),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_uuid: Mapped[str] = mapped_column(String(36))
    key: Mapped[str] = mapped_column(String(255))
    value: Mapped[str | None] = mapped_column(String(255))


class BlockDeviceMapping(TimestampMixin, Base):
    __tablename__ = 'block_device_mappings'
    # a volume is attached to one instance at most (migration 0012)
    __table_args__ = (UniqueConstraint('instance_uuid', 'volume_id',
                                       name='uniq_bdm0instance0volume'),
                      UniqueConstraint('volume_id', name='uniq_bdm0volume'))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_uuid: Mapped[str] = mapped_column(String(36))
    volume_id: Mapped[str] = mapped_column(String(36))
    device_name: Mapped[str | None] = mapped_column(String(32))
    connection_info: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default='attaching')


class KeyPair(TimestampMixin, Base):
    __tablename__ = 'key_pairs'
    __table_args__ = (UniqueConstraint('user_id', 'name',
                                       name='uniq_key_pairs0user0name'),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(255))
    public_key: Mapped[str] = mapped_column(Text)


class Project(TimestampMixin, Base):
    __tablename__ = 'projects'
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class User(TimestampMixin, Base):
    __tablename__ = 'users'
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: tokens issued before it are refused (whole seconds, rounded up):
    #: set by a password change and by disabling the user
    password_changed_at: Mapped[datetime.datetime | None] = mapped_column(
        DateTime)
    #: where a login that names no project goes; set by the user or admin
    default_project_id: Mapped[str | None] = mapped_column(String(64))


class Role(Base):
    __tablename__ = 'roles'
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class RoleAssignment(Base):
    __tablename__ = 'role_assignments'
    __table_args__ = (UniqueConstraint('user_id', 'project_id', 'role_id',
                                       name='uniq_role_assignments'),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey('users.id'))
    project_id: Mapped[str] = mapped_column(ForeignKey('projects.id'))
    role_id: Mapped[int] = mapped_column(ForeignKey('roles.id'))


# the networking tables share this metadata (imported last: it needs Base)
from agent.db import api_models  # noqa: E402,F401
from agent.db import net_models  # noqa: E402,F401


class Migration(TimestampMixin, Base):
    """One move of an instance between hosts (nova's ``migrations``, cut
    down). While ``dest_claimed`` the destination's compute node carries
    the instance's resources for this migration; at the switch-over the
    claim becomes the instance's and the source's is released.
    ``cleanup_host`` names the host whose agent still has to remove what
    the move left there (the destination after a failure, the source after
    a success); None once done."""
    __tablename__ = 'migrations'
    __table_args__ = (Index('migrations_instance_idx', 'instance_uuid'),
                      Index('migrations_cleanup_idx', 'cleanup_host'),
                      Index('migrations_dest_status_idx', 'dest_compute',
                            'status'))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    instance_uuid: Mapped[str] = mapped_column(String(36))
    migration_type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    source_compute: Mapped[str] = mapped_column(String(255))
    dest_compute: Mapped[str | None] = mapped_column(String(255))
    dest_claimed: Mapped[bool] = mapped_column(Boolean, default=False)
    block_migration: Mapped[bool] = mapped_column(Boolean, default=True)
    shared_storage: Mapped[bool] = mapped_column(Boolean, default=False)
    dest_address: Mapped[str | None] = mapped_column(String(255))
    cleanup_host: Mapped[str | None] = mapped_column(String(255))
    memory_total: Mapped[int] = mapped_column(BigInteger, default=0)
    memory_processed: Mapped[int] = mapped_column(BigInteger, default=0)
    memory_remaining: Mapped[int] = mapped_column(BigInteger, default=0)
    disk_total: Mapped[int] = mapped_column(BigInteger, default=0)
    disk_processed: Mapped[int] = mapped_column(BigInteger, default=0)
    disk_remaining: Mapped[int] = mapped_column(BigInteger, default=0)
    downtime_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(1024))
    request_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(64))
    project_id: Mapped[str | None] = mapped_column(String(64))
    # a resize or cold migration (0014): the flavors from and to, the
    # vm_state to come back to, and whether the source's claim (old
    # flavor) is the migration's (after the switch, until confirm/revert)
    old_flavor_id: Mapped[int | None] = mapped_column(Integer)
    new_flavor_id: Mapped[int | None] = mapped_column(Integer)
    old_vm_state: Mapped[str | None] = mapped_column(String(32))
    source_claimed: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=sa.false())
    # where the destination reads a resized guest's disk from (0015)
    source_address: Mapped[str | None] = mapped_column(String(255))
