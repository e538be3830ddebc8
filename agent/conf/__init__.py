"""oslo.config options for every service, one module per group.

Importing this package registers every option on the global ``cfg.CONF``
(oslo.messaging needs the global object for ``call()``).
"""
from oslo_config import cfg

from agent.conf import api, bus, compute, conductor, database, default, \
    fake_driver, libvirt, metrics, network, rabbit, scheduler, upgrade_levels

CONF = cfg.CONF

for _module in (default, api, bus, compute, conductor, database, fake_driver,
                libvirt, metrics, network, rabbit, scheduler, upgrade_levels):
    _module.register_opts(CONF)
