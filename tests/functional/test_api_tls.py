"""hvagent-api over HTTPS, with real certificates (tests.fixtures.certs):
the API serves [api] tls_cert_file, SIGHUP swaps the certificate without
a restart (a bad new one is refused, the old one kept), an unusable
certificate refuses the start (exit 78, one line), and the two clients
verify it: hvctl (--os-cacert / $OS_CACERT) and the compute agent's image
download ([api] ca_file), each failing in one clear line with the wrong
CA."""
import os
import shutil
import signal
import socket
import ssl
import subprocess

import pytest
import requests

from agent import exception
from agent.security import bus_auth
from agent.security import image_grants
from tests.fixtures import deployment
from tests.fixtures.api_cloud import COMPUTE
from tests.fixtures.api_cloud import IMAGE
from tests.fixtures.api_cloud import PASSWORD
from tests.fixtures.api_cloud import ApiCloud
from tests.fixtures.api_cloud import free_port
from tests.fixtures.certs import served_serial
from tests.fixtures.waiting import wait_until
from virt.libvirt import images

HVCTL = os.path.join(deployment.BIN, 'hvctl')
HVAGENT_API = os.path.join(deployment.BIN, 'hvagent-api')


def install(pair, live):
    """Put ``pair``'s files where hvagent-api reads them (atomically)."""
    for src, dst in ((pair.cert, live.cert), (pair.key, live.key)):
        shutil.copyfile(src, dst + '.new')
        os.replace(dst + '.new', dst)


@pytest.fixture(scope='module')
def cloud(tmp_path_factory, tls_pki):
    tmp = tmp_path_factory.mktemp('api-tls')
    live = type(tls_pki.server)(str(tmp / 'api.pem'), str(tmp / 'api.key'),
                                tls_pki.server.serial)
    install(tls_pki.server, live)
    c = ApiCloud(tmp, ca_file=tls_pki.ca.path, extra={'api': {
        'tls_cert_file': live.cert, 'tls_key_file': live.key}})
    c.tmp, c.live, c.pki = tmp, live, tls_pki
    try:
        yield c.start()
    finally:
        codes = c.stop()
    assert set(codes.values()) == {0}, codes


def hvctl(cloud, *args, env=None):
    return subprocess.run(
        [HVCTL, '--endpoint', cloud.url, *args], capture_output=True,
        text=True, timeout=60, env=dict(
            os.environ, XDG_CACHE_HOME=str(cloud.tmp / 'cache'),
            HVCTL_PASSWORD=PASSWORD, **(env or {})))


def test_the_api_serves_https_with_its_certificate(cloud):
    assert cloud.url.startswith('https://')
    assert served_serial('127.0.0.1', cloud.port, cloud.pki.ca.path) == \
        cloud.pki.server.serial
    assert cloud.admin.ok('GET', COMPUTE + '/flavors')['flavors']
    with pytest.raises(requests.ConnectionError):    # no plain HTTP
        requests.get('http://127.0.0.1:%d%s/flavors' % (cloud.port, COMPUTE),
                     timeout=10)


def test_hvctl_verifies_the_api_certificate(cloud):
    ok = hvctl(cloud, '--os-cacert', cloud.pki.ca.path, 'login', '--user',
               'admin')
    assert ok.returncode == 0, ok.stderr
    listed = hvctl(cloud, 'flavor-list', env={'OS_CACERT': cloud.pki.ca.path})
    assert listed.returncode == 0 and 'm1' in listed.stdout, listed.stderr
    for args, env in ((['--os-cacert', cloud.pki.wrong_ca.path], None),
                      ([], {'OS_CACERT': cloud.pki.wrong_ca.path}),
                      ([], None)):                  # the system's CAs
        refused = hvctl(cloud, *args, 'flavor-list', env=env)
        assert refused.returncode == 1, refused.stdout
        assert refused.stderr.count('\n') == 1, refused.stderr
        assert refused.stderr.startswith(
            'hvctl: error: cannot reach %s: TLS certificate verification '
            'failed: ' % cloud.url), refused.stderr
    missing = hvctl(cloud, '--os-cacert', str(cloud.tmp / 'nope.pem'),
                    'flavor-list')
    assert missing.returncode == 1
    assert missing.stderr.startswith('hvctl: error: --os-cacert '), \
        missing.stderr


def test_the_agent_downloads_images_over_verified_https(cloud, tmp_path,
                                                        caplog):
    admin = cloud.admin
    data = os.urandom(64 * 1024)
    image = admin.ok('POST', IMAGE + '/images', json={
        'name': 'tls-raw', 'disk_format': 'raw', 'container_format': 'bare'})
    admin.ok('PUT', '%s/images/%s/file' % (IMAGE, image['id']), data=data,
             headers={'Content-Type': 'application/octet-stream'})
    project = admin.ok('GET', '/v3/auth/tokens')['token']['project']['id']

    def fetch(ca_file, where):
        grant = image_grants.issue(bus_auth.keyring(), 'inst-tls', project,
                                   [image['id']], 'hvtest-node1')
        cache = images.ImageCache(str(tmp_path / where), api_url=cloud.url,
                                  api_ca_file=ca_file)
        return cache.fetch(image['id'], grant=grant)

    with open(fetch(cloud.pki.ca.path, 'good'), 'rb') as f:
        assert f.read() == data
    with pytest.raises(exception.ImageDownloadFailed):
        fetch(cloud.pki.wrong_ca.path, 'wrong')
    assert 'TLS certificate verification failed' in caplog.text, caplog.text


def test_sighup_swaps_the_certificate_and_keeps_a_good_one(cloud):
    api = cloud.dep.procs['hvagent-api']
    newer = cloud.pki.ca.issue(cloud.tmp, 'server-renewed')
    install(newer, cloud.live)
    api.send_signal(signal.SIGHUP)
    wait_until(lambda: served_serial('127.0.0.1', cloud.port,
                                     cloud.pki.ca.path) == newer.serial,
               15, message=lambda: cloud.dep.log('hvagent-api'))
    cloud.dep.wait_log('hvagent-api', 'TLS certificate re-read')
    # a key that does not match the certificate: refused, one line, the
    # renewed certificate still served, by the same process
    other = cloud.pki.ca.issue(cloud.tmp, 'other')
    shutil.copyfile(other.key, cloud.live.key)
    api.send_signal(signal.SIGHUP)
    cloud.dep.wait_log('hvagent-api', 'TLS reload failed')
    errors = [line for line in cloud.dep.log('hvagent-api').splitlines()
              if 'TLS reload failed' in line]
    assert len(errors) == 1, errors
    assert cloud.live.cert in errors[0], errors
    assert 'Traceback' not in cloud.dep.log('hvagent-api')
    assert served_serial('127.0.0.1', cloud.port, cloud.pki.ca.path) == \
        newer.serial
    assert api.poll() is None
    assert cloud.admin.ok('GET', COMPUTE + '/flavors')['flavors']
    install(newer, cloud.live)      # leave a matching pair


@pytest.mark.parametrize('case', ['missing', 'mismatch', 'not-pem'])
def test_an_unusable_certificate_refuses_the_start(cloud, tmp_path, case):
    pki = cloud.pki
    garbage = tmp_path / 'garbage.pem'
    garbage.write_text('not a certificate\n')
    cert, key = {
        'missing': (str(tmp_path / 'absent.pem'), pki.server.key),
        'mismatch': (pki.server.cert, pki.client.key),
        'not-pem': (str(garbage), pki.server.key),
    }[case]
    # the running API's port: the refusal comes before any bind
    override = deployment.write_config(
        tmp_path / 'tls.conf', api={'bind_port': cloud.port,
                                    'tls_cert_file': cert,
                                    'tls_key_file': key})
    proc = subprocess.run(
        [HVAGENT_API, '--config-file', str(cloud.dep.config),
         '--config-file', str(override)], capture_output=True, text=True,
        timeout=60)
    assert proc.returncode == 78, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    assert 'Traceback' not in out, out
    [line] = [ln for ln in out.splitlines() if 'ERROR' in ln]
    assert '[api] tls_' in line or 'certificate' in line, line
    assert (cert if case != 'mismatch' else key) in line, line


def test_sighup_without_tls_keeps_serving(api_cloud):
    """``systemctl reload`` of an http-only API: a log line, no exit."""
    api = api_cloud.dep.procs['hvagent-api']
    api.send_signal(signal.SIGHUP)
    api_cloud.dep.wait_log('hvagent-api', 'SIGHUP: nothing to reload')
    assert api.poll() is None
    assert api_cloud.admin.ok('GET', COMPUTE + '/flavors')['flavors']


def test_tls_min_version_refuses_older_clients(cloud, tmp_path):
    port = free_port()
    override = deployment.write_config(
        tmp_path / 'tls13.conf', api={'bind_port': port,
                                      'tls_min_version': 'TLSv1.3'})
    log = open(tmp_path / 'api13.log', 'w')
    proc = subprocess.Popen(
        [HVAGENT_API, '--config-file', str(cloud.dep.config),
         '--config-file', str(override)], stdout=log,
        stderr=subprocess.STDOUT)
    try:
        def listening():
            text = (tmp_path / 'api13.log').read_text()
            assert proc.poll() is None, text
            return 'listening on' in text
        wait_until(listening, 60, message=lambda:
                   (tmp_path / 'api13.log').read_text())
        for version, accepted in ((ssl.TLSVersion.TLSv1_2, False),
                                  (ssl.TLSVersion.TLSv1_3, True)):
            ctx = ssl.create_default_context(cafile=cloud.pki.ca.path)
            ctx.maximum_version = version
            with socket.create_connection(('127.0.0.1', port), 10) as s:
                try:
                    with ctx.wrap_socket(s, server_hostname='127.0.0.1') \
                            as conn:
                        got = conn.version()
                except ssl.SSLError as e:
                    got = e
            assert (got == 'TLSv1.3') if accepted else \
                isinstance(got, ssl.SSLError), (version, got)
    finally:
        proc.terminate()
        assert proc.wait(60) == 0
        log.close()
