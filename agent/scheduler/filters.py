"""Host filters, vectorized: each returns a boolean mask over all hosts.

A filter looks at the ``HostStates`` arrays and one ``FilterRequest`` and
answers, for every host at once, whether the host may take the instance
(``None`` means "every host", for a filter with nothing to check). When no
host is left, ``NoValidHost`` says how many hosts each filter rejected, in
order, e.g. ``No valid host: 3 hosts; ComputeFilter rejected 1 (down or
disabled), RamFilter rejected 2 (need 4096 MB RAM)``.
"""
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from agent import exception
from agent.scheduler import Settings
from agent.scheduler import load_plugins

if TYPE_CHECKING:
    from agent.objects.models import RequestSpec
    from agent.scheduler.host_state import HostStates

#: which hosts pass; None: every host (nothing to check)
Mask = npt.NDArray[np.bool_]
#: ``lookup(uuids) -> {uuid: host}``
Lookup = Callable[[set[str]], dict[str, str]]


class FilterRequest:
    """What the filters of one request share: the spec, the settings, the
    time, and the hosts of the instances named by same_host/different_host
    (``lookup(uuids) -> {uuid: host}``, called at most once)."""

    def __init__(self, spec: 'RequestSpec', settings: Settings,
                 lookup: Lookup | None = None,
                 now: float | None = None) -> None:
        self.spec = spec
        self.settings = settings
        self.now = time.time() if now is None else now
        self._lookup = lookup
        self._instance_hosts: dict[str, str] | None = None

    def hosts_of(self, uuids: Iterable[str]) -> set[str]:
        """Names of the hosts running any of ``uuids`` (live instances)."""
        if self._instance_hosts is None:
            wanted = set(self.spec.same_host) | set(self.spec.different_host)
            self._instance_hosts = {}
            if wanted:
                assert self._lookup is not None, 'no lookup for instances'
                self._instance_hosts = self._lookup(wanted)
        return {self._instance_hosts[u] for u in uuids
                if self._instance_hosts.get(u)}


class BaseFilter:
    def mask(self, hosts: 'HostStates', req: FilterRequest) -> Mask | None:
        raise NotImplementedError

    def why(self, req: FilterRequest) -> str:
        """Why a host was rejected, for the NoValidHost message."""
        raise NotImplementedError

    @property
    def name(self) -> str:
        return type(self).__name__


class ComputeFilter(BaseFilter):
    """The host's compute service exists, is enabled and is up."""

    def mask(self, hosts: 'HostStates', req: FilterRequest) -> Mask | None:
        return hosts.enabled & hosts.up(req.now,
                                        req.settings.service_down_time)

    def why(self, req: FilterRequest) -> str:
        return 'down or disabled'


class AvailabilityZoneFilter(BaseFilter):
    def mask(self, hosts: 'HostStates', req: FilterRequest) -> Mask | None:
        zone = req.spec.availability_zone
        return None if not zone else hosts.az == hosts.az_code(zone)

    def why(self, req: FilterRequest) -> str:
        return 'not in availability zone %s' % req.spec.availability_zone


class RamFilter(BaseFilter):
    """Free RAM (capacity x ram_allocation_ratio - used) fits the request."""

    def mask(self, hosts: 'HostStates', req: FilterRequest) -> Mask | None:
        fits: Mask = hosts.free_ram_mb >= req.spec.memory_mb
        return fits

    def why(self, req: FilterRequest) -> str:
        return 'need %d MB RAM' % req.spec.memory_mb


class CoreFilter(BaseFilter):
    def mask(self, hosts: 'HostStates', req: FilterRequest) -> Mask | None:
        fits: Mask = hosts.free_vcpus >= req.spec.vcpus
        return fits

    def why(self, req: FilterRequest) -> str:
        return 'need %d vCPUs' % req.spec.vcpus


class DiskFilter(BaseFilter):
    def mask(self, hosts: 'HostStates', req: FilterRequest) -> Mask | None:
        return None if not req.spec.root_gb else \
            hosts.free_disk_gb >= req.spec.root_gb

    def why(self, req: FilterRequest) -> str:
        return 'need %d GB disk' % req.spec.root_gb


class NumInstancesFilter(BaseFilter):
    def mask(self, hosts: 'HostStates', req: FilterRequest) -> Mask | None:
        return hosts.running_vms < req.settings.max_instances_per_host

    def why(self, req: FilterRequest) -> str:
        return ('already at max_instances_per_host=%d'
                % req.settings.max_instances_per_host)


class _InstanceHostFilter(BaseFilter):
    hint = ''     # the RequestSpec field listing instance uuids

    def _on_named_hosts(self, hosts: 'HostStates', req: FilterRequest) -> Mask:
        mask = np.zeros(len(hosts), dtype=bool)
        for name in req.hosts_of(getattr(req.spec, self.hint)):
            if name in hosts.index:
                mask[hosts.index[name]] = True
        return mask


class SameHostFilter(_InstanceHostFilter):
    """The host runs one of the instances in spec.same_host."""
    hint = 'same_host'

    def mask(self, hosts: 'HostStates', req: FilterRequest) -> Mask | None:
        return self._on_named_hosts(hosts, req) if req.spec.same_host \
            else None

    def why(self, req: FilterRequest) -> str:
        return 'not running any of %s' % ', '.join(req.spec.same_host)


class DifferentHostFilter(_InstanceHostFilter):
    """The host runs none of the instances in spec.different_host."""
    hint = 'different_host'

    def mask(self, hosts: 'HostStates', req: FilterRequest) -> Mask | None:
        return ~self._on_named_hosts(hosts, req) \
            if req.spec.different_host else None

    def why(self, req: FilterRequest) -> str:
        return 'running one of %s' % ', '.join(req.spec.different_host)


FILTERS = {cls.__name__: cls for cls in (
    ComputeFilter, AvailabilityZoneFilter, RamFilter, CoreFilter,
    DiskFilter, NumInstancesFilter, SameHostFilter, DifferentHostFilter)}


def load(names: Sequence[str]) -> list[BaseFilter]:
    """Filter objects for names from [scheduler]enabled_filters."""
    return load_plugins(FILTERS, names, 'enabled_filters')


def _ignored(hosts: 'HostStates', req: FilterRequest) -> Mask:
    mask = np.ones(len(hosts), dtype=bool)
    for name in req.spec.ignore_hosts:
        if name in hosts.index:
            mask[hosts.index[name]] = False
    return mask


def _requested(hosts: 'HostStates', req: FilterRequest) -> Mask:
    """Only the host an admin named for a move (the filters still
    apply to it)."""
    mask = np.zeros(len(hosts), dtype=bool)
    if req.spec.requested_host in hosts.index:
        mask[hosts.index[req.spec.requested_host]] = True
    return mask


_Step = tuple[str, Callable[['HostStates', FilterRequest], Mask | None],
              Callable[[FilterRequest], str]]
_Preset = tuple[str, Callable[['HostStates', FilterRequest], Mask],
                Callable[[FilterRequest], str]]


def _preset(req: FilterRequest) -> list[_Preset]:
    """The steps before the filters: the hosts a request excludes."""
    steps: list[_Preset] = []
    if req.spec.ignore_hosts:
        steps.append(('ignore_hosts', _ignored, lambda r: 'listed'))
    if getattr(req.spec, 'requested_host', None):
        steps.append(('requested_host', _requested,
                      lambda r: 'not %s' % r.spec.requested_host))
    return steps


def passing(hosts: 'HostStates', filters: Sequence[BaseFilter],
            req: FilterRequest) -> npt.NDArray[np.intp]:
    """Indices of the hosts that pass every filter; NoValidHost if none."""
    mask = hosts.present.copy()
    for _, mask_of, _ in _preset(req):
        mask &= mask_of(hosts, req)
    for f in filters:
        m = f.mask(hosts, req)
        if m is not None:
            mask &= m
    found = np.flatnonzero(mask)
    if not len(found):
        raise exception.NoValidHost(reason=explain(hosts, filters, req))
    return found


def explain(hosts: 'HostStates', filters: Sequence[BaseFilter],
            req: FilterRequest) -> str:
    """'N hosts; F1 rejected a (why), F2 rejected b (why)...'."""
    mask = hosts.present.copy()
    parts: list[str] = []
    steps: list[_Step] = [*_preset(req)]
    steps += [(f.name, f.mask, f.why) for f in filters]
    for name, mask_of, why in steps:
        m = mask_of(hosts, req)
        if m is None:
            continue
        rejected = int(np.count_nonzero(mask & ~m))
        mask &= m
        if rejected:
            parts.append('%s rejected %d (%s)' % (name, rejected, why(req)))
    total = int(np.count_nonzero(hosts.present))
    head = '%d host%s' % (total, '' if total == 1 else 's')
    if not total:
        head += ' (no compute node has reported yet)'
    return '; '.join([head, ', '.join(parts)] if parts else [head])
