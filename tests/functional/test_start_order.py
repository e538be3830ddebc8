"""Services started in any order wait for what they need, say so, and
stop without a warning line.

On one node systemd starts the four units at once. hvagent-compute's first
call to the conductor used to go out before the conductor's queue existed,
be dropped by the broker, and end the agent with a MessagingTimeout
traceback after 30 s; the scheduler's first heartbeat read tables the
conductor had not migrated yet. Here the real services run over a private
RabbitMQ vhost on a fresh SQLite database, the agent and the scheduler
first, each with its own NOTIFY_SOCKET (tests/functional/test_systemd.py's
NotifySocket).
"""
import re
import uuid

import pytest

from tests.fixtures import deployment
from tests.fixtures.waiting import assert_stays
from tests.functional.test_systemd import NotifySocket

pytestmark = pytest.mark.functional

#: a line of a service's log at warning level or above (plain format)
LOUD = re.compile(r'^\S+ \S+ (WARNING|ERROR|CRITICAL) |Traceback', re.M)


def _deployment(tmp_path, vhost, bus=None, **default):
    extra = {'DEFAULT': default} if default else {}
    if bus:
        extra['bus'] = bus
    return deployment.Deployment(
        tmp_path, vhost.url, 'sqlite:///%s' % (tmp_path / 'hv.sqlite'),
        host='hvtest-order-%s' % uuid.uuid4().hex[:6], extra=extra)


def _statuses(notify):
    return [f['STATUS'] for _t, f in notify.messages if 'STATUS' in f]


def _stop_quietly(dep, sockets):
    """Stop in the units' order (compute and scheduler After= the
    conductor: systemd stops them in reverse, the agent first), close the
    notify sockets, then check a clean stop: status 0, and no line at
    warning level or above in any service's whole life (amqp's 'Received
    method (60, 30) during closing channel 1' was one at every stop)."""
    try:
        codes = dep.stop('hvagent-conductor', 'hvagent-scheduler',
                         'hvagent-compute')
    finally:
        for notify in sockets.values():
            notify.close()
    assert codes == dict.fromkeys(deployment.SERVICES, 0), codes
    for name in deployment.SERVICES:
        assert not LOUD.search(dep.log(name)), dep.log(name)


def test_agent_and_scheduler_wait_for_the_conductor(tmp_path, vhost):
    dep = _deployment(tmp_path, vhost)
    sockets = {name: NotifySocket(tmp_path / ('%s.notify' % name))
               for name in ('hvagent-compute', 'hvagent-scheduler')}
    try:
        for name, notify in sockets.items():
            dep.start(name, env={'NOTIFY_SOCKET': notify.path})
        dep.wait_log('hvagent-compute', 'waiting for the conductor')
        dep.wait_log('hvagent-scheduler', 'waiting for the database schema')
        # longer than a first call or heartbeat takes: alive, never READY
        assert_stays(lambda: all(
            dep.procs[name].poll() is None and 'READY' not in {
                k for _t, f in sockets[name].messages for k in f}
            for name in sockets), 3,
            message=lambda: [dep.log(name) for name in sockets])
        dep.start('hvagent-conductor')
        dep.wait_log('hvagent-compute', 'hvagent-compute started')
        dep.wait_log('hvagent-scheduler', 'hvagent-scheduler started')
        agent = _statuses(sockets['hvagent-compute'])
        assert any(s.startswith('hvagent-compute: waiting for the conductor '
                                '(topic conductor) (MessageUndeliverable')
                   for s in agent), agent
        scheduler = _statuses(sockets['hvagent-scheduler'])
        assert any(s.startswith('hvagent-scheduler: waiting for the database '
                                'schema') for s in scheduler), scheduler
        for notify in sockets.values():
            notify.wait_for('READY', '1')
        assert 'is there after' in dep.log('hvagent-compute')
    finally:
        _stop_quietly(dep, sockets)


def test_agent_gives_up_after_start_wait_timeout(tmp_path, vhost):
    """No conductor at all: one line naming what it waited for, status 69
    (EX_UNAVAILABLE; not 78, so systemd restarts it)."""
    dep = _deployment(tmp_path, vhost, start_wait_timeout=3)
    dep.start('hvagent-compute')
    assert dep.procs.pop('hvagent-compute').wait(60) == 69
    log = dep.log('hvagent-compute')
    errors = [line for line in log.splitlines() if LOUD.search(line)]
    assert len(errors) == 1 and 'Traceback' not in log, log
    assert re.search(r'ERROR agent\.daemon\.service: hvagent-compute cannot start: '
                     r'the conductor \(topic conductor\) not there after 3 '
                     r's: MessageUndeliverable', errors[0]), log


def test_services_wait_for_the_bus_secret(tmp_path, vhost):
    """A new all-in-one node: hvagent-conductor creates the bus secret at
    its first start. The agent and the scheduler, started before it, used
    to exit 78 ('no bus key'), which systemd never restarts."""
    secret = tmp_path / 'state' / 'bus.secret'
    dep = _deployment(tmp_path, vhost, bus={'secret_file': secret})
    sockets = {name: NotifySocket(tmp_path / ('%s.notify' % name))
               for name in ('hvagent-compute', 'hvagent-scheduler')}
    try:
        for name, notify in sockets.items():
            dep.start(name, env={'NOTIFY_SOCKET': notify.path})
        for name in sockets:
            dep.wait_log(name, 'waiting for the bus secret %s' % secret)
        assert_stays(lambda: all(dep.procs[name].poll() is None
                                 for name in sockets)
                     and not secret.exists(), 2,
                     message=lambda: [dep.log(name) for name in sockets])
        dep.start('hvagent-conductor')
        for name, notify in sockets.items():
            notify.wait_for('READY', '1')
            assert any(s.startswith('%s: waiting for the bus secret' % name)
                       for s in _statuses(notify)), _statuses(notify)
        assert secret.stat().st_mode & 0o777 == 0o600
    finally:
        _stop_quietly(dep, sockets)


def test_compute_node_without_its_host_key_is_refused_at_once(tmp_path,
                                                               vhost):
    """A compute node's host key is the operator's to place: missing, the
    agent does not wait for it but refuses to start (78, one line)."""
    dep = _deployment(tmp_path, vhost, bus={
        'host_key_file': tmp_path / 'missing.key'})
    dep.start('hvagent-compute')
    assert dep.procs.pop('hvagent-compute').wait(60) == 78
    log = dep.log('hvagent-compute')
    assert 'waiting for' not in log and 'Traceback' not in log, log
    assert len(log.strip().splitlines()) == 1, log
    assert re.search(r'ERROR agent\.daemon\.service: hvagent-compute cannot start: '
                     r'.*cannot read \[bus\] host_key_file \S+missing\.key: '
                     r'No such file or directory', log), log
