"""[oslo_messaging_rabbit]: oslo.messaging's RabbitMQ options, with the
defaults hvagent needs to come back quickly after a broker outage.

oslo.messaging's own defaults space reconnection attempts further and
further apart, up to 30 s (``rabbit_interval_max``) plus
``kombu_reconnect_delay``: a service could stay away for ~30 s after the
broker is back. hvagent retries every 1, 2, 3, 4, 4... s instead, so every
service consumes again within about 5 s of the broker's return. Only the
options whose default changes, and the TLS ones (``ssl``, ``ssl_ca_file``,
``ssl_cert_file``, ``ssl_key_file``: docs/tls.md) and the one a RabbitMQ
cluster needs (``rabbit_quorum_queue``: docs/reliability.md), are listed
in the sample; every other oslo.messaging option keeps its library default and
can still be set.
"""
import copy

from oslo_messaging import opts as messaging_opts

group = 'oslo_messaging_rabbit'

DEFAULTS = {
    'rabbit_retry_interval': 1,      # first wait before reconnecting
    'rabbit_retry_backoff': 1,       # + 1 s per failed attempt...
    'rabbit_interval_max': 4,        # ... up to 4 s (oslo: 30 s)
    'kombu_reconnect_delay': 0.5,    # extra pause per attempt (oslo: 1 s)
}
#: listed in the sample with the library's defaults (docs/tls.md)
TLS = ('ssl', 'ssl_ca_file', 'ssl_cert_file', 'ssl_key_file')
#: listed with the library's default: a cluster's durable topics
CLUSTER = ('rabbit_quorum_queue',)


def _library_opts():
    return dict(messaging_opts.list_opts())[group]


def _with_defaults():
    listed = []
    for opt in _library_opts():
        if opt.name in DEFAULTS:
            opt = copy.deepcopy(opt)
            opt.default = DEFAULTS[opt.name]
            listed.append(opt)
        elif opt.name in TLS + CLUSTER:
            listed.append(opt)
    return listed


opts = _with_defaults()


def register_opts(conf):
    """Register the library's options as they are (the driver registers
    the same ones again when the transport is made) and override the
    defaults above."""
    conf.register_opts(_library_opts(), group=group)
    for name, value in DEFAULTS.items():
        conf.set_default(name, value, group=group)
