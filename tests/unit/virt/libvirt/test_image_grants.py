"""Images of hvagent-api are fetched by id: the conductor's image grant for
the instance authorises every use (a cached copy too) at the API, and goes
to no other server (not even through a redirect, which is not followed at
all)."""
import hashlib
import json
import os
import subprocess
import uuid

import pytest

from agent import exception
from tests.unit.virt.libvirt.test_images import IMAGE
from tests.unit.virt.libvirt.test_images import needs_qemu_img
from virt.libvirt import images

pytestmark = needs_qemu_img
GRANT = 'payload.signature'


@pytest.fixture
def cache(tmp_path, image_server, other_server):
    return images.ImageCache(str(tmp_path / '_base'), download_timeout=10,
                             api_url=image_server.url(''),
                             url_allowlist=[other_server.url('/')])


def publish(server, data=IMAGE, status='active', fmt='raw'):
    """An image of the API at ``server``: its metadata and its bytes."""
    image_id = str(uuid.uuid4())
    meta = {'id': image_id, 'status': status, 'disk_format': fmt,
            'os_hash_algo': 'sha256',
            'os_hash_value': hashlib.sha256(data).hexdigest()}
    server.canned['/image/v2/images/' + image_id] = (
        200, {'Content-Type': 'application/json'}, json.dumps(meta).encode())
    server.files['/image/v2/images/%s/file' % image_id] = data
    return image_id


def test_grant_sent_to_the_api(cache, image_server):
    image_id = publish(image_server)
    path = cache.fetch(image_id, grant=GRANT)
    for p in ('/image/v2/images/' + image_id, '/image/v2/images/%s/file' % image_id):
        assert image_server.headers[p]['X-Image-Grant'] == GRANT
    assert cache.image_info(path)['format'] == 'raw'


def test_grant_not_sent_elsewhere(cache, other_server):
    other_server.files['/img.raw'] = IMAGE
    cache.fetch(other_server.url('/img.raw'), grant=GRANT)
    assert 'X-Image-Grant' not in other_server.headers['/img.raw']


def test_a_redirect_of_the_api_is_not_followed(cache, image_server,
                                               other_server):
    image_id = publish(image_server)
    other_server.files['/img.raw'] = IMAGE
    image_server.canned['/image/v2/images/%s/file' % image_id] = (
        302, {'Location': other_server.url('/img.raw')}, b'')
    with pytest.raises(exception.ImageDownloadFailed):
        cache.fetch(image_id, grant=GRANT)
    assert '/img.raw' not in other_server.gets


def test_refused_grant_is_a_readable_fault(cache, image_server):
    image_id = str(uuid.uuid4())
    image_server.refuse('/image/v2/images/' + image_id, 401, 'image grant expired')
    with pytest.raises(exception.ImageDownloadFailed) as exc:
        cache.fetch(image_id, grant=GRANT)
    assert 'HTTP 401 Unauthorized: image grant expired' in str(exc.value)


def test_a_cache_hit_is_authorised_again(cache, image_server):
    """Once cached, an image is still served only to whom the API shows
    it: another project's caller (or anyone after the delete) gets "not
    found", not the cached bytes."""
    image_id = publish(image_server)
    path = cache.fetch(image_id, grant=GRANT)
    assert cache.fetch(image_id, grant=GRANT) == path
    image_server.refuse('/image/v2/images/' + image_id, 404, 'no such image')
    with pytest.raises(exception.ImageNotFound, match='may use'):
        cache.fetch(image_id, grant='another.project')
    assert image_server.gets['/image/v2/images/%s/file' % image_id] == 1


@pytest.mark.parametrize('prefix', [images.IMAGES, images.LEGACY_IMAGES])
def test_an_old_instance_api_url_is_the_image_id(cache, image_server, prefix):
    """Instances recorded before ids were: hvagent-api's download URL
    (Image v2's, or the retired /v1's) means the image, read and
    authorised through Image v2."""
    image_id = publish(image_server)
    url = image_server.url('%s%s/file' % (prefix, image_id))
    assert cache.fetch(url, grant=GRANT) == cache.fetch(image_id,
                                                        grant=GRANT)
    image_server.refuse(images.IMAGES + image_id, 404, 'no such image')
    with pytest.raises(exception.ImageNotFound):
        cache.fetch(url, grant=GRANT)


def test_a_declared_raw_image_is_never_probed(cache, image_server, tmp_path):
    """A raw image whose bytes are a qcow2 header (pointing at a host
    file) stays raw: its declared format is used, not a probe."""
    q = tmp_path / 'evil.qcow2'
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b',
                    '/etc/shadow', '-F', 'raw', str(q), '1M'], check=True)
    image_id = publish(image_server, q.read_bytes(), fmt='raw')
    info = cache.image_info(cache.fetch(image_id, grant=GRANT))
    assert info['format'] == 'raw'
    bad = publish(image_server, q.read_bytes(), fmt='qcow2')
    with pytest.raises(exception.ImageUnacceptable, match='another file'):
        cache.fetch(bad, grant=GRANT)


def test_a_qcow2_with_an_external_data_file_is_refused(cache, image_server,
                                                       tmp_path):
    """A qcow2 whose data lives in another file (data-file) would hand the
    guest that host file: refused, and nothing of it cached."""
    q = tmp_path / 'ext.qcow2'
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-o',
                    'data_file=%s' % (tmp_path / 'host-file.raw'), str(q),
                    '1M'], check=True)
    image_id = publish(image_server, q.read_bytes(), fmt='qcow2')
    with pytest.raises(exception.ImageUnacceptable):
        cache.fetch(image_id, grant=GRANT)
    assert not [n for n in os.listdir(cache.base_dir)
                if not n.endswith('.lock')]
