"""The scheduler: places an instance on a compute host and claims it there.

* ``host_state`` - every host as numpy column arrays, kept fresh cheaply;
* ``filters`` / ``weighers`` - vectorized filters (boolean masks) and
  weighers (normalized scores) over those arrays;
* ``claim`` - the atomic database claim (and the conductor's release);
* ``manager`` - the RPC endpoint tying them together.

``Settings`` is a snapshot of the ``[scheduler]`` options (plus
``service_down_time``): reading oslo.config costs microseconds per option,
so the manager takes one snapshot per host-state refresh, and the unit tests
build one directly without any configuration.
"""
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Self, TypeVar

DEFAULT_FILTERS = ('ComputeFilter', 'AvailabilityZoneFilter', 'RamFilter',
                   'CoreFilter', 'DiskFilter', 'NumInstancesFilter',
                   'SameHostFilter', 'DifferentHostFilter')
DEFAULT_WEIGHERS = ('RAMWeigher', 'CPUWeigher', 'DiskWeigher',
                    'NumInstancesWeigher')


@dataclasses.dataclass(frozen=True)
class Settings:
    enabled_filters: tuple[str, ...] = DEFAULT_FILTERS
    enabled_weighers: tuple[str, ...] = DEFAULT_WEIGHERS
    placement_policy: str = 'spread'
    cpu_allocation_ratio: float = 4.0
    ram_allocation_ratio: float = 1.0
    disk_allocation_ratio: float = 1.0
    max_instances_per_host: int = 50
    ram_weight_multiplier: float = 1.0
    cpu_weight_multiplier: float = 1.0
    disk_weight_multiplier: float = 1.0
    num_instances_weight_multiplier: float = 1.0
    host_state_refresh_interval: float = 1.0
    claim_attempts: int = 5
    service_down_time: int = 60

    @property
    def ratios(self) -> tuple[float, float, float]:
        """(cpu, ram, disk) allocation ratios."""
        return (self.cpu_allocation_ratio, self.ram_allocation_ratio,
                self.disk_allocation_ratio)

    @classmethod
    def from_conf(cls, conf: Any = None) -> Self:
        if conf is None:
            from oslo_config import cfg

            import agent.conf  # noqa: F401  (registers the options)
            conf = cfg.CONF
        group = conf.scheduler
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            if field.name == 'service_down_time':
                values[field.name] = conf.service_down_time
            else:
                values[field.name] = getattr(group, field.name)
        for name in ('enabled_filters', 'enabled_weighers'):
            values[name] = tuple(values[name])
        return cls(**values)


_P = TypeVar('_P')


def load_plugins(registry: Mapping[str, Callable[[], _P]],
                 names: Sequence[str], option: str) -> list[_P]:
    """Instances of the classes ``registry`` names, in the order of
    ``names``; an unknown name is a clear configuration error."""
    from agent import exception
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise exception.HVAgentError(
            'Unknown name(s) %s in [scheduler]%s; available: %s'
            % (', '.join(unknown), option, ', '.join(sorted(registry))))
    return [registry[n]() for n in names]
