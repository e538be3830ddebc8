"""The compute agent killed (SIGKILL) in the middle of an operation, then
started again: what it left half done is settled, nothing is orphaned.

Real processes over real RabbitMQ (a private vhost): conductor and
scheduler stay up; the compute agent runs the libvirt driver against the
real libvirtd + QEMU (TCG) with the test guest. To die at a known moment
the agent is started with ``HVAGENT_FAILPOINTS`` naming one point (see
virt/failpoints.py): it blocks there, the test sees ``failpoint <name>
reached`` in its log and sends SIGKILL, then starts the agent without the
failpoint and checks the instance, the domain, the disks and the volume.
"""
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile

import libvirt
import pytest

from agent import context
from agent.conductor import rpcapi as conductor_rpcapi
from agent.objects import states as S
from tests.fixtures import api_cloud
from tests.fixtures import deployment
from tests.fixtures import guest_image
from tests.fixtures import libvirtd
from tests.fixtures.deployment import settle
from tests.fixtures.libvirt_guests import remove_domains
from tests.fixtures.waiting import wait_until
from virt.libvirt import designer

pytestmark = pytest.mark.functional

COMPUTE = 'hvagent-compute'
VOLUME = '6c8d3a2e-0000-4000-8000-00000000a771'


@pytest.fixture
def cloud(tmp_path, vhost, rpc_client_transport):
    libvirtd.require_libvirtd()
    image = guest_image.ensure_image()
    # QEMU runs as libvirt-qemu: the state must be where it may look
    # (pytest's tmp_path is under a 0700 directory)
    state = pathlib.Path(tempfile.mkdtemp(dir='/var/tmp', prefix='hvkill-'))
    os.chmod(state, 0o755)
    dep = deployment.Deployment(
        tmp_path, vhost.url, 'sqlite:///%s' % (tmp_path / 'hv.sqlite'),
        host='hvkill-%s' % vhost.name[-6:], extra={
            'compute': {'compute_driver': 'libvirt',
                        'instances_path': state / 'instances',
                        'sync_power_state_interval': 0},
            'libvirt': {'virt_type': 'qemu',
                        'connection_uri': libvirtd.URI,
                        'image_cache_path': state / 'images'},
            'DEFAULT': {'state_path': state},
            # started by the snapshot test only (where its upload goes)
            'api': {'bind_port': api_cloud.free_port()},
        })
    rpc_client_transport(vhost.url)
    dep.conductor = conductor_rpcapi.ConductorAPI(timeout=60)
    dep.ctxt = context.RequestContext(user_id='alice', project_id='p1')
    dep.image, dep.uuids, dep.state = image, [], state
    try:
        dep.start('hvagent-conductor', 'hvagent-scheduler')
        dep.ready()
        start_agent(dep)
        yield dep
    finally:
        codes = dep.stop()
        remove_domains(dep.uuids)
        shutil.rmtree(state, ignore_errors=True)
    assert all(c == 0 for c in codes.values()), codes


def start_agent(dep, failpoint=None):
    """Start the agent; wait until it has reported (it serves then)."""
    env = {'HVAGENT_FAILPOINTS': failpoint} if failpoint else None
    dep.start(COMPUTE, env=env)
    dep.ready(COMPUTE, timeout=120)


def kill_at(dep, failpoint, request):
    """Restart the agent armed with ``failpoint``, run ``request()``, wait
    for the point and SIGKILL the agent there; then start it clean."""
    dep.stop(COMPUTE)
    start_agent(dep, failpoint)
    result = request()
    dep.wait_log(COMPUTE, 'failpoint %s reached' % failpoint, timeout=120)
    assert dep.stop(COMPUTE, sig=signal.SIGKILL) == {COMPUTE: -9}
    start_agent(dep)
    return result


def boot(dep, name):
    img = dep.image
    inst = dep.conductor.boot_instance(
        dep.ctxt, name=name, flavor='m1.tiny', image_ref=img['disk'],
        availability_zone=None, hints={}, metadata={}, networks=[],
        options={'kernel_ref': img['kernel'], 'ramdisk_ref': img['ramdisk']})
    dep.uuids.append(inst.uuid)
    return inst.uuid


def act(dep, uuid, action, **kw):
    return dep.conductor.instance_action(
        dep.ctxt, ref=uuid, action=action, volume_id=kw.get('volume_id'),
        connection_info=kw.get('connection_info', {}))


def domain_state(uuid):
    """libvirt's state of the instance's domain, None if it has none."""
    conn = libvirt.open(libvirtd.URI)
    try:
        return conn.lookupByName(designer.domain_name(uuid)).state()[0]
    except libvirt.libvirtError:
        return None
    finally:
        conn.close()


def domains_of(uuid):
    out = subprocess.run(['virsh', '-c', libvirtd.URI, 'list',
                          '--all', '--name'], capture_output=True, text=True,
                         check=True).stdout.split()
    return [d for d in out if d == designer.domain_name(uuid)]


def instance_dir(dep, uuid):
    return dep.state / 'instances' / uuid


def active(dep, name):
    uuid = boot(dep, name)
    inst = settle(dep, uuid, 120)
    assert (inst.vm_state, inst.power_state) == (S.ACTIVE, S.RUNNING), (
        inst.fault and inst.fault.message)
    return uuid


# ---------------------------------------------------------------- tests
def test_killed_between_define_and_start_ends_in_error_leaving_nothing(
        cloud):
    uuid = kill_at(cloud, 'libvirt.spawn.defined',
                   lambda: boot(cloud, 'half-built'))
    inst = settle(cloud, uuid, 120)
    assert (inst.vm_state, inst.power_state) == (S.ERROR, S.NOSTATE)
    assert 'interrupted by agent restart' in inst.fault.message
    assert domains_of(uuid) == []
    assert not instance_dir(cloud, uuid).exists()


def test_killed_after_the_guest_started_finishes_the_build(cloud):
    uuid = kill_at(cloud, 'compute_build_and_run_instance.done',
                   lambda: boot(cloud, 'nearly-built'))
    inst = settle(cloud, uuid, 120)
    assert (inst.vm_state, inst.power_state) == (S.ACTIVE, S.RUNNING)
    assert domains_of(uuid) == [designer.domain_name(uuid)]  # one, not two
    assert domain_state(uuid) == libvirt.VIR_DOMAIN_RUNNING


def test_killed_mid_reboot_retries_it(cloud):
    uuid = active(cloud, 'rebooted')
    kill_at(cloud, 'compute_reboot_instance.start',
            lambda: act(cloud, uuid, 'reboot_hard'))
    inst = settle(cloud, uuid, 120)
    assert (inst.vm_state, inst.power_state) == (S.ACTIVE, S.RUNNING)
    actions = cloud.conductor.action_list(cloud.ctxt, ref=uuid)
    reboots = [a for a in actions if 'reboot' in a.action]
    assert len(reboots) == 2, actions     # the killed one and its retry


def test_killed_mid_stop_retries_it(cloud):
    uuid = active(cloud, 'stopped')
    kill_at(cloud, 'compute_stop_instance.start',
            lambda: act(cloud, uuid, 'stop'))
    inst = settle(cloud, uuid, 120)
    assert (inst.vm_state, inst.power_state) == (S.STOPPED, S.SHUTDOWN)
    assert domain_state(uuid) == libvirt.VIR_DOMAIN_SHUTOFF


def compute_used(dep):
    """(vCPUs, MiB of RAM) claimed on the deployment's one host."""
    [node] = [h['node'] for h in dep.conductor.host_list(dep.ctxt)
              if h['node']]
    return node.vcpus_used, node.memory_mb_used


def test_killed_mid_suspend_and_mid_resume_retries_them(cloud):
    """Killed once the guest's memory is saved but before the suspend was
    recorded: the restarted agent finds it saved and records it (the
    host's RAM is given back once); killed as a resume begins: retried,
    the guest restored from its save, not booted again."""
    uuid = active(cloud, 'suspended')
    kill_at(cloud, 'compute_suspend_instance.done',
            lambda: act(cloud, uuid, 'suspend'))
    inst = settle(cloud, uuid, 120)
    assert (inst.vm_state, inst.power_state) == (S.SUSPENDED, S.SHUTDOWN)
    assert domain_state(uuid) == libvirt.VIR_DOMAIN_SHUTOFF
    assert compute_used(cloud) == (0, 0)
    kill_at(cloud, 'compute_resume_instance.start',
            lambda: act(cloud, uuid, 'resume'))
    inst = settle(cloud, uuid, 120)
    assert (inst.vm_state, inst.power_state) == (S.ACTIVE, S.RUNNING)
    assert domain_state(uuid) == libvirt.VIR_DOMAIN_RUNNING
    assert compute_used(cloud) == (1, 512)
    actions = [a.action for a in cloud.conductor.action_list(cloud.ctxt,
                                                             ref=uuid)]
    assert actions == ['create', 'suspend', 'compute_suspend_instance',
                       'resume', 'compute_resume_instance']  # + the retries


def test_killed_mid_attach_retries_it(cloud):
    uuid = active(cloud, 'attached')
    volume = cloud.state / 'volumes' / 'vol.qcow2'   # an allowed dir
    volume.parent.mkdir()
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', str(volume),
                    '16M'], check=True)
    kill_at(cloud, 'compute_attach_volume.start',
            lambda: act(cloud, uuid, 'attach_volume', volume_id=VOLUME,
                        connection_info={'driver_volume_type': 'file',
                                         'path': str(volume),
                                         'format': 'qcow2'}))
    inst = settle(cloud, uuid, 120)
    assert (inst.vm_state, inst.power_state) == (S.ACTIVE, S.RUNNING)
    [bdm] = inst.block_devices
    assert (bdm.volume_id, bdm.status) == (VOLUME, 'attached')
    blk = subprocess.run(['virsh', '-c', libvirtd.URI, 'domblklist',
                          designer.domain_name(uuid)], capture_output=True,
                         text=True, check=True).stdout
    assert str(volume) in blk


def test_killed_mid_extend_retries_it(cloud):
    """A volume of the conductor's records (as hvagent-api makes them: a
    sparse raw file) attached, then extended; the agent killed as the
    extend begins: the restarted agent grows it (the domain's disk has
    the new capacity) and the mapping is attached again."""
    uuid = active(cloud, 'extended')
    volume = cloud.state / 'volumes' / VOLUME          # an allowed dir
    volume.parent.mkdir()
    with open(volume, 'wb') as f:
        f.truncate(1 << 30)
    cloud.conductor.volume_create(cloud.ctxt, volume_id=VOLUME,
                                  name='grown', size_gb=1, path=str(volume))
    act(cloud, uuid, 'attach_volume', volume_id=VOLUME,
        connection_info={'driver_volume_type': 'file', 'path': str(volume),
                         'format': 'raw'})
    settle(cloud, uuid, 120)
    kill_at(cloud, 'compute_extend_volume.start',
            lambda: cloud.conductor.volume_extend(
                cloud.ctxt, volume_id=VOLUME, new_size_gb=2))
    inst = settle(cloud, uuid, 120)
    assert (inst.vm_state, inst.power_state) == (S.ACTIVE, S.RUNNING)
    [bdm] = inst.block_devices
    assert (bdm.volume_id, bdm.status) == (VOLUME, 'attached')
    info = subprocess.run(['virsh', '-c', libvirtd.URI, 'domblkinfo',
                           designer.domain_name(uuid), bdm.device_name],
                          capture_output=True, text=True, check=True).stdout
    assert 'Capacity:       %d' % (2 << 30) in info, info
    assert volume.stat().st_size == 2 << 30


def test_killed_mid_rescue_and_mid_unrescue_retries_them(cloud):
    """Killed as a rescue begins, then as an unrescue begins: each is run
    again by the restarted agent (the domain defined anew each time): the
    rescued domain has its own disk second, the unrescued its own first
    and no rescue disk left."""
    uuid = active(cloud, 'rescued')
    home = instance_dir(cloud, uuid)

    def disks():
        out = subprocess.run(['virsh', '-c', libvirtd.URI, 'domblklist',
                              designer.domain_name(uuid)],
                             capture_output=True, text=True,
                             check=True).stdout
        return [line.split()[1] for line in out.splitlines()[2:]
                if line.strip() and line.split()[0].startswith('vd')]
    kill_at(cloud, 'compute_rescue_instance.start',
            lambda: cloud.conductor.instance_rescue(cloud.ctxt, ref=uuid))
    inst = settle(cloud, uuid, 120)
    assert (inst.vm_state, inst.power_state) == (S.RESCUED, S.RUNNING)
    assert disks() == [str(home / 'disk.rescue'), str(home / 'disk')]
    kill_at(cloud, 'compute_unrescue_instance.start',
            lambda: act(cloud, uuid, 'unrescue'))
    inst = settle(cloud, uuid, 120)
    assert (inst.vm_state, inst.power_state) == (S.ACTIVE, S.RUNNING)
    assert disks() == [str(home / 'disk')]
    assert not (home / 'disk.rescue').exists()


def test_killed_mid_snapshot_retries_it(cloud):
    """Killed while QEMU copies the running guest's disk: the restarted
    agent ends the copy job QEMU kept running, copies again and uploads
    the image; nothing of the first attempt is left."""
    cloud.start('hvagent-api')
    cloud.wait_log('hvagent-api', 'listening on')
    uuid = active(cloud, 'snapped')
    image = kill_at(cloud, 'libvirt_snapshot.copying',
                    lambda: cloud.conductor.instance_snapshot(
                        cloud.ctxt, ref=uuid, name='killed-snap'))
    assert image['status'] == 'saving'
    inst = settle(cloud, uuid, 120)
    assert (inst.vm_state, inst.power_state) == (S.ACTIVE, S.RUNNING), (
        inst.fault and inst.fault.message)
    image = cloud.conductor.image_show(cloud.ctxt, image_id=image['id'])
    assert image['status'] == 'active' and image['size'] > 0, image
    job = subprocess.run(['virsh', '-c', libvirtd.URI, 'blockjob',
                          designer.domain_name(uuid), 'vda'],
                         capture_output=True, text=True, check=True)
    assert 'No current block job' in job.stdout + job.stderr, job
    assert not (instance_dir(cloud, uuid) / 'snapshot.qcow2').exists()
    assert 'ending the copy an earlier attempt left' in cloud.log(COMPUTE)


def test_killed_mid_delete_finishes_it(cloud):
    uuid = active(cloud, 'deleted')
    kill_at(cloud, 'compute_terminate_instance.start',
            lambda: act(cloud, uuid, 'delete'))
    wait_until(lambda: not any(i.uuid == uuid for i in cloud.conductor
                               .instance_list(cloud.ctxt, host=None,
                                              project_id=None)),
               120, interval=0.2, message=lambda: cloud.log(COMPUTE)[-3000:])
    assert domains_of(uuid) == []
    assert not instance_dir(cloud, uuid).exists()
