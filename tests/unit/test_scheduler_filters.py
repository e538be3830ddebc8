"""Scheduler filters over small in-memory HostStates (no database)."""
import datetime
import uuid

import numpy as np
import pytest

from agent import exception
from agent import objects
from agent.db import models
from agent.scheduler import Settings
from agent.scheduler import filters
from agent.scheduler import host_state


def spec(**kw):
    values = dict(instance_uuid=str(uuid.uuid4()), project_id='p', vcpus=1,
                  memory_mb=1024, root_gb=10)
    values.update(kw)
    return objects.RequestSpec(**values)


def hosts(*specs, ratios=(4.0, 1.0, 1.0)):
    return host_state.HostStates.from_hosts(
        [dict(host='h%d' % i, **kw) for i, kw in enumerate(specs)],
        ratios=ratios)


def names(states, idxs):
    return [states.names[i] for i in idxs]


def passing(states, req_spec, settings=Settings(), lookup=None):
    req = filters.FilterRequest(req_spec, settings, lookup)
    return names(states, filters.passing(
        states, filters.load(settings.enabled_filters), req))


def no_valid_host(states, req_spec, settings=Settings(), lookup=None):
    with pytest.raises(exception.NoValidHost) as err:
        passing(states, req_spec, settings, lookup)
    return str(err.value)


def test_compute_filter_drops_disabled_down_and_serviceless_hosts():
    old = models.utcnow() - datetime.timedelta(seconds=61)
    states = hosts({}, {'disabled': True}, {'last_seen_up': old},
                   {'service_id': None}, {'last_seen_up': None})
    assert passing(states, spec()) == ['h0']


def test_service_down_time_decides_up():
    seen = models.utcnow() - datetime.timedelta(seconds=90)
    states = hosts({'last_seen_up': seen})
    assert no_valid_host(states, spec()).endswith(
        'ComputeFilter rejected 1 (down or disabled)')
    assert passing(states, spec(), Settings(service_down_time=120)) == ['h0']


def test_message_counts_rejections_per_filter_in_order():
    states = hosts({'disabled': True}, {'memory_mb': 2048},
                   {'memory_mb': 4096, 'memory_mb_used': 1024})
    assert no_valid_host(states, spec(memory_mb=4096)) == (
        'No valid host: 3 hosts; ComputeFilter rejected 1 (down or '
        'disabled), RamFilter rejected 2 (need 4096 MB RAM)')


def test_message_with_no_hosts_at_all():
    assert no_valid_host(hosts(), spec()) == (
        'No valid host: 0 hosts (no compute node has reported yet)')


def test_ram_filter_applies_allocation_ratio():
    states = hosts({'memory_mb': 4096, 'memory_mb_used': 1024},
                   ratios=(4.0, 1.5, 1.0))
    # 4096 * 1.5 - 1024 = 5120 MB free
    assert passing(states, spec(memory_mb=5120)) == ['h0']
    assert 'RamFilter rejected 1 (need 5121 MB RAM)' in no_valid_host(
        states, spec(memory_mb=5121))


def test_core_filter_applies_cpu_allocation_ratio():
    states = hosts({'vcpus': 2, 'vcpus_used': 6}, {'vcpus': 4})
    # h0: 2 * 4.0 - 6 = 2 free; h1: 16 free
    assert passing(states, spec(vcpus=2)) == ['h0', 'h1']
    assert passing(states, spec(vcpus=3)) == ['h1']
    states.set_ratios((1.0, 1.0, 1.0))
    assert 'CoreFilter rejected 2 (need 5 vCPUs)' in no_valid_host(
        states, spec(vcpus=5))


def test_disk_filter():
    states = hosts({'local_gb': 100, 'local_gb_used': 80}, {'local_gb': 100},
                   ratios=(4.0, 1.0, 2.0))
    assert passing(states, spec(root_gb=120)) == ['h0', 'h1']
    assert passing(states, spec(root_gb=121)) == ['h1']
    assert passing(states, spec(root_gb=0)) == ['h0', 'h1']


def test_num_instances_filter():
    states = hosts({'running_vms': 3}, {'running_vms': 2})
    assert passing(states, spec(), Settings(max_instances_per_host=3)) \
        == ['h1']
    assert 'NumInstancesFilter rejected 2 (already at max_instances_per_' \
        'host=2)' in no_valid_host(states, spec(),
                                   Settings(max_instances_per_host=2))


def test_availability_zone_filter():
    states = hosts({'availability_zone': 'az1'}, {'availability_zone': 'az2'},
                   {})
    assert passing(states, spec(availability_zone='az2')) == ['h1']
    assert passing(states, spec()) == ['h0', 'h1', 'h2']
    assert 'AvailabilityZoneFilter rejected 3 (not in availability zone ' \
        'az9)' in no_valid_host(states, spec(availability_zone='az9'))


def test_ignore_hosts():
    states = hosts({}, {}, {})
    assert passing(states, spec(ignore_hosts=['h0', 'h2', 'nope'])) == ['h1']
    assert no_valid_host(states, spec(ignore_hosts=['h0', 'h1', 'h2'])) \
        == 'No valid host: 3 hosts; ignore_hosts rejected 3 (listed)'


class Lookup:
    """Instance uuid -> host, counting the lookups."""

    def __init__(self, placed):
        self.placed, self.calls = placed, []

    def __call__(self, uuids):
        self.calls.append(set(uuids))
        return {u: h for u, h in self.placed.items() if u in uuids}


def test_same_and_different_host_share_one_lookup():
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    lookup = Lookup({a: 'h1', b: 'h2', c: 'h1'})
    states = hosts({}, {}, {})
    assert passing(states, spec(same_host=[a, b], different_host=[c]),
                   lookup=lookup) == ['h2']
    assert lookup.calls == [{a, b, c}]


def test_same_host_of_unknown_instance_passes_no_host():
    lookup = Lookup({})
    gone = str(uuid.uuid4())
    assert no_valid_host(hosts({}, {}), spec(same_host=[gone]),
                         lookup=lookup).endswith(
        'SameHostFilter rejected 2 (not running any of %s)' % gone)


def test_different_host():
    a = str(uuid.uuid4())
    states = hosts({}, {})
    assert passing(states, spec(different_host=[a]),
                   lookup=Lookup({a: 'h0'})) == ['h1']
    assert passing(states, spec()) == ['h0', 'h1']


def test_no_lookup_without_hints():
    lookup = Lookup({})
    passing(hosts({}), spec(), lookup=lookup)
    assert lookup.calls == []


def test_enabled_filters_choose_what_is_checked():
    states = hosts({'disabled': True, 'memory_mb': 512})
    settings = Settings(enabled_filters=('CoreFilter',))
    assert passing(states, spec(memory_mb=4096), settings) == ['h0']


def test_unknown_filter_is_a_clear_error():
    with pytest.raises(exception.HVAgentError,
                       match=r"Unknown name\(s\) RamFiltre in "
                             r"\[scheduler\]enabled_filters; available: "
                             r"AvailabilityZoneFilter, "):
        filters.load(['RamFilter', 'RamFiltre'])


def test_apply_claim_updates_free_resources():
    states = hosts({'vcpus': 2, 'memory_mb': 2048, 'local_gb': 20},
                   ratios=(1.0, 1.0, 1.0))
    states.apply_claim(0, spec(vcpus=1, memory_mb=1024, root_gb=10))
    assert (states.free_vcpus[0], states.free_ram_mb[0],
            states.free_disk_gb[0]) == (1, 1024, 10)
    assert (states.running_vms[0], states.generation[0]) == (1, 1)
    assert passing(states, spec(vcpus=1, memory_mb=1024)) == ['h0']
    states.apply_claim(0, spec(vcpus=1, memory_mb=1024, root_gb=10))
    assert no_valid_host(states, spec()).endswith(
        'RamFilter rejected 1 (need 1024 MB RAM)')


def test_masks_are_vectorized_over_all_hosts():
    states = hosts(*[{'memory_mb': 1024 * (i + 1)} for i in range(1000)])
    req = filters.FilterRequest(spec(memory_mb=500 * 1024), Settings())
    mask = filters.RamFilter().mask(states, req)
    assert isinstance(mask, np.ndarray) and mask.dtype == bool
    assert int(mask.sum()) == 501
