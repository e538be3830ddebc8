"""libvirtd hung (SIGSTOP for 20 s) under a running agent.

While the daemon is stopped: an operation fails within ``[libvirt]
call_timeout`` with a clear error (instead of holding its RPC thread until
the daemon wakes), a console request gets the same clear error, and a
metrics collection (the bulk stats) answers within its own bound. After
SIGCONT: the connection is usable again, operations succeed, and lifecycle
events are delivered again (virsh destroy reaches the instance).

This stops the machine's shared libvirtd for 20 s: other libvirt tests
running at the same moment only see a slow daemon.
"""
import concurrent.futures
import os
import signal
import subprocess
import time
import types

import oslo_messaging as messaging
import pytest
from oslo_config import cfg

from agent import exception
from agent.compute import manager as manager_mod
from agent.objects import states as S
from tests.fixtures import libvirtd
from tests.fixtures.fakes import FakeConductor
from tests.fixtures.fakes import ctxt
from tests.fixtures.libvirt_guests import URI
from tests.fixtures.libvirt_guests import build
from tests.fixtures.libvirt_guests import remove_domains
from tests.fixtures.libvirt_guests import set_task
from tests.fixtures.libvirt_guests import states_of
from tests.fixtures.waiting import wait_until
from virt.libvirt import designer
from virt.libvirt import driver as libvirt_driver

pytestmark = pytest.mark.functional

CONF = cfg.CONF
HOST = 'node1'
HANG = 20           # seconds libvirtd stays stopped
CALL_TIMEOUT = 5    # [libvirt] call_timeout of the agent under test


def libvirtd_pid():
    with open(libvirtd.PID_FILE) as f:
        return int(f.read().strip())


@pytest.fixture
def env(libvirt_state_dir, libvirt_image):
    CONF.set_override('call_timeout', CALL_TIMEOUT, 'libvirt')
    drv = libvirt_driver.LibvirtDriver()
    drv.init_host(HOST)
    conductor = FakeConductor(HOST)
    mgr = manager_mod.ComputeManager(drv, conductor, HOST)
    drv.register_event_listener(
        lambda uuid, _power: mgr.handle_lifecycle_event(ctxt(), uuid))
    e = types.SimpleNamespace(driver=drv, conductor=conductor, mgr=mgr,
                              image=libvirt_image, extra_uuids=set())
    try:
        yield e
    finally:
        CONF.clear_override('call_timeout', 'libvirt')
        remove_domains(set(conductor.instances))
        drv.cleanup_host()


def raised(future):
    """The exception ``future`` ended with (an RPC endpoint's, unwrapped
    from oslo.messaging's ExpectedException)."""
    try:
        future.result(timeout=HANG)
    except messaging.ExpectedException as e:
        return e.exc_info[1]
    except Exception as e:
        return e
    return None


def test_hung_libvirtd_fails_operations_quickly_and_recovers(env):
    uuid = build(env)
    assert states_of(env, uuid) == (S.ACTIVE, None, S.RUNNING)
    pid = libvirtd_pid()
    pool = concurrent.futures.ThreadPoolExecutor(3)
    set_task(env, uuid, S.REBOOTING_HARD)
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        reboot = pool.submit(env.mgr.reboot_instance, ctxt(),
                             instance_uuid=uuid, reboot_type='HARD')
        console = pool.submit(env.mgr.get_console_output, ctxt(),
                              instance_uuid=uuid, tail_length=5)
        stats = pool.submit(env.driver.get_guest_stats)
        reboot.result(timeout=HANG)
        reboot_s = time.monotonic() - t0
        assert 'did not answer xml within' in str(raised(console))
        assert isinstance(raised(stats), exception.HypervisorTimeout)
        answered_s = time.monotonic() - t0
        # all of it while libvirtd was still stopped
        assert answered_s < HANG, answered_s
        time.sleep(max(0.0, HANG - (time.monotonic() - t0)))
    finally:
        os.kill(pid, signal.SIGCONT)
        pool.shutdown(wait=False)
    print('reboot failed after %.1f s, all answered after %.1f s'
          % (reboot_s, answered_s))
    inst = env.conductor.get(uuid)
    assert (inst.vm_state, inst.task_state) == (S.ERROR, None)
    [fault] = env.conductor.faults_of(uuid)
    assert 'did not answer reboot_hard within %ss' % CALL_TIMEOUT in \
        fault['message'], fault

    # the daemon is back: operations work on the same driver again
    set_task(env, uuid, S.REBOOTING_HARD)
    env.mgr.reboot_instance(ctxt(), instance_uuid=uuid, reboot_type='HARD')
    assert states_of(env, uuid) == (S.ACTIVE, None, S.RUNNING)
    assert len(env.driver.get_guest_stats()) >= 1

    # and events flow again: a destroy behind our back reaches the instance
    subprocess.run(['virsh', '-c', URI, 'destroy',
                    designer.domain_name(uuid)], check=True,
                   capture_output=True)
    wait_until(lambda: states_of(env, uuid) == (S.STOPPED, None, S.SHUTDOWN),
               60, interval=0.2, message=lambda: states_of(env, uuid))
