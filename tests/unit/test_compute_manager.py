"""ComputeManager against the FakeDriver and an in-memory conductor."""
import threading
import types
import uuid

import oslo_messaging as messaging
import pytest

from agent import exception
from agent import locks
from agent import objects
from agent.compute import manager as manager_mod
from agent.objects import states as S
from tests.fixtures.fakes import FakeConductor
from tests.fixtures.fakes import ctxt
from tests.fixtures.waiting import assert_stays
from virt import fake

HOST = 'node1'


class BlockingDriver(fake.FakeDriver):
    """spawn() waits for ``release`` and counts how many run at once."""

    def __init__(self):
        super().__init__()
        self.release = threading.Event()
        self.started = threading.Semaphore(0)
        self.running = self.peak = 0
        self.calls = []
        self.guard = threading.Lock()

    def spawn(self, spec):
        with self.guard:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.calls.append(('spawn', spec.uuid))
        self.started.release()
        assert self.release.wait(10)
        super().spawn(spec)
        with self.guard:
            self.running -= 1
            self.calls.append(('spawned', spec.uuid))

    def destroy(self, uuid):
        self.calls.append(('destroy', uuid))
        super().destroy(uuid)


def make_env(driver=None):
    env = types.SimpleNamespace(driver=driver or fake.FakeDriver(),
                                conductor=FakeConductor(HOST), reports=[])
    env.mgr = manager_mod.ComputeManager(
        env.driver, env.conductor, HOST,
        report_callback=lambda: env.reports.append(1))
    return env


@pytest.fixture
def env(conf):
    return make_env()


def built(env, **fields):
    """An active instance whose guest runs."""
    inst = env.conductor.add_instance(**fields)
    env.mgr.build_and_run_instance(ctxt(), instance_uuid=inst.uuid)
    assert env.conductor.get(inst.uuid).vm_state == S.ACTIVE
    return inst.uuid


def states_of(env, uuid):
    i = env.conductor.get(uuid)
    return i.vm_state, i.task_state, i.power_state


def set_task(env, uuid, task_state):
    env.conductor.get(uuid).update(task_state=task_state)


def run_in_thread(func, **kw):
    t = threading.Thread(target=func, args=(ctxt(),), kwargs=kw)
    t.start()
    return t


# ------------------------------------------------------------------ build
def test_build_makes_instance_active(env):
    inst = env.conductor.add_instance()
    env.mgr.build_and_run_instance(ctxt('req-1'), instance_uuid=inst.uuid)
    assert states_of(env, inst.uuid) == (S.ACTIVE, None, S.RUNNING)
    assert env.conductor.get(inst.uuid).launched_at is not None
    assert env.driver.list_guests() == [inst.uuid]
    first, last = env.conductor.updates[0], env.conductor.updates[-1]
    assert first[1] == {'vm_state': S.BUILDING, 'task_state': S.SPAWNING}
    assert last[2] == [S.SPAWNING]   # the state operation_start left
    assert env.conductor.events_of(inst.uuid) == [
        ('start', 'compute_build_and_run_instance', None),
        ('finish', 'compute_build_and_run_instance', 'Success')]
    assert {e['request_id'] for _, e in env.conductor.events} == {'req-1'}
    assert env.reports == [1]


@pytest.mark.parametrize('committed', [False, True])
@pytest.mark.parametrize('call', ['operation_start', 'operation_finish'])
def test_a_call_without_answer_is_sent_again(env, call, committed, caplog):
    """A conductor that took an operation's start (or end) stopped before
    answering (MessagingTimeout), after its commit or before: the agent
    sends it again, another conductor takes it, and the build completes
    (a retried end that finds the task over counts as recorded) instead
    of leaving the instance in spawning or in error."""
    inst = env.conductor.add_instance()
    real = getattr(env.conductor, call)
    lost = []

    def first_lost(ctxt, **kw):
        if not lost:
            lost.append(1)
            if committed:
                real(ctxt, **kw)
            raise messaging.MessagingTimeout('no reply')
        return real(ctxt, **kw)
    setattr(env.conductor, call, first_lost)
    env.mgr.build_and_run_instance(ctxt('req-1'), instance_uuid=inst.uuid)
    assert states_of(env, inst.uuid) == (S.ACTIVE, None, S.RUNNING)
    assert env.driver.list_guests() == [inst.uuid]
    assert not env.conductor.faults
    assert 'sending it again' in caplog.text


def test_a_start_without_answer_gives_up_after_its_attempts(env):
    inst = env.conductor.add_instance()

    def never(ctxt, **kw):
        never.calls += 1
        raise messaging.MessagingTimeout('no reply')
    never.calls = 0
    env.conductor.operation_start = never
    with pytest.raises(messaging.MessagingTimeout):
        env.mgr.build_and_run_instance(ctxt(), instance_uuid=inst.uuid)
    assert never.calls == manager_mod.START_ATTEMPTS
    assert env.driver.list_guests() == []


@pytest.mark.parametrize('op', ['spawn', 'get_info'])
def test_build_failure_cleans_up_and_errors(env, op):
    inst = env.conductor.add_instance()
    env.driver.fail_next(op, RuntimeError('disk full'))
    env.mgr.build_and_run_instance(ctxt(), instance_uuid=inst.uuid)
    assert states_of(env, inst.uuid)[:2] == (S.ERROR, None)
    assert env.driver.list_guests() == []
    [fault] = env.conductor.faults_of(inst.uuid)
    assert fault['message'] == 'RuntimeError: disk full'
    assert 'Traceback' in fault['details'] and fault['host'] == HOST
    assert env.conductor.events_of(inst.uuid)[-1] == (
        'finish', 'compute_build_and_run_instance', 'Error')


def test_double_build_makes_one_guest(env):
    uuid_ = built(env)
    events = len(env.conductor.events)
    env.mgr.build_and_run_instance(ctxt(), instance_uuid=uuid_)
    assert env.driver.list_guests() == [uuid_]
    assert len(env.conductor.events) == events
    assert states_of(env, uuid_) == (S.ACTIVE, None, S.RUNNING)


def test_redelivered_build_adopts_existing_guest(env):
    inst = env.conductor.add_instance(task_state=S.SPAWNING)
    env.mgr.build_and_run_instance(ctxt(), instance_uuid=inst.uuid)
    env.driver.set_power_state(inst.uuid, S.RUNNING)
    env.conductor.get(inst.uuid).update(vm_state=S.BUILDING,
                                        task_state=S.SPAWNING)
    env.mgr.build_and_run_instance(ctxt(), instance_uuid=inst.uuid)
    assert states_of(env, inst.uuid) == (S.ACTIVE, None, S.RUNNING)
    assert env.driver.list_guests() == [inst.uuid]
    assert not env.conductor.faults


def test_build_of_other_hosts_instance_is_ignored(env):
    inst = env.conductor.add_instance(host='node2')
    env.mgr.build_and_run_instance(ctxt(), instance_uuid=inst.uuid)
    assert env.driver.list_guests() == []
    assert env.conductor.calls == ['operation_start']


def test_build_of_unknown_instance_is_logged_only(env):
    env.mgr.build_and_run_instance(ctxt(), instance_uuid=str(uuid.uuid4()))
    assert env.conductor.calls == ['operation_start']


# ------------------------------------------------------------------ delete
def test_terminate_twice(env):
    uuid_ = built(env)
    set_task(env, uuid_, S.DELETING)
    for _ in range(2):          # the second one finds it deleted already
        env.mgr.terminate_instance(ctxt(), instance_uuid=uuid_)
        assert env.conductor.get(uuid_).vm_state == S.DELETED
    assert env.driver.list_guests() == []
    assert not env.conductor.faults
    assert env.conductor.calls.count('instance_destroy') == 1
    assert env.conductor.calls[-1] == 'operation_start'   # and skipped
    assert env.reports == [1, 1]


def test_terminate_with_missing_guest(env):
    uuid_ = built(env)
    env.driver.destroy(uuid_)
    set_task(env, uuid_, S.DELETING)
    env.mgr.terminate_instance(ctxt(), instance_uuid=uuid_)
    assert env.conductor.get(uuid_).vm_state == S.DELETED
    assert env.conductor.events_of(uuid_)[-1][2] == 'Success'


# ------------------------------------------------------- power operations
@pytest.mark.parametrize('method,task,prepare,expected', [
    ('stop_instance', S.POWERING_OFF, None, (S.STOPPED, None, S.SHUTDOWN)),
    ('start_instance', S.POWERING_ON, 'power_off',
     (S.ACTIVE, None, S.RUNNING)),
    ('pause_instance', S.PAUSING, None, (S.PAUSED, None, S.PAUSED_POWER)),
    ('unpause_instance', S.UNPAUSING, 'pause', (S.ACTIVE, None, S.RUNNING)),
    ('suspend_instance', S.SUSPENDING, None,
     (S.SUSPENDED, None, S.SHUTDOWN)),
    ('suspend_instance', S.SUSPENDING, 'pause',
     (S.SUSPENDED, None, S.SHUTDOWN)),
    # retried after a kill -9: the save had finished
    ('suspend_instance', S.SUSPENDING, 'suspend',
     (S.SUSPENDED, None, S.SHUTDOWN)),
    ('resume_instance', S.RESUMING, 'suspend', (S.ACTIVE, None, S.RUNNING)),
    ('resume_instance', S.RESUMING, None, (S.ACTIVE, None, S.RUNNING)),
])
def test_power_operations(env, method, task, prepare, expected):
    uuid_ = built(env)
    if prepare:
        getattr(env.driver, prepare)(uuid_)
    set_task(env, uuid_, task)
    getattr(env.mgr, method)(ctxt(), instance_uuid=uuid_)
    assert states_of(env, uuid_) == expected
    assert env.conductor.updates[-1][2] == [task]
    assert env.conductor.events_of(uuid_)[-1] == (
        'finish', 'compute_' + method, 'Success')


def test_a_shut_off_guest_is_not_recorded_as_suspended(env):
    """A guest that went down without its memory saved cannot be
    called suspended: the suspend fails with a readable fault."""
    uuid_ = built(env)
    env.driver.power_off(uuid_)
    set_task(env, uuid_, S.SUSPENDING)
    env.mgr.suspend_instance(ctxt(), instance_uuid=uuid_)
    assert env.conductor.get(uuid_).vm_state == S.ERROR
    [fault] = env.conductor.faults_of(uuid_)
    assert 'cannot suspend guest' in fault['message']


def test_a_suspend_the_hypervisor_cannot_save_keeps_the_instance(env):
    uuid_ = built(env)
    set_task(env, uuid_, S.SUSPENDING)
    env.driver.fail_next('suspend', exception.SuspendFailed(
        instance=uuid_, reason='No space left on device'))
    env.mgr.suspend_instance(ctxt(), instance_uuid=uuid_)
    assert states_of(env, uuid_) == (S.ACTIVE, None, S.RUNNING)
    [fault] = env.conductor.faults_of(uuid_)
    assert 'No space left on device' in fault['message']


@pytest.mark.parametrize('method,task,prepare,expected', [
    # isolate: a running guest is paused, a stopped one stays stopped
    ('isolate_instance', S.ISOLATING, None, (S.PAUSED, None, S.PAUSED_POWER)),
    ('isolate_instance', S.ISOLATING, 'power_off',
     (S.STOPPED, None, S.SHUTDOWN)),
    # release: a paused guest runs again, a stopped one stays stopped
    ('release_instance', S.RELEASING, 'pause', (S.ACTIVE, None, S.RUNNING)),
    ('release_instance', S.RELEASING, 'power_off',
     (S.STOPPED, None, S.SHUTDOWN)),
])
def test_isolation(env, method, task, prepare, expected):
    uuid_ = built(env)
    if prepare:
        getattr(env.driver, prepare)(uuid_)
        env.conductor.get(uuid_).update(vm_state={
            'pause': S.PAUSED, 'power_off': S.STOPPED}[prepare])
    set_task(env, uuid_, task)
    getattr(env.mgr, method)(ctxt(), instance_uuid=uuid_)
    assert states_of(env, uuid_) == expected
    assert env.conductor.events_of(uuid_)[-1] == (
        'finish', 'compute_' + method, 'Success')


def test_isolation_cuts_the_network_before_pausing(env):
    """The ports' firewall is refreshed (the conductor marked them
    quarantined) before the guest is paused; on release before it runs."""
    calls = []

    class Networking:
        def resync(self, ctxt):
            calls.append(('resync', env.driver.get_info(uuid_).power_state))
    uuid_ = built(env)
    env.conductor.get(uuid_).update(networks=['net1=10.0.0.5'])
    env.mgr.networking = Networking()
    set_task(env, uuid_, S.ISOLATING)
    env.mgr.isolate_instance(ctxt(), instance_uuid=uuid_)
    set_task(env, uuid_, S.RELEASING)
    env.mgr.release_instance(ctxt(), instance_uuid=uuid_)
    assert calls == [('resync', S.RUNNING), ('resync', S.PAUSED_POWER)]
    assert states_of(env, uuid_) == (S.ACTIVE, None, S.RUNNING)


@pytest.mark.parametrize('reboot_type,task', [('SOFT', S.REBOOTING),
                                              ('HARD', S.REBOOTING_HARD)])
def test_reboot(env, reboot_type, task):
    uuid_ = built(env)
    set_task(env, uuid_, task)
    env.mgr.reboot_instance(ctxt(), instance_uuid=uuid_,
                            reboot_type=reboot_type)
    assert states_of(env, uuid_) == (S.ACTIVE, None, S.RUNNING)
    assert '%s reboot' % reboot_type in env.driver.get_console_output(
        uuid_, 65536)


def test_stop_of_stopped_guest_only_fixes_states(env):
    uuid_ = built(env)
    env.driver.power_off(uuid_)
    console = env.driver.get_console_output(uuid_, 65536)
    set_task(env, uuid_, S.POWERING_OFF)
    env.mgr.stop_instance(ctxt(), instance_uuid=uuid_)
    assert states_of(env, uuid_) == (S.STOPPED, None, S.SHUTDOWN)
    assert env.driver.get_console_output(uuid_, 65536) == console


def test_start_of_running_guest_only_fixes_states(env):
    uuid_ = built(env)
    env.conductor.get(uuid_).update(vm_state=S.STOPPED,
                                    task_state=S.POWERING_ON)
    env.mgr.start_instance(ctxt(), instance_uuid=uuid_)
    assert states_of(env, uuid_) == (S.ACTIVE, None, S.RUNNING)
    assert env.driver.get_console_output(uuid_, 65536).count('login:') == 1


def test_stale_message_is_dropped(env):
    uuid_ = built(env)
    before = list(env.conductor.calls)
    env.mgr.stop_instance(ctxt(), instance_uuid=uuid_)   # task_state None
    assert env.conductor.calls == before + ['operation_start']
    assert env.driver.get_info(uuid_).power_state == S.RUNNING


def test_driver_failure_puts_instance_in_error(env):
    uuid_ = built(env)
    env.driver.fail_next('reboot', exception.VirtDriverError(reason='boom'))
    set_task(env, uuid_, S.REBOOTING)
    env.mgr.reboot_instance(ctxt(), instance_uuid=uuid_, reboot_type='SOFT')
    assert states_of(env, uuid_)[:2] == (S.ERROR, None)
    assert env.conductor.faults_of(uuid_)[0]['message'] == \
        'Virt driver error: boom'
    assert env.driver.list_guests() == [uuid_]     # not destroyed


def test_unsupported_operation_keeps_vm_state(env):
    uuid_ = built(env)
    env.driver.capabilities = dict(env.driver.capabilities,
                                   supports_pause=False)
    set_task(env, uuid_, S.PAUSING)
    env.mgr.pause_instance(ctxt(), instance_uuid=uuid_)
    assert states_of(env, uuid_) == (S.ACTIVE, None, S.RUNNING)
    [fault] = env.conductor.faults_of(uuid_)
    assert fault['message'] == 'The FakeDriver virt driver cannot pause ' \
        'instance'
    assert env.conductor.events_of(uuid_)[-1][2] == 'Error'


def test_not_implemented_is_unsupported(env):
    uuid_ = built(env)

    def pause(uuid):
        raise NotImplementedError
    env.driver.pause = pause
    set_task(env, uuid_, S.PAUSING)
    env.mgr.pause_instance(ctxt(), instance_uuid=uuid_)
    assert states_of(env, uuid_) == (S.ACTIVE, None, S.RUNNING)
    assert 'cannot pause' in env.conductor.faults_of(uuid_)[0]['message']


def test_superseded_operation_changes_nothing(env):
    uuid_ = built(env)
    set_task(env, uuid_, S.POWERING_OFF)
    real_power_off = env.driver.power_off

    def power_off(uuid, timeout=0):   # a delete arrives meanwhile
        set_task(env, uuid_, S.DELETING)
        real_power_off(uuid, timeout)
    env.driver.power_off = power_off
    env.mgr.stop_instance(ctxt(), instance_uuid=uuid_)
    assert states_of(env, uuid_)[:2] == (S.ACTIVE, S.DELETING)
    assert not env.conductor.faults
    assert env.conductor.events_of(uuid_)[-1][2] == 'Error'


# ------------------------------------------------------------------ volumes
def with_volume(env, status='attaching'):
    vol = str(uuid.uuid4())
    uuid_ = built(env)
    env.conductor.get(uuid_).update(
        task_state=S.ATTACHING_VOLUME, block_devices=[objects.BlockDevice(
            volume_id=vol, connection_info={'path': '/dev/sdz'},
            status=status)])
    return uuid_, vol


def test_attach_and_detach_volume(env):
    uuid_, vol = with_volume(env)
    env.mgr.attach_volume(ctxt(), instance_uuid=uuid_, volume_id=vol)
    inst = env.conductor.get(uuid_)
    assert (inst.vm_state, inst.task_state) == (S.ACTIVE, None)
    [bdm] = inst.block_devices
    assert (bdm.status, bdm.device_name) == ('attached', 'vdb')
    assert env.driver.get_volumes(uuid_) == {vol: 'vdb'}
    set_task(env, uuid_, S.DETACHING_VOLUME)
    env.mgr.detach_volume(ctxt(), instance_uuid=uuid_, volume_id=vol)
    assert env.conductor.get(uuid_).block_devices == []
    assert env.driver.get_volumes(uuid_) == {}
    assert states_of(env, uuid_) == (S.ACTIVE, None, S.RUNNING)
    set_task(env, uuid_, S.DETACHING_VOLUME)       # redelivered detach
    env.mgr.detach_volume(ctxt(), instance_uuid=uuid_, volume_id=vol)
    assert states_of(env, uuid_) == (S.ACTIVE, None, S.RUNNING)
    assert not env.conductor.faults


def test_init_host_retries_an_interrupted_attach_and_detach(env):
    uuid_, vol = with_volume(env)            # killed before the attach
    env.mgr.init_host(ctxt())
    [bdm] = env.conductor.get(uuid_).block_devices
    assert (bdm.status, bdm.device_name) == ('attached', 'vdb')
    assert env.driver.get_volumes(uuid_) == {vol: 'vdb'}
    assert states_of(env, uuid_) == (S.ACTIVE, None, S.RUNNING)
    env.conductor.get(uuid_).update(task_state=S.DETACHING_VOLUME)
    bdm.status = 'detaching'                 # as the conductor marks it
    env.mgr.init_host(ctxt())
    assert env.conductor.get(uuid_).block_devices == []
    assert env.driver.get_volumes(uuid_) == {}
    assert states_of(env, uuid_) == (S.ACTIVE, None, S.RUNNING)


def extending(env, size_bytes):
    """An attached volume the conductor marked for an extend."""
    uuid_, vol = with_volume(env)
    env.mgr.attach_volume(ctxt(), instance_uuid=uuid_, volume_id=vol)
    inst = env.conductor.get(uuid_)
    [bdm] = inst.block_devices
    bdm.status = 'extending'
    bdm.connection_info = dict(bdm.connection_info,
                               size_bytes=str(size_bytes))
    inst.update(task_state=S.EXTENDING_VOLUME)
    return uuid_, vol


def test_extend_volume_tells_the_guest_and_survives_a_restart(env):
    uuid_, vol = extending(env, 2 << 30)
    env.mgr.init_host(ctxt())           # killed before: retried
    [bdm] = env.conductor.get(uuid_).block_devices
    assert bdm.status == 'attached'
    assert states_of(env, uuid_) == (S.ACTIVE, None, S.RUNNING)
    assert 'vdb: capacity changed to %d bytes' % (2 << 30) in \
        env.driver.get_console_output(uuid_, 1 << 20)
    assert env.conductor.events_of(uuid_)[-1] == (
        'finish', 'compute_extend_volume', 'Success')


def test_an_extend_the_hypervisor_refuses_keeps_the_instance(env):
    uuid_, vol = extending(env, 2 << 30)
    env.driver.fail_next('extend_volume', exception.VolumeExtendFailed(
        volume_id=vol, instance=uuid_, reason='No space left on device'))
    env.mgr.extend_volume(ctxt(), instance_uuid=uuid_, volume_id=vol)
    assert states_of(env, uuid_) == (S.ACTIVE, None, S.RUNNING)
    [bdm] = env.conductor.get(uuid_).block_devices
    assert bdm.status == 'attached'
    [fault] = env.conductor.faults_of(uuid_)
    assert 'No space left on device' in fault['message']


@pytest.mark.parametrize('stop', [False, True])
def test_rebuild_makes_a_new_guest_from_the_new_image(env, stop):
    """The same instance, its guest anew from the image the conductor
    recorded, its volume at the same device, stopped if it was; a
    restarted agent finds the task and runs it (again)."""
    uuid_, vol = with_volume(env)
    env.mgr.attach_volume(ctxt(), instance_uuid=uuid_, volume_id=vol)
    if stop:
        env.driver.power_off(uuid_)
        env.conductor.get(uuid_).update(vm_state=S.STOPPED,
                                        power_state=S.SHUTDOWN)
    env.conductor.get(uuid_).update(task_state=S.REBUILD_SPAWNING,
                                    image_ref='debian-13')
    env.mgr.init_host(ctxt())            # killed before it began: retried
    assert states_of(env, uuid_) == ((S.STOPPED, None, S.SHUTDOWN) if stop
                                     else (S.ACTIVE, None, S.RUNNING))
    assert env.driver._guests[uuid_].spec.image_ref == 'debian-13'
    assert env.driver.get_volumes(uuid_) == {vol: 'vdb'}
    assert env.conductor.events_of(uuid_)[-1] == (
        'finish', 'compute_rebuild_in_place', 'Success')


def test_rescue_and_unrescue(env):
    """Rescued: the guest boots from the rescue image (recorded on the
    instance), its volumes not attached; unrescued: its own disk, the
    volume again; a restarted agent runs an interrupted rescue."""
    uuid_, vol = with_volume(env)
    env.mgr.attach_volume(ctxt(), instance_uuid=uuid_, volume_id=vol)
    env.conductor.get(uuid_).update(task_state=S.RESCUING,
                                    rescue_image_ref='rescue-img')
    env.mgr.init_host(ctxt())            # killed before it began: retried
    assert states_of(env, uuid_) == (S.RESCUED, None, S.RUNNING)
    assert 'rescue: booting rescue-img' in env.driver.get_console_output(
        uuid_, 1 << 20)
    assert env.driver.get_volumes(uuid_) == {}
    set_task(env, uuid_, S.UNRESCUING)
    env.mgr.unrescue_instance(ctxt(), instance_uuid=uuid_)
    assert states_of(env, uuid_) == (S.ACTIVE, None, S.RUNNING)
    assert env.driver.get_volumes(uuid_) == {vol: 'vdb'}
    assert env.conductor.events_of(uuid_)[-1] == (
        'finish', 'compute_unrescue_instance', 'Success')


def test_snapshot_copies_into_the_saving_image_and_is_retried(env):
    """The driver snapshots into the image the conductor grants; a
    restarted agent runs an interrupted snapshot again; with no image
    saving (uploaded already, or deleted) nothing is copied."""
    uuid_ = built(env)
    env.conductor.saving[uuid_] = 'img-1'
    set_task(env, uuid_, S.IMAGE_SNAPSHOT)
    env.mgr.init_host(ctxt())            # killed before it began: retried
    assert states_of(env, uuid_) == (S.ACTIVE, None, S.RUNNING)
    assert env.driver.snapshots['img-1'].startswith(
        b'hvagent fake snapshot of ' + uuid_.encode())
    del env.conductor.saving[uuid_]
    set_task(env, uuid_, S.IMAGE_SNAPSHOT)
    env.mgr.snapshot_instance(ctxt(), instance_uuid=uuid_)
    assert states_of(env, uuid_) == (S.ACTIVE, None, S.RUNNING)
    assert list(env.driver.snapshots) == ['img-1']
    assert env.conductor.events_of(uuid_)[-1] == (
        'finish', 'compute_snapshot_instance', 'Success')


def test_a_failed_snapshot_leaves_the_instance_as_it_was(env):
    uuid_ = built(env)
    env.driver.power_off(uuid_)
    env.conductor.get(uuid_).update(vm_state=S.STOPPED,
                                    power_state=S.SHUTDOWN)
    env.conductor.saving[uuid_] = 'img-2'
    env.driver.fail_next('snapshot', exception.SnapshotFailed(
        instance=uuid_, reason='the image service refused the upload'))
    set_task(env, uuid_, S.IMAGE_SNAPSHOT)
    env.mgr.snapshot_instance(ctxt(), instance_uuid=uuid_)
    assert states_of(env, uuid_) == (S.STOPPED, None, S.SHUTDOWN)
    [fault] = env.conductor.faults_of(uuid_)
    assert 'refused the upload' in fault['message']
    assert env.conductor.events_of(uuid_)[-1] == (
        'finish', 'compute_snapshot_instance', 'Error')


class StubNetworking:
    """What the interface operations ask of HostNetworking, in memory:
    ``ports`` maps a MAC to its instance (None: detached)."""

    def __init__(self):
        self.ports, self.unplugged = {}, []

    def plug(self, ctxt, instance_uuid, bind=True):
        return tuple({'mac': mac, 'bridge': 'brq1', 'tap': 'tap' + mac[-2:],
                      'mtu': None} for mac, owner in self.ports.items()
                     if owner == instance_uuid)

    def activate(self, ctxt, instance_uuid, nics):
        pass

    def ports_of(self, ctxt, instance_uuid):
        return [types.SimpleNamespace(mac_address=mac)
                for mac, owner in self.ports.items()
                if owner == instance_uuid]

    def unplug_detached(self, ctxt):
        gone = [mac for mac, owner in self.ports.items() if owner is None]
        for mac in gone:
            del self.ports[mac]
        self.unplugged += gone
        return gone

    def unplug(self, ctxt, ports):
        pass


def test_interfaces_follow_the_ports_and_are_retried(conf):
    """Attach plugs the NIC of the instance's new port, detach takes out
    the one whose port left it (then the conductor deletes the port); a
    restarted agent runs an interrupted attach again."""
    net = StubNetworking()
    env = make_env()
    env.mgr = manager_mod.ComputeManager(env.driver, env.conductor, HOST,
                                         networking=net)
    inst = env.conductor.add_instance(networks=['lan=10.0.0.2'])
    net.ports['fa:16:3e:00:00:01'] = inst.uuid
    env.mgr.build_and_run_instance(ctxt(), instance_uuid=inst.uuid)

    def macs():
        return [n['mac'] for n in env.driver._guests[inst.uuid].spec.networks]
    assert macs() == ['fa:16:3e:00:00:01']
    net.ports['fa:16:3e:00:00:02'] = inst.uuid
    set_task(env, inst.uuid, S.ATTACHING_INTERFACE)
    env.mgr.init_host(ctxt())            # killed before it began: retried
    assert states_of(env, inst.uuid) == (S.ACTIVE, None, S.RUNNING)
    assert macs() == ['fa:16:3e:00:00:01', 'fa:16:3e:00:00:02']
    net.ports['fa:16:3e:00:00:01'] = None
    set_task(env, inst.uuid, S.DETACHING_INTERFACE)
    env.mgr.detach_interface(ctxt(), instance_uuid=inst.uuid)
    assert states_of(env, inst.uuid) == (S.ACTIVE, None, S.RUNNING)
    assert macs() == ['fa:16:3e:00:00:02']
    assert net.unplugged == ['fa:16:3e:00:00:01']
    assert 'interfaces_detached' in env.conductor.calls
    assert env.conductor.events_of(inst.uuid)[-1] == (
        'finish', 'compute_detach_interface', 'Success')


def test_failed_attach_rolls_back(env):
    uuid_, vol = with_volume(env)
    env.driver.fail_next('attach_volume', RuntimeError('iscsi login'))
    env.mgr.attach_volume(ctxt(), instance_uuid=uuid_, volume_id=vol)
    assert env.conductor.get(uuid_).block_devices == []
    assert states_of(env, uuid_)[:2] == (S.ERROR, None)


def test_attach_of_unknown_volume_is_refused(env):
    uuid_, _ = with_volume(env)
    env.mgr.attach_volume(ctxt(), instance_uuid=uuid_,
                          volume_id=str(uuid.uuid4()))
    assert states_of(env, uuid_)[:2] == (S.ACTIVE, None)
    assert len(env.conductor.faults_of(uuid_)) == 1


# ------------------------------------------------------------------ console
def test_console_tail(env, conf):
    uuid_ = built(env)
    for _ in range(50):
        env.driver.reboot(uuid_, 'SOFT')
    out = env.mgr.get_console_output(ctxt(), instance_uuid=uuid_,
                                     tail_length=2)
    lines = out.splitlines()
    assert len(lines) == 2 and lines[-1].endswith('login:')
    full = env.mgr.get_console_output(ctxt(), instance_uuid=uuid_)
    assert len(full.splitlines()) > 100
    conf('console_output_max_bytes', 1024)
    bounded = env.mgr.get_console_output(ctxt(), instance_uuid=uuid_,
                                         tail_length=10000)
    assert 0 < len(bounded.encode()) <= 1024


def unwrap(excinfo):
    return excinfo.value.exc_info[1]


def test_console_of_missing_guest_raises_expected(env):
    with pytest.raises(messaging.ExpectedException) as ei:
        env.mgr.get_console_output(ctxt(), instance_uuid=str(uuid.uuid4()),
                                   tail_length=None)
    assert isinstance(unwrap(ei), exception.GuestNotFound)


# --------------------------------------------------------- payload checks
@pytest.mark.parametrize('method,kwargs', [
    ('build_and_run_instance', {'instance_uuid': 'not-a-uuid'}),
    ('build_and_run_instance', {}),
    ('stop_instance', {'instance_uuid': str(uuid.uuid4()), 'force': True}),
    ('reboot_instance', {'instance_uuid': str(uuid.uuid4()),
                         'reboot_type': 'MEDIUM'}),
    ('attach_volume', {'instance_uuid': str(uuid.uuid4()),
                       'volume_id': 7}),
    ('get_console_output', {'instance_uuid': str(uuid.uuid4()),
                            'tail_length': 0}),
    ('get_console_output', {'instance_uuid': str(uuid.uuid4()),
                            'tail_length': 10001}),
    ('get_console_output', {'instance_uuid': str(uuid.uuid4()),
                            'tail_length': '5'}),
])
def test_malformed_payload_rejected(env, method, kwargs):
    with pytest.raises(messaging.ExpectedException) as ei:
        getattr(env.mgr, method)(ctxt(), **kwargs)
    assert isinstance(unwrap(ei), exception.InvalidRPCPayload)
    assert env.conductor.calls == []
    assert env.driver.list_guests() == []


# -------------------------------------------------------------- concurrency
def test_builds_are_bounded(conf):
    conf('max_concurrent_builds', 2)
    env = make_env(BlockingDriver())
    uuids = [env.conductor.add_instance().uuid for _ in range(3)]
    threads = [run_in_thread(env.mgr.build_and_run_instance, instance_uuid=u)
               for u in uuids]
    for _ in range(2):
        assert env.driver.started.acquire(timeout=5)
    assert not env.driver.started.acquire(timeout=0.3)  # third one waits
    assert env.driver.running == 2
    env.driver.release.set()
    for t in threads:
        t.join(10)
    assert env.driver.peak == 2
    assert all(states_of(env, u)[0] == S.ACTIVE for u in uuids)


def test_operations_on_one_instance_are_serialized(conf):
    env = make_env(BlockingDriver())
    inst = env.conductor.add_instance()
    build = run_in_thread(env.mgr.build_and_run_instance,
                          instance_uuid=inst.uuid)
    assert env.driver.started.acquire(timeout=5)
    set_task(env, inst.uuid, S.DELETING)           # the user deletes it
    delete = run_in_thread(env.mgr.terminate_instance,
                           instance_uuid=inst.uuid)
    assert_stays(lambda: ('destroy', inst.uuid) not in env.driver.calls,
                 0.3, message='the delete waited for the build')
    env.driver.release.set()
    build.join(10)
    delete.join(10)
    assert env.driver.calls.index(('spawned', inst.uuid)) < \
        env.driver.calls.index(('destroy', inst.uuid))
    assert env.conductor.get(inst.uuid).vm_state == S.DELETED
    assert env.driver.list_guests() == []
    assert len(env.mgr._locks) == 0


def test_lock_table_does_not_grow():
    table = locks.LockTable()
    for i in range(100):
        with table.hold(i):
            assert len(table) == 1
    assert len(table) == 0
    with table.hold('a'):
        with table.hold('a', blocking=False) as held:
            assert not held
    assert len(table) == 0


def test_report_callback_failure_does_not_break_build(conf):
    env = make_env()

    def broken():
        raise RuntimeError('conductor away')
    env.mgr.report_callback = broken
    built(env)


# ---------------------------------------------------- start-up and sync
def test_init_host_recovers_interrupted_work(env):
    c, d = env.conductor, env.driver
    lost = c.add_instance(task_state=S.SPAWNING)
    made = c.add_instance(task_state=S.SPAWNING)
    queued = c.add_instance()                               # scheduling
    dying = c.add_instance(vm_state=S.ACTIVE, task_state=S.DELETING)
    stopping = c.add_instance(vm_state=S.ACTIVE, task_state=S.POWERING_OFF,
                              power_state=S.RUNNING)
    gone = c.add_instance(vm_state=S.ACTIVE, task_state=None,
                          power_state=S.RUNNING)
    for inst in (made, dying, stopping):
        d.spawn(manager_mod.virt_driver.GuestSpec(
            uuid=inst.uuid, name=inst.name, vcpus=1, memory_mb=1,
            root_gb=1))
    env.mgr.init_host(ctxt())
    assert d.host == HOST
    assert states_of(env, lost.uuid) == (S.ERROR, None, S.NOSTATE)
    assert c.faults_of(lost.uuid)[0]['message'] == \
        'Build interrupted by agent restart'
    assert states_of(env, made.uuid) == (S.ACTIVE, None, S.RUNNING)
    assert states_of(env, queued.uuid) == (S.BUILDING, S.SCHEDULING,
                                           S.NOSTATE)
    assert c.get(dying.uuid).vm_state == S.DELETED
    # the interrupted stop is retried as an action of its own
    assert states_of(env, stopping.uuid) == (S.STOPPED, None, S.SHUTDOWN)
    assert c.events_of(stopping.uuid)[-1] == (
        'finish', 'compute_stop_instance', 'Success')
    assert states_of(env, gone.uuid) == (S.ACTIVE, None, S.NOSTATE)
    assert sorted(d.list_guests()) == sorted([made.uuid, stopping.uuid])
    assert env.reports[-1:] == [1]


def test_init_host_removes_a_defined_but_never_started_build(env):
    c, d = env.conductor, env.driver
    half = c.add_instance(task_state=S.SPAWNING)
    d.spawn(manager_mod.virt_driver.GuestSpec(
        uuid=half.uuid, name=half.name, vcpus=1, memory_mb=1, root_gb=1))
    d.set_power_state(half.uuid, S.SHUTDOWN)
    env.mgr.init_host(ctxt())
    assert states_of(env, half.uuid) == (S.ERROR, None, S.NOSTATE)
    assert d.list_guests() == []


@pytest.mark.parametrize('task, power, expected', [
    (S.REBOOTING, S.SHUTDOWN, (S.ACTIVE, None, S.RUNNING)),
    (S.REBOOTING_HARD, S.RUNNING, (S.ACTIVE, None, S.RUNNING)),
    (S.POWERING_ON, S.SHUTDOWN, (S.ACTIVE, None, S.RUNNING)),
    (S.PAUSING, S.RUNNING, (S.PAUSED, None, S.PAUSED_POWER)),
])
def test_init_host_retries_interrupted_power_operations(env, task, power,
                                                        expected):
    uuid = built(env)
    env.driver.set_power_state(uuid, power)
    set_task(env, uuid, task)
    env.mgr.init_host(ctxt())
    assert states_of(env, uuid) == expected


def test_sync_power_states(env):
    running, shut, paused, busy = (built(env) for _ in range(4))
    env.driver.set_power_state(shut, S.SHUTDOWN)
    env.driver.set_power_state(paused, S.PAUSED_POWER)
    env.driver.set_power_state(busy, S.SHUTDOWN)
    set_task(env, busy, S.REBOOTING)
    gone = env.conductor.add_instance(vm_state=S.ACTIVE, task_state=None,
                                      power_state=S.RUNNING)
    env.mgr.sync_power_states(ctxt())
    assert states_of(env, running) == (S.ACTIVE, None, S.RUNNING)
    assert states_of(env, shut) == (S.STOPPED, None, S.SHUTDOWN)
    assert env.conductor.events_of(shut)[-2:] == [
        ('start', 'compute_sync_power_state', None),
        ('finish', 'compute_sync_power_state', 'Success')]
    assert states_of(env, paused) == (S.ACTIVE, None, S.PAUSED_POWER)
    assert states_of(env, busy) == (S.ACTIVE, S.REBOOTING, S.RUNNING)
    assert states_of(env, gone.uuid) == (S.ACTIVE, None, S.NOSTATE)
    assert env.conductor.updates[-1][2] == [None]


# ------------------------------------------- unknown guests, host boot, drift
@pytest.mark.parametrize('action, left', [
    ('reap', None), ('shutdown', S.SHUTDOWN), ('log', S.RUNNING)])
def test_guests_of_deleted_instances_are_handled_per_config(
        env, conf, action, left):
    mine = built(env)
    deleted = built(env)            # deleted in the DB, its guest is not
    env.conductor.get(deleted).update(vm_state=S.DELETED)
    stray = str(uuid.uuid4())       # a guest the DB never recorded
    env.driver.spawn(manager_mod.virt_driver.GuestSpec(
        uuid=stray, name='stray', vcpus=1, memory_mb=1, root_gb=1))
    conf('running_deleted_instance_action', action)
    env.mgr.sync_power_states(ctxt())
    if left is None:
        assert deleted not in env.driver.list_guests()
    else:
        assert env.driver.get_info(deleted).power_state == left
    assert env.driver.get_info(stray).power_state == S.RUNNING  # untouched
    assert env.driver.get_info(mine).power_state == S.RUNNING


def test_a_guest_of_an_instance_being_built_is_never_reaped(env):
    inst = env.conductor.add_instance(task_state=S.SPAWNING)
    env.driver.spawn(manager_mod.virt_driver.GuestSpec(
        uuid=inst.uuid, name=inst.name, vcpus=1, memory_mb=1, root_gb=1))
    env.mgr.handle_unknown_guests(ctxt(), known=set())
    assert inst.uuid in env.driver.list_guests()


@pytest.mark.parametrize('resume, expected', [
    (True, (S.ACTIVE, None, S.RUNNING)),
    (False, (S.STOPPED, None, S.SHUTDOWN))])
def test_host_boot_resumes_active_guests_if_configured(env, conf, resume,
                                                       expected):
    uuid_ = built(env)
    env.driver.set_power_state(uuid_, S.SHUTDOWN)      # the host rebooted
    conf('resume_guests_state_on_host_boot', resume)
    env.mgr.init_host(ctxt())
    assert states_of(env, uuid_) == expected


@pytest.mark.parametrize('action, expected, guest', [
    ('stop', (S.STOPPED, None, S.SHUTDOWN), S.SHUTDOWN),
    ('adopt', (S.ACTIVE, None, S.RUNNING), S.RUNNING),
    ('log', (S.STOPPED, None, S.RUNNING), S.RUNNING)])
def test_guest_started_outside_follows_policy(env, conf, action,
                                              expected, guest):
    uuid_ = built(env)
    env.driver.set_power_state(uuid_, S.SHUTDOWN)
    env.mgr.sync_power_states(ctxt())
    assert states_of(env, uuid_) == (S.STOPPED, None, S.SHUTDOWN)
    env.driver.set_power_state(uuid_, S.RUNNING)        # virsh start
    conf('stopped_instance_running_action', action)
    env.mgr.sync_power_states(ctxt())
    assert states_of(env, uuid_) == expected
    assert env.driver.get_info(uuid_).power_state == guest

