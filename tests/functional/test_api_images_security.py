"""Project B plays the attacker against a cloud of real processes (API,
conductor, scheduler, agent over RabbitMQ) on libvirt/QEMU:

* B cannot boot A's private image by id, by its download URL, or through
  the agent's image cache after A booted it (the agent asks the API again,
  with the conductor's image grant for the instance, on every use; a
  grant for B's project does not read A's image);
* a URL to a loopback service, the metrics port or an internal address is
  refused with 400 before anything is recorded, and nothing is fetched;
* a qcow2 of 1 PiB fails the boot of an m1.tiny with a readable fault and
  leaves no guest files;
* a trickling, allowed server hits the download deadline; an oversized one
  the size cap; both leave no partial file, and the tenant sees one generic
  message for any network failure (no port-scan oracle);
* cached images, instance directories and disks are QEMU's group's only,
  the config drive (user_data) 0600, the conductor's SQLite file 0600;
* an upload over ``[api] max_image_upload_bytes`` is 413 and leaves no
  file; the images and image_megabytes quotas are 403, also for racing
  uploads.

Tenants go through the OpenStack-shaped APIs (Compute's ``POST
/compute/v2.1/servers`` with ``imageRef``, Image v2's ``/image/v2/images``
whose ``kernel_id``/``ramdisk_id`` name the kernel and ramdisk a boot from
the image uses).
"""
import base64
import concurrent.futures
import grp
import http.server
import os
import pathlib
import pwd
import shutil
import stat
import subprocess
import tempfile
import threading
import time
import uuid

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent import context
from agent import exception
from agent.conductor import rpcapi as conductor_rpcapi
from agent.rpc import transport as rpc_transport
from agent.security import bus_auth
from agent.security import image_grants
from tests import hostile
from tests.fixtures import api_cloud as cloudlib
from tests.fixtures import libvirtd
from tests.fixtures.api_cloud import COMPUTE
from tests.fixtures.api_cloud import IMAGE
from tests.fixtures.api_cloud import upload_image as upload
from tests.fixtures.api_cloud import vm_state
from tests.fixtures.libvirt_guests import remove_domains
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional
MiB = 1 << 20
GENERIC = "could not be downloaded (the compute agent's log says why)"
OCTETS = {'Content-Type': 'application/octet-stream'}


class Bait(http.server.ThreadingHTTPServer):
    """A loopback HTTP service: records every request; under /allowed/
    (the operator's allow-list in this cloud) it serves a trickle (a byte
    every 0.3 s, for 20 s at most) and an endless fast stream."""
    daemon_threads = True

    def __init__(self):
        super().__init__(('127.0.0.1', 0), _Handler)
        self.requests = []

    def url(self, path):
        return 'http://127.0.0.1:%d%s' % (self.server_address[1], path)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.0'       # the body ends when we close

    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path.startswith('/allowed/') and self.path not in (
                '/allowed/trickle', '/allowed/huge'):
            return self.send_error(404)
        if self.path not in ('/allowed/trickle', '/allowed/huge'):
            body = b'secret of a service on the loopback'
            self.send_response(200)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            return self.wfile.write(body)
        self.send_response(200)
        self.end_headers()
        deadline = time.monotonic() + 20
        try:
            while time.monotonic() < deadline:
                if self.path == '/allowed/trickle':
                    self.wfile.write(b'\0')
                    self.wfile.flush()
                    time.sleep(0.3)
                else:
                    self.wfile.write(b'\0' * MiB)
        except OSError:
            pass        # the agent hung up: what we wanted

    def log_message(self, *args):
        pass


@pytest.fixture(scope='module')
def bait():
    srv = Bait()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope='module')
def sec(tmp_path_factory, bait):
    libvirtd.require_libvirtd()
    state = tempfile.mkdtemp(dir='/var/tmp', prefix='hvagent-imgsec-')
    os.chmod(state, 0o755)
    cloud = cloudlib.ApiCloud(tmp_path_factory.mktemp('imgsec'), extra={
        'DEFAULT': {'state_path': state},
        'compute': {'compute_driver': 'libvirt',
                    'image_url_allowlist': bait.url('/allowed/'),
                    'sync_power_state_interval': 0},
        'api': {'max_image_upload_bytes': 20 * MiB},
        'libvirt': {'virt_type': 'qemu',
                    'connection_uri': libvirtd.URI,
                    'image_download_timeout': 3, 'image_read_timeout': 2,
                    'max_image_download_bytes': 32 * MiB}})
    rpc_transport.cleanup()
    rpc_transport.init(url=cloud.vhost.url)
    cloud.conductor = conductor_rpcapi.ConductorAPI(timeout=60)
    cloud.state, cloud.servers = pathlib.Path(state), []
    cloud.tmp = tmp_path_factory.mktemp('imgsec-files')
    try:
        cloud.start()
        admin = cloud.admin
        for name in ('a', 'b'):
            p = admin.ok('POST', '/v3/projects', json={
                'project': {'name': 'imgsec-' + name}})['project']
            dev = cloud.add_user(p['id'], 'imgsec%sdev' % name, 'developer')
            dev.project_id = p['id']
            dev.user_id = dev.ok('GET', '/v3/auth/tokens')['token'][
                'user']['id']
            setattr(cloud, name, dev)
        yield cloud
    finally:
        rpc_transport.cleanup()
        codes = cloud.stop()
        remove_domains(cloud.servers)
        shutil.rmtree(state, ignore_errors=True)
    assert set(codes.values()) == {0}, codes


def qcow2(sec, name, size):
    path = sec.tmp / name
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', str(path),
                    size], check=True)
    return path


def boot(sec, client, name, status=202, **fields):
    """Boot an m1.tiny without a NIC (``image``: its imageRef; other
    ``fields`` as Compute takes them): once settled, nova's view of it;
    for any other ``status`` than 202, the refusal's error."""
    r = cloudlib.try_boot(client, name, **fields)
    assert r.status_code == status, r.text
    if status != 202:
        return r.json()['error']
    sec.servers.append(r.json()['server']['id'])
    return cloudlib.wait_status(client, r.json()['server']['id'],
                                timeout=120)


def rpc_boot(sec, ctxt, name, image_ref):
    inst = sec.conductor.boot_instance(
        ctxt, name=name, flavor='m1.tiny', image_ref=image_ref,
        availability_zone=None, hints={}, metadata={}, networks=[],
        options={}, security_groups=[])
    sec.servers.append(inst.uuid)
    def settled():
        shown = sec.conductor.instance_show(ctxt, ref=inst.uuid)
        return shown if (shown.task_state is None
                         and shown.vm_state != 'building') else None
    return wait_until(settled, 120, message=lambda:
                      sec.conductor.instance_show(ctxt, ref=inst.uuid))


def cache_files(sec):
    base = sec.state / 'images' / '_base'
    return sorted(os.listdir(base)) if base.exists() else []


def no_servers(client):
    return client.ok('GET', COMPUTE + '/servers')['servers'] == []


def image_kernel_refused(client, field, ref):
    """An image naming ``ref`` as its ``field`` (kernel_id, ramdisk_id)
    is refused with 400: glance's properties take an image id only."""
    r = client.call('POST', IMAGE + '/images', json={
        'name': 'hostile-' + field, 'disk_format': 'qcow2',
        'container_format': 'bare', field: ref})
    assert r.status_code == 400, (field, ref, r.text)
    return True


def test_b_cannot_boot_a_private_image(sec):
    a, b = sec.a, sec.b
    image = upload(a, 'a-private', qcow2(sec, 'a.qcow2', '64M'))
    srv = boot(sec, a, 'a-1', image=image['id'])
    assert vm_state(srv) == 'active', srv
    cached = cache_files(sec)
    # by the URL the agents download it from (the old code booted such
    # a URL: the agent's cache was keyed by it)
    url = '%s%s/images/%s/file' % (sec.url, IMAGE, image['id'])
    err = boot(sec, b, 'b-by-url', status=400, image=url)
    assert 'refused' in err['message']
    # by id: "not found", like an image that does not exist
    err = boot(sec, b, 'b-by-id', status=404, image=image['id'])
    assert 'could not be found' in err['message']
    # as the kernel or ramdisk of an image of B's own (glance's kernel_id,
    # ramdisk_id): the boot checks each as an image B may read
    own_disk = qcow2(sec, 'b.qcow2', '64M')
    for field in ('kernel_id', 'ramdisk_id'):
        own = upload(b, 'b-' + field, own_disk, **{field: image['id']})
        err = boot(sec, b, 'b-' + field, status=404, image=own['id'])
        assert 'could not be found' in err['message'], err
    assert srv['image']['id'] == image['id']    # what the conductor recorded
    assert no_servers(b)
    # the agents' way in is an image grant: even one signed with this
    # cloud's bus secret, naming A's image for B's project, reads neither
    # its metadata nor its bytes (the API checks the grant's project
    # again); one for another image, or a forged one, reads nothing
    for project, images_named, key, status in (
            (b.project_id, [image['id']], bus_auth.keyring(), 404),
            (a.project_id, [str(uuid.uuid4())], bus_auth.keyring(), 401),
            (a.project_id, [image['id']],
             bus_auth.Keyring(master=b'f' * 32), 401)):
        grant = image_grants.issue(key, str(uuid.uuid4()), project,
                                   images_named, 'hvtest-node1')
        for path in ('', '/file'):
            r = requests.get('%s%s/images/%s%s' % (sec.url, IMAGE,
                                                   image['id'], path),
                             headers={'X-Image-Grant': grant}, timeout=30)
            assert r.status_code == status, (project, path, r.text)
    # after A deletes it, nobody boots it, cached or not
    a.ok('DELETE', '%s/images/%s' % (IMAGE, image['id']))
    assert boot(sec, a, 'a-after-delete', status=404, image=image['id'])
    with pytest.raises(exception.ImageNotFound):    # nor past the API
        rpc_boot(sec, context.RequestContext(
            user_id=a.user_id, project_id=a.project_id, via_api=True),
            'a-deleted-via-cache', image['id'])
    assert cache_files(sec) == cached   # nothing more was downloaded


def test_urls_to_internal_services_are_refused_unfetched(sec, bait):
    b = sec.b
    before = list(bait.requests)
    targets = [bait.url('/secret'), bait.url('/allowed/../secret'),
               bait.url('/allowedx'), bait.url('/allowed%2F..%2Fsecret'),
               'http://localhost:%d/allowed/x' % bait.server_address[1],
               'http://user@127.0.0.1:%d/allowed/x' % bait.server_address[1],
               sec.url + COMPUTE + '/servers',
               '%s%s/images' % (sec.url, IMAGE),
               'http://127.0.0.1:9180/metrics',
               'http://169.254.169.254/latest/meta-data/',
               'http://[::1]:%d/allowed/x' % bait.server_address[1],
               'file:///etc/shadow', '/var/cache/hvagent/test-image/vmlinuz',
               'gopher://127.0.0.1:6379/_FLUSHALL']
    images_before = b.ok('GET', IMAGE + '/images')['images']
    for target in targets:
        err = boot(sec, b, 'b-ssrf', status=400, image=target)
        assert 'refused' in err['message'], (target, err)
        # a kernel or ramdisk is an image's kernel_id/ramdisk_id: an id
        for field in ('kernel_id', 'ramdisk_id'):
            assert image_kernel_refused(b, field, target)
        # past the API, the conductor refuses the same as image, kernel
        # and ramdisk (defence in depth)
        for image_ref, options in ((target, {}),
                                   ('cirros', {'kernel_ref': target}),
                                   ('cirros', {'ramdisk_ref': target})):
            with pytest.raises(exception.InvalidRPCPayload):
                sec.conductor.boot_instance(
                    context.RequestContext(user_id=b.user_id,
                                           project_id=b.project_id,
                                           via_api=True),
                    name='b-rpc', flavor='m1.tiny', image_ref=image_ref,
                    availability_zone=None, hints={}, metadata={},
                    networks=[], options=options, security_groups=[])
    assert bait.requests == before      # nothing reached the service
    assert no_servers(b)
    assert b.ok('GET', IMAGE + '/images')['images'] == images_before


def test_huge_virtual_size_fails_the_boot_readably(sec):
    a = sec.a
    image = upload(a, 'huge', qcow2(sec, 'huge.qcow2', '1P'))
    srv = boot(sec, a, 'a-huge', image=image['id'])
    assert vm_state(srv) == 'error', srv
    assert srv['fault']['message'] == (
        "Image %s is unacceptable: image virtual size 1048576 GiB exceeds "
        "the flavor's root disk 1 GiB" % image['id'])
    assert not (sec.state / 'instances' / srv['id']).exists()
    assert subprocess.run(['virsh', '-c', libvirtd.URI, 'dominfo',
                           'instance-' + srv['id']],
                          capture_output=True).returncode != 0


def test_slow_and_oversized_downloads_are_cut(sec, bait):
    a = sec.a
    started = time.monotonic()
    srv = boot(sec, a, 'a-trickle', image=bait.url('/allowed/trickle'))
    took = time.monotonic() - started
    assert vm_state(srv) == 'error', srv
    assert srv['fault']['message'].endswith(GENERIC), srv['fault']
    assert took < 30, took      # 3 s deadline, 2 s per read
    log = sec.dep.log('hvagent-compute')
    assert 'exceeded the download deadline of 3s' in log
    srv = boot(sec, a, 'a-huge-stream', image=bait.url('/allowed/huge'))
    assert vm_state(srv) == 'error', srv
    assert 'max_image_download_bytes' in srv['fault']['message'], \
        srv['fault']
    # an allowed server's 404 and an unreachable one: the same words
    srv = boot(sec, a, 'a-404', image=bait.url('/allowed/nothing'))
    assert srv['fault']['message'].endswith(GENERIC), srv['fault']
    assert not [n for n in cache_files(sec) if n.endswith('.part')]


def image_store_files(sec):
    store = sec.state / 'image-store'
    return sorted(os.listdir(store)) if store.exists() else []


def new_project(sec, name):
    p = cloudlib.create_project(sec.admin, name)
    return p, sec.add_user(p['id'], name + 'dev', 'developer')


def test_upload_cap_is_413_and_leaves_nothing(sec):
    _, dev = new_project(sec, 'imgsec-cap')
    before = image_store_files(sec)
    image = dev.ok('POST', IMAGE + '/images', json={
        'name': 'big', 'disk_format': 'qcow2', 'container_format': 'bare'})
    path = '%s/images/%s/file' % (IMAGE, image['id'])
    # announced: refused before a byte is read
    r = dev.call('PUT', path, data=b'\0' * (20 * MiB + 1), headers=OCTETS)
    assert r.status_code == 413, r.text
    assert 'max_image_upload_bytes' in r.json()['error']['message']

    def chunks():       # not announced (chunked): counted as it comes
        for _ in range(21):
            yield b'\0' * MiB
    r = dev.call('PUT', path, data=chunks(), headers=OCTETS)
    assert r.status_code == 413, r.text
    assert image_store_files(sec) == before
    assert dev.ok('GET', '%s/images/%s' % (IMAGE, image['id']))[
        'status'] == 'queued'


#: glance's quotas (keystone's unified limits of service 'image') and
#: hvagent's names of them
GLANCE_QUOTAS = {'image_count_total': 'images',
                 'image_size_total': 'image_megabytes'}


def set_image_quotas(sec, project_id, **limits):
    """An admin sets a project's glance quotas as OpenStack does: POST
    /v3/limits (keystone's unified limits), in glance's names."""
    return sec.admin.ok('POST', '/v3/limits', json={'limits': [
        {'service_id': 'image', 'project_id': project_id,
         'resource_name': name, 'resource_limit': value}
        for name, value in limits.items()]})['limits']


def image_usage(sec, project_id):
    """{hvagent quota: {'limit', 'in_use'}} of the images and
    image_megabytes quotas: usage is in no REST answer (unified limits
    give the limit only; glance's /v2/info/usage is not served), so the
    operator's conductor call reads it."""
    quotas = sec.conductor.quota_show(context.RequestContext(),
                                      project_id=project_id)
    return {k: quotas[k] for k in GLANCE_QUOTAS.values()}


def test_image_quotas_are_403(sec):
    p, dev = new_project(sec, 'imgsec-quota')
    set_image_quotas(sec, p['id'], image_count_total=3, image_size_total=1)
    # the project's own users read them
    assert {lim['resource_name']: lim['resource_limit'] for lim in dev.ok(
        'GET', '/v3/limits')['limits']} == {'image_count_total': 3,
                                             'image_size_total': 1}
    data = b'\1' * (600 * 1024)

    def create(name):
        return dev.call('POST', IMAGE + '/images', json={
            'name': name, 'disk_format': 'raw', 'container_format': 'bare'})
    ids = [create('i%d' % i) for i in range(3)]
    assert [r.status_code for r in ids] == [201] * 3, [r.text for r in ids]
    ids = [r.json()['id'] for r in ids]
    r = create('one-too-many')
    assert r.status_code == 403, r.text
    assert r.json()['error']['resource'] == 'images'
    before = image_store_files(sec)
    # two uploads of 600 KiB race for 1 MiB: exactly one wins
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda i: dev.call(
            'PUT', '%s/images/%s/file' % (IMAGE, i), data=data,
            headers=OCTETS), ids[:2]))
    assert sorted(a.status_code for a in answers) == [204, 403], [
        a.text for a in answers]
    [refused] = [a for a in answers if a.status_code == 403]
    assert refused.json()['error']['resource'] == 'image_megabytes'
    assert len(image_store_files(sec)) == len(before) + 1
    assert sorted(i['status'] for i in dev.ok(
        'GET', IMAGE + '/images')['images']) == ['active', 'queued',
                                                 'queued']
    assert image_usage(sec, p['id']) == {
        'image_megabytes': {'limit': 1, 'in_use': 1},
        'images': {'limit': 3, 'in_use': 3}}


def mode(path):
    st = os.stat(path)
    return stat.S_IMODE(st.st_mode), st.st_gid


def test_file_modes_on_the_real_cache_and_config_drive(sec):
    a = sec.a
    qemu = grp.getgrnam('libvirt-qemu').gr_gid
    image = upload(a, 'modes', qcow2(sec, 'modes.qcow2', '64M'))
    srv = boot(sec, a, 'a-modes', image=image['id'], config_drive=True,
               user_data=base64.b64encode(
                   b'#cloud-config\npassword: hunter2\n').decode())
    # QEMU opened every file of the guest: it runs (nova's power state 1)
    assert (vm_state(srv), srv['OS-EXT-STS:power_state']) == (
        'active', 1), srv
    base = sec.state / 'images' / '_base'
    assert mode(base) == (0o750, qemu)
    assert mode(sec.state / 'instances') == (0o750, qemu)
    for name in cache_files(sec):
        m, gid = mode(base / name)
        assert m == (0o600 if name.endswith('.lock') else 0o640), name
        assert gid == qemu or name.endswith('.lock'), name
    inst = sec.state / 'instances' / srv['id']
    assert mode(inst) == (0o750, qemu)
    assert mode(inst / 'disk')[0] == 0o640
    # the config drive: 0600, owned by QEMU's user while the guest runs
    # (libvirt's dynamic ownership), by the agent's otherwise
    st = os.stat(inst / 'disk.config')
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid in (0, pwd.getpwnam('libvirt-qemu').pw_uid)
    for path in [inst / n for n in os.listdir(inst)] + [
            base / n for n in cache_files(sec)]:
        assert not os.stat(path).st_mode & 0o007, path
    db = sec.dep.tmp_path / 'hv.sqlite'
    for path in (db, pathlib.Path(str(db) + '-wal')):
        if path.exists():
            assert mode(path)[0] == 0o600, path


def aimed_refs(bait, api_port):
    """URLs at this host's services, near misses of the allowed prefix,
    and hostile text after them."""
    port = bait.server_address[1]
    url = st.builds(
        lambda scheme, host, p, path: '%s://%s%s%s' % (scheme, host, p,
                                                       path),
        st.sampled_from(['http', 'https', 'HTTP', 'file', 'ftp']),
        st.sampled_from(['127.0.0.1', 'localhost', '[::1]', '127.1',
                         '0x7f000001', '127.0.0.1.', 'u@127.0.0.1']),
        st.sampled_from([':%d' % port, ':%d' % api_port, ':9180', '']),
        st.sampled_from(['/allowed/x', '/allowed', '/allowedx',
                         '/allowed/../secret', '/allowed/%2e%2e/secret',
                         '/allowed%2F..%2Fsecret', '/secret', '/',
                         '/allowed/./x', '//allowed/x']))
    return st.one_of(url, st.builds(lambda u, t: u + t, url,
                                    hostile.hostile_text(24)))


def test_fuzzed_urls_reach_nothing_unless_allowed(sec, bait):
    """Hypothesis over HTTP: a reference is refused (400) unless it lies
    under the allowed prefix, and the loopback service only ever sees
    requests under it. A kernel or ramdisk is an image's kernel_id or
    ramdisk_id property: any URL there is refused (400)."""
    b, allowed = sec.b, bait.url('/allowed/')
    seen = len(bait.requests)
    tally = {'refused': 0, 'accepted': 0}

    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(aimed_refs(bait, sec.port), st.sampled_from(
        ['imageRef', 'kernel_id', 'ramdisk_id']))
    def case(ref, field):
        if field != 'imageRef':
            tally['refused'] += image_kernel_refused(b, field, ref)
            return
        r = cloudlib.try_boot(b, 'fuzz', image=ref)
        assert r.status_code in (202, 400), (ref, r.text)
        if r.status_code == 400:
            tally['refused'] += 1
            return
        tally['accepted'] += 1
        scheme, _, rest = ref.partition('://')     # the scheme is caseless
        assert scheme.lower() == 'http' and \
            ('http://' + rest).startswith(allowed) and not any(
            bad in ref.lower() for bad in ('/..', '%2e', '%2f', '\\',
                                           '\x00', ' ', '\t', '\n',
                                           '\r')), ref
        srv = cloudlib.wait_status(b, r.json()['server']['id'],
                                   timeout=60)
        assert vm_state(srv) == 'error' and srv['fault']['message'], srv
        b.ok('DELETE', '%s/servers/%s' % (COMPUTE, srv['id']))
    case()
    assert tally['refused'] > 100, tally
    assert all(p.startswith('/allowed/')
               for p in bait.requests[seen:]), bait.requests[seen:]
