"""Logging for the daemons: stderr, journald-friendly under systemd, and
levels that a SIGHUP can change.

Under systemd (stderr is the journal stream named by $JOURNAL_STREAM) every
line starts with its syslog priority, ``<3>`` error ... ``<7>`` debug, the
sd-daemon(3) convention journald parses into PRIORITY=, and carries no
timestamp (the journal stamps each entry itself). Elsewhere lines keep the
usual ``asctime levelname name: message`` format.
"""
import logging
import sys

from oslo_config import cfg

from agent.daemon import systemd

CONF = cfg.CONF
PLAIN_FORMAT = '%(asctime)s %(levelname)s %(name)s: %(message)s'
JOURNAL_FORMAT = '%(levelname)s %(name)s: %(message)s'

# sd-daemon(3): SD_CRIT "<2>", SD_ERR "<3>", SD_WARNING "<4>", SD_INFO
# "<6>", SD_DEBUG "<7>"; a level in between gets the next lower priority
_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3),
               (logging.WARNING, 4), (logging.INFO, 6))


def syslog_priority(levelno):
    for level, priority in _PRIORITIES:
        if levelno >= level:
            return priority
    return 7


class JournalFormatter(logging.Formatter):
    """``<N>`` before every line of the record, traceback lines included
    (journald splits a write at newlines; a line without the prefix would
    be stored at the stream's default priority, info)."""

    def __init__(self, fmt=JOURNAL_FORMAT):
        super().__init__(fmt)

    def format(self, record):
        prefix = '<%d>' % syslog_priority(record.levelno)
        return '\n'.join(prefix + line
                         for line in super().format(record).split('\n'))


def parse_levels(pairs):
    """{'kombu': 30, ...} from ['kombu=WARNING', ...]; a bad pair is a
    ValueError naming it."""
    levels = {}
    for pair in pairs:
        name, sep, level = pair.partition('=')
        value = logging.getLevelName(level.strip().upper())
        if not sep or not name.strip() or not isinstance(value, int):
            raise ValueError('default_log_levels: %r is not logger=LEVEL '
                             '(DEBUG, INFO, WARNING, ERROR, CRITICAL)' % pair)
        levels[name.strip()] = value
    return levels


_applied = set()   # the loggers default_log_levels set last time


def current_levels():
    """What apply_levels() last set: the root level and the per-logger
    ones, for a reload to say what changed."""
    return {'': logging.getLogger().level,
            **{name: logging.getLogger(name).level
               for name in _applied}}


def apply_levels(conf=CONF):
    """Root at DEBUG or INFO (``debug``), then ``default_log_levels``; a
    logger dropped from the list goes back to following the root."""
    levels = parse_levels(conf.default_log_levels)
    logging.getLogger().setLevel(logging.DEBUG if conf.debug
                                 else logging.INFO)
    for name in _applied - set(levels):
        logging.getLogger(name).setLevel(logging.NOTSET)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    _applied.clear()
    _applied.update(levels)


class _AmqpClosingNoise(logging.Filter):
    """py-amqp warns ``Received method (60, 30) during closing channel 1``
    when the broker's basic.cancel for one of a stopping server's consumers
    crosses the client's channel.close: an ordinary race of every clean
    stop, in which nothing is lost (RPC requests are acknowledged on
    receipt; what was not delivered stays queued). Kept at DEBUG, so a
    warning in the journal means something again."""

    TEXT = 'Received method %s during closing channel %s'

    def filter(self, record):
        if not str(record.msg).startswith(self.TEXT):
            return True
        record.levelno, record.levelname = logging.DEBUG, 'DEBUG'
        return logging.getLogger().isEnabledFor(logging.DEBUG)


_AMQP_FILTER = _AmqpClosingNoise()


def setup(conf=CONF, stream=None, journal=None):
    """One stderr handler, formatted for the journal when stderr is it."""
    stream = sys.stderr if stream is None else stream
    if journal is None:
        try:
            journal = systemd.stderr_is_journal(fd=stream.fileno())
        except (AttributeError, OSError, ValueError):   # not a real file
            journal = False
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JournalFormatter() if journal
                         else logging.Formatter(PLAIN_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    logging.getLogger('amqp').addFilter(_AMQP_FILTER)
    apply_levels(conf)
    return handler


def describe_change(before, after):
    """'root INFO -> DEBUG, kombu WARNING -> (root)' or '' if equal."""
    changes = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name, 0), after.get(name, 0)
        if old != new:
            changes.append('%s %s -> %s' % (name or 'root', _name(old),
                                             _name(new)))
    return ', '.join(changes)


def _name(level):
    return '(root)' if level == logging.NOTSET else logging.getLevelName(level)
