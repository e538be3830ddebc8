"""The in-memory FakeDriver honours the ComputeDriver contract."""
import configparser
import importlib.metadata
import os
import threading
import uuid

import pytest

from agent import exception
from agent.objects import states
from virt import driver as virt_driver
from virt import fake

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def spec(**kw):
    values = dict(uuid=str(uuid.uuid4()), name='web-1', vcpus=2,
                  memory_mb=1024, root_gb=10)
    values.update(kw)
    return virt_driver.GuestSpec(**values)


@pytest.fixture
def drv():
    d = fake.FakeDriver()
    d.init_host('node1')
    return d


def test_registered_entry_point_loads_with_no_arguments():
    cfgp = configparser.ConfigParser()
    cfgp.read(os.path.join(ROOT, 'setup.cfg'))
    lines = cfgp['options.entry_points']['hvagent.virt'].split('\n')
    entries = dict(line.replace(' ', '').split('=') for line in lines if line)
    ep = importlib.metadata.EntryPoint(name='fake', value=entries['fake'],
                                       group=virt_driver.ENTRY_POINT_GROUP)
    driver = ep.load()()
    assert isinstance(driver, fake.FakeDriver)
    assert all(driver.capabilities.values())


def test_spawn_info_and_console_banner(drv):
    s = spec()
    drv.spawn(s)
    info = drv.get_info(s.uuid)
    assert (info.power_state, info.vcpus, info.memory_mb) == (
        states.RUNNING, 2, 1024)
    assert drv.list_guests() == [s.uuid]
    console = drv.get_console_output(s.uuid, 65536)
    assert s.uuid in console and 'web-1' in console


def test_spawn_twice_raises_instance_exists(drv):
    s = spec()
    drv.spawn(s)
    with pytest.raises(exception.InstanceExists):
        drv.spawn(s)
    assert drv.list_guests() == [s.uuid]


def test_destroy_missing_is_noop_and_missing_guest_raises(drv):
    drv.destroy(str(uuid.uuid4()))
    missing = str(uuid.uuid4())
    for call in (lambda: drv.get_info(missing),
                 lambda: drv.reboot(missing, 'SOFT'),
                 lambda: drv.power_off(missing),
                 lambda: drv.power_on(missing),
                 lambda: drv.pause(missing),
                 lambda: drv.unpause(missing),
                 lambda: drv.attach_volume(missing, 'v', {}, None),
                 lambda: drv.detach_volume(missing, 'v'),
                 lambda: drv.get_console_output(missing, 100)):
        with pytest.raises(exception.GuestNotFound):
            call()


def test_power_cycle_and_console_lines(drv):
    s = spec()
    drv.spawn(s)
    drv.power_off(s.uuid, timeout=5)
    assert drv.get_info(s.uuid).power_state == states.SHUTDOWN
    drv.power_off(s.uuid)                       # already off: no-op
    drv.power_on(s.uuid)
    drv.pause(s.uuid)
    assert drv.get_info(s.uuid).power_state == states.PAUSED_POWER
    with pytest.raises(exception.VirtDriverError):
        drv.pause(s.uuid)
    drv.unpause(s.uuid)
    drv.reboot(s.uuid, 'HARD')
    assert drv.get_info(s.uuid).power_state == states.RUNNING
    console = drv.get_console_output(s.uuid, 65536)
    for text in ('Power down', 'power on', 'paused', 'resumed',
                 'HARD reboot'):
        assert text in console
    assert console.count('login:') == 3          # boot, start, reboot


def test_attach_detach_volumes_choose_devices(drv):
    s = spec()
    drv.spawn(s)
    v1, v2, v3 = (str(uuid.uuid4()) for _ in range(3))
    assert drv.attach_volume(s.uuid, v1, {}, None) == 'vdb'
    assert drv.attach_volume(s.uuid, v1, {}, None) == 'vdb'  # redelivered
    assert drv.attach_volume(s.uuid, v2, {}, '/dev/vdd') == 'vdd'
    assert drv.attach_volume(s.uuid, v3, {}, None) == 'vdc'
    with pytest.raises(exception.VirtDriverError):
        drv.attach_volume(s.uuid, str(uuid.uuid4()), {}, 'vdd')
    drv.detach_volume(s.uuid, v1)
    drv.detach_volume(s.uuid, v1)                # already gone: no-op
    assert drv.get_volumes(s.uuid) == {v2: 'vdd', v3: 'vdc'}
    console = drv.get_console_output(s.uuid, 65536)
    assert 'attached volume %s' % v1 in console
    assert 'detached volume %s' % v1 in console


def test_console_output_honours_max_bytes(drv):
    s = spec()
    drv.spawn(s)
    for _ in range(20):
        drv.reboot(s.uuid, 'SOFT')
    full = drv.get_console_output(s.uuid, 1 << 20)
    tail = drv.get_console_output(s.uuid, 100)
    assert len(tail.encode()) <= 100 and full.endswith(tail)


def test_host_resources_from_constructor():
    d = fake.FakeDriver(vcpus=4, memory_mb=8192, local_gb=100,
                        hypervisor_type='qemu')
    d.spawn(spec(memory_mb=1024, root_gb=10))
    res = d.get_host_resources()
    assert (res.hypervisor_type, res.vcpus, res.memory_mb, res.local_gb,
            res.free_ram_mb, res.free_disk_gb) == (
        'qemu', 4, 8192, 100, 7168, 90)


def test_fail_next_is_one_shot(drv):
    s = spec()
    drv.fail_next('spawn', RuntimeError('no space'))
    with pytest.raises(RuntimeError, match='no space'):
        drv.spawn(s)
    assert drv.list_guests() == []
    drv.spawn(s)
    with pytest.raises(ValueError):
        drv.fail_next('no_such_op', RuntimeError())


def test_thread_safe_spawns(drv):
    specs = [spec(name='vm-%d' % i) for i in range(50)]
    threads = [threading.Thread(target=drv.spawn, args=(s,)) for s in specs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(drv.list_guests()) == sorted(s.uuid for s in specs)


def test_suspend_and_resume_go_on_where_the_guest_was(drv):
    d = drv
    d.spawn(spec(uuid='u1'))
    d.suspend('u1')
    d.suspend('u1')                 # saved already: nothing more
    assert d.get_info('u1').power_state == states.SHUTDOWN
    d.resume('u1')
    d.resume('u1')                  # running already
    assert d.get_info('u1').power_state == states.RUNNING
    log = d.get_console_output('u1', 100000)
    assert log.count('suspended to disk') == 1
    assert log.count('resumed from disk') == 1
    assert log.count('fake-bios: booting') == 1      # no new boot


def test_a_guest_without_saved_state_cannot_resume_or_suspend(drv):
    d = drv
    d.spawn(spec(uuid='u1'))
    d.power_off('u1')
    with pytest.raises(exception.VirtDriverError, match='no saved state'):
        d.resume('u1')
    with pytest.raises(exception.VirtDriverError, match='cannot suspend'):
        d.suspend('u1')
