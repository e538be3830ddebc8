"""Guest metrics of a real QEMU guest (TCG) through the LibvirtDriver.

One guest is built through the ComputeManager on qemu:///system (fixtures
of test_libvirt_driver); its series are read with the same collector the
agent serves, checked by ``promtool check metrics``, and must carry the
instance's name and project from the domain metadata and grow as the guest
works. Other test runs may have guests on the same libvirtd, so only this
guest's series are asserted. With the connection closed, a scrape answers
``hvagent_hypervisor_up 0`` at once instead of waiting for a reconnect.
"""
import time

import prometheus_client as prom
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent.metrics import exposition
from agent.metrics import guests as guest_metrics
from agent.metrics import registry
from tests.fixtures.libvirt_guests import build
from tests.fixtures.libvirt_guests import wait_boots
from tests.fixtures.waiting import wait_until
from tests.functional import prometheus

pytestmark = pytest.mark.functional

UP = ('hvagent_hypervisor_up', (('driver', 'LibvirtDriver'),))


def scrape(drv):
    reg = prom.CollectorRegistry()
    registry.add(reg, guest_metrics.GuestCollector(drv, 'LibvirtDriver'))
    text = exposition.render(reg)
    values = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for f in text_string_to_metric_families(text.decode())
              for s in f.samples}
    return text, values


def of_guest(values, uuid):
    """{(name, labels without the guest's): value} of one guest."""
    out = {}
    for (name, labels), v in values.items():
        d = dict(labels)
        if d.pop('uuid', None) == uuid:
            assert (d.pop('name'), d.pop('project')) == ('metrics-vm', 'p1')
            out[(name, tuple(sorted(d.items())))] = v
    return out


def test_real_guest_metrics(libvirt_env):
    prometheus.require('promtool')
    uuid = build(libvirt_env, name='metrics-vm')
    wait_boots(libvirt_env, uuid, 1)
    text, values = scrape(libvirt_env.driver)
    assert prometheus.promtool_check(text) == (0, '')
    assert values[UP] == 1 and values[('hvagent_domains', ())] >= 1
    mine = of_guest(values, uuid)
    assert mine[('hvagent_domain_state', (('state', 'running'),))] == 1
    assert mine[('hvagent_domain_info_virtual_cpus', ())] == 1
    assert mine[('hvagent_domain_info_maximum_memory_bytes', ())] == \
        192 << 20
    assert mine[('hvagent_domain_info_cpu_time_seconds_total', ())] > 0
    assert mine[('hvagent_domain_vcpu_time_seconds_total',
                 (('vcpu', '0'),))] > 0
    devices = {dict(labels)['target_device'] for name, labels in mine
               if name.startswith('hvagent_domain_block_stats_')}
    assert 'vda' in devices and len(devices) == 2   # root + config drive
    vda = (('target_device', 'vda'),)
    reads = mine[('hvagent_domain_block_stats_read_requests_total', vda)]
    assert reads > 0      # the guest lists and reads its disks once booted
    cpu = mine[('hvagent_domain_info_cpu_time_seconds_total', ())]
    wait_until(lambda: of_guest(scrape(libvirt_env.driver)[1], uuid)[
        ('hvagent_domain_info_cpu_time_seconds_total', ())] > cpu, 60,
        interval=0.5, message='the guest\'s CPU time froze')

    libvirt_env.driver.host.close()           # as after libvirtd went away
    t0 = time.monotonic()
    text, values = scrape(libvirt_env.driver)
    assert time.monotonic() - t0 < 1
    assert values[UP] == 0 and ('hvagent_domains', ()) not in values
    assert prometheus.promtool_check(text) == (0, '')
    libvirt_env.driver.get_info(uuid)         # the agent's next call reconnects
    assert scrape(libvirt_env.driver)[1][UP] == 1
