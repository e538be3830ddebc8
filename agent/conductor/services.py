"""The operators' switch on a compute host (nova's os-services): disable
it, with a reason, and the scheduler places no new instance there; enable
it and placement resumes. What runs on the host is left alone.

Admins only, on the controllers' topic ``conductor_api`` (a compute
node's bus key cannot reach it). The scheduler reads the change at its
next host-cache refresh (``[scheduler] host_state_refresh_interval``);
a boot it then cannot place ends in error with "No valid host: ...
ComputeFilter rejected N (down or disabled)".
"""
import logging

import oslo_messaging as messaging
from oslo_config import cfg

from agent import exception
from agent.conductor import endpoint
from agent.db import api as db
from agent.db import to_objects
from agent.objects import fields as f
from agent.objects import models as object_models
from agent.rpc import checks

CONF = cfg.CONF
LOG = logging.getLogger(__name__)
#: what a reason may be: printable text that fits services.disabled_reason
REASON = f.Text(max_length=255, nullable=True)


class ServiceManager(endpoint.Endpoint):
    target = messaging.Target(version='1.11')  # see conductor_rpcapi.ConductorAPI

    @checks.expects(host=f.String(max_length=255),
                    binary=f.String(max_length=64),
                    disabled=f.Boolean(), disabled_reason=REASON)
    def service_update(self, ctxt, host, binary, disabled, disabled_reason):
        """Disable (``disabled_reason``: why, or None) or enable (the
        reason cleared) ``binary`` on ``host``; the Service."""
        if not ctxt.is_admin:
            raise exception.AdminRequired(what='disable or enable a service')
        if binary in object_models.SERVICE_BINARIES and \
                binary != object_models.COMPUTE_BINARY:
            raise exception.ServiceNotDisableable(host=host, binary=binary)
        with self._session() as s:
            row = db.service_set_disabled(s, host, binary, disabled,
                                          disabled_reason or None)
            service = to_objects.service(row, CONF.service_down_time)
        LOG.info('%s %s on %s (by %s%s)', 'Disabled' if disabled
                 else 'Enabled', binary, host, ctxt.user_id,
                 ': %s' % service.disabled_reason
                 if service.disabled_reason else '')
        return service
