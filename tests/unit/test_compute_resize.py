"""The compute side of a resize against the FakeDriver and an in-memory
conductor: a driver that cannot resize refuses it with the guest left
running, a failure withdraws the disk's offer, the destination reads the
disk where the source said by its own URI template, and a restarted agent
resumes exactly the step that is its own."""
import uuid

import pytest

from agent import objects
from agent.objects import states as S
from tests.fixtures.fakes import ctxt
from tests.unit.test_compute_manager import HOST
from tests.unit.test_compute_manager import built
from tests.unit.test_compute_manager import make_env
from virt.libvirt import driver as libvirt_driver

OTHER = 'node2'


def migration(instance_uuid, status=S.MIGRATION_RUNNING, source=HOST,
              dest=OTHER, cleanup=None):
    return objects.Migration(
        uuid=str(uuid.uuid4()), instance_uuid=instance_uuid,
        migration_type=S.RESIZE, status=status, source_compute=source,
        dest_compute=dest, old_vm_state=S.ACTIVE, cleanup_host=cleanup)


def started(status=S.MIGRATION_RUNNING, **kw):
    """An agent with a built guest and a migration of it at ``status``
    that the conductor answers every step with: (env, uuid, migration)."""
    env = make_env()
    uuid_ = built(env)
    mig = migration(uuid_, status=status, **kw)
    env.conductor.migration_step_start = lambda c, **kw: {
        'migration': mig, 'instance': env.conductor.get(uuid_)}
    return env, uuid_, mig


def test_a_driver_that_cannot_refuses_and_the_guest_keeps_running(conf):
    assert libvirt_driver.LibvirtDriver.capabilities[
        'supports_cold_migration'] is True
    env, uuid_, mig = started()
    env.driver.capabilities = dict(env.driver.capabilities,
                                   supports_cold_migration=False)
    failed = []
    env.conductor.resize_failed = lambda c, **kw: failed.append(kw)
    env.conductor.resize_migrated = lambda c, **kw: pytest.fail(kw)
    env.mgr.resize_instance(ctxt(), instance_uuid=uuid_,
                            migration_uuid=mig.uuid)
    (report,) = failed
    assert (report['event'], report['host'], report['reason']) == (
        'compute_resize_instance', HOST,
        'The FakeDriver virt driver cannot resize instance')
    assert env.driver.get_info(uuid_).power_state == S.RUNNING
    assert uuid_ not in env.driver.sent


def test_a_failed_stop_starts_the_guest_again(conf):
    env, uuid_, mig = started()
    failed = []
    env.conductor.resize_failed = lambda c, **kw: failed.append(kw)
    real = env.driver.migrate_disk_and_power_off

    def stops_then_fails(uuid, dest, timeout=0):
        real(uuid, dest, timeout)
        raise OSError('the disk could not be sent')
    env.driver.migrate_disk_and_power_off = stops_then_fails
    env.mgr.resize_instance(ctxt(), instance_uuid=uuid_,
                            migration_uuid=mig.uuid)
    assert 'could not be sent' in failed[0]['reason']
    assert env.driver.get_info(uuid_).power_state == S.RUNNING
    assert uuid_ not in env.driver.sent       # the offer withdrawn


def test_the_source_says_where_its_disk_is_read(conf):
    env, uuid_, mig = started()
    sent = []
    env.conductor.resize_migrated = lambda c, **kw: sent.append(kw)
    env.mgr.resize_instance(ctxt(), instance_uuid=uuid_,
                            migration_uuid=mig.uuid)
    assert sent == [{'migration_uuid': mig.uuid, 'host': HOST,
                     'address': env.driver.host}]


def test_the_destination_reads_by_its_own_uri_template(conf):
    conf('peer_uri', 'qemu+tls://%s/system', group='migration')
    env, uuid_, mig = started(S.MIGRATION_SWITCHED, source=OTHER, dest=HOST)
    env.driver.destroy(uuid_)
    mig.source_address = '192.0.2.7'
    env.conductor.resize_finished = lambda c, **kw: None
    seen = []
    real = env.driver.finish_migration

    def finish(spec, power_on, source_uri=None):
        seen.append(source_uri)
        real(spec, power_on, source_uri)
    env.driver.finish_migration = finish
    env.mgr.finish_resize(ctxt(), instance_uuid=uuid_,
                          migration_uuid=mig.uuid)
    assert seen == ['qemu+tls://192.0.2.7/system']


@pytest.mark.parametrize('status, source, dest, cleanup, step', [
    (S.MIGRATION_RUNNING, HOST, OTHER, None, 'resize_instance'),
    (S.MIGRATION_RUNNING, OTHER, HOST, None, None),
    (S.MIGRATION_SWITCHED, OTHER, HOST, None, 'finish_resize'),
    (S.MIGRATION_SWITCHED, HOST, OTHER, None, None),
    (S.MIGRATION_CONFIRMED, HOST, OTHER, HOST, 'confirm_resize'),
    (S.MIGRATION_REVERTING, OTHER, HOST, HOST, 'revert_resize'),
    (S.MIGRATION_REVERTING, HOST, OTHER, OTHER, None),  # dest first
    (S.MIGRATION_REVERTING, HOST, OTHER, None, 'finish_revert_resize'),
    (S.MIGRATION_FINISHED, HOST, OTHER, None, None),    # VERIFY_RESIZE
    (S.MIGRATION_ACCEPTED, HOST, OTHER, None, None),
])
def test_a_restarted_agent_resumes_its_own_step(conf, status, source, dest,
                                                 cleanup, step):
    env = make_env()
    called = []
    for name in ('resize_instance', 'finish_resize', 'confirm_resize',
                 'revert_resize', 'finish_revert_resize'):
        setattr(env.mgr, name, lambda c, n=name, **kw: called.append(n))
    env.mgr.resume_resize(ctxt(), migration(
        str(uuid.uuid4()), status, source, dest, cleanup))
    assert called == ([step] if step else [])
