"""Failed-login throttling, per user name and per client address.

Each attempt counts as a failure from the moment it starts (so parallel
attempts cannot all slip past the check before any has failed) and is
taken back if it succeeds or ends without a verdict (the conductor busy
or away). Once ``[api] login_failures_per_user`` failures of one user
name, or ``login_failures_per_address`` of one address, fall within
``login_failure_window`` seconds, attempts are refused with Throttled
(429 with Retry-After) without reaching the conductor: no password check
is spent on them. At most ``max_concurrent_logins`` attempts run at once
in one API process; more get Busy (503 with Retry-After) at once.

The counts live in this hvagent-api process's memory: each API process
counts alone (N processes allow N times the attempts) and a restart
forgets. At most MAX_KEYS names and addresses are tracked, each with at
most its limit of timestamps, the least recently failed forgotten first.
"""
import collections
import contextlib
import math
import threading
import time

from oslo_config import cfg

from agent import exception

CONF = cfg.CONF
MAX_KEYS = 20000


class FailureCounter:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._lock = threading.Lock()
        self._stamps = collections.OrderedDict()    # key -> deque
        self._slots = None      # (size, BoundedSemaphore)

    def _limits(self):
        return {'user': CONF.api.login_failures_per_user,
                'address': CONF.api.login_failures_per_address}

    def _recent(self, key, now):
        stamps = self._stamps.get(key)
        if stamps is None:
            return ()
        while stamps and stamps[0] <= now - CONF.api.login_failure_window:
            stamps.popleft()
        if not stamps:
            del self._stamps[key]
        return stamps

    def begin(self, what, **keys):
        """Count an attempt against each ``kind=key`` (user, address), or
        raise Throttled if one is at its limit already; returns what
        ``forgive`` takes back."""
        limits, now = self._limits(), self.clock()
        with self._lock:
            for kind, key in keys.items():
                stamps = self._recent((kind, key), now)
                if len(stamps) >= limits[kind]:
                    wait = stamps[0] + CONF.api.login_failure_window - now
                    raise exception.Throttled(
                        what=what, retry_after=max(1, math.ceil(wait)))
            for kind, key in keys.items():
                stamps = self._stamps.setdefault(
                    (kind, key), collections.deque(maxlen=limits[kind]))
                stamps.append(now)
                self._stamps.move_to_end((kind, key))
            while len(self._stamps) > MAX_KEYS:
                self._stamps.popitem(last=False)
        return now, keys

    def forgive(self, attempt):
        now, keys = attempt
        with self._lock:
            for kind, key in keys.items():
                stamps = self._stamps.get((kind, key))
                if stamps and now in stamps:
                    stamps.remove(now)

    def _in_flight(self):
        size = CONF.api.max_concurrent_logins
        with self._lock:
            if self._slots is None or self._slots[0] != size:
                self._slots = (size, threading.BoundedSemaphore(size))
            return self._slots[1]

    @contextlib.contextmanager
    def attempt(self, what, **keys):
        """Run the block as one of at most ``[api] max_concurrent_logins``
        (else Busy: it would hold one of this process's request threads
        and one of the conductor's while it waits for a password check),
        counted as a failed attempt unless it ends without
        NotAuthenticated."""
        slots = self._in_flight()
        if not slots.acquire(blocking=False):
            raise exception.Busy(what=what, retry_after=1)
        try:
            token = self.begin(what, **keys)
            try:
                yield
            except exception.NotAuthenticated:
                raise
            except BaseException:
                self.forgive(token)
                raise
            self.forgive(token)
        finally:
            slots.release()


COUNTER = FailureCounter()


def client_address(request):
    return request.client.host if request.client else 'unknown'
