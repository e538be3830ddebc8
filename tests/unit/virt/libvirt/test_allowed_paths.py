"""Image and volume references resolve inside the allowed directories or
are refused: path traversal, symbolic links, file:// URLs, other hosts,
NUL bytes. Before ``[libvirt] allowed_image_dirs`` and
``allowed_volume_dirs`` any absolute path was accepted: ``file:///etc/shadow``
as an image became a guest's disk, and a volume at ``/etc/shadow`` would
have been relabelled by libvirt and handed to QEMU."""
import os
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oslo_config import cfg

from agent import exception
from agent.objects import states as S
from tests import hostile
from tests.fixtures.fakes import ctxt
from tests.unit.test_compute_manager import make_env
from tests.unit.test_compute_manager import states_of
from tests.unit.test_compute_manager import with_volume
from virt.libvirt import designer
from virt.libvirt import download
from virt.libvirt import driver as libvirt_driver
from virt.libvirt import images

CONF = cfg.CONF
IMAGE = b'\0' * 4096     # probes as raw with a size: acceptable


@pytest.fixture
def tree(tmp_path):
    """allowed/ with an image and a volume, a secret outside, and symbolic
    links from inside to outside."""
    allowed = tmp_path / 'allowed'
    allowed.mkdir()
    (allowed / 'ok.raw').write_bytes(IMAGE)
    (allowed / 'sub').mkdir()
    (allowed / 'sub' / 'vol.raw').write_bytes(IMAGE)
    secret = tmp_path / 'secret.raw'
    secret.write_bytes(IMAGE)
    (allowed / 'link-out').symlink_to(secret)
    (allowed / 'dir-out').symlink_to(tmp_path)
    return allowed


def refs(allowed):
    """Hostile references, some aimed at this tree."""
    aimed = [str(allowed / 'ok.raw'), 'file://' + str(allowed / 'ok.raw'),
             str(allowed / '..' / 'secret.raw'),
             str(allowed / 'link-out'),
             str(allowed / 'dir-out' / 'secret.raw'),
             'file://' + str(allowed / 'link-out'),
             'file://' + str(allowed / '%2e%2e' / 'secret.raw'),
             'file://localhost' + str(allowed / 'sub' / 'vol.raw'),
             'file:///%00', str(allowed) + '/\x00x', str(allowed)]
    return st.one_of(
        st.sampled_from(aimed), hostile.hostile_text(),
        st.builds(lambda a, b: a + b, st.sampled_from(
            [str(allowed) + '/', 'file://' + str(allowed) + '/', '/']),
            hostile.hostile_text()))


def test_image_refs_resolve_inside_the_allowed_dirs_or_are_refused(
        tree, tmp_path, monkeypatch):
    def no_network(*a, **kw):
        raise AssertionError('no URL may be fetched: none is allowed')
    monkeypatch.setattr(download, 'open_url', no_network)
    cache = images.ImageCache(str(tmp_path / '_base'),
                              local_dirs=[str(tree)])
    outcomes = {'fetched': 0, 'refused': 0}

    @settings(max_examples=400, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(refs(tree))
    def case(ref):
        try:
            path = cache.fetch(ref)
        except (exception.ImageUnacceptable, exception.ImageNotFound,
                exception.ImageDownloadFailed) as e:
            assert exception.text(e)
            outcomes['refused'] += 1
            return
        outcomes['fetched'] += 1
        assert os.path.dirname(path) == cache.base_dir
        with open(path, 'rb') as f:
            assert f.read() == IMAGE
        # what was read came from inside the tree
        src = ref[len('file://'):] if ref.startswith('file://') else ref
        src = src[len('localhost'):] if src.startswith('localhost') else src
        assert images.resolve_inside(src, [str(tree)])

    case()
    assert outcomes['fetched'] and outcomes['refused'], outcomes
    for name in os.listdir(cache.base_dir):     # nothing half-written
        assert not name.endswith('.part'), name


@pytest.mark.parametrize('ref', [
    '/etc/shadow', 'file:///etc/shadow', '../../etc/passwd',
    'file://localhost/etc/passwd', 'file://evil.example/etc/passwd',
    '/var/cache/hvagent/../../../etc/passwd'])
def test_classic_traversals_are_refused(tmp_path, ref):
    cache = images.ImageCache(str(tmp_path / '_base'),
                              local_dirs=[str(tmp_path / 'images')])
    with pytest.raises(exception.ImageUnacceptable):
        cache.fetch(ref)


def test_empty_allow_list_refuses_every_local_file(tree, tmp_path):
    cache = images.ImageCache(str(tmp_path / '_base'), local_dirs=[])
    with pytest.raises(exception.ImageUnacceptable,
                       match='allowed_image_dirs is empty'):
        cache.fetch(str(tree / 'ok.raw'))


@pytest.fixture
def drv(tree, tmp_path):
    CONF.set_override('allowed_image_dirs', [str(tree)], group='libvirt')
    CONF.set_override('allowed_volume_dirs', [str(tree / 'sub')],
                      group='libvirt')
    CONF.set_override('image_cache_path', str(tmp_path / '_base'),
                      group='libvirt')
    try:
        yield libvirt_driver.LibvirtDriver()
    finally:
        for name in ('allowed_image_dirs', 'allowed_volume_dirs',
                     'image_cache_path'):
            CONF.clear_override(name, group='libvirt')


def test_driver_takes_its_allow_lists_from_the_config(drv, tree):
    assert drv.images.local_dirs == [str(tree)]
    assert drv.volume_dirs == [str(tree / 'sub')]


def test_volume_paths_resolve_inside_the_allowed_dirs_or_are_refused(
        drv, tree):
    vol = str(uuid.uuid4())
    tried = []

    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(refs(tree))
    def case(path):
        tried.append(path)
        info = {'driver_volume_type': 'file', 'path': path, 'format': 'raw'}
        try:
            checked = drv._checked_volume(vol, info)
            disk = designer.volume_disk(vol, checked, 'vdb')
        except designer.InvalidVolume as e:
            assert isinstance(e, exception.VolumeUnusable)
            assert exception.text(e)
            return
        assert disk.source_path == os.path.realpath(path)
        assert images.resolve_inside(disk.source_path, [str(tree / 'sub')])

    case()
    assert len(tried) >= 300
    ok = drv._checked_volume(vol, {'path': str(tree / 'sub' / 'vol.raw')})
    assert ok['path'] == str(tree / 'sub' / 'vol.raw')
    for bad in (str(tree / 'ok.raw'), str(tree / 'sub' / '..' / 'ok.raw'),
                '/etc/shadow', str(tree / 'link-out')):
        with pytest.raises(designer.InvalidVolume, match='outside'):
            drv._checked_volume(vol, {'path': bad})


def test_unusable_volume_is_refused_and_the_instance_stays_active(conf):  # noqa: E501
    env = make_env()
    uuid_, vol = with_volume(env)
    env.driver.fail_next('attach_volume', designer.InvalidVolume(
        volume_id=vol, reason='path outside the allowed volume directories'))
    env.mgr.attach_volume(ctxt(), instance_uuid=uuid_, volume_id=vol)
    assert states_of(env, uuid_) == (S.ACTIVE, None, S.RUNNING)
    assert env.conductor.get(uuid_).block_devices == []
    [fault] = env.conductor.faults_of(uuid_)
    assert 'outside the allowed volume directories' in fault['message']
