"""The whole boot flow with three separate processes over real RabbitMQ.

conductor + scheduler + compute agent (fake driver) run as real daemons on a
private vhost; the test drives them through the conductor's RPC API, the way
hvctl does, through every lifecycle operation.
"""
import subprocess
import sys
import time
import uuid

import oslo_messaging as messaging
import pytest
from oslo_config import cfg

from agent import context
from agent import exception
from agent.cli import bus_backend
from agent.cli import change_waiter
from agent.conductor import rpcapi as conductor_rpcapi
from agent.objects import states
from agent.rpc import serializer
from agent.rpc import transport as rpc_transport
from agent.security import bus_auth
from tests.fixtures import deployment
from tests.fixtures.deployment import settle
from tests.fixtures.waiting import wait_until

VOLUME = str(uuid.UUID(int=7))


@pytest.fixture
def cloud(tmp_path, vhost, rpc_client_transport):
    dep = deployment.Deployment(
        tmp_path, vhost.url, 'sqlite:///%s' % (tmp_path / 'hv.sqlite'))
    try:
        dep.start()
        rpc_client_transport(vhost.url)
        conductor = conductor_rpcapi.ConductorAPI(timeout=30)
        ctxt = context.RequestContext(user_id='alice', project_id='p1')
        dep.conductor, dep.ctxt, dep.vhost = conductor, ctxt, vhost
        dep.ready()
        yield dep
    finally:
        codes = dep.stop()
    assert set(codes.values()) == {0}, codes


def act(dep, ref, action, **kw):
    kw.setdefault('volume_id', None)
    kw.setdefault('connection_info', {})
    # every request has its own request id, as every hvctl call does
    ctxt = context.RequestContext(user_id='alice', project_id='p1')
    dep.conductor.instance_action(ctxt, ref=ref, action=action, **kw)
    return settle(dep, ref)


def test_lifecycle_over_rabbitmq(cloud):
    assert 'compute.%s' % cloud.host in cloud.vhost.queues()
    inst = cloud.conductor.boot_instance(
        cloud.ctxt, name='web-1', flavor='m1.small', image_ref='cirros',
        availability_zone=None, hints={}, metadata={'role': 'web'},
        networks=[])
    assert inst.vm_state == states.BUILDING and inst.host == cloud.host
    inst = settle(cloud, inst.uuid)
    assert (inst.vm_state, inst.power_state) == (states.ACTIVE,
                                                 states.RUNNING)
    assert inst.launched_at and inst.metadata == {'role': 'web'}

    for action, vm_state, power in (
            ('reboot', states.ACTIVE, states.RUNNING),
            ('reboot_hard', states.ACTIVE, states.RUNNING),
            ('stop', states.STOPPED, states.SHUTDOWN),
            ('start', states.ACTIVE, states.RUNNING),
            ('pause', states.PAUSED, states.PAUSED_POWER),
            ('unpause', states.ACTIVE, states.RUNNING),
            ('suspend', states.SUSPENDED, states.SHUTDOWN),
            ('resume', states.ACTIVE, states.RUNNING)):
        inst = act(cloud, inst.uuid, action)
        assert (inst.vm_state, inst.power_state) == (vm_state, power), action

    inst = act(cloud, inst.uuid, 'attach_volume', volume_id=VOLUME,
               connection_info={'path': '/srv/volumes/v7.qcow2'})
    assert [(b.volume_id, b.status) for b in inst.block_devices] == \
        [(VOLUME, 'attached')]
    assert inst.block_devices[0].device_name
    console = cloud.conductor.console_output(cloud.ctxt, ref=inst.uuid,
                                             length=100)
    assert inst.uuid in console
    inst = act(cloud, inst.uuid, 'detach_volume', volume_id=VOLUME)
    assert inst.block_devices == []

    actions = cloud.conductor.action_list(cloud.ctxt, ref=inst.uuid)
    assert [(a.action, a.result, a.user_id) for a in actions] == [
        (name, 'Success', 'alice') for name in (
            'create', 'reboot', 'reboot_hard', 'stop', 'start', 'pause',
            'unpause', 'suspend', 'resume', 'attach_volume',
            'detach_volume')]
    assert all(a.finish_time and a.events for a in actions)

    # node usage follows the claim and the release
    node = [h['node'] for h in cloud.conductor.host_list(cloud.ctxt)
            if h['node']][0]
    assert (node.vcpus_used, node.memory_mb_used, node.running_vms) == \
        (1, 2048, 1)
    cloud.conductor.instance_action(cloud.ctxt, ref=inst.uuid,
                                    action='delete', volume_id=None,
                                    connection_info={})
    with pytest.raises(exception.InstanceNotFound):
        wait_until(lambda: not cloud.conductor.instance_show(
            cloud.ctxt, ref=inst.uuid), 30, interval=0.05)
    node = [h['node'] for h in cloud.conductor.host_list(cloud.ctxt)
            if h['node']][0]
    assert (node.vcpus_used, node.memory_mb_used, node.running_vms) == \
        (0, 0, 0)


def test_errors_are_clear_and_lose_nothing(cloud):
    c, ctxt = cloud.conductor, cloud.ctxt
    with pytest.raises(exception.FlavorNotFound, match='m1.huge'):
        c.boot_instance(ctxt, name='x', flavor='m1.huge', image_ref=None,
                        availability_zone=None, hints={}, metadata={},
                        networks=[])
    inst = c.boot_instance(ctxt, name='nowhere', flavor='m1.tiny',
                           image_ref=None, availability_zone='az-none',
                           hints={}, metadata={}, networks=[])
    assert inst.vm_state == states.ERROR
    assert inst.fault.message.startswith('No valid host')
    assert 'AvailabilityZoneFilter' in inst.fault.message
    with pytest.raises(exception.InvalidRPCPayload, match='updates'):
        c.instance_update(ctxt, instance_uuid=inst.uuid,
                          updates={'vm_state': 'bogus'},
                          expected_task_state=None)
    with pytest.raises(exception.InstanceInvalidState):
        c.instance_action(ctxt, ref=inst.uuid, action='start',
                          volume_id=None, connection_info={})

    # a malformed cast straight to the agent's queue, signed by a
    # controller: refused and logged, the agent keeps serving; unsigned,
    # it is refused before its arguments are looked at
    raw = messaging.get_rpc_client(
        rpc_transport.get_transport(), messaging.Target(topic='compute',
                                              server=cloud.host))
    bad = {'instance_uuid': '../../etc/passwd'}
    raw.cast({}, 'build_and_run_instance', **bad)
    cloud.wait_log('hvagent-compute', 'build_and_run_instance is not signed')
    signed, args = serializer.signed(bus_auth.CONTROL, 'compute', cloud.host,
                              context.RequestContext(),
                              'build_and_run_instance', bad)
    raw.cast(signed, 'build_and_run_instance', **args)
    raw.cast({}, 'no_such_method')
    cloud.wait_log('hvagent-compute', 'Rejected malformed RPC message')
    ok = c.boot_instance(ctxt, name='after', flavor='m1.tiny',
                         image_ref=None, availability_zone=None, hints={},
                         metadata={}, networks=[])
    assert settle(cloud, ok.uuid).vm_state == states.ACTIVE
    actions = c.action_list(ctxt, ref=ok.uuid)
    assert [(a.action, a.result) for a in actions] == [('create', 'Success')]
    assert [e.event for e in actions[0].events] == \
        ['compute_build_and_run_instance']


def hvctl(dep, *args):
    return subprocess.run(
        [sys.executable, '-m', 'agent.cli', '--transport-url',
         dep.vhost.url, *args, '--config-file', deployment.bus_conf()],
        capture_output=True, text=True, timeout=120)


def test_hvctl(cloud):
    out = hvctl(cloud, 'boot', 'cli-1', '--flavor', 'm1.tiny', '--wait')
    assert out.returncode == 0, out.stderr
    assert 'active' in out.stdout
    out = hvctl(cloud, '--json', 'list')
    assert '"cli-1"' in out.stdout
    out = hvctl(cloud, 'console', 'cli-1')
    assert out.returncode == 0 and 'cli-1' in out.stdout
    out = hvctl(cloud, 'host-list')
    assert cloud.host in out.stdout and ' up ' in out.stdout
    out = hvctl(cloud, 'flavor-list')
    assert 'm1.xlarge' in out.stdout
    out = hvctl(cloud, 'boot', 'x', '--flavor', 'nope')
    assert out.returncode == 1 and 'Flavor nope could not be found' in \
        out.stderr
    out = hvctl(cloud, 'show', 'no-such-vm')
    assert out.returncode == 1 and 'could not be found' in out.stderr
    out = hvctl(cloud, 'delete', 'cli-1', '--wait')
    assert out.returncode == 0, out.stderr
    out = hvctl(cloud, 'action-list', 'cli-1')
    assert out.returncode == 1   # gone


def test_waits_wake_on_change_notices(cloud, monkeypatch):
    """hvctl's wait holds no conductor thread: it reads the instance when
    the conductor's change notice names it (a fanout through the broker),
    never with instance_wait; capped below 1.15 (an older conductor) it
    long-polls as before."""
    waiter = change_waiter.get()

    def boot_and_wait(name):
        since = time.monotonic()
        inst = cloud.conductor.boot_instance(
            cloud.ctxt, name=name, flavor='m1.tiny', image_ref=None,
            availability_zone=None, hints={}, metadata={}, networks=[])
        return bus_backend.wait_for(cloud.conductor, cloud.ctxt, inst.uuid,
                                    30, start=inst, since=since)

    def no_long_polls(*args, **kwargs):
        raise AssertionError('instance_wait called')
    monkeypatch.setattr(cloud.conductor, 'instance_wait', no_long_polls)
    inst = boot_and_wait('noticed')
    assert inst.vm_state == states.ACTIVE
    assert inst.uuid in waiter._recent      # a notice named it
    monkeypatch.undo()
    cfg.CONF.set_override('conductor', '1.14', 'upgrade_levels')
    try:
        polls = []
        real = cloud.conductor.instance_wait
        monkeypatch.setattr(cloud.conductor, 'instance_wait',
                            lambda *a, **kw: polls.append(1) or real(*a, **kw))
        assert boot_and_wait('polled').vm_state == states.ACTIVE
        assert polls
    finally:
        cfg.CONF.clear_override('conductor', 'upgrade_levels')
