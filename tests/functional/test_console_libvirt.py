"""The interactive console of a real QEMU guest (the test image, whose
/init keeps a shell on its serial port) through hvagent-api, the
conductor's tokens and hvagent-console-proxy: typed into and read back
with a WebSocket client, and in headless Chromium on the proxy's pages
(xterm.js, noVNC), with screenshots; the session outlives an agent
restart."""
import random
import re
import time

import pytest
from websockets.sync.client import connect

from tests.fixtures import api_cloud as cloudlib
from tests.fixtures import guest_image
from tests.fixtures import libvirt_cloud as lvcloud
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional
PROMPT = b'hvagent-test-guest# '


@pytest.fixture(scope='module')
def guest(tmp_path_factory):
    """A running test guest of a developer's, booted through the API."""
    with lvcloud.running(tmp_path_factory.mktemp('console-lv')) as cloud:
        p = cloudlib.create_project(cloud.admin, 'conslv')
        dev = cloud.add_user(p['id'], 'conslv-dev', 'developer')
        image, _, _ = lvcloud.guest_images(lvcloud.api_upload(dev,
                                                              cloud.image))
        sid = cloudlib.boot(dev, 'conslv-1', image=image)
        cloudlib.wait_status(dev, sid, until=('active',), timeout=120)
        wait_until(lambda: sid in guest_image.booted_uuids(
            console_log(dev, sid)), 90, interval=0.5,
            message=lambda: console_log(dev, sid))
        yield {'cloud': cloud, 'dev': dev, 'server': sid}


def console_log(client, sid):
    return cloudlib.action(client, sid, {'os-getConsoleOutput': {}}).json(
        ).get('output', '')


def console_url(client, sid, key='os-getSerialConsole', kind='serial'):
    r = cloudlib.action(client, sid, {key: {'type': kind}})
    assert r.status_code == 200, r.text
    return r.json()['console']['url']


def read_until(ws, pattern, timeout=20):
    """The bytes received up to the first match of ``pattern`` (a bytes
    regex), and the match."""
    seen, deadline = b'', time.monotonic() + timeout
    while True:
        found = re.search(pattern, seen)
        if found:
            return seen, found
        left = deadline - time.monotonic()
        assert left > 0, 'no %r in %r' % (pattern, seen[-2000:])
        try:
            seen += ws.recv(timeout=left)
        except TimeoutError:
            pass


def shell_answers(ws):
    """Type ``echo hvagent-$RANDOM`` into the guest's shell; the number
    it answered (the typed line echoes ``$RANDOM`` itself, the answer
    only digits)."""
    ws.send(b'\r')
    read_until(ws, re.escape(PROMPT))
    ws.send(b'echo hvagent-$RANDOM\r')
    _, found = read_until(ws, rb'\nhvagent-(\d+)\r\n')
    return found.group(1).decode()


def test_typing_into_the_guests_shell(guest):
    dev, sid = guest['dev'], guest['server']
    with connect(console_url(dev, sid)) as ws:
        number = shell_answers(ws)
    # what the console showed is in its log too
    assert 'hvagent-%s' % number in console_log(dev, sid)


def test_the_session_outlives_an_agent_restart(guest):
    """The agent is not in the path of a session: the guest and the
    proxy's connection to it are untouched by the agent's restart; new
    tokens come once it is back."""
    cloud, dev, sid = guest['cloud'], guest['dev'], guest['server']
    with connect(console_url(dev, sid)) as ws:
        shell_answers(ws)
        codes = cloud.dep.stop('hvagent-compute')
        assert codes == {'hvagent-compute': 0}
        cloud.dep.start('hvagent-compute')
        cloud.dep.ready('hvagent-compute')
        shell_answers(ws)
    with connect(console_url(dev, sid)) as ws:
        shell_answers(ws)


def test_vnc_speaks_rfb(guest):
    dev, sid = guest['dev'], guest['server']
    url = console_url(dev, sid, 'os-getVNCConsole', 'novnc')
    assert url.startswith(cloud_page(guest, '/vnc.html?token='))
    token = url.split('token=', 1)[1]
    with connect('ws://127.0.0.1:%d/?token=%s' % (
            guest['cloud'].console_port, token)) as ws:
        _, found = read_until(ws, rb'^RFB 003\.00\d\n')
        assert found


def cloud_page(guest, path):
    return guest['cloud'].console_url + path


def test_the_serial_page_in_chromium(guest, browser, tmp_path):
    dev, sid = guest['dev'], guest['server']
    token = console_url(dev, sid).split('token=', 1)[1]
    browser.open(cloud_page(guest, '/serial.html?token=' + token))
    browser.wait_for("window.hvconsole && hvconsole.state === 'connected'",
                     timeout=20)
    assert 'conslv-1' in browser.evaluate('document.body.innerText')
    word = 'hvagent-page-%d' % random.randrange(10 ** 6)
    browser.type_text('echo ' + word)
    browser.press_enter()
    screen = """(() => { const b = hvconsole.term.buffer.active; const out = [];
        for (let i = 0; i < b.length; i++) {
            out.push(b.getLine(i).translateToString(true)); }
        return out.join('\\n'); })()"""
    wait_until(lambda: re.search('^%s$' % word, browser.evaluate(screen),
                                 re.M), 20, interval=0.2,
               message=lambda: browser.evaluate(screen)[-2000:])
    browser.screenshot(tmp_path / 'serial-console.png')
    assert (tmp_path / 'serial-console.png').stat().st_size > 5000


def test_the_vnc_page_in_chromium(guest, browser, tmp_path):
    dev, sid = guest['dev'], guest['server']
    url = console_url(dev, sid, 'os-getVNCConsole', 'novnc')
    browser.open(url)
    browser.wait_for("window.hvconsole && hvconsole.state === 'connected'",
                     timeout=20)
    # the framebuffer arrived: noVNC's canvas has the guest's size
    wait_until(lambda: browser.evaluate(
        "document.querySelector('canvas') && "
        "document.querySelector('canvas').width") or 0, 20, interval=0.2)
    browser.screenshot(tmp_path / 'vnc-console.png')
    assert (tmp_path / 'vnc-console.png').stat().st_size > 5000
