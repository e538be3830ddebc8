"""Guest statistics for monitoring, from one virConnectGetAllDomainStats.

``GROUPS`` asks for state, CPU, balloon, vCPU, interface and block figures
of every domain in one call. libvirt answers a flat dict per domain
(``'block.0.rd.bytes': 123``...); ``guest_stats`` turns it into a
``virt.driver.GuestStats``. A hypervisor that lacks a group (the test
driver answers only ``state``) gives zeros and empty device lists.

Names and projects come from each domain's ``<hvagent:instance>``
metadata, which costs one libvirt call per domain: ``MetadataCache`` keeps
them by uuid and fetches only the domains it has not seen, dropping the
ones that are gone, so a scrape of an unchanged host makes no such call.
"""
import logging
import threading
import xml.etree.ElementTree as ET

import libvirt

from virt import driver
from virt.libvirt import config
from virt.libvirt import guest as guest_mod

LOG = logging.getLogger(__name__)

GROUPS = (libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL |
          libvirt.VIR_DOMAIN_STATS_BALLOON | libvirt.VIR_DOMAIN_STATS_VCPU |
          libvirt.VIR_DOMAIN_STATS_INTERFACE | libvirt.VIR_DOMAIN_STATS_BLOCK)

_BLOCK = (('rd.bytes', 'read_bytes'), ('rd.reqs', 'read_requests'),
          ('wr.bytes', 'write_bytes'), ('wr.reqs', 'write_requests'))
_NET = (('rx.bytes', 'rx_bytes'), ('rx.pkts', 'rx_packets'),
        ('rx.errs', 'rx_errors'), ('rx.drop', 'rx_drops'),
        ('tx.bytes', 'tx_bytes'), ('tx.pkts', 'tx_packets'),
        ('tx.errs', 'tx_errors'), ('tx.drop', 'tx_drops'))


def _devices(stats, prefix, fields, cls):
    out = []
    for i in range(stats.get(prefix + '.count', 0)):
        key = '%s.%d.' % (prefix, i)
        name = stats.get(key + 'name')
        if name:
            out.append(cls(name, **{attr: stats.get(key + k, 0)
                                    for k, attr in fields}))
    return tuple(out)


def guest_stats(uuid, name, project_id, stats):
    """GuestStats from one domain's bulk stats dict (KiB → bytes)."""
    vcpus = stats.get('vcpu.current', 0)
    return driver.GuestStats(
        uuid=uuid, name=name, project_id=project_id,
        power_state=guest_mod.power_state(stats.get('state.state')),
        vcpus=vcpus,
        memory_max_bytes=stats.get('balloon.maximum', 0) * 1024,
        memory_bytes=stats.get('balloon.current', 0) * 1024,
        cpu_time_ns=stats.get('cpu.time', 0),
        vcpu_time_ns=tuple(stats.get('vcpu.%d.time' % i, 0)
                           for i in range(vcpus)),
        disks=_devices(stats, 'block', _BLOCK, driver.BlockStats),
        interfaces=_devices(stats, 'net', _NET, driver.InterfaceStats))


def read_metadata(domain):
    """(display name, project id) from a domain's hvagent metadata;
    (None, None) when it has none or it cannot be read."""
    try:
        xml = domain.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, config.NS)
        meta = config.Metadata.from_xml(xml)
    except libvirt.libvirtError as e:
        if e.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN_METADATA:
            LOG.debug('No metadata for %s: %s', domain.name(), e)
        return None, None
    except (ValueError, ET.ParseError) as e:
        LOG.warning('Unreadable metadata on domain %s: %s', domain.name(), e)
        return None, None
    return meta.display_name, meta.project_id


class MetadataCache:
    """(name, project id) by domain uuid; see the module docstring."""

    def __init__(self, reader=read_metadata):
        self._reader = reader
        self._by_uuid = {}
        self._lock = threading.Lock()

    def resolve(self, domains):
        """{uuid: (name, project)} for ``[(uuid, virDomain)]``."""
        with self._lock:
            known = self._by_uuid
            fresh = {}
            for uuid, dom in domains:
                entry = known.get(uuid)
                fresh[uuid] = entry if entry is not None else \
                    self._reader(dom)
            self._by_uuid = fresh   # the gone ones are dropped
            return fresh
