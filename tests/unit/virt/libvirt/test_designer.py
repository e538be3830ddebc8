"""The guest definition policy, checked against golden XML and libvirt."""
import datetime
import os
import xml.etree.ElementTree as ET

import libvirt
import pytest

from agent import exception
from virt import driver
from virt.libvirt import config
from virt.libvirt import designer

GOLDEN = os.path.join(os.path.dirname(__file__), 'golden')
UUID = '6f2b7e1c-3c1e-4d6a-9d5b-2d1f0c8a9e11'
VOLUME = '0c3f5a2e-8d41-4b7e-9a6c-2f1e8d7c6b5a'
CREATED = datetime.datetime(2024, 5, 1, 12, 30, 0,
                            tzinfo=datetime.timezone.utc)
HOSTILE = 'web <1> & "quoted" \'single\' ]]> end'


def spec(**kw):
    values = dict(uuid=UUID, name='web-1', vcpus=2, memory_mb=512,
                  root_gb=10, flavor_name='m1.small', user_id='alice',
                  project_id='proj-1')
    values.update(kw)
    return driver.GuestSpec(**values)


def domain(s=None, **kw):
    args = dict(virt_type='kvm', disk_path='/var/lib/hvagent/%s/disk' % UUID,
                console_log_path='/var/lib/hvagent/%s/console.log' % UUID,
                disk_cachemode='none', created_at=CREATED)
    args.update(kw)
    return designer.domain_for(s or spec(), **args)


def canonical(text):
    return ET.canonicalize(xml_data=text, strip_text=True)


def golden(name):
    with open(os.path.join(GOLDEN, name)) as f:
        return canonical(f.read())


# ---------------------------------------------------------------- golden XML
def test_disk_boot_domain_matches_golden():
    assert canonical(domain().to_xml()) == golden('domain_disk_boot.xml')


def test_kernel_boot_with_config_drive_matches_golden():
    base = '/var/lib/hvagent/%s/' % UUID
    dom = domain(virt_type='qemu', disk_cachemode='writeback',
                 kernel_path=base + 'kernel', ramdisk_path=base + 'ramdisk',
                 config_drive_path=base + 'disk.config')
    assert canonical(dom.to_xml()) == golden('domain_kernel_boot.xml')


# ------------------------------------------------------------------ policy
def test_names_uuid_and_sizes():
    dom = domain(spec(name=HOSTILE))
    assert dom.name == 'instance-' + UUID == designer.domain_name(UUID)
    assert dom.uuid == UUID
    assert HOSTILE not in ET.fromstring(dom.to_xml()).findtext('name')
    assert dom.metadata.display_name == HOSTILE
    assert (dom.memory_kib, dom.vcpus) == (512 * 1024, 2)


@pytest.mark.parametrize('virt_type, cpu_mode, expected', [
    ('kvm', None, 'host-model'),
    ('kvm', 'host-passthrough', 'host-passthrough'),
    ('qemu', None, None),
    ('qemu', 'host-model', 'host-model'),
])
def test_cpu_mode(virt_type, cpu_mode, expected):
    dom = domain(virt_type=virt_type, cpu_mode=cpu_mode)
    assert dom.type == virt_type
    assert (dom.cpu and dom.cpu.mode) == expected
    assert (ET.fromstring(dom.to_xml()).find('cpu') is None) == (
        expected is None)


def test_kernel_cmdline_default_and_override():
    assert domain(kernel_path='/k').os.cmdline == \
        designer.DEFAULT_KERNEL_CMDLINE
    dom = domain(kernel_path='/k', kernel_cmdline='root=/dev/vda1 quiet')
    assert (dom.os.cmdline, dom.os.initrd, dom.os.boot_dev) == (
        'root=/dev/vda1 quiet', None, None)
    assert domain().os.kernel is None and domain().os.boot_dev == 'hd'


def test_ramdisk_without_kernel_is_refused():
    with pytest.raises(ValueError, match='kernel'):
        domain(ramdisk_path='/r')


def test_cachemode_applies_to_all_disks_and_none_leaves_default():
    dom = domain(disk_cachemode=None, config_drive_path='/cd')
    assert [d.driver_cache for d in dom.disks] == [None, None]
    assert 'cache' not in dom.disks[0].to_element().find('driver').attrib
    assert designer.cachemode_for(True) == 'none'
    assert designer.cachemode_for(False) == 'writeback'


def test_metadata_from_spec_and_default_creation_time():
    before = datetime.datetime.now(datetime.timezone.utc)
    meta = domain(created_at=None).metadata
    assert meta == config.Metadata(
        instance_uuid=UUID, display_name='web-1', user_id='alice',
        project_id='proj-1', created_at=meta.created_at,
        flavor=config.Flavor('m1.small', 2, 512, 10))
    assert (before.replace(microsecond=0) <= meta.created_at <=
            datetime.datetime.now(datetime.timezone.utc))


def test_characters_xml_cannot_carry_are_replaced_in_metadata():
    dom = domain(spec(name='bad\x01name\x1b[0m\ud800', flavor_name='f\x7f'))
    parsed = config.Domain.from_xml(dom.to_xml())
    assert parsed.metadata.display_name == 'bad\ufffdname\ufffd[0m\ufffd'
    assert parsed.metadata.flavor.name == 'f\x7f'   # DEL is fine in XML


def test_domain_defines_on_libvirt_test_driver(tmp_path):
    """libvirt's own parser accepts the XML (paths need not exist for the
    test driver) and keeps our metadata, hostile name included."""
    for name in ('kernel', 'disk', 'disk.config'):
        (tmp_path / name).write_bytes(b'')
    dom_config = domain(
        spec(name=HOSTILE), kernel_path=str(tmp_path / 'kernel'),
        disk_path=str(tmp_path / 'disk'),
        config_drive_path=str(tmp_path / 'disk.config'),
        console_log_path=str(tmp_path / 'console.log'))
    conn = libvirt.open('test:///default')
    dom = conn.defineXML(dom_config.to_xml())
    try:
        assert dom.UUIDString() == UUID
        assert dom.name() == 'instance-' + UUID
        meta = config.Metadata.from_xml(dom.metadata(
            libvirt.VIR_DOMAIN_METADATA_ELEMENT, config.NS))
        assert meta == dom_config.metadata
        back = config.Domain.from_xml(dom.XMLDesc(0))
        assert back.metadata == dom_config.metadata
        assert back.disks == dom_config.disks
        assert back.console_log_path == str(tmp_path / 'console.log')
        assert (back.memory_kib, back.vcpus) == (512 * 1024, 2)
        dom.create()    # the test driver "runs" it: nothing it dislikes
    finally:
        if dom.isActive():
            dom.destroy()
        dom.undefine()
        conn.close()


# ------------------------------------------------------------------ volumes
@pytest.mark.parametrize('fmt', ['qcow2', 'raw'])
def test_volume_disk(fmt):
    disk = designer.volume_disk(
        VOLUME, {'driver_volume_type': 'file', 'path': '/vols/v 1', 'format':
                 fmt}, 'vdc')
    assert disk == config.Disk(
        source_path='/vols/v 1', target_dev='vdc', target_bus='virtio',
        driver_format=fmt, serial=VOLUME[:20])
    el = ET.fromstring(disk.to_xml())
    assert el.find('serial').text == '0c3f5a2e-8d41-4b7e-9'
    assert el.find('source').get('file') == '/vols/v 1'


@pytest.mark.parametrize('info, reason', [
    (None, "driver_volume_type None"),
    ({'path': '/v', 'format': 'raw'}, 'driver_volume_type None'),
    ({'driver_volume_type': 'iscsi', 'path': '/v', 'format': 'raw'},
     "driver_volume_type 'iscsi'"),
    ({'driver_volume_type': 'file', 'format': 'raw'}, 'path None'),
    ({'driver_volume_type': 'file', 'path': 'v.img', 'format': 'raw'},
     "path 'v.img'"),
    ({'driver_volume_type': 'file', 'path': 7, 'format': 'raw'}, 'path 7'),
    ({'driver_volume_type': 'file', 'path': '/v\x00', 'format': 'raw'},
     'path'),
    ({'driver_volume_type': 'file', 'path': '/v'}, 'format None'),
    ({'driver_volume_type': 'file', 'path': '/v', 'format': 'vmdk'},
     "format 'vmdk'"),
])
def test_volume_disk_refuses_bad_connection_info(info, reason):
    with pytest.raises(designer.InvalidVolume) as e:
        designer.volume_disk(VOLUME, info, 'vdb')
    assert isinstance(e.value, exception.VirtDriverError)
    assert VOLUME in str(e.value) and reason in str(e.value)


@pytest.mark.parametrize('used, expected', [
    ([], 'vdb'),
    (['vda'], 'vdb'),
    (['vda', 'hdc', 'vdb', 'vdd'], 'vdc'),
    ({'vda', 'vdb', 'vdc'}, 'vdd'),
])
def test_next_device_name(used, expected):
    assert designer.next_device_name(used) == expected


def test_next_device_name_when_all_are_taken():
    used = ['vd' + chr(c) for c in range(ord('a'), ord('z') + 1)]
    assert designer.next_device_name(used[:-1]) == 'vdz'
    with pytest.raises(exception.VirtDriverError, match='no free'):
        designer.next_device_name(used)


def test_nics_become_bridge_interfaces_with_the_ports_tap():
    nic = {'mac': 'fa:16:3e:00:00:01', 'bridge': 'brq1234567890a',
           'tap': 'tap0123456789a', 'mtu': 1450}
    dom = designer.domain_for(spec(networks=(nic,)), virt_type='qemu',
                              disk_path='/d', console_log_path='/c')
    (iface,) = dom.interfaces
    assert (iface.mac, iface.bridge, iface.target_dev, iface.mtu,
            iface.model) == ('fa:16:3e:00:00:01', 'brq1234567890a',
                             'tap0123456789a', 1450, 'virtio')
    back = config.Domain.from_xml(dom.to_xml())
    assert back.interfaces == [iface]
