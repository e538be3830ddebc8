"""/metrics behind TLS, client certificates and basic auth, configured with
a Prometheus exporter-toolkit web config file ([metrics] web_config_file):
the file passes ``promtool check web-config``, a real Prometheus scrapes a
real hvagent-scheduler with its CA, client certificate and password, wrong
or missing credentials get 401 with WWW-Authenticate, plain HTTP and a
client without certificate get no answer, and a bad file refuses the
start in one line, exit 78."""
import os
import subprocess

import bcrypt
import pytest
import requests

from tests.fixtures import deployment
from tests.functional import prometheus

pytestmark = pytest.mark.functional

USER, PASSWORD = 'prometheus', 'scrape-me-please'


def web_config(pki, users=True):
    tls = ('tls_server_config:\n'
           '  cert_file: %s\n  key_file: %s\n'
           '  client_auth_type: RequireAndVerifyClientCert\n'
           '  client_ca_file: %s\n  min_version: TLS12\n'
           % (pki.server.cert, pki.server.key, pki.ca.path))
    return tls + ('basic_auth_users:\n  %s: %s\n' % (USER, bcrypt.hashpw(
        PASSWORD.encode(), bcrypt.gensalt(10)).decode()) if users else '')


def promtool_check_web_config(path):
    r = subprocess.run([prometheus.require('promtool'), 'check',
                        'web-config', str(path)], capture_output=True,
                       text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


@pytest.fixture
def scheduler(tmp_path, vhost, tls_pki):
    path = tmp_path / 'web.yml'
    path.write_text(web_config(tls_pki))
    port = prometheus.free_port()
    dep = deployment.Deployment(
        tmp_path, vhost.url, 'sqlite:///%s' % (tmp_path / 'hv.sqlite'),
        extra={'metrics': {'enabled': True, 'scheduler_port': port,
                           'web_config_file': path}})
    dep.web_config, dep.port = path, port
    dep.url = 'https://127.0.0.1:%d/metrics' % port
    try:
        dep.start('hvagent-scheduler')
        dep.wait_log('hvagent-scheduler', 'serves Prometheus metrics on '
                     'https://127.0.0.1:%d/metrics (basic auth)' % port)
        yield dep
    finally:
        codes = dep.stop()
    assert set(codes.values()) == {0}, codes


def test_the_web_config_is_what_promtool_accepts(scheduler):
    code, out = promtool_check_web_config(scheduler.web_config)
    assert code == 0, out


def test_prometheus_scrapes_over_tls_with_basic_auth(scheduler, tmp_path,
                                                     tls_pki):
    job = ('scheme: https\n'
           'tls_config:\n  ca_file: %s\n  cert_file: %s\n  key_file: %s\n'
           'basic_auth:\n  username: %s\n  password: %s\n'
           % (tls_pki.ca.path, tls_pki.client.cert, tls_pki.client.key,
              USER, PASSWORD))
    workdir = tmp_path / 'prom'
    workdir.mkdir()
    with prometheus.PrometheusServer(
            str(workdir), {'hvsched': '127.0.0.1:%d' % scheduler.port},
            jobs={'hvsched': job}) as prom:
        up = prom.wait_for('up{job="hvsched"}',
                           lambda r: r and r[0][1] == 1.0, timeout=60)
        assert up[0][1] == 1.0, prom.targets()
        info = prom.wait_for('hvagent_build_info{job="hvsched"}',
                             lambda r: len(r) == 1, timeout=30)
        assert info[0][0]['service'] == 'hvagent-scheduler', info


def test_wrong_missing_credentials_and_plain_http_are_refused(
        scheduler, tls_pki):
    pki = tls_pki
    cert = (pki.client.cert, pki.client.key)

    def get(**kw):
        return requests.get(scheduler.url, timeout=10, verify=pki.ca.path,
                            **kw)

    ok = get(cert=cert, auth=(USER, PASSWORD))
    assert ok.status_code == 200 and b'hvagent_build_info' in ok.content
    for auth in ((USER, 'wrong'), ('someone', PASSWORD), None):
        r = get(cert=cert, auth=auth)
        assert r.status_code == 401, (auth, r.status_code)
        assert r.headers['WWW-Authenticate'].startswith('Basic '), r.headers
        assert b'hvagent' not in r.content
    with pytest.raises(requests.ConnectionError):    # no client cert
        get(auth=(USER, PASSWORD))
    with pytest.raises(requests.exceptions.SSLError):    # untrusted server
        requests.get(scheduler.url, timeout=10, cert=cert,
                     verify=pki.wrong_ca.path, auth=(USER, PASSWORD))
    with pytest.raises(requests.ConnectionError):    # plain HTTP
        requests.get(scheduler.url.replace('https:', 'http:'), timeout=10)
    assert scheduler.procs['hvagent-scheduler'].poll() is None


#: case: (file, what the error line says); promtool refuses all but the
#: last (exporter-toolkit 2.42 accepts it, and then verifies every client
#: certificate against no CA: hvagent refuses it at start instead)
BAD = {
    'yaml': ('tls_server_config: [unclosed\n', 'not valid YAML'),
    'unknown-key': ('tls_server_config:\n  cert_file: {cert}\n'
                    '  key_file: {key}\n  kye_file: x\n', 'kye_file'),
    'no-such-cert': ('tls_server_config:\n  cert_file: /nonexistent.pem\n'
                     '  key_file: {key}\n', '/nonexistent.pem'),
    'bad-hash': ('basic_auth_users:\n  prometheus: plaintext\n',
                 'not a bcrypt hash'),
    'auth-no-ca': ('tls_server_config:\n  cert_file: {cert}\n'
                   '  key_file: {key}\n'
                   '  client_auth_type: RequireAndVerifyClientCert\n',
                   'needs client_ca_file'),
}


@pytest.mark.parametrize('case', sorted(BAD))
def test_a_bad_web_config_refuses_the_start(tmp_path, vhost, tls_pki,
                                             case):
    text, why = BAD[case]
    path = tmp_path / 'web.yml'
    path.write_text(text.format(cert=tls_pki.server.cert,
                                key=tls_pki.server.key))
    code, out = promtool_check_web_config(path)
    assert (code != 0) == (case != 'auth-no-ca'), out
    dep = deployment.Deployment(
        tmp_path, vhost.url, 'sqlite:///%s' % (tmp_path / 'hv.sqlite'),
        extra={'metrics': {'enabled': True,
                           'scheduler_port': prometheus.free_port(),
                           'web_config_file': path}})
    proc = subprocess.run(
        [os.path.join(deployment.BIN, 'hvagent-scheduler'), '--config-file',
         str(dep.config)], capture_output=True, text=True, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 78, out
    assert 'Traceback' not in out, out
    [line] = [ln for ln in out.splitlines() if 'ERROR' in ln]
    assert str(path) in line and why in line, line
