"""agent.rpc.outage and agent.rpc.link: one log line per kind of bus
trouble, not one per attempt."""
import logging

from agent.rpc import outage

TEMPLATE = '[%s] AMQP server on %s:%d is unreachable: %s. Trying again'


def record(args, level=logging.ERROR, name='oslo.messaging._drivers.x'):
    return logging.LogRecord(name, level, __file__, 1, TEMPLATE, args, None)


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def test_repeats_dropped_until_reset_or_window():
    clock = Clock()
    f = outage.RepeatFilter(window=300, clock=clock)
    assert f.filter(record(('c1', '127.0.0.1', 5672, 'refused')))
    # another connection, another error text: the same kind of line
    assert not f.filter(record(('c2', '127.0.0.1', 5672, 'reset')))
    assert not f.filter(record(('c1', '127.0.0.1', 5673, 'refused')))
    # a different kind, and anything below WARNING, pass
    other = logging.LogRecord('oslo.messaging._drivers.x', logging.ERROR,
                              __file__, 1, 'Connection failed: %s', ('x',),
                              None)
    assert f.filter(other)
    assert f.filter(record(('c1', 'h', 1, 'e'), level=logging.INFO))
    # past the window the next one passes and says what was left out
    clock.now = 301
    late = record(('c3', '127.0.0.1', 5672, 'refused'))
    assert f.filter(late)
    assert late.getMessage().endswith('(2 like it in the last 301 s not '
                                      'logged)')
    # the bus came back: the next outage is logged at once
    f.reset()
    assert f.filter(record(('c4', '127.0.0.1', 5672, 'refused')))


def test_installed_on_the_driver_loggers_once():
    outage.quiet_reconnect_logs()
    outage.quiet_reconnect_logs()
    for name in outage.NOISY_LOGGERS:
        assert logging.getLogger(name).filters.count(outage._FILTER) == 1
