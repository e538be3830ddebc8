"""Typed objects for a libvirt domain and its devices, turned into XML.

Each object holds plain attributes and knows only how to write itself as
libvirt's domain XML (``to_element()``, ``to_xml()``); what goes into them
(names, cache modes, which devices a guest gets) is decided in designer.py.
XML is built with ElementTree, never by formatting strings, so a value
holding ``<``, ``&``, quotes or ``]]>`` is escaped rather than injected.
Characters XML 1.0 cannot carry at all (most C0 controls, lone surrogates)
make ``to_xml()`` raise ValueError: escaping cannot save them and libvirt
would refuse the document with a less helpful message.

``Domain.from_xml()`` reads back what the driver needs to rebuild its view
of a guest from libvirt alone: name, uuid, type, memory, vcpus, our
metadata, disks, serial ports (the console log and the console's TCP
server), VNC graphics and interfaces. It is a
partial view: anything else comes back as defaults, so never re-define a
domain from a parsed one.

The instance metadata lives under ``<metadata>`` in our own namespace
(``NS``, prefix ``hvagent``), which is how libvirt lets applications keep
their data in a domain. ``Metadata.from_xml()`` also accepts the element
without a namespace, as ``virDomainGetMetadata`` returns it.
"""
import dataclasses
import datetime
import re
import xml.etree.ElementTree as ET
from typing import ClassVar, Self

NS = 'https://hvagent.dev/xmlns/instance/1.0'
PREFIX = 'hvagent'
ET.register_namespace(PREFIX, NS)   # write hvagent:..., not ns0:...

#: characters outside XML 1.0's Char production; no escape exists for them
NON_XML_CHARS = re.compile(
    '[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]')

_MEMORY_UNITS = {'b': 1, 'bytes': 1, 'KB': 10 ** 3, 'k': 1024, 'KiB': 1024,
                 'MB': 10 ** 6, 'M': 1024 ** 2, 'MiB': 1024 ** 2,
                 'GB': 10 ** 9, 'G': 1024 ** 3, 'GiB': 1024 ** 3}


def _sub(parent: ET.Element, tag: str, text: object = None,
         **attrib: object) -> ET.Element:
    """Append child ``tag``; None attributes are left out, others str()."""
    el = ET.SubElement(parent, tag, _attrs(**attrib))
    if text is not None:
        el.text = str(text)
    return el


def _attrs(**attrib: object) -> dict[str, str]:
    """The attributes that are not None, as strings."""
    return {k: str(v) for k, v in attrib.items() if v is not None}


def _check_chars(root: ET.Element) -> None:
    for el in root.iter():
        for value in (el.text, el.tail, *el.attrib.values()):
            if value and NON_XML_CHARS.search(value):
                raise ValueError('%r cannot be written in XML (<%s>)'
                                 % (value, el.tag))


def _opt(parent: ET.Element, tag: str, text: object) -> None:
    """Append child ``tag`` holding ``text``, unless ``text`` is None."""
    if text is not None:
        _sub(parent, tag, text)


def _q(tag: str) -> str:
    """``tag`` in our metadata namespace."""
    return '{%s}%s' % (NS, tag)


def _int(text: str | None) -> int | None:
    return int(text) if text else None


def _attr(el: ET.Element, path: str, name: str) -> str | None:
    """Attribute ``name`` of child ``path`` of ``el``; None if either is
    missing."""
    child = el.find(path)
    return None if child is None else child.get(name)


class _Element:
    """``to_xml()`` for every object that has a ``to_element()``."""

    def to_element(self) -> ET.Element:
        raise NotImplementedError

    def to_xml(self) -> str:
        el = self.to_element()
        _check_chars(el)
        ET.indent(el)
        # ElementTree writes a CR in text as it is, and every parser reads
        # it back as LF; as a character reference it survives (a CR left in
        # the output can only be in text: attributes escape theirs)
        return ET.tostring(el, encoding='unicode').replace('\r', '&#13;')


#: what goes under <devices>: any object that writes itself as an element
Device = _Element


# ------------------------------------------------------------------ metadata
@dataclasses.dataclass
class Flavor:
    """The flavor the guest was built from, as recorded in its metadata."""
    name: str | None = None
    vcpus: int | None = None
    memory_mb: int | None = None
    root_gb: int | None = None


@dataclasses.dataclass
class Metadata(_Element):
    """``<hvagent:instance>``: who the guest is, for people and for us."""
    instance_uuid: str | None = None
    display_name: str | None = None
    flavor: Flavor | None = None
    user_id: str | None = None
    project_id: str | None = None
    created_at: datetime.datetime | None = None

    def to_element(self) -> ET.Element:
        el = ET.Element(_q('instance'))
        _opt(el, _q('uuid'), self.instance_uuid)
        _opt(el, _q('name'), self.display_name)
        _opt(el, _q('creation_time'),
             self.created_at and self.created_at.isoformat())
        if self.flavor is not None:
            fl = _sub(el, _q('flavor'), name=self.flavor.name)
            for field in ('vcpus', 'memory_mb', 'root_gb'):
                _opt(fl, _q(field), getattr(self.flavor, field))
        if self.user_id is not None or self.project_id is not None:
            owner = _sub(el, _q('owner'))
            _sub(owner, _q('user'), id=self.user_id)
            _sub(owner, _q('project'), id=self.project_id)
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> Self:
        ns = '{%s}' % NS if el.tag == _q('instance') else ''
        if el.tag != ns + 'instance':
            raise ValueError('not hvagent instance metadata: <%s>' % el.tag)

        def get(path: str, attr: str | None = None) -> str | None:
            child = el.find('/'.join(ns + p for p in path.split('/')))
            if child is None:
                return None
            return child.get(attr) if attr else child.text or ''

        created = get('creation_time')
        flavor: Flavor | None = None
        if get('flavor') is not None:
            flavor = Flavor(name=get('flavor', 'name'),
                            vcpus=_int(get('flavor/vcpus')),
                            memory_mb=_int(get('flavor/memory_mb')),
                            root_gb=_int(get('flavor/root_gb')))
        return cls(instance_uuid=get('uuid'), display_name=get('name'),
                   flavor=flavor, user_id=get('owner/user', 'id'),
                   project_id=get('owner/project', 'id'),
                   created_at=datetime.datetime.fromisoformat(created)
                   if created else None)

    @classmethod
    def from_xml(cls, text: str) -> Self:
        return cls.from_element(ET.fromstring(text))


# ------------------------------------------------------------------- devices
#: the <source> attribute naming the backing of each disk type
_DISK_SOURCE_ATTR: dict[str | None, str] = {'file': 'file', 'block': 'dev'}


@dataclasses.dataclass
class Disk(_Element):
    """``<disk>``: type file|block, device disk|cdrom, bus
    virtio|ide|sata|scsi, driver_format qcow2|raw. A cdrom may have no
    source (empty drive)."""
    source_path: str | None
    target_dev: str | None
    target_bus: str | None = 'virtio'
    type: str | None = 'file'
    device: str = 'disk'
    driver_name: str | None = 'qemu'
    driver_format: str | None = 'raw'
    driver_cache: str | None = None
    readonly: bool = False
    serial: str | None = None

    def to_element(self) -> ET.Element:
        el = ET.Element('disk', _attrs(type=self.type, device=self.device))
        _sub(el, 'driver', name=self.driver_name, type=self.driver_format,
             cache=self.driver_cache)
        if self.source_path is not None:
            _sub(el, 'source', **{_DISK_SOURCE_ATTR[self.type]:
                                  self.source_path})
        _sub(el, 'target', dev=self.target_dev, bus=self.target_bus)
        if self.readonly:
            _sub(el, 'readonly')
        _opt(el, 'serial', self.serial)
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> Self:
        disk_type = el.get('type')
        return cls(
            source_path=_attr(el, 'source',
                              _DISK_SOURCE_ATTR.get(disk_type, 'file')),
            target_dev=_attr(el, 'target', 'dev'),
            target_bus=_attr(el, 'target', 'bus'),
            type=disk_type, device=el.get('device', 'disk'),
            driver_name=_attr(el, 'driver', 'name'),
            driver_format=_attr(el, 'driver', 'type'),
            driver_cache=_attr(el, 'driver', 'cache'),
            readonly=el.find('readonly') is not None,
            serial=el.findtext('serial'))


@dataclasses.dataclass
class _CharDevice(_Element):
    """A character device: a pty, or (``type`` 'tcp') a raw TCP server on
    ``host``:``service`` that one client at a time may connect to (the
    interactive console); either way its output is copied to
    ``log_path``."""
    log_path: str | None = None
    log_append: bool = True
    port: int | None = 0
    type: str | None = 'pty'
    host: str | None = None
    service: int | None = None

    # set by subclasses; not dataclass fields
    tag: ClassVar[str]
    target_type: ClassVar[str | None] = None

    def to_element(self) -> ET.Element:
        el = ET.Element(self.tag, _attrs(type=self.type))
        if self.type == 'tcp':
            _sub(el, 'source', mode='bind', host=self.host,
                 service=self.service)
            _sub(el, 'protocol', type='raw')
        if self.log_path is not None:
            _sub(el, 'log', file=self.log_path,
                 append='on' if self.log_append else 'off')
        _sub(el, 'target', type=self.target_type, port=self.port)
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> Self:
        return cls(type=el.get('type'), log_path=_attr(el, 'log', 'file'),
                   log_append=_attr(el, 'log', 'append') == 'on',
                   port=_int(_attr(el, 'target', 'port')),
                   host=_attr(el, 'source', 'host'),
                   service=_int(_attr(el, 'source', 'service')))


class Serial(_CharDevice):
    """``<serial>``: the guest's first UART (ttyS0 for port 0)."""
    tag = 'serial'


class Console(_CharDevice):
    """``<console>`` on the serial port; libvirt gives it the serial's
    log too."""
    tag = 'console'
    target_type = 'serial'


@dataclasses.dataclass
class Graphics(_Element):
    """``<graphics type='vnc'>`` listening on ``listen`` (an address),
    its port chosen by libvirt when the guest starts (autoport, also on
    the destination of a migration); ``port`` is what a running guest's
    XML says (None in a definition, -1 while it is not running)."""
    listen: str
    port: int | None = None
    type: str = 'vnc'

    def to_element(self) -> ET.Element:
        el = ET.Element('graphics', _attrs(type=self.type, autoport='yes',
                                           listen=self.listen))
        _sub(el, 'listen', type='address', address=self.listen)
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> Self:
        return cls(type=el.get('type') or 'vnc', port=_int(el.get('port')),
                   listen=el.get('listen') or
                   _attr(el, 'listen', 'address') or '')


@dataclasses.dataclass
class Interface(_Element):
    """``<interface type='bridge'>``: a tap device plugged into a bridge."""
    mac: str | None
    bridge: str | None
    model: str | None = 'virtio'
    target_dev: str | None = None
    mtu: int | None = None

    def to_element(self) -> ET.Element:
        el = ET.Element('interface', type='bridge')
        _sub(el, 'mac', address=self.mac)
        _sub(el, 'source', bridge=self.bridge)
        _sub(el, 'model', type=self.model)
        if self.target_dev is not None:
            _sub(el, 'target', dev=self.target_dev)
        if self.mtu is not None:
            _sub(el, 'mtu', size=self.mtu)
        return el

    @classmethod
    def from_element(cls, el: ET.Element) -> Self:
        return cls(mac=_attr(el, 'mac', 'address'),
                   bridge=_attr(el, 'source', 'bridge'),
                   model=_attr(el, 'model', 'type'),
                   target_dev=_attr(el, 'target', 'dev'),
                   mtu=_int(_attr(el, 'mtu', 'size')))


@dataclasses.dataclass
class MemBalloon(_Element):
    """``<memballoon>``: lets the host see (and reclaim) guest memory."""
    model: str = 'virtio'

    def to_element(self) -> ET.Element:
        return ET.Element('memballoon', model=self.model)


@dataclasses.dataclass
class RNG(_Element):
    """``<rng>``: entropy for the guest from a host random device."""
    model: str = 'virtio'
    backend_path: str = '/dev/urandom'

    def to_element(self) -> ET.Element:
        el = ET.Element('rng', model=self.model)
        _sub(el, 'backend', self.backend_path, model='random')
        return el


#: device tags Domain.from_xml() reads back, and their classes
_PARSED_DEVICES: dict[
        str, type[Disk | _CharDevice | Interface | Graphics]] = {
    'disk': Disk, 'serial': Serial, 'console': Console,
    'interface': Interface, 'graphics': Graphics}


# -------------------------------------------------------------------- domain
@dataclasses.dataclass
class OS(_Element):
    """``<os>``: boot either from ``boot_dev`` or a kernel (direct boot)."""
    type: str = 'hvm'
    machine: str | None = None
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None
    boot_dev: str | None = None
    #: 'sysinfo' hands the domain's <sysinfo> to the guest's SMBIOS tables
    smbios_mode: str | None = None

    def to_element(self) -> ET.Element:
        el = ET.Element('os')
        _sub(el, 'type', self.type, machine=self.machine)
        _opt(el, 'kernel', self.kernel)
        _opt(el, 'initrd', self.initrd)
        _opt(el, 'cmdline', self.cmdline)
        if self.boot_dev is not None:
            _sub(el, 'boot', dev=self.boot_dev)
        if self.smbios_mode is not None:
            _sub(el, 'smbios', mode=self.smbios_mode)
        return el


@dataclasses.dataclass
class CPU(_Element):
    """``<cpu>``: mode host-model|host-passthrough|custom (with model)."""
    mode: str | None = None
    model: str | None = None

    def to_element(self) -> ET.Element:
        el = ET.Element('cpu', {'mode': self.mode} if self.mode else {})
        _opt(el, 'model', self.model)
        return el


@dataclasses.dataclass
class SysInfo(_Element):
    """``<sysinfo type='smbios'>``: entries of the SMBIOS system table
    (manufacturer, product, version, serial, uuid, sku, family)."""
    system: dict[str, str] = dataclasses.field(default_factory=dict)

    def to_element(self) -> ET.Element:
        el = ET.Element('sysinfo', type='smbios')
        system = _sub(el, 'system')
        for name, value in self.system.items():
            _sub(system, 'entry', value, name=name)
        return el


@dataclasses.dataclass
class Domain(_Element):
    """``<domain>``; ``memory_kib`` is the (maximum) memory in KiB."""
    name: str | None
    uuid: str | None
    memory_kib: int
    vcpus: int
    type: str | None = 'kvm'
    os: OS = dataclasses.field(default_factory=OS)
    metadata: Metadata | None = None
    sysinfo: SysInfo | None = None
    cpu: CPU | None = None
    features: tuple[str, ...] = ('acpi', 'apic')
    clock_offset: str = 'utc'
    on_poweroff: str = 'destroy'
    on_reboot: str = 'restart'
    on_crash: str = 'destroy'
    devices: list[Device] = dataclasses.field(default_factory=list)

    @property
    def disks(self) -> list[Disk]:
        return [d for d in self.devices if isinstance(d, Disk)]

    @property
    def interfaces(self) -> list[Interface]:
        return [d for d in self.devices if isinstance(d, Interface)]

    @property
    def serial_server(self) -> 'Serial | None':
        """The first serial port that is a TCP server, or None."""
        return next((d for d in self.devices
                     if isinstance(d, Serial) and d.type == 'tcp'), None)

    @property
    def vnc(self) -> Graphics | None:
        return next((d for d in self.devices
                     if isinstance(d, Graphics) and d.type == 'vnc'), None)

    @property
    def console_log_path(self) -> str | None:
        """The log file of the first serial port that has one, or None."""
        return next((d.log_path for d in self.devices
                     if isinstance(d, Serial) and d.log_path), None)

    def to_element(self) -> ET.Element:
        el = ET.Element('domain', _attrs(type=self.type))
        _sub(el, 'name', self.name)
        _sub(el, 'uuid', self.uuid)
        if self.metadata is not None:
            _sub(el, 'metadata').append(self.metadata.to_element())
        _sub(el, 'memory', self.memory_kib, unit='KiB')
        _sub(el, 'vcpu', self.vcpus)
        if self.sysinfo is not None:
            el.append(self.sysinfo.to_element())
        el.append(self.os.to_element())
        features = _sub(el, 'features')
        for feature in self.features:
            _sub(features, feature)
        if self.cpu is not None:
            el.append(self.cpu.to_element())
        _sub(el, 'clock', offset=self.clock_offset)
        _sub(el, 'on_poweroff', self.on_poweroff)
        _sub(el, 'on_reboot', self.on_reboot)
        _sub(el, 'on_crash', self.on_crash)
        devices = _sub(el, 'devices')
        for device in self.devices:
            devices.append(device.to_element())
        return el

    @classmethod
    def from_xml(cls, text: str) -> Self:
        """The partial view described in the module docstring."""
        el = ET.fromstring(text)
        memory = el.find('memory')
        vcpus = el.findtext('vcpu')
        # libvirt always writes these
        assert memory is not None and memory.text is not None, 'no memory'
        assert vcpus is not None, 'no vcpu'
        meta = el.find('metadata/' + _q('instance'))
        return cls(
            name=el.findtext('name'), uuid=el.findtext('uuid'),
            type=el.get('type'),
            memory_kib=int(memory.text) * _MEMORY_UNITS[
                memory.get('unit', 'KiB')] // 1024,
            vcpus=int(vcpus),
            metadata=None if meta is None else Metadata.from_element(meta),
            devices=[_PARSED_DEVICES[d.tag].from_element(d)
                     for d in el.iterfind('devices/*')
                     if d.tag in _PARSED_DEVICES])
