"""The booting caller's token goes with an image download to hvagent-api,
and to no other server (not even through a redirect)."""
import pytest

from agent import exception
from tests.unit.virt.libvirt.test_images import IMAGE, needs_qemu_img
from virt.libvirt import images

pytestmark = needs_qemu_img
TOKEN = 'payload.signature'


@pytest.fixture
def cache(tmp_path, image_server):
    return images.ImageCache(str(tmp_path / '_base'), download_timeout=10,
                             token_origins=[image_server.url('/')])


def test_token_sent_to_the_api(cache, image_server):
    image_server.files['/v1/images/1/file'] = IMAGE
    cache.fetch(image_server.url('/v1/images/1/file'), token=TOKEN)
    assert image_server.headers['/v1/images/1/file']['X-Auth-Token'] == \
        TOKEN


def test_token_not_sent_elsewhere(cache, other_server):
    other_server.files['/img.raw'] = IMAGE
    cache.fetch(other_server.url('/img.raw'), token=TOKEN)
    assert 'X-Auth-Token' not in other_server.headers['/img.raw']


def test_token_not_carried_over_a_redirect(cache, image_server,
                                           other_server):
    other_server.files['/img.raw'] = IMAGE
    image_server.canned['/v1/images/2/file'] = (
        302, {'Location': other_server.url('/img.raw')}, b'')
    cache.fetch(image_server.url('/v1/images/2/file'), token=TOKEN)
    assert image_server.headers['/v1/images/2/file']['X-Auth-Token'] == \
        TOKEN
    assert other_server.gets['/img.raw'] == 1
    assert 'X-Auth-Token' not in other_server.headers['/img.raw']


def test_refused_token_is_a_readable_fault(cache, image_server):
    image_server.refuse('/v1/images/3/file', 401, 'token revoked')
    with pytest.raises(exception.ImageDownloadFailed) as exc:
        cache.fetch(image_server.url('/v1/images/3/file'), token=TOKEN)
    assert 'HTTP 401 Unauthorized: token revoked' in str(exc.value)


@pytest.mark.parametrize('url,origin', [
    ('http://api.example:8774/v1/x', 'http://api.example:8774'),
    ('http://API.example/v1/x', 'http://api.example:80'),
    ('https://api.example/', 'https://api.example:443'),
    ('http://api.example:99999/', None),
])
def test_origin(url, origin):
    assert images.origin(url) == origin


def test_an_unparseable_origin_matches_nothing(tmp_path):
    """A public_url with a bad port is no origin at all: it does not turn
    into one (None) that other bad URLs would match."""
    bad = images.ImageCache(str(tmp_path / '_base'),
                            token_origins=['http://api.example:99999'])
    assert bad.token_origins == set()
