"""The interactive console through hvagent-console-proxy, on the shared
API cloud (fake driver: each guest's serial console is a loopback server
that echoes like a shell, virt/fake_console.py): a token from the API opens
one session, once; everything else is refused with a reason. The same on
a real QEMU guest: test_console_libvirt.py."""
import os
import pty
import select
import subprocess
import time

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.fixtures import api_cloud as cloudlib
from tests.fixtures import deployment
from tests.fixtures import openstack_cli as oscli

pytestmark = pytest.mark.functional
COMPUTE = cloudlib.COMPUTE
#: the fake guest's shell prompt names it (virt/fake_console.py)
PROMPT = b'cons-vm# '


@pytest.fixture(scope='module')
def world(api_cloud):
    """Two projects; a developer's server in the first."""
    a = cloudlib.create_project(api_cloud.admin, 'cons-a')
    b = cloudlib.create_project(api_cloud.admin, 'cons-b')
    dev = api_cloud.add_user(a['id'], 'cons-dev', 'developer')
    srv = cloudlib.boot(dev, 'cons-vm')
    srv2 = cloudlib.boot(dev, 'cons-vm2')
    for sid in (srv, srv2):
        cloudlib.wait_status(dev, sid, until=('active',))
    return {'cloud': api_cloud, 'dev': dev, 'server': srv, 'server2': srv2,
            'a': a,
            'itsec': api_cloud.add_user(a['id'], 'cons-sec', 'itsec'),
            'other': api_cloud.add_user(b['id'], 'cons-other', 'developer'),
            'netadmin': api_cloud.add_user(a['id'], 'cons-net', 'netadmin'),
            'pm': api_cloud.add_user(a['id'], 'cons-pm', 'project_manager')}


def serial_url(client, server_id):
    r = cloudlib.action(client, server_id,
                        {'os-getSerialConsole': {'type': 'serial'}})
    assert r.status_code == 200, r.text
    console = r.json()['console']
    assert console['type'] == 'serial'
    return console['url']


def read_until(ws, needle, timeout=10):
    """The bytes received up to and including ``needle``."""
    seen, deadline = b'', time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        assert left > 0, 'no %r in %r' % (needle, seen)
        try:
            seen += ws.recv(timeout=left)
        except TimeoutError:
            continue
    return seen


def closed_with(ws):
    """(code, reason) the proxy closed ``ws`` with."""
    with pytest.raises(ConnectionClosed) as e:
        ws.recv(timeout=10)
    return e.value.rcvd.code, e.value.rcvd.reason


def test_a_token_opens_one_session_of_its_console(world):
    url = serial_url(world['dev'], world['server'])
    assert url.startswith('ws://127.0.0.1:%d/?token='
                          % world['cloud'].console_port)
    with connect(url) as ws:
        ws.send(b'echo hvagent-4242\r')
        assert b'hvagent-4242\r\n' in read_until(ws, PROMPT)
    # the same token again: used up
    with connect(url) as ws:
        code, reason = closed_with(ws)
    assert code == 4001 and 'invalid, expired or already used' in reason


def test_nova_2_6_remote_consoles(world):
    r = world['dev'].call(
        'POST', '%s/servers/%s/remote-consoles' % (COMPUTE, world['server']),
        json={'remote_console': {'protocol': 'serial', 'type': 'serial'}})
    assert r.status_code == 200, r.text
    console = r.json()['remote_console']
    assert (console['protocol'], console['type']) == ('serial', 'serial')
    with connect(console['url']) as ws:
        ws.send('echo text-frames-too\r')
        assert b'text-frames-too' in read_until(ws, PROMPT)
    for spec in ({'protocol': 'serial', 'type': 'novnc'},
                 {'protocol': 'spice', 'type': 'spice-html5'}, {}):
        r = world['dev'].call('POST', '%s/servers/%s/remote-consoles' % (
            COMPUTE, world['server']), json={'remote_console': spec})
        assert r.status_code == 400, (spec, r.text)


def test_no_framebuffer_no_vnc(world):
    r = cloudlib.action(world['dev'], world['server'],
                        {'os-getVNCConsole': {'type': 'novnc'}})
    assert r.status_code == 400, r.text
    assert 'no vnc console' in r.json()['error']['message']


def test_only_who_may_act_on_the_server_gets_a_token(world):
    srv = world['server']
    # another project: the server does not exist for them
    r = cloudlib.action(world['other'], srv,
                        {'os-getSerialConsole': {'type': 'serial'}})
    assert r.status_code == 404, r.text
    # the project's netadmin and the security officer may see it, not
    # type into it
    for who in ('netadmin', 'itsec'):
        r = cloudlib.action(world[who], srv,
                            {'os-getSerialConsole': {'type': 'serial'}})
        assert r.status_code == 403, (who, r.text)
    # its project manager and the admin may
    serial_url(world['pm'], srv)
    serial_url(world['cloud'].admin, srv)


def test_a_token_opens_the_console_of_its_instance_only(world):
    """Nothing in the URL but the token says which console: the same
    user's tokens of two servers each reach their own."""
    for sid, name in ((world['server2'], b'cons-vm2'),
                      (world['server'], b'cons-vm')):
        with connect(serial_url(world['dev'], sid)) as ws:
            ws.send(b'\r')
            seen = read_until(ws, b'# ')
        assert seen.endswith(b'\r\n' + name + b'# '), seen


def test_tokens_expire(world):
    url = serial_url(world['dev'], world['server'])
    time.sleep(cloudlib.CONSOLE_TOKEN_TTL + 1)
    with connect(url) as ws:
        code, reason = closed_with(ws)
    assert code == 4001, reason


def test_made_up_tokens_and_no_token(world):
    base = 'ws://127.0.0.1:%d/' % world['cloud'].console_port
    for url in (base + '?token=' + 'A' * 43, base + '?token=',
                base, base + '?token=' + 'x' * 5000):
        try:
            with connect(url) as ws:
                code, _ = closed_with(ws)
        except InvalidStatus as e:     # a request line too long for HTTP
            code = e.response.status_code
        assert code in (4001, 414, 400), (url[:80], code)


def test_a_foreign_origin_is_refused_and_the_token_survives(world):
    """A page of another site cannot open a console with a token it
    learned (cross-site WebSocket hijacking): the handshake is refused
    before the token is looked at."""
    url = serial_url(world['dev'], world['server'])
    with pytest.raises(InvalidStatus) as e:
        connect(url, origin='https://evil.example')
    assert e.value.response.status_code == 403
    with connect(url, origin=world['cloud'].console_url) as ws:
        ws.send(b'echo same-origin\r')
        assert b'same-origin' in read_until(ws, PROMPT)


def test_one_session_at_a_time(world):
    with connect(serial_url(world['dev'], world['server'])) as first:
        first.send(b'\r')
        read_until(first, PROMPT)
        with connect(serial_url(world['dev'], world['server'])) as second:
            code, reason = closed_with(second)
        assert code == 4009, reason
        first.send(b'echo still-mine\r')
        assert b'still-mine' in read_until(first, PROMPT)


def test_info_names_the_instance_without_using_the_token(world):
    url = serial_url(world['dev'], world['server'])
    token = url.split('token=', 1)[1]
    base = world['cloud'].console_url
    r = requests.get(base + '/info', params={'token': token}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()['instance'] == {'uuid': world['server'],
                                    'name': 'cons-vm'}
    assert r.json()['protocol'] == 'serial'
    assert 'address' not in r.text and 'port' not in r.json()
    assert r.headers['Referrer-Policy'] == 'no-referrer'
    with connect(url) as ws:                       # still good
        ws.send(b'\r')
        read_until(ws, PROMPT)
    r = requests.get(base + '/info', params={'token': token}, timeout=10)
    assert r.status_code == 404


def test_files_outside_the_pages_are_not_served(world):
    base = world['cloud'].console_url
    for path in ('/static/../../../etc/passwd', '/static/%2e%2e/proxy.py',
                 '/../pages.py', '/etc/passwd', '/static/'):
        r = requests.get(base + path, timeout=10)
        assert r.status_code == 404, (path, r.status_code)
    r = requests.get(base + '/serial.html', timeout=10)
    assert r.status_code == 200
    assert "default-src 'self'" in r.headers['Content-Security-Policy']


def test_hvctl_attaches_a_terminal(world, tmp_path):
    """``hvctl console REF --attach`` in a real terminal (a pty): what is
    typed reaches the guest, its answer comes back, Ctrl-] leaves with
    the terminal restored; a second hvctl meanwhile is told the console
    is in use."""
    cloud = world['cloud']
    cloudlib.hvctl_api(cloud, tmp_path, 'login', '--user', 'cons-dev',
                       '--project', world['a']['id'])
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path),
               HVAGENT_ENDPOINT=cloud.url)
    hvctl = os.path.join(deployment.BIN, 'hvctl')
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([hvctl, 'console', world['server'], '--attach'],
                            stdin=secondary, stdout=secondary,
                            stderr=subprocess.PIPE, env=env)
    os.close(secondary)
    try:
        # typed only once connected (raw mode: the terminal is hvctl's)
        banner = proc.stderr.readline().decode()
        assert 'Escape character is ^]' in banner, banner + \
            proc.stderr.read().decode()
        os.write(primary, b'\r')
        read_fd_until(primary, PROMPT)
        # (its input stays open: it ends because the proxy refuses it)
        busy = subprocess.Popen([hvctl, 'console', world['server'],
                                 '--attach'], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, env=env)
        assert busy.wait(60) == 1
        refusal = busy.stderr.read()
        busy.stdin.close()
        assert 'another session holds this console' in refusal
        os.write(primary, b'echo from-a-terminal\r')
        assert b'from-a-terminal\r\n' in read_fd_until(primary, PROMPT)
        os.write(primary, b'\x1d')
        assert proc.wait(20) == 0
        assert 'Disconnected' in proc.stderr.read().decode()
    finally:
        proc.kill()
        os.close(primary)
    url = cloudlib.hvctl_api(cloud, tmp_path, 'console', world['server'],
                             '--url').stdout.strip()
    assert url.startswith('ws://127.0.0.1:%d/?token=' % cloud.console_port)


def read_fd_until(fd, needle, timeout=10):
    seen, deadline = b'', time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        assert left > 0, 'no %r in %r' % (needle, seen)
        if select.select([fd], [], [], left)[0]:
            seen += os.read(fd, 4096)
    return seen


def test_the_openstack_client_gets_console_urls(world, tmp_path):
    """``openstack console url show --serial`` (os-getSerialConsole at
    2.1), unmodified; the URL it prints opens the console; --novnc on a
    guest without a framebuffer is a clear refusal."""
    env = oscli.environment(tmp_path, {'dev': oscli.cloud_entry(
        world['cloud'], 'cons-dev', 'cons-a')})
    shown = oscli.as_json(env, 'dev', 'console', 'url', 'show', '--serial',
                          world['server'])
    assert shown['type'] == 'serial'
    with connect(shown['url']) as ws:
        ws.send(b'echo via-openstack\r')
        assert b'via-openstack' in read_until(ws, PROMPT)
    proc = oscli.refused(env, 'dev', 'console', 'url', 'show', '--novnc',
                         world['server'])
    assert 'no vnc console' in proc.stderr
