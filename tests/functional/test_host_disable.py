"""An operator disables and enables compute hosts (conductor RPC 1.11
service_update): the conductor's endpoint and the scheduler's host cache
on real databases (SQLite, MariaDB, PostgreSQL), and the whole path with
real processes on RabbitMQ: hvctl host-disable over the bus, conductor,
scheduler, two fake-driver agents.

Tenants never reach this (admins only; the API's half is in
test_api_services.py); a compute node's key is refused in
test_bus_trust.py."""
import json
import os
import re
import subprocess
import uuid

import pytest
import sqlalchemy as sa

from agent import context
from agent import exception
from agent import objects
from agent.conductor import rpcapi as conductor_rpcapi
from agent.conductor import services
from agent.db import models
from agent.objects import states
from agent.rpc import transport as rpc_transport
from agent.scheduler import Settings
from agent.scheduler import manager as scheduler_manager
from tests.fixtures import brokers
from tests.fixtures import deployment
from tests.fixtures.conductor import call
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional

ADMIN = context.admin_context()
COMPUTE = 'hvagent-compute'


@pytest.fixture
def two_hosts(db_cloud):
    """db_cloud with node1 and node2 reported (equal, roomy), the services
    endpoint, and a scheduler that reads what changed at every placement
    (interval 0: the test need not wait the default second)."""
    for host in ('node1', 'node2'):
        db_cloud.report(host, vcpus=64, memory_mb=65536, local_gb=1000)
    db_cloud.services = services.ServiceManager(db_cloud.engine)
    db_cloud.tasks.scheduler.manager = scheduler_manager.SchedulerManager(
        db_cloud.engine, settings=Settings(host_state_refresh_interval=0.0))
    return db_cloud


def update(cloud, host, disabled, reason=None, ctxt=ADMIN, binary=COMPUTE):
    return call(cloud.services.service_update, ctxt, host=host,
                binary=binary, disabled=disabled, disabled_reason=reason)


def boots(cloud, count):
    """The hosts of ``count`` new boots (None: no host, in error)."""
    return [cloud.boot(name='vm-%s' % uuid.uuid4().hex[:8]).host
            for _ in range(count)]


def service_row(cloud, host):
    with cloud.engine.connect() as conn:
        return conn.execute(sa.select(models.Service).where(
            models.Service.host == host,
            models.Service.binary == COMPUTE)).one()


def test_disable_moves_placement_and_enable_brings_it_back(two_hosts):
    c = two_hosts
    full_loads = []
    hosts = c.tasks.scheduler.manager.hosts
    real_full_load = hosts._full_load
    hosts._full_load = lambda conn: (full_loads.append(1),
                                     real_full_load(conn))
    assert set(boots(c, 4)) == {'node1', 'node2'}     # spread: both used
    before = service_row(c, 'node1').updated_at
    svc = update(c, 'node1', True, 'new disks, back Monday')
    assert (svc.host, svc.binary, svc.disabled, svc.disabled_reason) == (
        'node1', COMPUTE, True, 'new disks, back Monday')
    assert svc.id == service_row(c, 'node1').id and svc.up
    assert svc.updated_at is not None and (
        before is None or svc.updated_at >= before)
    # the scheduler's cache saw it through its cheap path (services
    # changed since its last look), not by loading every host again
    assert boots(c, 4) == ['node2'] * 4
    assert len(full_loads) == 1, full_loads
    # both disabled: a boot ends in error, saying why
    update(c, 'node2', True)
    inst = c.boot(name='nowhere')
    assert inst.vm_state == states.ERROR and inst.host is None
    assert inst.fault.message.startswith('No valid host')
    assert 'ComputeFilter rejected 2 (down or disabled)' in \
        inst.fault.message
    # enabling clears the reason; placement resumes on the host
    svc = update(c, 'node1', False, 'ignored: enabling clears it')
    assert (svc.disabled, svc.disabled_reason) == (False, None)
    assert service_row(c, 'node1').disabled_reason is None
    assert boots(c, 3) == ['node1'] * 3
    listed = {h['service'].host: h['service']
              for h in call(c.tasks.host_list, ADMIN)}
    assert (listed['node1'].disabled, listed['node2'].disabled) == (
        False, True)


def test_a_disable_is_seen_between_heartbeats(two_hosts):
    """Heartbeats move updated_at too; a disable landing between two of
    them is still read by the next incremental refresh, and a heartbeat
    after it does not undo it."""
    c = two_hosts
    sched = c.tasks.scheduler.manager
    sched.hosts.refresh(force=True)

    def beat():     # a heartbeat alone: the node row (generation) stays
        call(c.conductor.service_heartbeat, c.ctxt,
             service=objects.Service(host='node1', binary=COMPUTE))
    beat()                                  # a heartbeat, then the disable
    update(c, 'node1', True)
    generation = sched.hosts.generation.copy()
    sched.hosts.refresh(force=True)
    assert (sched.hosts.generation == generation).all()
    beat()                                  # and another heartbeat
    sched.hosts.refresh(force=True)
    enabled = dict(zip(sched.hosts.names, sched.hosts.enabled))
    assert enabled == {'node1': False, 'node2': True}


def test_only_admins_and_only_known_compute_services(two_hosts):
    c = two_hosts
    member = context.RequestContext(user_id='u1', project_id='p1')
    with pytest.raises(exception.AdminRequired,
                       match='^Only an admin may disable or enable a '
                       'service$'):
        update(c, 'node1', True, ctxt=member)
    with pytest.raises(exception.ServiceNotFound,
                       match='^Service hvagent-compute on host nowhere '
                       'could not be found$'):
        update(c, 'nowhere', True)
    with pytest.raises(exception.ServiceNotFound):
        update(c, 'node1', True, binary='sshd')
    with c.engine.begin() as conn:      # a controller's own heartbeat row
        conn.execute(sa.insert(models.Service.__table__).values(
            host='ctl1', binary='hvagent-scheduler', report_count=1))
    with pytest.raises(exception.ServiceNotDisableable,
                       match='^Only hvagent-compute services can be '
                       'disabled or enabled, not hvagent-scheduler'):
        update(c, 'ctl1', True, binary='hvagent-scheduler')
    assert not service_row(c, 'node1').disabled


@pytest.mark.parametrize('reason, why', [
    ('down\x1b[2J', 'non-printable character U\\+001B at position 4'),
    ('two\nlines', 'non-printable character U\\+000A'),
    ('x' * 10000, 'longer than 255 characters'),
    (7, 'must be a string'),
])
def test_hostile_reasons_are_refused_in_one_line(two_hosts, reason, why):
    with pytest.raises(exception.InvalidRPCPayload) as e:
        update(two_hosts, 'node1', True, reason)
    text = str(e.value)
    assert text.startswith('Invalid arguments for service_update: '
                           'disabled_reason ')
    assert '\n' not in text and len(text) < 200
    assert re.search(why, text), text
    row = service_row(two_hosts, 'node1')
    assert (row.disabled, row.disabled_reason) == (False, None)


# ----------------------------------------- real processes, hvctl over RPC
NODE1, NODE2 = 'hvtest-dis1', 'hvtest-dis2'


@pytest.fixture
def cloud(tmp_path):
    """Conductor, scheduler and two fake-driver agents on a private
    vhost, one SQLite database; the scheduler reads what changed at
    every placement."""
    vhost = brokers.VHost()
    db = 'sqlite:///%s' % (tmp_path / 'hv.sqlite')
    extra = {'scheduler': {'host_state_refresh_interval': 0}}
    dep = deployment.Deployment(tmp_path, vhost.url, db, host=NODE1,
                                extra=extra)
    (tmp_path / 'node2').mkdir()
    dep2 = deployment.Deployment(tmp_path / 'node2', vhost.url, db,
                                 host=NODE2, extra=extra)
    try:
        dep.start()
        dep2.start('hvagent-compute')
        rpc_transport.cleanup()
        rpc_transport.init(url=vhost.url)
        dep.conductor = conductor_rpcapi.ConductorAPI(timeout=30)
        dep.ctxt = context.RequestContext(user_id='alice', project_id='p1')
        dep.vhost = vhost
        dep.ready()
        dep2.ready()
        wait_until(lambda: {h['service'].host for h in
                            dep.conductor.host_list(dep.ctxt)
                            if h['service'].up and
                            h['service'].binary == COMPUTE} ==
                   {NODE1, NODE2}, 60, message='both agents up')
        yield dep
    finally:
        codes = {**dep2.stop(), **{'%s (controller)' % k: v
                                   for k, v in dep.stop().items()}}
        rpc_transport.cleanup()
        vhost.delete()
    assert set(codes.values()) == {0}, codes


def hvctl(dep, *args, check=True):
    proc = subprocess.run(
        [os.path.join(deployment.BIN, 'hvctl'), '--transport-url',
         dep.vhost.url, *args, '--config-file', deployment.bus_conf()],
        capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def boot_hosts(dep, count):
    out = []
    for _ in range(count):
        inst = dep.conductor.boot_instance(
            dep.ctxt, name='vm-%s' % uuid.uuid4().hex[:8], flavor='m1.tiny',
            image_ref=None, availability_zone=None, hints={}, metadata={},
            networks=[])
        inst = deployment.settle(dep, inst.uuid)
        out.append(inst.host if inst.vm_state == states.ACTIVE
                   else inst.fault.message)
    return out


def test_hvctl_disables_and_enables_real_hosts(cloud):
    shown = json.loads(hvctl(cloud, '--json', 'host-disable', NODE1,
                             '--reason', 'new disks').stdout)
    assert (shown['host'], shown['disabled'], shown['disabled_reason']) == (
        NODE1, True, 'new disks')
    assert boot_hosts(cloud, 4) == [NODE2] * 4
    table = hvctl(cloud, 'host-list').stdout
    assert [line for line in table.splitlines() if NODE1 in line and
            COMPUTE in line and '| disabled | new disks |' in line]
    hvctl(cloud, 'host-disable', NODE2)
    (fault,) = boot_hosts(cloud, 1)
    assert fault.startswith('No valid host') and \
        'ComputeFilter rejected 2 (down or disabled)' in fault, fault
    out = hvctl(cloud, 'host-enable', NODE1).stdout
    assert '| status          | enabled ' in out
    assert boot_hosts(cloud, 2) == [NODE1] * 2
    # what an operator gets wrong: one line each, exit 1, no traceback
    for args, message in (
            (('host-disable', 'nowhere'), 'Service hvagent-compute on '
             'host nowhere could not be found'),
            (('host-disable', NODE1, '--reason', 'bad\x07bell'),
             'disabled_reason contains the non-printable character '
             'U+0007 at position 3'),
            (('--project', 'p1', 'host-enable', NODE2),
             'Only an admin may disable or enable a service')):
        proc = hvctl(cloud, *args, check=False)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert message in proc.stderr and 'Traceback' not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
