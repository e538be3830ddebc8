"""Scheduler weighers: normalization, multipliers, spread vs pack, ties."""
import collections
import random

import numpy as np
import pytest

from agent import exception
from agent.scheduler import Settings
from agent.scheduler import host_state
from agent.scheduler import weighers


def hosts(*specs):
    return host_state.HostStates.from_hosts(
        [dict(host='h%d' % i, **kw) for i, kw in enumerate(specs)],
        ratios=(1.0, 1.0, 1.0))


def best(states, settings=Settings(), cand=None, rng=random):
    cand = np.arange(len(states)) if cand is None else np.asarray(cand)
    weights = weighers.weigh(states, cand,
                             weighers.load(settings.enabled_weighers),
                             settings)
    return states.names[next(weighers.ranked(cand, weights, rng))]


def test_normalize_scales_to_unit_range():
    assert weighers.normalize(np.array([2.0, 4.0, 6.0])).tolist() == \
        [0.0, 0.5, 1.0]
    assert weighers.normalize(np.array([3.0, 3.0])).tolist() == [0.0, 0.0]
    assert weighers.normalize(np.array([10.0, 0.0]), -2.0).tolist() == \
        [-2.0, 0.0]


def test_spread_prefers_the_emptiest_host():
    states = hosts({'memory_mb': 8192, 'memory_mb_used': 6144},
                   {'memory_mb': 8192, 'memory_mb_used': 1024},
                   {'memory_mb': 8192, 'memory_mb_used': 4096})
    assert best(states, Settings(enabled_weighers=('RAMWeigher',))) == 'h1'


def test_pack_prefers_the_fullest_host_among_candidates():
    states = hosts({'memory_mb': 8192, 'memory_mb_used': 6144},
                   {'memory_mb': 8192, 'memory_mb_used': 1024},
                   {'memory_mb': 8192, 'memory_mb_used': 4096})
    pack = Settings(enabled_weighers=('RAMWeigher',), placement_policy='pack')
    assert best(states, pack) == 'h0'
    # h0 did not pass the filters: the fullest remaining one wins
    assert best(states, pack, cand=[1, 2]) == 'h2'


def test_pack_and_spread_with_every_weigher():
    small_busy = {'vcpus': 4, 'vcpus_used': 3, 'memory_mb': 4096,
                  'memory_mb_used': 3072, 'local_gb': 100,
                  'local_gb_used': 90, 'running_vms': 3}
    big_idle = {'vcpus': 64, 'memory_mb': 262144, 'local_gb': 2000}
    states = hosts(small_busy, big_idle)
    assert best(states) == 'h1'
    assert best(states, Settings(placement_policy='pack')) == 'h0'


def test_multipliers_weight_each_resource():
    # h0 has more free RAM, h1 more free vCPUs
    states = hosts({'memory_mb': 16384, 'vcpus': 4},
                   {'memory_mb': 8192, 'vcpus': 16})
    ram_first = Settings(ram_weight_multiplier=2.0, cpu_weight_multiplier=1.0,
                         disk_weight_multiplier=0.0)
    cpu_first = Settings(ram_weight_multiplier=1.0, cpu_weight_multiplier=2.0,
                         disk_weight_multiplier=0.0)
    assert best(states, ram_first) == 'h0'
    assert best(states, cpu_first) == 'h1'
    # a negative multiplier turns a weigher around
    assert best(states, Settings(ram_weight_multiplier=-1.0,
                                 cpu_weight_multiplier=0.0)) == 'h1'


def test_weights_are_normalized_not_raw():
    # raw free RAM (MB) would drown free vCPUs; normalized, 2 x CPU wins
    states = hosts({'memory_mb': 262144, 'vcpus': 8},
                   {'memory_mb': 131072, 'vcpus': 16},
                   {'memory_mb': 196608, 'vcpus': 4})
    settings = Settings(enabled_weighers=('RAMWeigher', 'CPUWeigher'),
                        cpu_weight_multiplier=2.0)
    cand = np.arange(3)
    weights = weighers.weigh(states, cand,
                             weighers.load(settings.enabled_weighers),
                             settings)
    # RAM: 1, 0, 0.5; CPU x2: (32-16)/48*2, 2, 0
    assert weights == pytest.approx([1 + 2 / 3, 2.0, 0.5])
    assert best(states, settings) == 'h1'


def test_num_instances_weigher_prefers_fewer_instances():
    states = hosts({'running_vms': 5}, {'running_vms': 1}, {'running_vms': 3})
    only = Settings(enabled_weighers=('NumInstancesWeigher',))
    assert best(states, only) == 'h1'
    assert best(states, Settings(enabled_weighers=('NumInstancesWeigher',),
                                 placement_policy='pack')) == 'h0'


def test_ties_are_broken_at_random():
    states = hosts({}, {}, {'memory_mb_used': 1024})
    picks = collections.Counter(best(states, rng=random.Random(seed))
                                for seed in range(200))
    assert set(picks) == {'h0', 'h1'}
    assert min(picks.values()) > 50


def test_ranked_yields_every_candidate_once_best_first():
    cand = np.array([7, 3, 9, 4])
    order = list(weighers.ranked(cand, np.array([0.5, 2.0, 0.5, 1.0])))
    assert order[:2] == [3, 4] and sorted(order[2:]) == [7, 9]


def test_unknown_weigher_is_a_clear_error():
    with pytest.raises(exception.HVAgentError,
                       match=r'Unknown name\(s\) RamWeigher in '
                             r'\[scheduler\]enabled_weighers'):
        weighers.load(['RamWeigher'])
