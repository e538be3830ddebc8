"""Weighers rank the hosts that passed the filters.

Each weigher gives every candidate a raw value where more means emptier
(free RAM, free vCPUs, free disk, fewer instances), normalized to 0..1 over
the candidates (all 0 when they are equal), times its multiplier. The sum
ranks the hosts: ``spread`` takes the highest, ``pack`` flips the sign so
the fullest host that still fits wins. Ties are broken at random, so two
schedulers with the same view do not all pile onto the same host.
"""
import random
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from agent.scheduler import Settings
from agent.scheduler import load_plugins

if TYPE_CHECKING:
    from agent.scheduler.host_state import HostStates

Floats = npt.NDArray[np.float64]
#: indices of the candidate hosts into the HostStates arrays
Indices = npt.NDArray[np.intp]


class RandRange(Protocol):
    """The random module or a random.Random."""

    def randrange(self, stop: int, /) -> int: ...


class BaseWeigher:
    multiplier_setting = ''     # the Settings field with the multiplier
    column = ''                 # the HostStates array it ranks by

    def values(self, hosts: 'HostStates', cand: Indices) -> Floats:
        """Raw values for the candidate indices; larger is emptier."""
        column: Floats = getattr(hosts, self.column)
        return column[cand]

    def multiplier(self, settings: Settings) -> float:
        multiplier: float = getattr(settings, self.multiplier_setting)
        return multiplier


class RAMWeigher(BaseWeigher):
    multiplier_setting = 'ram_weight_multiplier'
    column = 'free_ram_mb'


class CPUWeigher(BaseWeigher):
    multiplier_setting = 'cpu_weight_multiplier'
    column = 'free_vcpus'


class DiskWeigher(BaseWeigher):
    multiplier_setting = 'disk_weight_multiplier'
    column = 'free_disk_gb'


class NumInstancesWeigher(BaseWeigher):
    multiplier_setting = 'num_instances_weight_multiplier'

    def values(self, hosts: 'HostStates', cand: Indices) -> Floats:
        return np.negative(hosts.running_vms[cand], dtype=np.float64)


WEIGHERS = {cls.__name__: cls for cls in (
    RAMWeigher, CPUWeigher, DiskWeigher, NumInstancesWeigher)}


def load(names: Sequence[str]) -> list[BaseWeigher]:
    """Weigher objects for names from [scheduler]enabled_weighers."""
    return load_plugins(WEIGHERS, names, 'enabled_weighers')


def normalize(values: Floats, scale: float = 1.0) -> Floats:
    """Scale a float array in place to 0..scale (min -> 0, max -> scale);
    all zeros if the values are equal. Return it."""
    lo, hi = values.min(), values.max()
    if hi == lo:
        values.fill(0.0)
    else:
        values -= lo
        values *= scale / (hi - lo)
    return values


def weigh(hosts: 'HostStates', cand: Indices,
          weighers: Sequence[BaseWeigher], settings: Settings) -> Floats:
    """The total weight of each candidate (higher is better)."""
    total = np.zeros(len(cand))
    sign = -1.0 if settings.placement_policy == 'pack' else 1.0
    for w in weighers:
        multiplier = w.multiplier(settings)
        if multiplier:
            total += normalize(w.values(hosts, cand), sign * multiplier)
    return total


def ranked(cand: Indices, weights: Sequence[float] | Floats,
           rng: RandRange = random) -> Iterator[int]:
    """Yield the candidates best first; equal weights in random order."""
    weights = np.array(weights, dtype=np.float64)
    for _ in range(len(cand)):
        best = int(np.argmax(weights))
        top = weights[best]
        if top == -np.inf:
            return
        ties = np.flatnonzero(weights == top)
        if len(ties) > 1:
            best = int(ties[rng.randrange(len(ties))])
        yield int(cand[best])
        weights[best] = -np.inf
