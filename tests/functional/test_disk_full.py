"""Disk full during spawn, with the real libvirt driver against libvirtd.

instances_path or the image cache sits on a tiny tmpfs mounted for the test
(unmounted in a finalizer), so a step of the spawn runs out of space for
real: the qcow2 overlay (qemu-img), the config drive (our own write), or
the copy of the base image into the cache. Each time the build goes through
the ComputeManager (with the in-memory FakeConductor) and must end with the
instance in error, task_state cleared, one fault a user can read ("No space
left on device at <path> (<what>)"), no domain defined, no instance
directory or half-written file left, and an image cache holding only
complete images (each with its .info, sha256 matching the source) -- never
a partial one under its final name.

Mounting needs root (CAP_SYS_ADMIN); without it the tests skip, saying so.
"""
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import types

import pytest
from oslo_config import cfg

from agent.compute import manager as manager_mod
from agent.objects import states as S
from tests.fixtures import guest_image
from tests.fixtures import libvirtd
from tests.fixtures.fakes import FakeConductor
from tests.fixtures.fakes import ctxt
from tests.fixtures.libvirt_guests import add_instance
from tests.fixtures.libvirt_guests import domains_of
from tests.fixtures.libvirt_guests import remove_domains
from virt import driver as virt_driver
from virt.libvirt import disk
from virt.libvirt import driver as libvirt_driver

pytestmark = pytest.mark.functional

CONF = cfg.CONF
HOST = 'node1'
GiB = 1 << 30


@pytest.fixture(scope='module')
def image():
    libvirtd.require_libvirtd()
    if shutil.which('mount') is None or os.geteuid() != 0:
        pytest.skip('mounting a tmpfs needs root and mount(8)')
    return guest_image.ensure_image()


@pytest.fixture(scope='module')
def shared_cache(image):
    """An image cache on the real disk, shared by the tests whose
    instances_path is the full one (so the image is copied once)."""
    path = tempfile.mkdtemp(dir='/var/tmp', prefix='hvagent-diskfull-cache-')
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def place(image):
    """A 0755 state dir under /var/tmp; ``mount(name, size)`` puts a tmpfs
    of ``size`` at ``<state>/<name>`` (unmounted afterwards)."""
    root = tempfile.mkdtemp(dir='/var/tmp', prefix='hvagent-diskfull-')
    os.chmod(root, 0o755)
    mounts = []

    def mount(name, size):
        path = os.path.join(root, name)
        os.makedirs(path, exist_ok=True)
        r = subprocess.run(['mount', '-t', 'tmpfs', '-o',
                            'size=%s,mode=0755' % size, 'tmpfs', path],
                           capture_output=True, text=True)
        if r.returncode:
            pytest.skip('cannot mount a tmpfs here: %s' % r.stderr.strip())
        mounts.append(path)
        return path
    try:
        yield types.SimpleNamespace(root=root, mount=mount)
    finally:
        for path in reversed(mounts):
            if subprocess.run(['umount', path]).returncode:
                subprocess.run(['umount', '-l', path])
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def compute(state, instances, cache, image, image_service=None):
    """A ComputeManager on a LibvirtDriver using these directories."""
    overrides = [
        ('state_path', state, None),
        ('instances_path', instances, 'compute'),
        ('image_cache_path', cache, 'libvirt'),
        ('allowed_image_dirs', [os.path.dirname(image['disk'])], 'libvirt'),
        ('virt_type', 'qemu', 'libvirt'),
        ('connection_uri', libvirtd.URI, 'libvirt'),
    ]
    for name, value, group in overrides:
        CONF.set_override(name, value, group=group)
    drv = libvirt_driver.LibvirtDriver(image_service=image_service)
    conductor = FakeConductor(HOST)
    env = types.SimpleNamespace(
        driver=drv, conductor=conductor, image=image,
        mgr=manager_mod.ComputeManager(drv, conductor, HOST))
    try:
        drv.init_host(HOST)
        yield env
    finally:
        try:
            remove_domains(set(conductor.instances))
        finally:
            drv.cleanup_host()
            for name, _, group in overrides:
                CONF.clear_override(name, group=group)


def build_fails_for_space(env, where):
    """Build one instance; check it failed cleanly for want of space at
    ``where`` and return (uuid, fault message)."""
    inst = add_instance(env, config_drive=True)
    env.mgr.build_and_run_instance(ctxt(), instance_uuid=inst.uuid)
    got = env.conductor.get(inst.uuid)
    [fault] = env.conductor.faults_of(inst.uuid)
    message = fault['message']
    assert (got.vm_state, got.task_state) == (S.ERROR, None), message
    assert message.startswith('No space left on device at %s' % where), \
        message
    assert domains_of(inst.uuid) == []
    assert not os.path.exists(os.path.join(
        CONF.compute.instances_path, inst.uuid))
    return inst.uuid, message


def files_in(path):
    return sorted(os.listdir(path))


def assert_cache_consistent(cache, image):
    """Every image in the cache is complete: final name, .info, the sha256
    of its source; nothing partial."""
    names = files_in(cache)
    assert not [n for n in names if n.endswith('.part')], names
    for name in names:
        if '.' in name:
            continue
        with open(os.path.join(cache, name + '.info')) as f:
            info = json.load(f)
        assert os.path.exists(info['ref'])
        with open(info['ref'], 'rb') as src, \
                open(os.path.join(cache, name), 'rb') as copy:
            digest = hashlib.sha256(src.read()).hexdigest()
            assert hashlib.sha256(copy.read()).hexdigest() == digest
        assert info['sha256'] == digest


def overlay_bytes(place, image):
    """What a root disk overlay takes on tmpfs, measured on a scratch one."""
    scratch = place.mount('scratch', '4m')
    base = image['disk']
    path = os.path.join(scratch, 'disk')
    disk.create_overlay(base, 'qcow2', path, GiB)
    used = os.stat(path).st_blocks * 512
    subprocess.run(['umount', scratch], check=True)
    return used


def test_overlay_on_a_full_instances_path(place, shared_cache, image):
    instances = place.mount('instances', '64k')
    with compute(place.root, instances, shared_cache, image) as env:
        uuid, message = build_fails_for_space(env, instances)
        assert '(qemu-img create: ' in message, message
        assert message.startswith('No space left on device at %s/%s/disk '
                                   % (instances, uuid)), message
    assert files_in(instances) == []
    assert_cache_consistent(shared_cache, image)


def test_config_drive_on_a_full_instances_path(place, shared_cache, image):
    # room for the overlay and 12 KiB more: the config drive (~76 KiB)
    # runs out of space half-way
    size = overlay_bytes(place, image) + 12 * 1024
    instances = place.mount('instances', '%dk' % (size // 1024))
    with compute(place.root, instances, shared_cache, image) as env:
        uuid, message = build_fails_for_space(env, instances)
        assert message == ('No space left on device at %s/%s/disk.config '
                           '(writing the config drive)' % (instances, uuid))
    assert files_in(instances) == []
    assert_cache_consistent(shared_cache, image)


def test_full_image_cache(place, image):
    cache = place.mount('cache', '4m')           # the image is ~17 MB
    instances = os.path.join(place.root, 'instances')
    with compute(place.root, instances, cache, image) as env:
        _, message = build_fails_for_space(env, cache)
        assert '(fetching image %s into the image cache)' % image['disk'] \
            in message, message
        assert files_in(instances) == []
        assert_cache_consistent(cache, image)
        assert [n for n in files_in(cache) if not n.endswith('.lock')] == []
        # the space comes back: the next build fetches the image whole
        subprocess.run(['mount', '-o', 'remount,size=128m', cache],
                       check=True)
        inst = add_instance(env, config_drive=True)
        env.mgr.build_and_run_instance(ctxt(), instance_uuid=inst.uuid)
        got = env.conductor.get(inst.uuid)
        assert (got.vm_state, got.task_state) == (S.ACTIVE, None), \
            env.conductor.faults_of(inst.uuid)
        assert_cache_consistent(cache, image)


def test_snapshot_on_a_full_instances_path(place, shared_cache, image):
    """Room for the guest, not for a copy of its disk: the snapshot is
    refused before anything is copied (or uploaded: the image service
    here answers nobody), naming what it needs; the guest runs on."""
    size = overlay_bytes(place, image) + 512 * 1024
    instances = place.mount('instances', '%dk' % (size // 1024))
    nowhere = virt_driver.ImageService('http://127.0.0.1:9')
    with compute(place.root, instances, shared_cache, image,
                 image_service=nowhere) as env:
        inst = add_instance(env, config_drive=True)
        env.mgr.build_and_run_instance(ctxt(), instance_uuid=inst.uuid)
        assert env.conductor.get(inst.uuid).vm_state == S.ACTIVE
        env.conductor.saving[inst.uuid] = 'img-full'
        env.conductor.get(inst.uuid).update(task_state=S.IMAGE_SNAPSHOT)
        env.mgr.snapshot_instance(ctxt(), instance_uuid=inst.uuid)
        got = env.conductor.get(inst.uuid)
        assert (got.vm_state, got.task_state, got.power_state) == (
            S.ACTIVE, None, S.RUNNING)
        [fault] = env.conductor.faults_of(inst.uuid)
        assert re.search(r'the copy of its root disk needs \d+ MiB and '
                         r'this host has \d+ MiB free', fault['message']), \
            fault
        assert not os.path.exists(os.path.join(instances, inst.uuid,
                                               'snapshot.qcow2'))
