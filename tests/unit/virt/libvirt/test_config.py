"""The libvirt XML objects: exact output, escaping, and parsing back."""
import datetime
import xml.etree.ElementTree as ET

import pytest

from virt.libvirt import config

UUID = '6f2b7e1c-3c1e-4d6a-9d5b-2d1f0c8a9e11'
HOSTILE = [
    'a<b', 'a&b', "it's", 'say "hi"', 'x]]>y', '<![CDATA[x]]>',
    '</hvagent:name><hvagent:uuid>evil</hvagent:uuid>', '&amp; &#60;',
    '  spaced  ', 'multi\nline\ttab', 'h\u00e9llo \u65e5\u672c \U0001f600',
]


def canonical(text):
    return ET.canonicalize(xml_data=text, strip_text=True)


def assert_xml(obj, expected):
    assert canonical(obj.to_xml()) == canonical(expected)


def metadata(**kw):
    values = dict(instance_uuid=UUID, display_name='web-1',
                  flavor=config.Flavor('m1.small', 2, 512, 10),
                  user_id='alice', project_id='proj-1',
                  created_at=datetime.datetime(
                      2024, 5, 1, 12, 30, tzinfo=datetime.timezone.utc))
    values.update(kw)
    return config.Metadata(**values)


def full_domain(**kw):
    values = dict(
        name='instance-' + UUID, uuid=UUID, memory_kib=262144, vcpus=3,
        type='qemu', metadata=metadata(),
        os=config.OS(machine='pc', boot_dev='hd'),
        devices=[
            config.Disk('/d/disk', 'vda', driver_format='qcow2',
                        driver_cache='none'),
            config.Disk('/d/disk.config', 'hdc', target_bus='ide',
                        device='cdrom', readonly=True),
            config.Disk('/dev/vg/vol', 'vdb', type='block',
                        serial='0c3f5a2e-8d41-4b7e-9'),
            config.Interface('52:54:00:12:34:56', 'br0', target_dev='tap1',
                             mtu=1450),
            config.Serial(log_path='/d/console.log'), config.Console(),
            config.MemBalloon(), config.RNG()])
    values.update(kw)
    return config.Domain(**values)


# -------------------------------------------------------------- devices
def test_disk_file_qcow2():
    assert_xml(config.Disk('/d/disk', 'vda', driver_format='qcow2',
                           driver_cache='none', serial='s1'), """
        <disk type='file' device='disk'>
          <driver name='qemu' type='qcow2' cache='none'/>
          <source file='/d/disk'/>
          <target dev='vda' bus='virtio'/>
          <serial>s1</serial>
        </disk>""")


def test_disk_block_and_cdrom():
    assert_xml(config.Disk('/dev/sdx', 'vdb', type='block'), """
        <disk type='block' device='disk'>
          <driver name='qemu' type='raw'/>
          <source dev='/dev/sdx'/>
          <target dev='vdb' bus='virtio'/>
        </disk>""")
    assert_xml(config.Disk(None, 'hdc', target_bus='ide', device='cdrom',
                           readonly=True), """
        <disk type='file' device='cdrom'>
          <driver name='qemu' type='raw'/>
          <target dev='hdc' bus='ide'/>
          <readonly/>
        </disk>""")


def test_serial_console_interface_balloon_rng():
    assert_xml(config.Serial(log_path='/d/console.log'), """
        <serial type='pty'>
          <log file='/d/console.log' append='on'/>
          <target port='0'/>
        </serial>""")
    assert_xml(config.Console(), """
        <console type='pty'><target type='serial' port='0'/></console>""")
    assert_xml(config.Interface('52:54:00:12:34:56', 'br0'), """
        <interface type='bridge'>
          <mac address='52:54:00:12:34:56'/>
          <source bridge='br0'/>
          <model type='virtio'/>
        </interface>""")
    assert_xml(config.MemBalloon(), "<memballoon model='virtio'/>")
    assert_xml(config.RNG(), """
        <rng model='virtio'>
          <backend model='random'>/dev/urandom</backend>
        </rng>""")


def test_domain_sections_kernel_cpu_sysinfo():
    dom = config.Domain(
        name='n', uuid=UUID, memory_kib=1024, vcpus=1,
        os=config.OS(machine='pc', kernel='/k', initrd='/i', cmdline='c',
                     smbios_mode='sysinfo'),
        cpu=config.CPU('custom', 'qemu64'),
        sysinfo=config.SysInfo({'manufacturer': 'm', 'serial': UUID}))
    assert_xml(dom, """
        <domain type='kvm'>
          <name>n</name>
          <uuid>%s</uuid>
          <memory unit='KiB'>1024</memory>
          <vcpu>1</vcpu>
          <sysinfo type='smbios'>
            <system>
              <entry name='manufacturer'>m</entry>
              <entry name='serial'>%s</entry>
            </system>
          </sysinfo>
          <os>
            <type machine='pc'>hvm</type>
            <kernel>/k</kernel>
            <initrd>/i</initrd>
            <cmdline>c</cmdline>
            <smbios mode='sysinfo'/>
          </os>
          <features><acpi/><apic/></features>
          <cpu mode='custom'><model>qemu64</model></cpu>
          <clock offset='utc'/>
          <on_poweroff>destroy</on_poweroff>
          <on_reboot>restart</on_reboot>
          <on_crash>destroy</on_crash>
          <devices/>
        </domain>""" % (UUID, UUID))


def test_to_xml_is_indented_text():
    text = full_domain().to_xml()
    assert text.startswith('<domain ') and '\n  <name>' in text


# ------------------------------------------------------------- metadata
def test_metadata_xml_uses_our_namespace():
    el = ET.fromstring(metadata().to_xml())
    assert el.tag == '{%s}instance' % config.NS
    assert 'xmlns:hvagent="%s"' % config.NS in metadata().to_xml()
    q = '{%s}' % config.NS
    assert el.find(q + 'flavor').get('name') == 'm1.small'
    assert el.findtext(q + 'flavor/' + q + 'memory_mb') == '512'
    assert el.find(q + 'owner/' + q + 'project').get('id') == 'proj-1'


def test_metadata_round_trip_with_and_without_namespace():
    meta = metadata()
    assert config.Metadata.from_xml(meta.to_xml()) == meta
    # virDomainGetMetadata hands the element back without its namespace
    bare = meta.to_xml().replace('hvagent:', '').replace(
        ' xmlns:hvagent="%s"' % config.NS, '')
    assert 'hvagent' not in bare
    assert config.Metadata.from_xml(bare) == meta


def test_metadata_leaves_out_what_is_unknown():
    meta = config.Metadata(instance_uuid=UUID)
    el = ET.fromstring(meta.to_xml())
    assert [child.tag for child in el] == ['{%s}uuid' % config.NS]
    assert config.Metadata.from_xml(meta.to_xml()) == meta


def test_metadata_rejects_other_elements():
    with pytest.raises(ValueError, match='not hvagent'):
        config.Metadata.from_xml('<instance xmlns="urn:other"/>')
    with pytest.raises(ValueError, match='not hvagent'):
        config.Metadata.from_xml('<domain/>')


# ------------------------------------------------------- escaping, parsing
@pytest.mark.parametrize('name', HOSTILE)
def test_hostile_names_are_escaped_and_round_trip(name):
    dom = full_domain(metadata=metadata(
        display_name=name, flavor=config.Flavor(name, 1, 64, 1),
        user_id=name))
    text = dom.to_xml()
    el = ET.fromstring(text)                  # well-formed
    q = '{%s}' % config.NS
    meta = el.find('metadata/' + q + 'instance')
    assert [c.tag for c in meta] == [q + t for t in (
        'uuid', 'name', 'creation_time', 'flavor', 'owner')]
    assert meta.findtext(q + 'uuid') == UUID
    back = config.Domain.from_xml(text).metadata
    assert (back.display_name, back.flavor.name, back.user_id) == (
        name, name, name)


def test_hostile_paths_in_attributes():
    path = '/d/it\'s "a" <disk> & more]]>'
    back = config.Domain.from_xml(full_domain(devices=[
        config.Disk(path, 'vda'), config.Serial(log_path=path)]).to_xml())
    assert back.disks[0].source_path == path
    assert back.console_log_path == path


@pytest.mark.parametrize('bad', ['nul\x00', 'esc\x1b[0m', 'bell\x07',
                                 'surrogate\ud800', 'nonchar\uffff'])
def test_characters_xml_cannot_carry_raise(bad):
    with pytest.raises(ValueError, match='cannot be written in XML'):
        full_domain(metadata=metadata(display_name=bad)).to_xml()
    with pytest.raises(ValueError, match='cannot be written in XML'):
        config.Disk('/d/' + bad, 'vda').to_xml()


def test_domain_from_xml_reads_what_the_driver_needs():
    dom = full_domain()
    back = config.Domain.from_xml(dom.to_xml())
    assert (back.name, back.uuid, back.type, back.memory_kib, back.vcpus) \
        == ('instance-' + UUID, UUID, 'qemu', 262144, 3)
    assert back.metadata == dom.metadata
    assert back.disks == dom.disks
    assert back.interfaces == dom.interfaces
    assert back.console_log_path == '/d/console.log'
    assert [type(d) for d in back.devices] == [
        config.Disk, config.Disk, config.Disk, config.Interface,
        config.Serial, config.Console]


def test_domain_from_libvirt_style_xml():
    """As libvirt writes it: its own memory units, extra elements, a domain
    that is not ours (no metadata), disks of kinds we never create."""
    back = config.Domain.from_xml("""
        <domain type='kvm' id='3'>
          <name>other</name>
          <uuid>%s</uuid>
          <memory unit='MiB'>64</memory>
          <currentMemory unit='KiB'>65536</currentMemory>
          <vcpu placement='static'>2</vcpu>
          <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os>
          <devices>
            <emulator>/usr/bin/qemu-system-x86_64</emulator>
            <disk type='network' device='disk'>
              <driver name='qemu' type='raw'/>
              <source protocol='nbd' name='x'/>
              <target dev='vdb' bus='virtio'/>
              <alias name='virtio-disk1'/>
            </disk>
            <disk type='file' device='cdrom'>
              <target dev='hdc' bus='ide'/>
              <readonly/>
            </disk>
            <serial type='pty'><source path='/dev/pts/3'/>
              <target type='isa-serial' port='0'/></serial>
          </devices>
        </domain>""" % UUID)
    assert (back.name, back.memory_kib, back.vcpus, back.metadata) == (
        'other', 65536, 2, None)
    assert [(d.type, d.device, d.target_dev, d.source_path, d.readonly)
            for d in back.disks] == [('network', 'disk', 'vdb', None, False),
                                     ('file', 'cdrom', 'hdc', None, True)]
    assert back.console_log_path is None
