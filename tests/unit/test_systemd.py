"""sd_notify, the watchdog and journald detection (agent/daemon/systemd.py), the
journal log format (agent/daemon/logs.py) and the shutdown bookkeeping of
agent/daemon/service.py. The datagrams go through real AF_UNIX sockets."""
import logging
import os
import socket
import sys
import threading
import uuid

import pytest

from agent.daemon import logs
from agent.daemon import service
from agent.daemon import systemd
from agent.rpc import server_state


def _receiver(address):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(5)
    return sock


@pytest.mark.parametrize('value, expected', [
    ('/run/systemd/notify', '/run/systemd/notify'),
    ('@hv/notify', '\0hv/notify'),
])
def test_notify_address_forms(value, expected):
    assert systemd.notify_address({'NOTIFY_SOCKET': value}) == expected


def test_notify_address_unset_and_invalid():
    assert systemd.notify_address({}) is None
    with pytest.raises(ValueError, match='neither an absolute path'):
        systemd.notify_address({'NOTIFY_SOCKET': 'relative/sock'})
    with pytest.raises(ValueError):
        systemd.notify_address({'NOTIFY_SOCKET': '@'})


def test_notify_to_a_path_socket(tmp_path):
    path = str(tmp_path / 'notify')
    with _receiver(path) as sock:
        assert systemd.notify({'NOTIFY_SOCKET': path}, READY=1,
                              STATUS='up and running')
        assert sock.recv(4096) == b'READY=1\nSTATUS=up and running'


def test_notify_to_an_abstract_socket():
    name = 'hvtest-%s' % uuid.uuid4().hex
    with _receiver('\0' + name) as sock:
        assert systemd.notify({'NOTIFY_SOCKET': '@' + name}, STOPPING=1)
        assert sock.recv(4096) == b'STOPPING=1'


def test_notify_without_socket_or_to_a_gone_one(tmp_path, caplog):
    assert systemd.notify({}, READY=1) is False
    assert systemd.notify({'NOTIFY_SOCKET': str(tmp_path / 'gone')},
                          READY=1) is False
    assert 'sd_notify to' in caplog.text
    assert systemd.notify({'NOTIFY_SOCKET': 'bad'}, READY=1) is False


def test_a_field_with_a_newline_is_refused():
    with pytest.raises(ValueError, match='newline'):
        systemd.format_message({'STATUS': 'two\nlines'})


@pytest.mark.parametrize('env, expected', [
    ({}, None),
    ({'WATCHDOG_USEC': '2000000'}, 1.0),
    ({'WATCHDOG_USEC': '30000000', 'WATCHDOG_PID': '4242'}, 15.0),
    ({'WATCHDOG_USEC': '2000000', 'WATCHDOG_PID': '4243'}, None),
    ({'WATCHDOG_USEC': '0'}, None),
    ({'WATCHDOG_USEC': 'soon'}, None),
    ({'WATCHDOG_USEC': '2000000', 'WATCHDOG_PID': 'me'}, None),
])
def test_watchdog_interval(env, expected):
    assert systemd.watchdog_interval(env, pid=4242) == expected


def test_watchdog_pid_of_another_process_means_no_pings(tmp_path):
    path = str(tmp_path / 'notify')
    env = {'NOTIFY_SOCKET': path, 'WATCHDOG_USEC': '1000',
           'WATCHDOG_PID': str(os.getpid() + 1)}
    assert systemd.Watchdog.from_environment(env) is None
    env['WATCHDOG_PID'] = str(os.getpid())
    dog = systemd.Watchdog.from_environment(env)
    assert dog.interval == 0.0005


def test_watchdog_pings_at_half_the_timeout():
    now, sent = [100.0], []
    dog = systemd.Watchdog(1.0, clock=lambda: now[0],
                           send=lambda: sent.append(now[0]))
    for _ in range(20):          # the main loop wakes every 0.25 s
        dog.ping_if_due()
        now[0] += 0.25
    assert sent == [100.0, 101.0, 102.0, 103.0, 104.0]
    assert 0 <= dog.seconds_until_due() <= 1.0


def test_stderr_is_journal_only_for_the_named_stream(tmp_path):
    with open(tmp_path / 'log', 'w') as f, open(tmp_path / 'other', 'w') as o:
        st = os.fstat(f.fileno())
        env = {'JOURNAL_STREAM': '%d:%d' % (st.st_dev, st.st_ino)}
        assert systemd.stderr_is_journal(env, fd=f.fileno())
        assert not systemd.stderr_is_journal(env, fd=o.fileno())
        assert not systemd.stderr_is_journal({}, fd=f.fileno())
        assert not systemd.stderr_is_journal({'JOURNAL_STREAM': 'x:y'},
                                             fd=f.fileno())


@pytest.mark.parametrize('level, prefix', [
    (logging.CRITICAL, '<2>'), (logging.ERROR, '<3>'),
    (logging.WARNING, '<4>'), (logging.INFO, '<6>'), (logging.DEBUG, '<7>'),
    (25, '<6>'),                 # between INFO and WARNING
])
def test_journal_formatter_priorities(level, prefix):
    record = logging.LogRecord('agent.x', level, __file__, 1, 'hello %s',
                               ('world',), None)
    line = logs.JournalFormatter().format(record)
    assert line == '%s%s agent.x: hello world' % (
        prefix, logging.getLevelName(level))


def test_journal_formatter_prefixes_every_line_and_has_no_time():
    try:
        raise RuntimeError('boom')
    except RuntimeError:
        record = logging.LogRecord('agent.x', logging.ERROR, __file__, 1,
                                   'failed:\nsecond line', (),
                                   sys.exc_info())
    lines = logs.JournalFormatter().format(record).split('\n')
    assert len(lines) > 3
    assert all(line.startswith('<3>') for line in lines)
    assert lines[0] == '<3>ERROR agent.x: failed:'
    assert lines[-1] == '<3>RuntimeError: boom'


def test_setup_picks_the_format_from_the_stream(tmp_path, monkeypatch):
    with open(tmp_path / 'log', 'w') as f:
        st = os.fstat(f.fileno())
        monkeypatch.setenv('JOURNAL_STREAM', '%d:%d' % (st.st_dev, st.st_ino))
        handler = logs.setup(stream=f)
        try:
            assert isinstance(handler.formatter, logs.JournalFormatter)
            logging.getLogger('agent.test').warning('careful')
        finally:
            logging.getLogger().removeHandler(handler)
    assert (tmp_path / 'log').read_text() == \
        '<4>WARNING agent.test: careful\n'
    monkeypatch.delenv('JOURNAL_STREAM')
    with open(tmp_path / 'log2', 'w') as f:
        handler = logs.setup(stream=f)
        logging.getLogger().removeHandler(handler)
        assert handler.formatter._fmt == logs.PLAIN_FORMAT


def test_log_levels_parse_and_describe():
    assert logs.parse_levels(['kombu=warning', ' amqp = ERROR ']) == {
        'kombu': logging.WARNING, 'amqp': logging.ERROR}
    for bad in (['kombu'], ['kombu=LOUD'], ['=INFO']):
        with pytest.raises(ValueError, match='logger=LEVEL'):
            logs.parse_levels(bad)
    assert logs.describe_change(
        {'': logging.INFO, 'kombu': logging.WARNING},
        {'': logging.DEBUG, 'kombu': logging.WARNING, 'amqp': logging.ERROR}
    ) == 'root INFO -> DEBUG, amqp (root) -> ERROR'
    assert logs.describe_change({'': 20}, {'': 20}) == ''


class _Server:
    """A stand-in for an oslo.messaging server whose wait() returns when
    its in-flight handler finishes (``done``)."""

    class dispatcher:
        @staticmethod
        def dispatch(incoming):
            return incoming

    def __init__(self):
        self.done = threading.Event()
        self.calls = []

    def stop(self):
        self.calls.append('stop')

    def wait(self):
        self.calls.append('wait')
        self.done.wait(30)


def test_stop_waits_for_in_flight_operations():
    server = _Server()
    svc = service.Service('hvtest', [server], on_stop=[
        lambda: server.calls.append('on_stop')])
    key = svc.in_flight.begin({'method': 'build_and_run_instance',
                               'args': {'instance_uuid': 'abc'}})
    threading.Timer(0.3, lambda: (svc.in_flight.end(key),
                                  server.done.set())).start()
    assert svc.stop(timeout=10) is True
    assert server.calls == ['stop', 'wait', 'on_stop']
    assert len(svc.in_flight) == 0


def test_stop_gives_up_after_the_timeout_and_names_what_runs(caplog):
    server = _Server()
    svc = service.Service('hvtest', [server], on_stop=[
        lambda: server.calls.append('on_stop')])
    svc.in_flight.begin({'method': 'build_and_run_instance',
                         'args': {'instance_uuid': 'abc'}})
    assert svc.stop(timeout=0.3) is False
    assert 'on_stop' not in server.calls     # nothing torn down under it
    assert 'build_and_run_instance(instance_uuid=abc) for' in caplog.text
    assert 'status %d' % service.EXIT_UNFINISHED in caplog.text
    server.done.set()


def test_in_flight_counts_dispatched_messages():
    server = _Server()
    seen = []
    server.dispatcher = type('D', (), {})()
    server.dispatcher.dispatch = lambda incoming: seen.append(
        len(tracker))
    tracker = server_state.InFlight()
    tracker.watch(server)
    msg = type('M', (), {'message': {'method': 'stop_instance',
                                     'args': {'instance_uuid': 'u1'}}})()
    server.dispatcher.dispatch(msg)
    assert seen == [1] and len(tracker) == 0


def test_amqp_closing_noise_is_debug_not_warning(tmp_path):
    """py-amqp's 'Received method (60, 30) during closing channel 1' at
    every clean stop is kept off the journal's warnings; other amqp
    warnings still show."""
    out = tmp_path / 'log'
    with open(out, 'w') as stream:
        handler = logs.setup(stream=stream, journal=True)
        try:
            amqp = logging.getLogger('amqp')
            amqp.warning('Received method %s during closing channel %s. '
                         'This method will be ignored', (60, 30), 1)
            amqp.warning('Connection lost')
        finally:
            logging.getLogger().removeHandler(handler)
    assert out.read_text() == '<4>WARNING amqp: Connection lost\n'


UNIT_DIR = os.path.join(os.path.dirname(__file__), '..', '..', 'systemd')


def _unit_settings(name):
    settings = {}
    with open(os.path.join(UNIT_DIR, name)) as f:
        for line in f:
            key, sep, value = line.strip().partition('=')
            if sep and not key.startswith('#'):
                settings.setdefault(key, []).append(value)
    return settings


UNITS = sorted(u for u in os.listdir(UNIT_DIR) if u.endswith('.service'))


def test_no_two_units_share_a_runtime_directory():
    """systemd removes a unit's RuntimeDirectory when it stops: shared,
    stopping one service deleted it under the others."""
    owners = {}
    for unit in UNITS:
        for directory in _unit_settings(unit).get('RuntimeDirectory', []):
            for d in directory.split():
                assert d not in owners, (unit, owners.get(d))
                owners[d] = unit
    assert len(owners) == len(UNITS)


@pytest.mark.parametrize('unit', UNITS)
def test_a_dead_process_does_not_leave_its_status(unit):
    """systemd keeps a dead main process's last STATUS= until the next
    start ('... is running' while in auto-restart): ExecStopPost replaces
    it, which NotifyAccess=exec lets through."""
    settings = _unit_settings(unit)
    assert settings['NotifyAccess'] == ['exec']
    name = unit[:-len('.service')]
    assert any(v.startswith('-/bin/systemd-notify "--status=%s is not '
                            'running (${SERVICE_RESULT}' % name)
               for v in settings.get('ExecStopPost', [])), settings
