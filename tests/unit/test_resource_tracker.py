"""ResourceTracker reports and the node identity file."""
import logging
import os
import threading
import time
import uuid

import oslo_messaging as messaging
import pytest

from agent import exception
from agent.compute import node_identity
from agent.compute import resource_tracker
from agent.metrics import host as host_metrics
from tests.fixtures.fakes import FakeConductor
from tests.fixtures.fakes import ctxt
from virt import driver as virt_driver
from virt import fake

NODE = str(uuid.uuid4())


@pytest.fixture
def env(conf, tmp_path):
    conf('instances_path', str(tmp_path / 'not' / 'yet' / 'instances'))
    drv = fake.FakeDriver(vcpus=8, memory_mb=16384, local_gb=200)
    conductor = FakeConductor('node1')
    rt = resource_tracker.ResourceTracker(drv, conductor, 'node1', NODE)
    return drv, conductor, rt


def spawn(drv, vcpus, memory_mb):
    drv.spawn(virt_driver.GuestSpec(uuid=str(uuid.uuid4()), name='vm',
                                    vcpus=vcpus, memory_mb=memory_mb,
                                    root_gb=10))


def test_report_sends_node_and_heartbeat(env, conf):
    drv, conductor, rt = env
    conf('reserved_host_memory_mb', 1024)
    conf('reserved_host_cpus', 2)
    conf('reserved_host_disk_mb', 1500)
    spawn(drv, 2, 2048)
    spawn(drv, 1, 512)
    before = time.monotonic()
    node = rt.report(ctxt())
    assert conductor.calls == ['compute_node_update']   # + heartbeat
    [sent] = conductor.nodes
    assert sent == node
    assert (sent.uuid, sent.host, sent.hypervisor_type) == (NODE, 'node1',
                                                            'fake')
    assert (sent.vcpus, sent.memory_mb, sent.local_gb) == (6, 15360, 198)
    assert (sent.vcpus_used, sent.memory_mb_used, sent.running_vms) == (
        3, 2560, 2)
    assert sent.availability_zone is None
    assert sent.free_ram_mb >= 0 and sent.free_disk_gb >= 0
    assert sent.cpu_load is not None and sent.cpu_load >= 0
    [service] = conductor.heartbeats
    assert (service.host, service.binary) == ('node1', 'hvagent-compute')
    assert rt.last_report_time >= before


def test_failure_is_logged_and_retried(env, caplog):
    drv, conductor, rt = env
    conductor.fail_with = RuntimeError('MessagingTimeout')
    assert rt.report(ctxt()) is None
    assert rt.last_report_time is None
    assert 'MessagingTimeout' in caplog.text
    with pytest.raises(RuntimeError):
        rt.report(ctxt(), raise_errors=True)
    conductor.fail_with = None
    assert rt.report(ctxt()) is not None
    assert rt.last_report_time is not None


def test_driver_failure_is_not_raised(env):
    drv, conductor, rt = env
    drv.fail_next('get_host_resources', RuntimeError('hypervisor down'))
    assert rt.report(ctxt()) is None
    assert conductor.calls == []


def test_guest_vanishing_during_count_is_skipped(env):
    drv, conductor, rt = env
    spawn(drv, 2, 1024)
    drv.fail_next('get_info', exception.GuestNotFound(instance='x'))
    node = rt.report(ctxt())
    assert (node.running_vms, node.vcpus_used) == (0, 0)


def test_concurrent_reports(env):
    drv, conductor, rt = env
    threads = [threading.Thread(target=rt.report, args=(ctxt(),))
               for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert conductor.calls == ['compute_node_update'] * 10


def test_nearest_existing(tmp_path):
    assert host_metrics.nearest_existing(
        str(tmp_path / 'a' / 'b')) == str(tmp_path)
    assert host_metrics.nearest_existing(str(tmp_path)) == str(tmp_path)


# ------------------------------------------------------------ node identity
def test_node_uuid_is_created_once(tmp_path):
    state = tmp_path / 'state'
    first = node_identity.get_node_uuid(str(state))
    assert str(uuid.UUID(first)) == first
    assert node_identity.get_node_uuid(str(state)) == first
    assert os.listdir(state) == ['compute_node_uuid']


def test_node_uuid_refuses_garbage(tmp_path):
    (tmp_path / 'compute_node_uuid').write_text('hello\n')
    with pytest.raises(ValueError, match='does not hold a uuid'):
        node_identity.get_node_uuid(str(tmp_path))


class FlakyBus:
    """Wraps a conductor: its first ``failures`` reports never leave."""

    def __init__(self, conductor, failures, error):
        self.conductor, self.failures, self.error = conductor, failures, error

    def compute_node_update(self, ctxt, node, periodic=False):
        if self.failures:
            self.failures -= 1
            raise self.error
        return self.conductor.compute_node_update(ctxt, node=node,
                                                  periodic=periodic)


def test_bus_failure_retried_with_backoff_one_line_each(env, conf, caplog):
    drv, conductor, _ = env
    caplog.set_level(logging.INFO, logger=resource_tracker.__name__)
    conf('report_retry_max_interval', 0.1)
    rt = resource_tracker.ResourceTracker(
        drv, FlakyBus(conductor, 3, messaging.MessageDeliveryFailure(
            'Unable to connect to AMQP server')), 'node1', NODE)
    node = rt.report(ctxt())
    assert node is not None and conductor.nodes == [node]
    attempts = [r.getMessage() for r in caplog.records
                if 'failed (attempt' in r.getMessage()]
    assert len(attempts) == 3 and all('\n' not in a for a in attempts)
    assert [a.split('attempt ')[1].split(',')[0] for a in attempts] == \
        ['1', '2', '3']
    assert 'delivered to the conductor on attempt 4' in caplog.text
    assert 'Traceback' not in caplog.text


def test_bus_failure_retried_until_the_timeout(env, conf, caplog):
    drv, conductor, _ = env
    conf('report_retry_max_interval', 0.1)
    conf('report_retry_timeout', 1)
    rt = resource_tracker.ResourceTracker(
        drv, FlakyBus(conductor, 10 ** 6, messaging.MessageUndeliverable(
            None, 'openstack', 'conductor', {})), 'node1', NODE)
    t0 = time.monotonic()
    assert rt.report(ctxt()) is None
    assert 1 <= time.monotonic() - t0 < 3
    assert 'no queue conductor' in caplog.text
    assert 'giving up until the next periodic report' in caplog.text
    assert rt.last_report_time is None
