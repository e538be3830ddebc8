"""Periodic resource reports on their own queue (agent.conductor.report_queue),
on real RabbitMQ and MariaDB: two conductors read ``conductor_reports``;
one is frozen (SIGSTOP) while it holds delivered, unacked reports and then
killed (SIGKILL). The broker hands what it held to the other conductor,
which writes and acks it: no report is lost, nothing stays unacked, and
the node's heartbeat goes on."""
import os
import signal
import subprocess

import pytest
import sqlalchemy as sa

from tests.fixtures import brokers
from tests.fixtures import databases
from tests.fixtures import deployment
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional

QUEUE = 'conductor_reports'


def _queue(vhost):
    """(ready, unacked, consumers) of the reports' queue."""
    out = subprocess.run(
        ['rabbitmqctl', '-q', 'list_queues', '-p', vhost.name, 'name',
         'messages_ready', 'messages_unacknowledged', 'consumers'],
        capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if fields and fields[0] == QUEUE:
            return tuple(int(v) for v in fields[1:])
    return None


def test_a_conductor_killed_holding_reports_loses_none(tmp_path):
    vhost = brokers.VHost()
    url, drop = databases.provision('mysql', tmp_path)
    engine = sa.create_engine(url)
    dep = deployment.Deployment(tmp_path, vhost.url, url)

    def reported_at():
        with engine.connect() as conn:
            return conn.execute(sa.text(
                'SELECT reported_at FROM compute_nodes')).scalar()
    try:
        dep.start('hvagent-conductor')
        dep.start('hvagent-conductor', as_name='conductor-b')
        dep.start('hvagent-compute')
        wait_until(lambda: (_queue(vhost) or (0, 0, 0))[2] == 2, 30,
                   message=lambda: 'two readers of %s: %s'
                   % (QUEUE, _queue(vhost)))
        first = wait_until(reported_at, 30, message='no report')
        wait_until(lambda: reported_at() != first, 10,
                   message='no periodic report landed')
        frozen = dep.procs.pop('hvagent-conductor')
        os.kill(frozen.pid, signal.SIGSTOP)
        # the broker goes on delivering to the frozen reader: its share
        # of the reports waits there, unacked
        wait_until(lambda: _queue(vhost)[1] >= 2, 20,
                   message=lambda: 'nothing held: %s' % (_queue(vhost),))
        frozen.kill()
        frozen.wait()
        # ...and goes to the other reader once it is dead
        wait_until(lambda: _queue(vhost) == (0, 0, 1), 20,
                   message=lambda: 'left behind: %s' % (_queue(vhost),))
        now = reported_at()
        wait_until(lambda: reported_at() != now, 10,
                   message='reports stopped after the kill')
    finally:
        codes = dep.stop()
        engine.dispose()
        vhost.delete()
        drop()
    assert set(codes.values()) == {0}, codes
    log = dep.log('conductor-b')
    assert 'WARNING' not in log and 'Traceback' not in log, log
