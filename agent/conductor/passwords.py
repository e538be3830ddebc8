"""Password hashing and checking: argon2id, in the conductor only.

Hashes are made here and never leave this process (no RPC answer carries
one). Every hash computed, a login's check as much as a new password's
hash, takes one of ``[conductor] max_concurrent_password_checks`` slots:
argon2 costs ``[api] argon2_memory_kib`` of memory and real CPU for each,
and unauthenticated callers can ask for checks at will. A caller that
waits longer than ``[conductor] password_check_wait`` for a slot gets Busy.

A login of an unknown or disabled user is checked against a dummy hash
made with the parameters of new hashes, so it costs what a real check
costs and its timing does not tell which users exist.
"""
import contextlib
import math
import secrets
import threading

import argon2
from oslo_config import cfg

from agent import exception

CONF = cfg.CONF
_LOCK = threading.Lock()
_SLOTS = {}     # size -> BoundedSemaphore
_DUMMY = {}     # (time_cost, memory_kib) -> a hash of a random password


def _slots():
    size = CONF.conductor.max_concurrent_password_checks
    with _LOCK:
        return _SLOTS.setdefault(size, threading.BoundedSemaphore(size))


@contextlib.contextmanager
def _slot():
    wait = CONF.conductor.password_check_wait
    slots = _slots()
    if not slots.acquire(timeout=wait):
        raise exception.Busy(what='password checks',
                             retry_after=max(1, math.ceil(wait)))
    try:
        yield
    finally:
        slots.release()


def _params():
    return CONF.api.argon2_time_cost, CONF.api.argon2_memory_kib


def _hash(password):
    time_cost, memory_kib = _params()
    return argon2.PasswordHasher(time_cost=time_cost,
                                 memory_cost=memory_kib).hash(password)


def hash_password(password):
    """A new argon2id hash of ``password`` ([api] argon2_* parameters)."""
    with _slot():
        return _hash(password)


def _dummy():
    params = _params()
    with _LOCK:
        dummy = _DUMMY.get(params)
    if dummy is None:
        dummy = _hash(secrets.token_hex(16))
        with _LOCK:
            _DUMMY.setdefault(params, dummy)
    return dummy


def check(password_hash, password):
    """Whether ``password`` matches ``password_hash`` (checked with the
    parameters recorded in the hash). None or '' (no such user, a
    disabled one, no password set): checked against the dummy hash for
    the same cost, and False."""
    with _slot():
        try:
            ok = argon2.PasswordHasher().verify(
                password_hash or _dummy(), password)
        except (argon2.exceptions.VerificationError,
                argon2.exceptions.InvalidHashError):
            return False
        return bool(ok and password_hash)
