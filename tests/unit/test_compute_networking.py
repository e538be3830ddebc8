"""The compute manager's use of guest networking (net/ stubbed out here;
tests/functional/net proves the wiring itself)."""
import types

from agent.compute import vifs
from agent.objects import net_models as wire
from agent.objects import states as S
from tests.fixtures.fakes import ctxt
from tests.unit.test_compute_manager import make_env
from tests.unit.test_compute_manager import set_task

NIC = {'mac': 'fa:16:3e:00:00:01', 'bridge': 'brqabc', 'tap': 'tapabc',
       'mtu': None}


class StubNetworking:
    def __init__(self, fail_plug=None):
        self.calls = []
        self.fail_plug = fail_plug

    def plug(self, ctxt, instance_uuid):
        self.calls.append(('plug', instance_uuid))
        if self.fail_plug:
            raise self.fail_plug
        return (NIC,)

    def activate(self, ctxt, instance_uuid, nics):
        self.calls.append(('activate', instance_uuid))

    def ports_of(self, ctxt, instance_uuid):
        self.calls.append(('ports_of', instance_uuid))
        return [types.SimpleNamespace(instance_uuid=instance_uuid)]

    def unplug(self, ctxt, ports):
        self.calls.append(('unplug', [p.instance_uuid for p in ports]))



def env_with(networking):
    env = make_env()
    env.mgr.networking = networking
    specs = []
    spawn = env.driver.spawn
    env.driver.spawn = lambda spec: (specs.append(spec), spawn(spec))
    env.specs = specs
    return env


def test_ports_are_plugged_before_spawn_and_unplugged_after_delete(conf):
    net = StubNetworking()
    env = env_with(net)
    inst = env.conductor.add_instance(networks=['lan=10.0.0.2'])
    env.mgr.build_and_run_instance(ctxt(), instance_uuid=inst.uuid)
    assert env.conductor.get(inst.uuid).vm_state == S.ACTIVE
    assert env.specs[0].networks == (NIC,)
    assert net.calls == [('plug', inst.uuid), ('activate', inst.uuid)]
    set_task(env, inst.uuid, S.DELETING)
    env.mgr.terminate_instance(ctxt(), instance_uuid=inst.uuid)
    assert net.calls[2:] == [('ports_of', inst.uuid),
                             ('unplug', [inst.uuid])]


def test_instances_without_ports_never_touch_networking(conf):
    net = StubNetworking()
    env = env_with(net)
    inst = env.conductor.add_instance()
    env.mgr.build_and_run_instance(ctxt(), instance_uuid=inst.uuid)
    assert env.conductor.get(inst.uuid).vm_state == S.ACTIVE
    assert net.calls == [] and env.specs[0].networks == ()


def test_failed_plug_ends_in_error_and_unplugs(conf):
    net = StubNetworking(fail_plug=RuntimeError('no 8021q'))
    env = env_with(net)
    inst = env.conductor.add_instance(networks=['lan=10.0.0.2'])
    env.mgr.build_and_run_instance(ctxt(), instance_uuid=inst.uuid)
    assert env.conductor.get(inst.uuid).vm_state == S.ERROR
    assert 'no 8021q' in env.conductor.faults_of(inst.uuid)[0]['message']
    assert ('unplug', [inst.uuid]) in net.calls
    assert env.driver.list_guests() == []


def _wire_port(**kw):
    net = wire.Network(uuid='aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
                       name='n', network_type='flat', cidr='10.0.0.0/24',
                       dns_nameservers=[], allocation_pools=[])
    return wire.Port(uuid='11111111-2222-3333-4444-555555555555',
                     network=net, mac_address='fa:16:3e:00:00:01',
                     ip_address='10.0.0.3', status='DOWN',
                     security_groups=[], **kw)


def test_port_security_reaches_the_firewall_model(conf):
    """A port without groups is still anti-spoofed (port_security on by
    default, even from a conductor too old to send the field); only the
    admin's switch turns it off."""
    plain = vifs.to_port(_wire_port())
    assert (plain.security, plain.port_security) == (False, True)
    off = vifs.to_port(_wire_port(port_security_enabled=False))
    assert off.port_security is False
