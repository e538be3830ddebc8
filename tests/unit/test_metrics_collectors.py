"""Scrape-time collectors: guests (fake driver, libvirt stats parsing),
host (psutil), Guarded, the report age; names, types, labels, values."""
import time
import uuid as uuidlib

import prometheus_client as prom
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent import exception
from agent.metrics import compute as compute_metrics
from agent.metrics import exposition
from agent.metrics import guests as guest_metrics
from agent.metrics import host as host_metrics
from agent.metrics import registry
from virt import driver
from virt import fake
from virt.libvirt import stats as libvirt_stats

P = 'hvagent_domain_'


def families(*collectors):
    """One scrape: (registry, {family name: family}, get(sample, labels))."""
    reg = prom.CollectorRegistry()
    for c in collectors:
        registry.add(reg, c)
    fams = {f.name: f for f in reg.collect()}
    values = {(s.name, frozenset(s.labels.items())): s.value
              for f in fams.values() for s in f.samples}

    def get(name, labels=None):
        return values.get((name, frozenset((labels or {}).items())))
    return reg, fams, get


def spawn(drv, name, project='p1', vcpus=2, memory_mb=512, nics=()):
    spec = driver.GuestSpec(uuid=str(uuidlib.uuid4()), name=name,
                            vcpus=vcpus, memory_mb=memory_mb, root_gb=1,
                            project_id=project, networks=nics)
    drv.spawn(spec)
    return spec.uuid


@pytest.fixture
def drv():
    return fake.FakeDriver()


def test_guest_metrics_from_fake_driver(drv):
    web = spawn(drv, 'web', nics=({'tap': 'tapweb0', 'bridge': 'brq1',
                                   'mac': 'fa:16:3e:00:00:01', 'mtu': None},))
    db = spawn(drv, 'db', project='p2', vcpus=1, memory_mb=1024)
    drv.attach_volume(db, str(uuidlib.uuid4()), {}, None)
    drv.pause(db)
    time.sleep(0.05)
    reg, fams, get = families(guest_metrics.GuestCollector(drv,
                                                           'FakeDriver'))

    assert get('hvagent_hypervisor_up', {'driver': 'FakeDriver'}) == 1
    assert fams['hvagent_domains'].type == 'gauge'
    assert get('hvagent_domains') == 2
    web_l = {'uuid': web, 'name': 'web', 'project': 'p1'}
    db_l = {'uuid': db, 'name': 'db', 'project': 'p2'}
    assert get(P + 'state', dict(web_l, state='running')) == 1
    assert get(P + 'state', dict(db_l, state='paused')) == 1
    assert get(P + 'info_virtual_cpus', web_l) == 2
    assert get(P + 'info_maximum_memory_bytes', db_l) == 1024 << 20
    assert get(P + 'info_memory_usage_bytes', web_l) == 512 << 20
    assert fams[P + 'info_cpu_time_seconds'].type == 'counter'
    cpu = get(P + 'info_cpu_time_seconds_total', web_l)
    assert 0 < cpu < 60
    vcpus = [get(P + 'vcpu_time_seconds_total', dict(web_l, vcpu=v))
             for v in '01']
    assert all(v > 0 for v in vcpus)
    assert sum(vcpus) == pytest.approx(cpu, rel=1e-6)
    # disks: vda of each, the volume of db as vdb; NICs only web's tap
    for labels, dev in ((web_l, 'vda'), (db_l, 'vda'), (db_l, 'vdb')):
        dl = dict(labels, target_device=dev)
        for name in ('read_bytes', 'read_requests', 'write_bytes',
                     'write_requests'):
            assert get(P + 'block_stats_%s_total' % name, dl) > 0, (name, dl)
    assert get(P + 'block_stats_read_bytes_total',
               dict(web_l, target_device='vdb')) is None
    tap = dict(web_l, target_device='tapweb0')
    assert get(P + 'interface_stats_receive_bytes_total', tap) > 0
    assert get(P + 'interface_stats_transmit_packets_total', tap) > 0
    assert get(P + 'interface_stats_receive_errors_total', tap) == 0
    assert [s for s in fams[P + 'interface_stats_receive_bytes'].samples
            if s.labels['uuid'] == db] == []
    for name, fam in fams.items():
        if name.startswith(P) and name != P + 'stats_collect_seconds':
            for s in fam.samples:
                assert {'uuid', 'name', 'project'} <= set(s.labels), name


def test_guest_counters_grow_between_scrapes(drv):
    u = spawn(drv, 'web')
    labels = {'uuid': u, 'name': 'web', 'project': 'p1',
              'target_device': 'vda'}
    reg, _, get = families(guest_metrics.GuestCollector(drv, 'FakeDriver'))
    first = get(P + 'block_stats_read_bytes_total', labels)
    time.sleep(0.02)
    assert reg.get_sample_value(P + 'block_stats_read_bytes_total',
                                labels) > first


def test_failing_driver_reports_down_and_scrape_succeeds(drv):
    spawn(drv, 'web')
    drv.fail_next('get_guest_stats', exception.HypervisorUnavailable(
        uri='qemu:///system', reason='gone'))
    reg, fams, get = families(guest_metrics.GuestCollector(drv,
                                                           'FakeDriver'))
    assert get('hvagent_hypervisor_up', {'driver': 'FakeDriver'}) == 0
    assert 'hvagent_domains' not in fams        # unknown, not zero
    # the next scrape is whole again, and a scrape is text
    text = prom.generate_latest(reg)
    assert b'hvagent_hypervisor_up{driver="FakeDriver"} 1.0' in text
    assert b'\nhvagent_domains 1.0\n' in text


def test_default_get_guest_stats_uses_guest_infos(drv):
    u = spawn(drv, 'web', vcpus=3)
    [s] = driver.ComputeDriver.get_guest_stats(drv)
    assert (s.uuid, s.vcpus, s.memory_max_bytes, s.name) == (
        u, 3, 512 << 20, None)


class Broken:
    def collect(self):
        yield prom.core.GaugeMetricFamily('before_failure', 'kept', 1)
        raise RuntimeError('boom')


def test_guarded_collector_keeps_what_it_yielded(caplog):
    reg, fams, get = families(Broken())
    assert get('before_failure') == 1
    assert 'Metrics collector Broken failed' in caplog.text
    prom.generate_latest(reg)   # does not raise


def test_host_metrics(tmp_path):
    reg, fams, get = families(host_metrics.HostCollector(
        str(tmp_path / 'not' / 'yet')))
    assert fams['hvagent_host_cpu_seconds'].type == 'counter'
    modes = {s.labels['mode'] for s in
             fams['hvagent_host_cpu_seconds'].samples}
    assert {'user', 'system', 'idle'} <= modes
    assert get('hvagent_host_cpu_seconds_total', {'mode': 'idle'}) > 0
    assert get('hvagent_host_memory_total_bytes') >= \
        get('hvagent_host_memory_available_bytes') > 0
    path = {'path': str(tmp_path)}     # the nearest existing parent
    assert get('hvagent_host_instances_filesystem_size_bytes', path) >= \
        get('hvagent_host_instances_filesystem_free_bytes', path) > 0
    assert get('hvagent_host_network_receive_bytes_total',
               {'device': 'lo'}) >= 0
    assert fams['hvagent_host_network_transmit_bytes'].type == 'counter'
    for n in (1, 5, 15):
        assert get('hvagent_host_load%d' % n) >= 0


def test_host_metrics_survive_a_psutil_failure(monkeypatch, tmp_path,
                                                caplog):
    def fail():
        raise OSError('no /proc/stat')
    monkeypatch.setattr(host_metrics.psutil, 'cpu_times', fail)
    reg, fams, get = families(host_metrics.HostCollector(str(tmp_path)))
    assert 'hvagent_host_cpu_seconds' not in fams
    assert get('hvagent_host_load1') is not None
    assert 'cpu failed: OSError: no /proc/stat' in caplog.text


def test_report_age():
    tracker = type('T', (), {'last_report_time': None})()
    reg, fams, _ = families(compute_metrics.ReportAgeCollector(tracker))
    assert 'hvagent_resource_report_age_seconds' not in fams
    tracker.last_report_time = time.monotonic() - 5
    age = reg.get_sample_value('hvagent_resource_report_age_seconds')
    assert 5 <= age < 10


# ------------------------------------------------ libvirt bulk stats parsing
QEMU_STATS = {   # the shape qemu:///system answers for a 2-vCPU guest
    'state.state': 1, 'state.reason': 1, 'cpu.time': 7_500_000_000,
    'cpu.user': 1_000_000_000, 'cpu.system': 2_000_000_000,
    'balloon.current': 524288, 'balloon.maximum': 1048576,
    'vcpu.current': 2, 'vcpu.maximum': 2,
    'vcpu.0.state': 1, 'vcpu.0.time': 3_000_000_000,
    'vcpu.1.state': 1, 'vcpu.1.time': 2_500_000_000,
    'net.count': 1, 'net.0.name': 'tap1234', 'net.0.rx.bytes': 1000,
    'net.0.rx.pkts': 10, 'net.0.rx.errs': 1, 'net.0.rx.drop': 2,
    'net.0.tx.bytes': 2000, 'net.0.tx.pkts': 20, 'net.0.tx.errs': 3,
    'net.0.tx.drop': 4,
    'block.count': 2, 'block.0.name': 'vda', 'block.0.path': '/x/disk',
    'block.0.rd.reqs': 5, 'block.0.rd.bytes': 4096, 'block.0.wr.reqs': 6,
    'block.0.wr.bytes': 8192, 'block.1.name': 'hdd',
    'block.1.rd.reqs': 1, 'block.1.rd.bytes': 2048,
}


def test_libvirt_stats_to_guest_stats():
    s = libvirt_stats.guest_stats('u1', 'web', 'p1', QEMU_STATS)
    assert (s.uuid, s.name, s.project_id, s.power_state, s.vcpus) == (
        'u1', 'web', 'p1', 'running', 2)
    assert (s.memory_bytes, s.memory_max_bytes) == (512 << 20, 1 << 30)
    assert s.cpu_time_ns == 7_500_000_000
    assert s.vcpu_time_ns == (3_000_000_000, 2_500_000_000)
    assert s.disks == (
        driver.BlockStats('vda', 4096, 5, 8192, 6),
        driver.BlockStats('hdd', 2048, 1, 0, 0))
    assert s.interfaces == (driver.InterfaceStats(
        'tap1234', 1000, 10, 1, 2, 2000, 20, 3, 4),)


def test_libvirt_state_only_stats():
    """The test driver answers the state group only: zeros, no devices."""
    s = libvirt_stats.guest_stats('u1', None, None, {'state.state': 5})
    assert (s.power_state, s.vcpus, s.disks, s.interfaces) == (
        'shutdown', 0, (), ())


def test_metadata_cache_reads_each_domain_once():
    reads = []

    def reader(dom):
        reads.append(dom)
        return 'name-' + dom, 'proj'
    cache = libvirt_stats.MetadataCache(reader)
    assert cache.resolve([('a', 'A'), ('b', 'B')]) == {
        'a': ('name-A', 'proj'), 'b': ('name-B', 'proj')}
    assert cache.resolve([('a', 'A'), ('b', 'B')])['b'] == ('name-B', 'proj')
    assert reads == ['A', 'B']
    cache.resolve([('b', 'B'), ('c', 'C')])       # a gone, c new
    assert reads == ['A', 'B', 'C']
    cache.resolve([('a', 'A2')])                  # a came back: read again
    assert reads == ['A', 'B', 'C', 'A2']


def test_fast_exposition_matches_prometheus_client(drv):
    """exposition.render writes the same samples generate_latest would,
    also for names that need escaping; HELP and TYPE once per family."""
    spawn(drv, 'a "quoted"\\name\nwith newline', project='pröject',
          nics=({'tap': 'tap0', 'mac': 'm', 'bridge': 'b', 'mtu': None},))
    spawn(drv, 'plain')
    drv_stats = drv.get_guest_stats()
    guests_only = type('C', (), {'collect': lambda self: list(
        guest_metrics.guest_families(drv_stats))})()
    reg = prom.CollectorRegistry()
    reg.register(guests_only)
    ours = exposition.render(reg).decode()
    theirs = prom.generate_latest(reg).decode()

    def parsed(text):
        return sorted((s.name, sorted(s.labels.items()), s.value)
                      for f in text_string_to_metric_families(text)
                      for s in f.samples)
    assert parsed(ours) == parsed(theirs)
    # each: state, 4 info, 2 vCPUs, 4 for vda; and 8 for the one NIC
    assert len(parsed(ours)) == 2 * 11 + 8
    assert ours.count('# TYPE hvagent_domain_state gauge\n') == 1
    assert 'name="a \\"quoted\\"\\\\name\\nwith newline"' in ours
