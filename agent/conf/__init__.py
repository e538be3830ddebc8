"""oslo.config options for every service, one module per group.

Importing this package registers every option on the global ``cfg.CONF``
(oslo.messaging needs the global object for ``call()``).
"""
from oslo_config import cfg

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

CONF = cfg.CONF

for _module in (default, api, bus, compute, conductor, console, database,
                fake_driver, libvirt, metrics, migration, network, rabbit,
                scheduler, upgrade_levels):
    _module.register_opts(CONF)
