"""The pure parts of the libvirt resize: the offer's pool, the most a
resized disk may be, and which received disks are refused."""
import xml.etree.ElementTree as ET

import pytest

from virt.libvirt import resize

GiB = 1 << 30
UUID = '8c0e2a3e-51cc-4a37-9a4c-7f0c9b1d2e3f'


def test_the_pool_is_named_for_a_checked_uuid_only():
    assert resize.pool_name(UUID) == 'hvagent-resize-' + UUID
    for bad in ('../etc', UUID.upper(), UUID + '/x', '', None):
        with pytest.raises(ValueError):
            resize.pool_name(bad)


def test_pool_xml_escapes_and_names_the_directory():
    root = ET.fromstring(resize.pool_xml('p', '/var/lib/a&b <c>'))
    assert (root.get('type'), root.findtext('name'),
            root.findtext('target/path')) == ('dir', 'p', '/var/lib/a&b <c>')


@pytest.mark.parametrize('root_gb, base, expected', [
    (20, 64 << 20, 20 * GiB),         # the flavor's disk
    (0, 64 << 20, 64 << 20),          # root_gb 0: the image's size
    (1, 3 * GiB, 3 * GiB),            # an image larger than the flavor's
    (0, None, GiB),                   # no image, no size: the blank disk
])
def test_largest_disk(root_gb, base, expected):
    assert resize.largest_disk(root_gb, base, GiB) == expected


def test_the_download_limit_allows_qcow2_metadata_only():
    limit = resize.download_limit(20 * GiB)
    assert 20 * GiB < limit < 20 * GiB + 64 * (1 << 20)


def _info(**kw):
    info = {'format': 'qcow2', 'virtual-size': GiB}
    info.update(kw)
    return info


@pytest.mark.parametrize('info, backed, why', [
    (_info(), True, None),
    (_info(**{'backing-filename': '/etc/shadow'}), True, None),  # rebased
    (_info(**{'backing-filename': '/etc/shadow'}), False, 'backing file'),
    (_info(format='raw'), True, 'not a qcow2'),
    (_info(**{'format-specific': {'data': {'data-file': '/dev/sda'}}}),
     True, 'external data file'),
    (_info(snapshots=[{'id': '1'}]), True, 'internal snapshots'),
    (_info(**{'virtual-size': 2 * GiB}), True, 'not within'),
    (_info(**{'virtual-size': 0}), True, 'not within'),
    ({'format': 'unreadable: qemu-img failed'}, True, 'not a qcow2'),
])
def test_refusal(info, backed, why):
    reason = resize.refusal(info, GiB, backed)
    assert (reason is None) if why is None else (why in reason)
