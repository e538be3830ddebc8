"""Power-state drift with real libvirt + QEMU: a guest shut down, destroyed
or started behind hvagent's back (``virsh``) is reflected in the instance
within one libvirt lifecycle event, or by one pass of the power-state sync
when no event is delivered; the policy for a stopped instance whose guest
runs is ``[compute] stopped_instance_running_action``.

The manager, the real LibvirtDriver and the in-memory FakeConductor are
wired as in hvagent-compute (driver events -> handle_lifecycle_event); the
fixtures are test_libvirt_driver's.
"""
import subprocess

import pytest
from oslo_config import cfg

from agent.objects import states as S
from tests.fixtures.fakes import ctxt
from tests.fixtures.libvirt_guests import URI
from tests.fixtures.libvirt_guests import build
from tests.fixtures.libvirt_guests import states_of
from tests.fixtures.waiting import assert_stays
from tests.fixtures.waiting import wait_until
from virt.libvirt import designer

pytestmark = pytest.mark.functional

CONF = cfg.CONF
EVENT_TIMEOUT = 60      # one event's way through libvirtd, on a busy box


def virsh(*args):
    subprocess.run(['virsh', '-c', URI, *args], check=True,
                   capture_output=True, text=True, timeout=120)


def wait_states(env, uuid, expected, timeout=EVENT_TIMEOUT):
    wait_until(lambda: states_of(env, uuid) == expected, timeout,
               message=lambda: (states_of(env, uuid), expected))


def wait_guest(env, uuid, power, timeout=EVENT_TIMEOUT):
    wait_until(lambda: env.driver.get_info(uuid).power_state == power,
               timeout, message=lambda: env.driver.get_info(uuid))


@pytest.fixture
def policy():
    def set_policy(action):
        CONF.set_override('stopped_instance_running_action', action,
                          group='compute')
    # a guest just started by virsh ignores ACPI until its acpid runs
    CONF.set_override('graceful_shutdown_timeout', 2, group='compute')
    yield set_policy
    CONF.clear_override('stopped_instance_running_action', group='compute')
    CONF.clear_override('graceful_shutdown_timeout', group='compute')


def listen(env):
    env.driver.register_event_listener(
        lambda uuid, _power: env.mgr.handle_lifecycle_event(ctxt(), uuid))


def test_events_carry_outside_changes_into_the_instance(libvirt_env, policy):
    listen(libvirt_env)
    uuid = build(libvirt_env)
    name = designer.domain_name(uuid)
    assert states_of(libvirt_env, uuid) == (S.ACTIVE, None, S.RUNNING)

    virsh('destroy', name)                          # pulled the plug
    wait_states(libvirt_env, uuid, (S.STOPPED, None, S.SHUTDOWN))
    events = [e for _, e, _ in libvirt_env.conductor.events_of(uuid)]
    assert 'compute_sync_power_state' in events

    policy('adopt')                                 # started outside
    virsh('start', name)
    wait_states(libvirt_env, uuid, (S.ACTIVE, None, S.RUNNING))

    policy('stop')                                  # Nova's policy
    virsh('destroy', name)
    wait_states(libvirt_env, uuid, (S.STOPPED, None, S.SHUTDOWN))
    virsh('start', name)
    wait_guest(libvirt_env, uuid, S.SHUTDOWN)               # powered off again
    wait_states(libvirt_env, uuid, (S.STOPPED, None, S.SHUTDOWN))


def test_periodic_sync_catches_what_no_event_told(libvirt_env, policy):
    uuid = build(libvirt_env)                   # no listener: no events arrive
    name = designer.domain_name(uuid)
    virsh('destroy', name)
    assert_stays(lambda: states_of(libvirt_env, uuid) == (
        S.ACTIVE, None, S.RUNNING), 1, message='no event, no change')
    libvirt_env.mgr.sync_power_states(ctxt())
    assert states_of(libvirt_env, uuid) == (S.STOPPED, None, S.SHUTDOWN)

    policy('log')
    virsh('start', name)
    libvirt_env.mgr.sync_power_states(ctxt())
    assert states_of(libvirt_env, uuid) == (S.STOPPED, None, S.RUNNING)
    assert libvirt_env.driver.get_info(uuid).power_state == S.RUNNING
