"""Request and response bodies. The same models validate requests and
describe them in /openapi.json. Strings are bounded as the conductor's
``@expects`` bounds them, so what passes here passes there."""
import datetime
import ipaddress
import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field

from agent.objects import fields as object_fields

Name = Field(min_length=1, max_length=255, pattern=r'^[^\x00-\x1f\x7f]+$')


class Strict(BaseModel):
    model_config = ConfigDict(extra='forbid')


# ---------------------------------------------------------------- quotas

class QuotaItem(BaseModel):
    limit: int
    in_use: int


class Quotas(BaseModel):
    quotas: dict[str, QuotaItem]


class QuotaUpdate(Strict):
    instances: int | None = Field(None, ge=-1, le=2**31 - 1)
    cores: int | None = Field(None, ge=-1, le=2**31 - 1)
    ram: int | None = Field(None, ge=-1, le=2**31 - 1)
    fixed_ips: int | None = Field(None, ge=-1, le=2**31 - 1)
    floating_ips: int | None = Field(None, ge=-1, le=2**31 - 1)
    security_groups: int | None = Field(None, ge=-1, le=2**31 - 1)
    volumes: int | None = Field(None, ge=-1, le=2**31 - 1)
    images: int | None = Field(None, ge=-1, le=2**31 - 1)
    image_megabytes: int | None = Field(None, ge=-1, le=2**31 - 1)


# ------------------------------------------------------------ instances
class ServerIn(Strict):
    name: str = Name
    flavor: str = Name
    image: str | None = Field(None, min_length=1, max_length=1024)
    kernel: str | None = Field(None, min_length=1, max_length=1024,
                               description='kernel for direct kernel boot')
    ramdisk: str | None = Field(None, min_length=1, max_length=1024)
    networks: list[str] = Field([], max_length=16)
    fixed_ips: list[uuid.UUID] = Field(
        [], max_length=16, description="the project's reserved fixed IPs "
        '(/v1/fixed-ips) to boot on; they come first among its NICs')
    security_groups: list[str] = Field([], max_length=16)
    metadata: dict[str, str] = Field({}, max_length=128)
    key_name: str | None = Field(None, min_length=1, max_length=255)
    user_data: str | None = Field(None, max_length=65535)
    config_drive: bool = False


class ServerCreate(Strict):
    server: ServerIn


class Server(BaseModel):
    id: uuid.UUID
    name: str
    status: str
    task_state: str | None
    power_state: str
    host: str | None
    flavor: str
    image: str | None
    project_id: str
    user_id: str
    key_name: str | None
    metadata: dict[str, str | None]
    networks: list[str]
    volumes: list[uuid.UUID] = []
    isolated: bool = False
    fault: str | None
    created_at: datetime.datetime | None
    launched_at: datetime.datetime | None


class ServerOut(BaseModel):
    server: Server


class Servers(BaseModel):
    servers: list[Server]
    next_marker: uuid.UUID | None = None


class InstanceAction(BaseModel):
    action: str
    request_id: str
    user_id: str | None
    project_id: str | None
    start_time: datetime.datetime | None
    finish_time: datetime.datetime | None
    result: str | None
    message: str | None


class Actions(BaseModel):
    actions: list[InstanceAction]
    next_marker: str | None = None


class Metadata(BaseModel):
    metadata: dict[str, str | None]


class MetaValue(Strict):
    value: str = Field(max_length=255)


class Console(BaseModel):
    output: str


# --------------------------------------------------- catalogue, networking
class Flavor(BaseModel):
    name: str
    vcpus: int
    memory_mb: int
    root_gb: int


class Flavors(BaseModel):
    flavors: list[Flavor]
    next_marker: str | None = None


class Host(BaseModel):
    host: str
    binary: str
    up: bool
    disabled: bool
    disabled_reason: str | None = None
    vcpus: int | None = None
    vcpus_used: int | None = None
    memory_mb: int | None = None
    memory_mb_used: int | None = None
    running_vms: int | None = None


class Hosts(BaseModel):
    hosts: list[Host]
    next_marker: str | None = Field(None, description='host/binary of '
                                    'the last item')


# ---------------------------------- services (nova's os-services, < 2.53)
class ServiceRef(Strict):
    host: str = Name
    binary: str = Field(min_length=1, max_length=64,
                        description='hvagent-compute: only compute '
                        'services can be disabled')


class ServiceDisable(ServiceRef):
    disabled_reason: Annotated[str, Field(
        min_length=1, max_length=255), AfterValidator(
        object_fields.printable)]


class Service(BaseModel):
    id: int | None
    binary: str
    host: str
    zone: str | None = Field(description="a compute service's "
                             "availability zone; 'internal' for the "
                             'controllers')
    status: Literal['enabled', 'disabled']
    state: Literal['up', 'down']
    updated_at: datetime.datetime | None
    disabled_reason: str | None
    forced_down: bool = False


class Services(BaseModel):
    services: list[Service]


class ServiceStatus(BaseModel):
    host: str
    binary: str
    status: Literal['enabled', 'disabled']
    disabled_reason: str | None = None


class ServiceStatusOut(BaseModel):
    service: ServiceStatus


class SecurityGroupIn(Strict):
    name: str = Name
    description: str | None = Field(None, max_length=255)


class RuleIn(Strict):
    direction: Literal['ingress', 'egress'] = 'ingress'
    protocol: Literal['tcp', 'udp', 'icmp'] | None = None
    port_range_min: int | None = Field(None, ge=1, le=65535)
    port_range_max: int | None = Field(None, ge=1, le=65535)
    remote_ip_prefix: str | None = Field(None, max_length=64)
    remote_group: str | None = Field(
        None, max_length=255, description='id or name of a group of the '
        'same project whose members the rule admits')


class Rule(BaseModel):
    id: uuid.UUID
    direction: str
    protocol: str | None
    port_range_min: int | None
    port_range_max: int | None
    remote_ip_prefix: str | None
    remote_group: str | None = None


class GroupRef(Strict):
    security_group: str = Field(max_length=255, description='id or name '
                                'of a group of the server\'s project')


class SecurityGroup(BaseModel):
    id: uuid.UUID
    name: str
    project_id: str
    description: str | None
    rules: list[Rule]


class SecurityGroupOut(BaseModel):
    security_group: SecurityGroup


class SecurityGroups(BaseModel):
    security_groups: list[SecurityGroup]
    next_marker: uuid.UUID | None = None


# ------------------------------------------------------------ key pairs
class KeyPairIn(Strict):
    name: str = Field(min_length=1, max_length=255,
                      pattern=r'^[A-Za-z0-9_.@-]+$')
    public_key: str | None = Field(None, min_length=1, max_length=16384,
                                   description='OpenSSH public key to '
                                   'import; absent: one is generated')


class KeyPair(BaseModel):
    name: str
    fingerprint: str
    public_key: str
    created_at: datetime.datetime | None = None
    private_key: str | None = Field(None, description='only in the answer '
                                    'that generated the pair')


class KeyPairOut(BaseModel):
    keypair: KeyPair


class KeyPairs(BaseModel):
    keypairs: list[KeyPair]
    next_marker: str | None = None


# --------------------------------------------------------------- images
class ImageIn(Strict):
    name: str = Name
    disk_format: Literal['qcow2', 'raw'] = 'qcow2'
    visibility: Literal['private', 'public'] = 'private'


class Image(BaseModel):
    id: uuid.UUID
    name: str
    project_id: str
    user_id: str
    status: str
    disk_format: str
    visibility: str
    size: int | None
    checksum: str | None = Field(description='sha256 of the bytes, hex')
    created_at: datetime.datetime


class ImageOut(BaseModel):
    image: Image


class Images(BaseModel):
    images: list[Image]
    next_marker: uuid.UUID | None = None


# -------------------------------------------------------------- volumes
class VolumeIn(Strict):
    name: str = Name
    size_gb: int = Field(ge=1, le=1024)


class Volume(BaseModel):
    id: uuid.UUID
    name: str
    project_id: str
    user_id: str
    size_gb: int
    status: Literal['available', 'in-use']
    attached_to: uuid.UUID | None
    created_at: datetime.datetime


class VolumeOut(BaseModel):
    volume: Volume


class Volumes(BaseModel):
    volumes: list[Volume]
    next_marker: uuid.UUID | None = None


class Attachment(Strict):
    volume_id: uuid.UUID


# ---------------------------------------------------------- floating IPs
class FloatingIPIn(Strict):
    network: str | None = Field(
        None, min_length=1, max_length=255,
        description='external network (name or id); default: the first')


class FloatingIPUpdate(Strict):
    server_id: uuid.UUID | None = Field(
        description="a server of the floating IP's project; null "
                    'disassociates')
    port_id: uuid.UUID | None = None


class FloatingIP(BaseModel):
    id: uuid.UUID
    address: str
    network: str
    project_id: str
    server_id: uuid.UUID | None
    port_id: uuid.UUID | None
    fixed_ip: str | None


class FloatingIPOut(BaseModel):
    floating_ip: FloatingIP


class FloatingIPs(BaseModel):
    floating_ips: list[FloatingIP]
    next_marker: uuid.UUID | None = None


# ------------------------------------------------------------- fixed IPs
class FixedIPIn(Strict):
    network: str = Field(min_length=1, max_length=255,
                         description='network (name or id)')
    address: ipaddress.IPv4Address | None = Field(
        None, description='the address to hold; default: the first free')


class FixedIP(BaseModel):
    id: uuid.UUID
    address: str
    network: str
    project_id: str
    mac_address: str
    server_id: uuid.UUID | None


class FixedIPOut(BaseModel):
    fixed_ip: FixedIP


class FixedIPs(BaseModel):
    fixed_ips: list[FixedIP]
    next_marker: uuid.UUID | None = None
