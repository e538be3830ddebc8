"""A throw-away RabbitMQ vhost per test, on the broker of this machine.

Each deployment gets its own vhost, so queues such as ``conductor`` and
``compute.<host>`` never mix between tests. Skips when the broker or
rabbitmqctl is missing.
"""
import shutil
import socket
import subprocess
import uuid

import pytest

HOST, PORT = '127.0.0.1', 5672


def _ctl(*args):
    return subprocess.run(['rabbitmqctl', '-q', *args], check=True,
                          capture_output=True, text=True, timeout=60).stdout


def broker_or_skip():
    try:
        socket.create_connection((HOST, PORT), timeout=2).close()
    except OSError as e:
        pytest.skip('RabbitMQ not reachable on %s:%d: %s' % (HOST, PORT, e))
    if not shutil.which('rabbitmqctl'):
        pytest.skip('rabbitmqctl not installed (needed to make a test vhost)')


class VHost:
    def __init__(self):
        broker_or_skip()
        self.name = 'hvtest-%s' % uuid.uuid4().hex[:10]
        _ctl('add_vhost', self.name)
        _ctl('set_permissions', '-p', self.name, 'guest', '.*', '.*', '.*')
        self.url = 'rabbit://guest:guest@%s:%d/%s' % (HOST, PORT, self.name)

    def queues(self):
        out = _ctl('list_queues', '-p', self.name, 'name')
        return {line.strip() for line in out.splitlines() if line.strip()}

    def delete(self):
        _ctl('delete_vhost', self.name)
