"""Entry point for oslo-config-generator (namespace "hvagent").

The transport options oslo.messaging registers itself are listed under
[DEFAULT] too, so the sample documents transport_url.
"""
from oslo_messaging import opts as messaging_opts

from agent.conf import api
from agent.conf import bus
from agent.conf import compute
from agent.conf import conductor
from agent.conf import console
from agent.conf import database
from agent.conf import default
from agent.conf import fake_driver
from agent.conf import libvirt
from agent.conf import metrics
from agent.conf import migration
from agent.conf import network
from agent.conf import rabbit
from agent.conf import scheduler
from agent.conf import upgrade_levels

TRANSPORT_OPTS = ('transport_url', 'rpc_response_timeout',
                  'executor_thread_pool_size', 'control_exchange')


def list_opts():
    transport = [o for o in dict(messaging_opts.list_opts())[None]
                 if o.name in TRANSPORT_OPTS]
    return [
        ('DEFAULT', default.opts + transport),
        (api.group, api.opts + api.limit_opts),
        (bus.group, bus.opts),
        (compute.group, compute.opts),
        (conductor.group, conductor.opts),
        (console.group, console.opts),
        (database.group, database.opts),
        (fake_driver.group, fake_driver.opts),
        (libvirt.group, libvirt.opts),
        (metrics.group, metrics.opts),
        (migration.group, migration.opts),
        (network.group, network.opts),
        (rabbit.group, rabbit.opts),
        (api.quota_group, api.quota_opts),
        (scheduler.group, scheduler.opts),
        (upgrade_levels.group, upgrade_levels.opts),
    ]
