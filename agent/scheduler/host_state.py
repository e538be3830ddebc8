"""Every compute host as numpy column arrays, kept fresh cheaply.

The rows come from ``compute_nodes LEFT JOIN services`` (the host's
``hvagent-compute`` service). The first refresh loads everything; the next
ones (at most every ``host_state_refresh_interval`` seconds) read only:

* the count of the nodes and the sums of their ids and generations, one
  row: when all three are ours (nothing changed but our own claims) that
  is all;
* else ``(id, generation)`` of every node - a claim, a release or a
  report that changes capacity or zone bumps the generation, so the rows
  whose generation differs from ours (or that are new) are read again in
  full, and the ids that vanished are dropped (generations only grow and
  new ids are higher than every old one, so no change leaves the three
  figures as they were);
* the compute services whose ``updated_at``/``last_seen_up`` is at or after
  the newest one seen so far, less a small margin for commits that landed
  late (heartbeats, enable/disable); a change in the number of compute
  services (a new or a deleted one) makes it a full load again.

Between refreshes the manager keeps the arrays true for its own claims
(``apply_claim``) and re-reads a host whose claim lost a race
(``reload_host``). An index into the arrays names one host for good: new
hosts are appended, vanished ones are marked absent.

Not thread-safe: the manager serialises calls.
"""
import datetime
import time
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from agent.db import models
from agent.db.base import utcnow

if TYPE_CHECKING:
    from agent.objects.models import RequestSpec

#: where a row or rows go: an index, an index array, a mask or a slice
Where = int | npt.NDArray[np.intp] | npt.NDArray[np.bool_] | slice
#: a compute_nodes row joined with its service (or a test's namespace)
Row = Any

COMPUTE_BINARY = 'hvagent-compute'
NEVER = -np.inf                    # last_seen of a host never seen up
SERVICE_MARGIN = datetime.timedelta(seconds=2)
_EPOCH = datetime.datetime(1970, 1, 1)
_N, _S = models.ComputeNode.__table__, models.Service.__table__

_JOINED = sa.select(
    _N.c.id, _N.c.host, _N.c.availability_zone, _N.c.vcpus, _N.c.memory_mb,
    _N.c.local_gb, _N.c.vcpus_used, _N.c.memory_mb_used, _N.c.local_gb_used,
    _N.c.running_vms, _N.c.generation, _S.c.id.label('service_id'),
    _S.c.disabled, _S.c.last_seen_up, _S.c.updated_at,
).select_from(_N.outerjoin(_S, sa.and_(_S.c.host == _N.c.host,
                                       _S.c.binary == COMPUTE_BINARY)))
_BY_IDS = _JOINED.where(_N.c.id.in_(sa.bindparam('ids', expanding=True)))
_BY_HOST = _JOINED.where(_N.c.host == sa.bindparam('host'))
_GENERATIONS = sa.select(_N.c.id, _N.c.generation)
_NODE_SUMS = sa.select(sa.func.count(), sa.func.sum(_N.c.id),
                       sa.func.sum(sa.func.coalesce(_N.c.generation, 0)))
_SINCE = sa.bindparam('since', type_=sa.DateTime)
_CHANGED_SERVICES = sa.select(
    _S.c.host, _S.c.id.label('service_id'), _S.c.disabled, _S.c.last_seen_up,
    _S.c.updated_at,
).where(_S.c.binary == COMPUTE_BINARY,
        sa.or_(_S.c.updated_at >= _SINCE, _S.c.last_seen_up >= _SINCE))
_SERVICE_COUNT = sa.select(sa.func.count()).select_from(_S).where(
    _S.c.binary == COMPUTE_BINARY)

# column arrays and their dtypes; free_* have the allocation ratios applied
_ARRAYS = dict(
    ids=np.int64, generation=np.int64, az=np.int32, vcpus=np.int64,
    memory_mb=np.int64, local_gb=np.int64, vcpus_used=np.int64,
    memory_mb_used=np.int64, local_gb_used=np.int64, running_vms=np.int64,
    present=bool, enabled=bool, last_seen=np.float64,
    free_vcpus=np.float64, free_ram_mb=np.float64, free_disk_gb=np.float64)
_COUNTERS = ('generation', 'vcpus', 'memory_mb', 'local_gb', 'vcpus_used',
             'memory_mb_used', 'local_gb_used', 'running_vms')
_TEST_DEFAULTS = dict(availability_zone=None, vcpus=8, memory_mb=16384,
                      local_gb=500, vcpus_used=0, memory_mb_used=0,
                      local_gb_used=0, running_vms=0, generation=0,
                      disabled=False, updated_at=None)


def epoch(dt: datetime.datetime | None) -> float:
    """Seconds since 1970 of a naive UTC datetime (NEVER for None)."""
    return NEVER if dt is None else (dt - _EPOCH).total_seconds()


class HostStates:
    # the column arrays (_ARRAYS), set in __init__ and grown by _grow
    ids: npt.NDArray[np.int64]
    generation: npt.NDArray[np.int64]
    az: npt.NDArray[np.int32]
    vcpus: npt.NDArray[np.int64]
    memory_mb: npt.NDArray[np.int64]
    local_gb: npt.NDArray[np.int64]
    vcpus_used: npt.NDArray[np.int64]
    memory_mb_used: npt.NDArray[np.int64]
    local_gb_used: npt.NDArray[np.int64]
    running_vms: npt.NDArray[np.int64]
    present: npt.NDArray[np.bool_]
    enabled: npt.NDArray[np.bool_]
    last_seen: npt.NDArray[np.float64]
    free_vcpus: npt.NDArray[np.float64]
    free_ram_mb: npt.NDArray[np.float64]
    free_disk_gb: npt.NDArray[np.float64]

    def __init__(self, engine: sa.Engine | None = None,
                 ratios: Iterable[float] = (4.0, 1.0, 1.0)) -> None:
        self.engine = engine
        self.ratios = tuple(ratios)
        self.names: list[str] = []         # index -> host name
        self.index: dict[str, int] = {}    # host name -> index
        # availability zone -> code (>= 1; 0: none)
        self._az_codes: dict[str, int] = {}
        self._id_lookup = np.full(0, -1, dtype=np.intp)  # node id -> index
        for name, dtype in _ARRAYS.items():
            setattr(self, name, np.zeros(0, dtype=dtype))
        #: time.monotonic() of the last refresh
        self.refreshed_at: float | None = None
        #: newest service timestamp seen
        self._service_mark: datetime.datetime | None = None
        self._service_count = 0

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def from_hosts(cls, hosts: Iterable[Mapping[str, Any]],
                   ratios: Iterable[float] = (4.0, 1.0, 1.0)) -> Self:
        """Build from dicts (``host`` plus any compute_nodes column,
        ``disabled``, ``last_seen_up`` (default now) and ``service_id``
        (None: no service row)) without a database; for tests."""
        now = utcnow()
        rows = [types.SimpleNamespace(**{
            **_TEST_DEFAULTS, 'id': i, 'service_id': i, 'last_seen_up': now,
            **h}) for i, h in enumerate(hosts, 1)]
        states = cls(ratios=ratios)
        states._upsert(rows)
        return states

    # ------------------------------------------------------------ queries
    def az_code(self, zone: str) -> int:
        """The code of an availability zone; -1 if no host is in it."""
        return self._az_codes.get(zone, -1)

    def up(self, now: float, down_time: float) -> npt.NDArray[np.bool_]:
        """Mask of the hosts whose service reported within down_time."""
        return (now - self.last_seen) <= down_time

    # ------------------------------------------------------------ updates
    def apply_claim(self, idx: int, spec: 'RequestSpec') -> None:
        """Our claim of ``spec`` on host ``idx`` won: count it locally."""
        self.vcpus_used[idx] += spec.vcpus
        self.memory_mb_used[idx] += spec.memory_mb
        self.local_gb_used[idx] += spec.root_gb
        self.free_vcpus[idx] -= spec.vcpus
        self.free_ram_mb[idx] -= spec.memory_mb
        self.free_disk_gb[idx] -= spec.root_gb
        self.running_vms[idx] += 1
        self.generation[idx] += 1

    def set_ratios(self, ratios: Iterable[float]) -> None:
        wanted = tuple(ratios)
        if wanted != self.ratios:
            self.ratios = wanted
            self._recompute_free(slice(None))

    def _recompute_free(self, idx: Where) -> None:
        cpu, ram, disk = self.ratios
        self.free_vcpus[idx] = self.vcpus[idx] * cpu - self.vcpus_used[idx]
        self.free_ram_mb[idx] = (self.memory_mb[idx] * ram
                                 - self.memory_mb_used[idx])
        self.free_disk_gb[idx] = (self.local_gb[idx] * disk
                                  - self.local_gb_used[idx])

    def _grow(self, size: int) -> None:
        for name, dtype in _ARRAYS.items():
            arr = getattr(self, name)
            if len(arr) < size:
                setattr(self, name, np.concatenate(
                    [arr, np.zeros(size - len(arr), dtype=dtype)]))

    def _index_of(self, row: Row) -> int:
        if row.id >= len(self._id_lookup):
            grown = np.full(max(row.id + 1, 2 * len(self._id_lookup)), -1,
                            dtype=np.intp)
            grown[:len(self._id_lookup)] = self._id_lookup
            self._id_lookup = grown
        idx = int(self._id_lookup[row.id])
        if idx < 0:
            idx = self._id_lookup[row.id] = len(self.names)
            self.names.append(row.host)
        elif self.names[idx] != row.host:     # renamed
            self.index.pop(self.names[idx], None)
            self.names[idx] = row.host
        self.index[row.host] = idx
        return idx

    def _az(self, zone: str | None) -> int:
        if zone is None:
            return 0
        return self._az_codes.setdefault(zone, len(self._az_codes) + 1)

    def _upsert(self, rows: Sequence[Row]) -> None:
        """Store node rows (joined with their service's columns)."""
        if not rows:
            return
        idxs = np.array([self._index_of(r) for r in rows], dtype=np.intp)
        self._grow(len(self.names))
        self.ids[idxs] = [r.id for r in rows]
        for name in _COUNTERS:
            getattr(self, name)[idxs] = [getattr(r, name) or 0 for r in rows]
        self.az[idxs] = [self._az(r.availability_zone) for r in rows]
        self.present[idxs] = True
        self._set_services(idxs, rows)
        self._recompute_free(idxs)

    def _set_services(self, idxs: Where, rows: Sequence[Row]) -> None:
        self.enabled[idxs] = [r.service_id is not None and not r.disabled
                              for r in rows]
        self.enabled[idxs] &= self.present[idxs]
        self.last_seen[idxs] = [epoch(r.last_seen_up) for r in rows]
        self._note_service_times(rows)

    def _note_service_times(self, rows: Sequence[Row]) -> None:
        marks = [t for r in rows if r.service_id is not None for t in
                 (r.updated_at, r.last_seen_up) if t]
        if marks:
            self._service_mark = max(marks + [self._service_mark or _EPOCH])

    def _mark_absent(self, idxs: Where) -> None:
        self.present[idxs] = False
        self.enabled[idxs] = False

    # ----------------------------------------------------------- database
    def refresh(self, force: bool = False, interval: float = 1.0) -> bool:
        """Read what changed if the cache is older than ``interval`` seconds
        (or ``force``); return whether the database was read."""
        now = time.monotonic()
        if not force and self.refreshed_at is not None \
                and now - self.refreshed_at < interval:
            return False
        with self._connect() as conn:
            count = conn.execute(_SERVICE_COUNT).scalar_one()
            if self.refreshed_at is None or count != self._service_count:
                self._full_load(conn)   # first look, or a service came or went
            else:
                if self._node_sums() != tuple(
                        int(x or 0) for x in conn.execute(_NODE_SUMS).one()):
                    self._read_changed_nodes(conn)
                self._read_changed_services(conn)
            self._service_count = count
        self.refreshed_at = now
        return True

    def reload_host(self, name: str) -> None:
        """Re-read one host (after our claim on it lost a race)."""
        with self._connect() as conn:
            rows = conn.execute(_BY_HOST, {'host': name}).all()
        if rows:
            self._upsert(rows)
        elif name in self.index:
            self._mark_absent(self.index[name])

    def _connect(self) -> sa.Connection:
        assert self.engine is not None, 'built without a database'
        return self.engine.connect()

    def _full_load(self, conn: sa.Connection) -> None:
        self._mark_absent(slice(None))
        self._upsert(conn.execute(_JOINED).all())

    def _node_sums(self) -> tuple[int, int, int]:
        """(count, sum of ids, sum of generations) of the present nodes,
        as _NODE_SUMS reads them from the database."""
        present = self.present
        return (int(present.sum()), int(self.ids[present].sum()),
                int(self.generation[present].sum()))

    def _read_changed_nodes(self, conn: sa.Connection) -> None:
        rows = conn.execute(_GENERATIONS).all()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        generations = np.array([r[1] for r in rows], dtype=np.int64)
        pos = np.full(len(ids), -1, dtype=np.intp)
        known = ids < len(self._id_lookup)
        pos[known] = self._id_lookup[ids[known]]
        found = pos >= 0
        seen = np.zeros(len(self.names), dtype=bool)
        seen[pos[found]] = True
        self._mark_absent(self.present & ~seen)
        stale = ~found
        stale[found] = (self.generation[pos[found]] != generations[found]) \
            | ~self.present[pos[found]]
        stale_ids = ids[stale].tolist()
        if len(stale_ids) > max(100, len(ids) // 4):
            self._full_load(conn)
            return
        for start in range(0, len(stale_ids), 500):
            self._upsert(conn.execute(
                _BY_IDS, {'ids': stale_ids[start:start + 500]}).all())

    def _read_changed_services(self, conn: sa.Connection) -> None:
        since = (self._service_mark or _EPOCH) - SERVICE_MARGIN
        rows = conn.execute(_CHANGED_SERVICES, {'since': since}).all()
        self._note_service_times(rows)
        rows = [r for r in rows if r.host in self.index]
        if rows:
            idxs = np.array([self.index[r.host] for r in rows], dtype=np.intp)
            self._set_services(idxs, rows)
