"""The scheduler's RPC endpoint: filter, weigh, claim, answer a host name.

``select(spec)`` runs in the caller's thread: under a lock it refreshes the
host cache if due, filters and weighs; then, outside the lock, it claims
the best host in the database. A lost claim (another scheduler filled the
host first) re-reads that host and moves on to the next best, up to
``claim_attempts`` claims in all; a won claim is applied to the cache.
"""
import logging
import random
import threading

import oslo_messaging as messaging
import sqlalchemy as sa

from agent import exception
from agent.db import models
from agent.db import session as db_session
from agent.metrics import controller as controller_metrics
from agent.objects import fields
from agent.rpc import checks
from agent.scheduler import Settings
from agent.scheduler import claim
from agent.scheduler import filters
from agent.scheduler import host_state
from agent.scheduler import weighers

LOG = logging.getLogger(__name__)

_I = models.Instance.__table__
_INSTANCE_HOSTS = sa.select(_I.c.uuid, _I.c.host).where(
    _I.c.uuid.in_(sa.bindparam('uuids', expanding=True)), _I.c.deleted == 0)


class SchedulerManager:
    target = messaging.Target(version='1.1')  # see scheduler_rpcapi

    def __init__(self, engine=None, url=None, settings=None):
        """``engine``: an Engine or a URL (default: [database]); a fixed
        ``settings`` disables re-reading the configuration."""
        if isinstance(engine, (str, sa.engine.URL)):
            engine, url = None, engine
        self.engine = engine or db_session.get_engine(url)
        self._fixed_settings = settings
        self.settings = settings or Settings.from_conf()
        self.filters = filters.load(self.settings.enabled_filters)
        self.weighers = weighers.load(self.settings.enabled_weighers)
        self.hosts = host_state.HostStates(self.engine, self.settings.ratios)
        self._lock = threading.Lock()
        self._rng = random.Random()
        self.lost_races = 0     # claims another scheduler beat us to
        #: placements, no-valid-host count, scheduling time, for /metrics
        self.metrics = controller_metrics.SchedulerMetrics()

    @checks.expects(spec=fields.Object('RequestSpec'))
    def select_destination(self, ctxt, spec):
        """Place ``spec``, claim the host, return its name."""
        with self.metrics.placing():
            return self.select(spec)

    @checks.expects(spec=fields.Object('RequestSpec'))
    def select_destination_for_move(self, ctxt, spec):
        """Place a move (``spec.migration_uuid``), claim the destination
        for the migration, return its name."""
        if not spec.migration_uuid:
            raise exception.InvalidRPCPayload(
                'select_destination_for_move needs a migration_uuid')
        with self.metrics.placing():
            return self.select(spec)

    def select(self, spec):
        """Return the name of the host claimed for ``spec``, or raise
        NoValidHost (ClaimFailed if the instance cannot be claimed)."""
        attempts = self.settings.claim_attempts
        lost = []
        while True:
            with self._lock:
                cand, weights = self._rank(spec)
            for idx in weighers.ranked(cand, weights, self._rng):
                if len(lost) >= attempts:
                    raise exception.NoValidHost(reason=(
                        'claims on %d hosts lost races with other '
                        'schedulers: %s' % (len(lost), ', '.join(lost))))
                name = self.hosts.names[idx]
                if claim.claim(self.engine, int(self.hosts.ids[idx]), name,
                               spec, self.settings):
                    with self._lock:
                        self.hosts.apply_claim(idx, spec)
                    return name
                LOG.debug('Claim for %s on %s lost a race',
                          spec.instance_uuid, name)
                lost.append(name)
                with self._lock:
                    self.lost_races += 1
                    self.hosts.reload_host(name)
            # every candidate lost: rank again on the re-read hosts

    def _rank(self, spec):
        """Candidate indices and weights; NoValidHost if no host fits."""
        refreshed = self._refresh()
        try:
            cand = self._passing(spec)
        except exception.NoValidHost:
            if refreshed:
                raise
            # our cache may miss a release or a new host: look again once
            self._refresh(force=True)
            cand = self._passing(spec)
        return cand, weighers.weigh(self.hosts, cand, self.weighers,
                                    self.settings)

    def _passing(self, spec):
        req = filters.FilterRequest(spec, self.settings, self._instance_hosts)
        return filters.passing(self.hosts, self.filters, req)

    def _refresh(self, force=False):
        """Refresh the host cache (and the settings) when due."""
        if not self.hosts.refresh(
                force, self.settings.host_state_refresh_interval):
            return False
        if self._fixed_settings is None:
            self._reload_settings(Settings.from_conf())
        return True

    def _reload_settings(self, settings):
        if settings == self.settings:
            return
        if settings.enabled_filters != self.settings.enabled_filters:
            self.filters = filters.load(settings.enabled_filters)
        if settings.enabled_weighers != self.settings.enabled_weighers:
            self.weighers = weighers.load(settings.enabled_weighers)
        self.settings = settings
        self.hosts.set_ratios(settings.ratios)

    def _instance_hosts(self, uuids):
        with self.engine.connect() as conn:
            return dict(conn.execute(_INSTANCE_HOSTS,
                                     {'uuids': sorted(uuids)}).all())
