"""Failed-login throttling (pure logic, a fake clock)."""
import threading

import pytest
from oslo_config import cfg

from agent import exception
from agent.api import throttle

CONF = cfg.CONF


class Clock:
    now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def counter():
    CONF.set_override('login_failures_per_user', 3, 'api')
    CONF.set_override('login_failures_per_address', 5, 'api')
    CONF.set_override('login_failure_window', 60, 'api')
    CONF.set_override('max_concurrent_logins', 2, 'api')
    yield throttle.FailureCounter(clock=Clock())
    CONF.clear_override('login_failures_per_user', 'api')
    CONF.clear_override('login_failures_per_address', 'api')
    CONF.clear_override('login_failure_window', 'api')
    CONF.clear_override('max_concurrent_logins', 'api')


def fail(counter, user, address='a1'):
    with pytest.raises(exception.NotAuthenticated):
        with counter.attempt('logins', user=user, address=address):
            raise exception.NotAuthenticated(reason='invalid credentials')


def test_user_throttled_after_its_limit_until_the_window_passes(counter):
    for _ in range(3):
        fail(counter, 'alice')
    with pytest.raises(exception.Throttled) as e:
        counter.begin('logins', user='alice', address='a2')
    assert e.value.kwargs['retry_after'] == 60
    counter.clock.now += 30
    with pytest.raises(exception.Throttled) as e:
        counter.begin('logins', user='alice', address='a2')
    assert e.value.kwargs['retry_after'] == 30
    counter.begin('logins', user='bob', address='a1')   # others not
    counter.clock.now += 31
    counter.begin('logins', user='alice', address='a2')


def test_address_throttled_across_user_names(counter):
    for i in range(5):
        fail(counter, 'u%d' % i)
    with pytest.raises(exception.Throttled):
        counter.begin('logins', user='fresh', address='a1')
    counter.begin('logins', user='fresh', address='a2')


def test_success_and_errors_without_verdict_are_not_counted(counter):
    for _ in range(5):
        with counter.attempt('logins', user='alice', address='a1'):
            pass
        with pytest.raises(exception.Busy):
            with counter.attempt('logins', user='alice', address='a1'):
                raise exception.Busy(what='password checks',
                                     retry_after=1)
    fail(counter, 'alice')
    fail(counter, 'alice')


def test_attempts_in_flight_count_before_they_fail(counter):
    """Parallel attempts cannot all pass the check before one fails."""
    for _ in range(3):
        counter.begin('logins', user='alice', address='a1')
    with pytest.raises(exception.Throttled):
        counter.begin('logins', user='alice', address='a1')


def test_at_most_max_concurrent_logins_in_flight(counter):
    inside, release = threading.Barrier(3), threading.Event()

    def hold(user):
        with counter.attempt('logins', user=user, address=user):
            inside.wait()
            release.wait()
    threads = [threading.Thread(target=hold, args=('u%d' % i,))
               for i in range(2)]
    for t in threads:
        t.start()
    inside.wait()
    with pytest.raises(exception.Busy):
        with counter.attempt('logins', user='u9', address='u9'):
            pass
    release.set()
    for t in threads:
        t.join()
    with counter.attempt('logins', user='u9', address='u9'):
        pass


def test_tracked_keys_are_bounded(counter, monkeypatch):
    monkeypatch.setattr(throttle, 'MAX_KEYS', 10)
    for i in range(50):
        counter.begin('logins', user='u%d' % i, address='a%d' % i)
    assert len(counter._stamps) == 10
