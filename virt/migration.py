"""What a driver is given and gives back when a guest moves between hosts.

The conductor orchestrates a live migration; each agent calls its own
driver, and agents never talk to each other:

  destination  ``incoming_target()`` -- where it accepts a guest (reported
               to the conductor, checked there, given to the source);
               ``prepare_incoming(spec, shared)`` -- the guest's files
               (overlay on the cached base image, config drive) ready
               before the move; ``finish_incoming(uuid)`` after it;
               ``cleanup_incoming(uuid)`` when it failed or was aborted.
  source       ``live_migrate(uuid, dest, options, progress)`` -- blocks
               until the guest runs on the destination (then the source's
               domain is gone) or raises MigrationFailed / MigrationAborted
               (then it still runs here); ``abort_live_migration`` and
               ``force_complete_live_migration`` from another thread;
               ``live_migration_job(uuid)`` for an agent that restarted
               mid-move; ``cleanup_migrated_source(uuid)`` once the
               conductor has switched the instance to the destination.

The values here are plain data: no RPC, no database.
"""
import dataclasses
import ipaddress
import re
import socket

_HOSTNAME = re.compile(
    r'^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)'
    r'(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$')


def check_address(value: str) -> str:
    """``value`` if it is an IP address or a DNS host name, else
    ValueError: an address a destination reports ends up in a URI the
    source's libvirtd connects to, so nothing else may pass. Refused too:
    a scoped IPv6 address (its zone, ``%<anything>``, would go into the
    URI), a trailing newline, and a name resolvers would read as an IPv4
    address in another spelling (``0x7f.1``, ``127.1``, ``01.2.3.4``)."""
    if not isinstance(value, str):
        raise ValueError('not an IP address or host name: %r' % (value,))
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        pass
    else:
        if getattr(address, 'scope_id', None) is not None:
            raise ValueError('a scoped IPv6 address is not accepted: %r'
                             % (value,))
        return str(address)
    if not _HOSTNAME.fullmatch(value):
        raise ValueError('not an IP address or host name: %r' % (value,))
    if value.rsplit('.', 1)[-1].isdigit() or _inet_aton(value):
        raise ValueError('an IPv4 address in another spelling is not '
                         'accepted: %r' % (value,))
    return value


def _inet_aton(value: str) -> bool:
    try:
        socket.inet_aton(value)
    except OSError:
        return False
    return True


@dataclasses.dataclass(frozen=True)
class MigrationTarget:
    """Where a destination accepts guests: ``address`` (an IP address or
    host name, see check_address) for the migration stream, and whether
    its instances directory is shared with other hosts."""
    address: str
    shared_storage: bool = False


@dataclasses.dataclass(frozen=True)
class LiveMigrationOptions:
    #: copy the guest's root disk (overlay) to the destination; False
    #: when both hosts see the same instances directory
    block_migration: bool = True
    #: the most the guest may stand still at the switch-over (ms)
    max_downtime_ms: int = 500
    #: give up (abort; the guest stays on the source) after this long
    completion_timeout_s: float = 800.0
    #: what to do at the timeout: 'abort' or 'force_complete' (pause the
    #: guest so its memory stops changing, then finish)
    timeout_action: str = 'abort'
    #: MiB/s, 0 for no limit
    bandwidth_mibps: int = 0
    #: encrypt the migration stream (libvirt native TLS)
    native_tls: bool = False
    #: seconds between progress reports
    poll_interval_s: float = 0.5


@dataclasses.dataclass(frozen=True)
class MigrationProgress:
    """A running migration as the source's hypervisor reports it."""
    elapsed_ms: int = 0
    memory_total_bytes: int = 0
    memory_processed_bytes: int = 0
    memory_remaining_bytes: int = 0
    disk_total_bytes: int = 0
    disk_processed_bytes: int = 0
    disk_remaining_bytes: int = 0
    #: the hypervisor's estimate of the switch-over pause, then the
    #: downtime it measured once the migration completed
    downtime_ms: int | None = None
    #: QEMU's dirty-page pass count (how often memory was re-sent)
    iterations: int = 0
