"""The console URL a user is given for a token: ``[console]
serial_base_url`` or ``novnc_base_url`` with the token appended (what
hvagent-api answers and hvctl prints over the bus)."""
from oslo_config import cfg

CONF = cfg.CONF


def console_url(protocol: str, token: str) -> str:
    base = CONF.console.serial_base_url if protocol == 'serial' else \
        CONF.console.novnc_base_url
    return '%s%stoken=%s' % (base, '&' if '?' in base else '?', token)
