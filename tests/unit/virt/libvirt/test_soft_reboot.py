"""A soft reboot ends with the guest running, also when QEMU outlives the
guest's ACPI power-off for a while (seen in acceptance: 1 of 13 soft
reboots right after boot left the guest off while the instance showed
active and the action Success).

The driver runs on libvirt's test driver (test:///default); the domain's
lingering QEMU is test_host_guest.LingeringDomain.
"""
import time
import uuid

import pytest
from oslo_config import cfg

from agent.objects import states
from tests.unit.virt.libvirt.test_host_guest import LingeringDomain
from tests.unit.virt.libvirt.test_host_guest import domain_xml
from virt.libvirt import driver as driver_mod
from virt.libvirt import guest as guest_mod

CONF = cfg.CONF


@pytest.fixture
def drv(tmp_path):
    CONF.set_override('connection_uri', 'test:///default', group='libvirt')
    CONF.set_override('instances_path', str(tmp_path / 'instances'),
                      group='compute')
    CONF.set_override('image_cache_path', str(tmp_path / 'images'),
                      group='libvirt')
    d = driver_mod.LibvirtDriver()
    yield d
    d.cleanup_host()
    for name, group in (('connection_uri', 'libvirt'),
                        ('instances_path', 'compute'),
                        ('image_cache_path', 'libvirt')):
        CONF.clear_override(name, group=group)


@pytest.mark.parametrize('seconds', [0, 0.3])
def test_soft_reboot_waits_for_qemu_to_exit(drv, seconds):
    uid = str(uuid.uuid4())
    real = drv.host.define(domain_xml(uid))
    real.launch()
    slow = LingeringDomain(real.domain, seconds=seconds)
    lookup = drv.host.lookup
    drv.host.lookup = lambda u: guest_mod.Guest(slow) if u == uid \
        else lookup(u)
    try:
        drv.reboot(uid, 'SOFT')
        time.sleep(seconds)
        slow.lingering()     # the lingering QEMU has exited by now
        assert real.power_state == states.RUNNING
        assert drv.get_info(uid).power_state == states.RUNNING
    finally:
        real.destroy()
        real.undefine()
