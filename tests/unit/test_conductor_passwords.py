"""The conductor's password hashing: argon2id, a dummy for missing
hashes, and bounded concurrency (cheap argon2 parameters)."""
import threading

import pytest
from oslo_config import cfg

from agent import exception
from agent.conductor import passwords

CONF = cfg.CONF


@pytest.fixture(autouse=True)
def cheap():
    CONF.set_override('argon2_time_cost', 1, 'api')
    CONF.set_override('argon2_memory_kib', 8192, 'api')
    yield
    CONF.clear_override('argon2_time_cost', 'api')
    CONF.clear_override('argon2_memory_kib', 'api')


def test_hash_and_check():
    hashed = passwords.hash_password('s3cret-pass')
    assert hashed.startswith('$argon2id$') and 'm=8192,t=1' in hashed
    assert passwords.check(hashed, 's3cret-pass')
    assert not passwords.check(hashed, 'wrong')
    assert not passwords.check('not a hash', 'wrong')


@pytest.mark.parametrize('missing', [None, ''])
def test_missing_hash_is_checked_against_the_dummy_and_fails(missing):
    assert not passwords.check(missing, 'anything')
    dummy = passwords._DUMMY[(1, 8192)]
    assert dummy.startswith('$argon2id$') and 'm=8192,t=1' in dummy


def test_checks_beyond_the_slots_wait_then_are_refused():
    CONF.set_override('max_concurrent_password_checks', 1, 'conductor')
    CONF.set_override('password_check_wait', 0.2, 'conductor')
    held, done = threading.Event(), threading.Event()

    def hold():
        with passwords._slot():
            held.set()
            done.wait()
    t = threading.Thread(target=hold)
    t.start()
    try:
        held.wait()
        with pytest.raises(exception.Busy) as e:
            passwords.check(None, 'x')
        assert e.value.kwargs['retry_after'] == 1
    finally:
        done.set()
        t.join()
        CONF.clear_override('max_concurrent_password_checks', 'conductor')
        CONF.clear_override('password_check_wait', 'conductor')
    assert not passwords.check(None, 'x')
