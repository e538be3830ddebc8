"""Live migration end to end between two real hypervisor hosts.

h1 is the machine's libvirtd, h2 the second_host fixture's libvirtd in its
own mount/UTS/network namespaces. Each runs its own hvagent-compute (h2's
inside h2's namespaces) with the real LibvirtDriver (TCG), a compute
node's broker user and only its host key; conductor and scheduler are
controllers in the root namespace; RabbitMQ reaches h2 through the
fixture's forwarder. Every step goes agent -> conductor -> agent over the
broker, and the guests move for real (block migration of the overlay over
the image cache both sides hold, the config drive rebuilt on the
destination).

The guest is the test guest: one boot banner per boot, a disks line every
second. A guest that moved keeps printing disks lines on the destination
and never boots again.
"""
import os
import signal
import subprocess
import uuid

import pytest

from agent import context
from agent.conductor import rpcapi as conductor_rpcapi
from agent.objects import states as S
from agent.rpc import transport as rpc_transport
from agent.security import bus_auth
from tests.fixtures import brokers
from tests.fixtures import deployment
from tests.fixtures import guest_image
from tests.fixtures.waiting import wait_until

pytestmark = [pytest.mark.functional, pytest.mark.slow]

H1, H2 = 'hvtest-h1', 'hvtest-h2'
BOOT_TIMEOUT = 300
MOVE_TIMEOUT = 180


def agent_config(dep, host, **extra):
    """Write ``host``'s agent config (``extra``: more options by
    section) and return its path."""
    h2, vhost = dep.h2, dep.vhost
    on_h2 = host == H2
    key_file = dep.tmp_path / ('%s.key' % host)
    key_file.write_text(bus_auth.host_key(bus_auth.keyring().master,
                                          host).hex() + '\n')
    state = dep.tmp_path / host
    sections = {
        'DEFAULT': {'host': host, 'state_path': state,
                    'transport_url': dep.broker_urls.setdefault(
                        host, vhost.compute_user(host)),
                    'report_interval': 1, 'service_down_time': 10},
        'compute': {'compute_driver': 'libvirt',
                    'instances_path': h2.instances_path},
        'libvirt': {'virt_type': 'qemu', 'connection_uri': 'qemu:///system',
                    'image_cache_path': h2.image_cache_path,
                    'allowed_image_dirs': dep.image_dir,
                    'live_migration_inbound_addr':
                        h2.address if on_h2 else h2.h1_address},
        'migration': {'peer_uri': h2.uri_from_h2_to_h1 if on_h2 else h2.uri,
                      'progress_interval': 0.5, 'max_downtime_ms': 500},
        'bus': {'host_key_file': key_file,
                'secret_file': dep.tmp_path / 'no-secret-here'},
    }
    for section, values in extra.items():
        sections.setdefault(section, {}).update(values)
    return deployment.write_config(dep.tmp_path / ('%s.conf' % host),
                                   **sections)


@pytest.fixture(scope='module')
def cloud(tmp_path_factory, second_host, libvirt_image):
    h2 = second_host
    h2.forward(brokers.PORT)
    tmp_path = tmp_path_factory.mktemp('migration')
    os.chmod(tmp_path, 0o755)
    vhost = brokers.VHost()
    dep = deployment.Deployment(
        tmp_path, vhost.url, 'sqlite:///%s' % (tmp_path / 'hv.sqlite'))
    dep.h2, dep.vhost, dep.broker_urls = h2, vhost, {}
    dep.image_dir = os.path.dirname(libvirt_image['disk'])
    try:
        dep.start('hvagent-conductor', 'hvagent-scheduler')
        for host in (H1, H2):
            start_agent(dep, host)
        rpc_transport.cleanup()
        rpc_transport.init(url=vhost.url)
        dep.conductor = conductor_rpcapi.ConductorAPI(timeout=60)
        dep.ctxt = context.RequestContext(user_id='alice', project_id='p1')
        dep.admin = context.RequestContext(user_id='admin',
                                           project_id='admin', is_admin=True)
        dep.image = libvirt_image
        wait_up(dep, H1, H2)
        yield dep
    finally:
        codes = dep.stop()
        rpc_transport.cleanup()
        vhost.delete()
    assert set(codes.values()) <= {0, -signal.SIGKILL}, codes


def start_agent(dep, host, **extra):
    """(Re)start ``host``'s agent with its config (plus ``extra``)."""
    dep.stop(host)
    prefix = dep.h2.command_prefix if host == H2 else None
    dep.start('hvagent-compute', as_name=host,
              config=agent_config(dep, host, **extra), prefix=prefix)


def wait_up(dep, *hosts):
    wait_until(lambda: {h['service'].host for h in dep.conductor.host_list(
        dep.ctxt) if h['service'].up} >= set(hosts), 60, interval=0.5)


@pytest.fixture
def guest(cloud):
    """A running test guest on h1; deleted afterwards."""
    img = cloud.image
    inst = cloud.conductor.boot_instance(
        cloud.ctxt, name='mover-%s' % uuid.uuid4().hex[:6], flavor='m1.tiny',
        image_ref=img['disk'], availability_zone=None, hints={},
        metadata={}, networks=[],
        options={'kernel_ref': img['kernel'], 'ramdisk_ref': img['ramdisk'],
                 'config_drive': True})
    inst = deployment.settle(cloud, inst.uuid, timeout=BOOT_TIMEOUT)
    if inst.host != H1:
        move(cloud, inst, H1)
    wait_until(lambda: guest_image.booted_uuids(console(cloud, inst)),
               BOOT_TIMEOUT, interval=1, message='the guest booting')
    yield inst
    cloud.conductor.instance_action(cloud.ctxt, ref=inst.uuid,
                                    action='delete', volume_id=None,
                                    connection_info={})
    wait_until(lambda: not [i for i in cloud.conductor.instance_list(
        cloud.ctxt, host=None, project_id=None) if i.uuid == inst.uuid],
        120, interval=0.5)


def console(dep, inst):
    return dep.conductor.console_output(dep.ctxt, ref=inst.uuid, length=None)


def move(dep, inst, host=None, timeout=MOVE_TIMEOUT):
    mig = dep.conductor.live_migrate(dep.admin, ref=inst.uuid, host=host)
    after = deployment.settle(dep, inst.uuid, timeout=timeout)
    return after, dep.conductor.migration_show(dep.admin,
                                               migration_uuid=mig.uuid)


def keeps_running_here(dep, inst):
    """New disks lines on its console, and no second boot."""
    before = console(dep, inst).count(guest_image.DISKS)
    wait_until(lambda: console(dep, inst).count(guest_image.DISKS) >
               before + 1, 60, interval=0.5,
               message='the guest printing on its new host')
    return guest_image.booted_uuids(console(dep, inst))


def test_there_and_back(cloud, guest):
    after, mig = move(cloud, guest)
    assert (after.host, after.vm_state, after.power_state) == (
        H2, S.ACTIVE, S.RUNNING)
    assert (mig.status, mig.source_compute, mig.dest_compute) == (
        S.MIGRATION_COMPLETED, H1, H2)
    assert mig.memory_total > 0 and mig.downtime_ms is not None
    assert keeps_running_here(cloud, after) == []   # no boot on h2
    assert not os.path.exists(os.path.join(cloud.h2.instances_path,
                                           guest.uuid)), 'left on h1'
    after, mig = move(cloud, after, H1)
    assert (after.host, mig.status) == (H1, S.MIGRATION_COMPLETED)
    assert keeps_running_here(cloud, after) == []   # nor on h1
    for host in (H1, H2):
        log = cloud.log(host)
        assert 'Traceback' not in log, log


def begin_slow_move(cloud, guest, mibps):
    """Restart h1's agent with its moves throttled to ``mibps`` MiB/s and
    start moving ``guest``; return the Migration once the copy runs
    (libvirt 9.0 reports no figures while it copies the disk)."""
    start_agent(cloud, H1, migration={'bandwidth': mibps})
    cloud.wait_log(H1, 'hvagent-compute started')
    mig = cloud.conductor.live_migrate(cloud.admin, ref=guest.uuid)
    wait_until(lambda: cloud.conductor.migration_show(
        cloud.admin, migration_uuid=mig.uuid).status == S.MIGRATION_RUNNING,
        120, interval=0.5)
    return mig


def test_abort_leaves_the_guest_on_the_source(cloud, guest):
    try:
        mig = begin_slow_move(cloud, guest, mibps=1)
        cloud.conductor.migration_abort(cloud.admin, ref=guest.uuid)
        after = deployment.settle(cloud, guest.uuid, timeout=MOVE_TIMEOUT)
        mig = cloud.conductor.migration_show(cloud.admin,
                                             migration_uuid=mig.uuid)
        assert (after.host, after.vm_state, mig.status) == (
            H1, S.ACTIVE, S.MIGRATION_CANCELLED)
        wait_until(lambda: cloud.h2.virsh('domstate', guest.uuid)
                   .returncode != 0, 30, interval=0.5,
                   message='nothing left on h2')
        wait_until(lambda: not os.listdir(os.path.join(
            cloud.h2.dir, 'instances')), 30, interval=0.5,
            message="h2's files of the guest removed")
        assert keeps_running_here(cloud, after) == [guest.uuid]
    finally:
        start_agent(cloud, H1)
        wait_up(cloud, H1)


def test_source_agent_killed_mid_move(cloud, guest):
    """kill -9 of the source's agent while its libvirtd copies: the
    restarted agent waits for a copy libvirtd still runs and switches
    over if the guest left, or copies again if it is still here (or, if
    that fails, reports it with the guest on h1). One host runs it,
    either way."""
    try:
        mig = begin_slow_move(cloud, guest, mibps=8)
        cloud.stop(H1, sig=signal.SIGKILL)
        start_agent(cloud, H1, migration={'bandwidth': 8})
        after = deployment.settle(cloud, guest.uuid, timeout=MOVE_TIMEOUT)
        mig = cloud.conductor.migration_show(cloud.admin,
                                             migration_uuid=mig.uuid)
        assert after.vm_state == S.ACTIVE, after
        if after.host == H2:
            assert mig.status == S.MIGRATION_COMPLETED, mig
        else:
            assert (after.host, mig.status) == (H1, S.MIGRATION_ERROR), mig
        other = cloud.h2.virsh('domstate', guest.uuid) if after.host == H1 \
            else _h1_domstate(guest.uuid)
        assert other.returncode != 0, 'the guest on both hosts'
        assert keeps_running_here(cloud, after) == (
            [] if after.host == H2 else [guest.uuid])
    finally:
        start_agent(cloud, H1)
        wait_up(cloud, H1)


def _h1_domstate(uuid_):
    return subprocess.run(['virsh', '-c', 'qemu:///system', 'domstate',
                           uuid_], capture_output=True, text=True)
