"""Errors that cross service boundaries.

Each carries a readable message; oslo.messaging re-raises them on the
calling side because this module is listed in allowed_remote_exmods.
"""
from typing import Any


class HVAgentError(Exception):
    msg = 'An unknown error occurred'

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        self.kwargs = kwargs
        super().__init__(message or (self.msg % kwargs if kwargs
                                     else self.msg))


class NotAvailable(HVAgentError):
    """Something a service needs to start did not come within
    ``[DEFAULT] start_wait_timeout`` (service.wait_for)."""
    msg = '%(what)s not there after %(seconds)s s: %(reason)s'


class ObjectValidationError(HVAgentError, ValueError):
    msg = 'Invalid object'


class InvalidRPCPayload(HVAgentError, ValueError):
    msg = 'Invalid RPC payload'


class RPCVersionCapped(HVAgentError):
    """A message needs a newer RPC version than [upgrade_levels] allows."""
    msg = ('%(method)s needs %(service)s RPC version %(version)s; '
           '[upgrade_levels] %(service)s caps this node at %(cap)s (some '
           '%(service)s services still run an older release)')


class NotFound(HVAgentError):
    msg = 'Not found'


class TokenNotFound(NotFound):
    msg = 'The token %(token)s could not be found: %(reason)s'


class InstanceNotFound(NotFound):
    msg = 'Instance %(instance)s could not be found'


class FlavorNotFound(NotFound):
    msg = 'Flavor %(flavor)s could not be found'


class ComputeHostNotFound(NotFound):
    msg = 'Compute host %(host)s could not be found'


class ServiceNotFound(NotFound):
    msg = 'Service %(binary)s on host %(host)s could not be found'


class ServiceNotDisableable(HVAgentError, ValueError):
    """Only a compute service can be disabled: a disabled conductor or
    scheduler would go on serving as before."""
    msg = ('Only hvagent-compute services can be disabled or enabled, not '
           '%(binary)s (on host %(host)s)')


class VolumeNotFound(NotFound):
    msg = 'Volume %(volume_id)s is not attached to instance %(instance)s'


class MigrationNotFound(NotFound):
    msg = 'Migration %(migration)s could not be found'


class MigrationInvalidState(HVAgentError):
    """A step of a move that came too late or too early (the move was
    cancelled, failed or is past that step)."""
    msg = ('Cannot %(action)s migration %(migration)s while it is '
           '%(status)s')


class MigrationPreCheckError(HVAgentError, ValueError):
    msg = 'Cannot migrate %(instance)s: %(reason)s'


class ResizeRefused(HVAgentError, ValueError):
    """A resize (or cold migration) that cannot be: to the same flavor,
    to a smaller disk, of an instance in a state that does not allow it."""
    msg = 'Cannot resize %(instance)s: %(reason)s'


class ComputeNodeHostMismatch(HVAgentError):
    """A node reports under another host name than the one recorded."""
    msg = ('Compute node %(node)s belongs to host %(owner)s, not %(host)s. '
           'If this machine was renamed, keep its identity with '
           '"[DEFAULT] host = %(owner)s" in hvagent.conf; to make it a new '
           'node instead, delete the old one and remove %(identity)s.')


class ComputeHostTaken(HVAgentError):
    msg = ('Host %(host)s is already registered as compute node %(owner)s, '
           'not %(node)s: another machine uses this host name, or this '
           'one lost its identity file %(identity)s. Give it a unique '
           '"[DEFAULT] host" or restore the file.')


class InstanceInvalidState(HVAgentError):
    msg = ('Cannot %(action)s instance %(instance)s while '
           'vm_state=%(vm_state)s task_state=%(task_state)s')


class NoRoomToResume(InstanceInvalidState):
    msg = ('Cannot resume instance %(instance)s: its host %(host)s has not '
           'the %(vcpus)s vCPUs and %(memory_mb)s MiB of RAM free that it '
           'gave up while suspended (other instances took them); it stays '
           'suspended: try again when the host has room')


class InstanceIsolated(InstanceInvalidState):
    msg = ('Cannot %(action)s instance %(instance)s: it is isolated (a '
           'security quarantine); it may be stopped, deleted or released')


class UnexpectedTaskState(HVAgentError):
    msg = ('Instance %(instance)s has task_state %(actual)s, expected '
           '%(expected)s')


class NetworkNotFound(NotFound):
    msg = 'Network %(network)s could not be found'


class SecurityGroupNotFound(NotFound):
    msg = 'Security group %(group)s could not be found'


class SecurityGroupRuleNotFound(NotFound):
    msg = 'Security group rule %(rule)s could not be found'


class InvalidSecurityGroupRule(HVAgentError, ValueError):
    msg = '%(reason)s'


class AdminRequired(HVAgentError, ValueError):
    """A setting only an admin may change (a 400 to anyone else: the
    REST API never offers it to them)."""
    msg = 'Only an admin may %(what)s'


class NetworkInUse(HVAgentError):
    msg = 'Network %(network)s still has %(ports)d port(s)'


class NetworkFull(HVAgentError):
    msg = 'No free IP address left in network %(network)s'


class SubnetExists(HVAgentError):
    msg = ('Network %(network)s has its subnet already (%(subnet)s): an '
           'hvagent network has one subnet')


class NetworkHasNoSubnet(HVAgentError, ValueError):
    msg = 'Network %(network)s has no subnet yet: create its subnet first'


class InvalidNetwork(HVAgentError, ValueError):
    msg = 'Invalid network: %(reason)s'


class InstanceNotOnHost(HVAgentError):
    msg = 'Instance %(instance)s belongs to host %(actual)s, not %(host)s'


class NoValidHost(HVAgentError):
    msg = 'No valid host: %(reason)s'


class ClaimFailed(HVAgentError):
    msg = 'Claim on host %(host)s failed: %(reason)s'


class VirtDriverError(HVAgentError):
    msg = 'Virt driver error: %(reason)s'


class SuspendFailed(VirtDriverError):
    """The hypervisor could not save a guest's memory (a full disk...);
    the guest runs on as it was."""
    msg = 'Instance %(instance)s cannot be suspended: %(reason)s'


class SnapshotFailed(VirtDriverError):
    """A snapshot's copy or upload failed or was refused (a full disk,
    the image quota, the image deleted meanwhile); the guest runs on as
    it was and the image is removed."""
    msg = 'Snapshot of instance %(instance)s failed: %(reason)s'


class VolumeExtendFailed(VirtDriverError):
    """The hypervisor could not grow an attached volume (not attached, a
    full disk...): the guest keeps it as it was, the instance is fine."""
    msg = 'Volume %(volume_id)s of %(instance)s cannot be extended: %(reason)s'


class VolumeUnusable(VirtDriverError):
    """The driver refuses a volume's connection info (kind, path, format)
    before touching the guest: the attach is refused, the instance is fine.
    """
    msg = 'Volume %(volume_id)s cannot be attached: %(reason)s'


class DiskFull(VirtDriverError):
    """A write on this host failed for want of space (ENOSPC, EDQUOT)."""
    msg = 'No space left on device at %(path)s (%(what)s)'


class MigrationFailed(VirtDriverError):
    """A live migration ended without the guest on the destination; the
    guest still runs on the source."""
    msg = 'Live migration of %(instance)s failed: %(reason)s'


class ColdMigrationFailed(MigrationFailed):
    """A resize or cold migration step failed on this host."""
    msg = 'Resize or cold migration of %(instance)s failed: %(reason)s'


class MigrationAborted(MigrationFailed):
    msg = 'Live migration of %(instance)s was aborted: %(reason)s'


class InstanceExists(VirtDriverError):
    msg = 'Guest for instance %(instance)s already exists'


class GuestNotFound(VirtDriverError):
    msg = 'No guest for instance %(instance)s on this host'


class HypervisorUnavailable(VirtDriverError):
    msg = 'Hypervisor at %(uri)s is unavailable: %(reason)s'


class HypervisorTimeout(VirtDriverError):
    msg = ('Hypervisor at %(uri)s did not answer %(call)s within '
           '%(seconds)ss (libvirtd hung or overloaded?)')


class DuplicateName(HVAgentError):
    msg = 'An instance named %(name)s already exists in project %(project)s'


class OperationNotSupported(HVAgentError):
    msg = 'The %(driver)s virt driver cannot %(operation)s'


class ImageNotFound(NotFound):
    msg = 'Image %(image)s could not be found: %(reason)s'


class ImageUnacceptable(HVAgentError):
    msg = 'Image %(image)s is unacceptable: %(reason)s'


class ImageTooLarge(ImageUnacceptable):
    msg = ("Image %(image)s is unacceptable: image virtual size %(size)s GiB "
           "exceeds the flavor's root disk %(root_gb)s GiB")


class ImageDownloadFailed(HVAgentError):
    msg = 'Download of image %(image)s failed: %(reason)s'


class Conflict(HVAgentError):
    msg = '%(what)s already exists'


class FloatingIPNotFound(NotFound):
    msg = 'Floating IP %(ref)s could not be found'


class PortNotFound(NotFound):
    msg = 'Port %(port)s could not be found'


class PortNotDetachable(Conflict):
    msg = 'Port %(port)s cannot be detached: %(reason)s'


class FloatingIPInUse(Conflict):
    msg = ('Floating IP %(address)s is associated with instance '
           '%(instance)s; disassociate it first')


class PortHasFloatingIP(Conflict):
    msg = 'Port %(port)s already has floating IP %(address)s'


class SecurityGroupInUse(Conflict):
    msg = ('Security group %(group)s is used by %(ports)d port(s); remove '
           'it from their servers first')


class PortSecurityDisabled(Conflict):
    msg = ('Port %(port)s has port security disabled: it takes no security '
           'groups (an admin turns port security back on first)')


class PortHasSecurityGroups(Conflict):
    msg = ('Port %(port)s has security groups; remove them before turning '
           'its port security off')


class ProjectNotEmpty(Conflict):
    msg = ('Project %(project)s still holds %(held)s; delete them before '
           'the project')


class FixedIPInUse(Conflict):
    msg = 'Fixed IP %(address)s is in use'


class FixedIPNotFound(NotFound):
    msg = 'Fixed IP reservation %(ref)s could not be found'


class ProjectNotFound(NotFound):
    msg = 'Project %(project)s could not be found'


class UserNotFound(NotFound):
    msg = 'User %(user)s could not be found'


class KeyPairNotFound(NotFound):
    msg = 'Key pair %(name)s could not be found'


class NotAuthenticated(HVAgentError):
    """Bad credentials, or a token that is invalid, expired or revoked."""
    msg = 'The request could not be authenticated: %(reason)s'


class BusNotTrusted(HVAgentError):
    """An RPC message not signed by a principal the receiving server
    trusts, or a principal acting outside its scope (a compute node on
    another host's instance)."""
    msg = 'Refused on the message bus: %(reason)s'


class BusKeyMissing(BusNotTrusted):
    """No bus key on this host yet: on a controller node hvagent-conductor
    creates the bus secret at its first start (service.wait_for_bus_key
    waits for it)."""


class Busy(HVAgentError):
    """Too many of one costly thing at once (password checks): the
    caller should come back after ``retry_after`` seconds (503)."""
    msg = ('Too many %(what)s at once; try again in %(retry_after)d '
           'seconds')


class DatabaseBusy(Busy):
    """The database server had no connection slot left for the whole of
    ``[database] connect_wait`` (its max_connections, or the account's
    limit, is taken): 503, come back later."""
    msg = ('The database has no free connection (%(reason)s) after '
           'waiting %(seconds)s s; try again in %(retry_after)d seconds')


class Throttled(HVAgentError):
    """Too many failed attempts from one user or address (429)."""
    msg = ('Too many failed %(what)s; try again in %(retry_after)d '
           'seconds')


class VolumeInUse(Conflict):
    msg = ('Volume %(volume_id)s is attached to %(instance)s: a volume has '
           'one attachment at most')


class TooLarge(HVAgentError):
    msg = '%(what)s is larger than the %(limit)d bytes allowed (%(option)s)'


class QuotaExceeded(HVAgentError):
    msg = ('Quota exceeded for %(resource)s: requested %(requested)d, '
           'in use %(in_use)d, limit %(limit)d')


def text(exc: BaseException) -> str:
    """The readable message of an exception, also for one raised remotely
    (oslo.messaging appends the remote traceback to ``str()`` of those)."""
    if isinstance(exc, HVAgentError) and exc.args:
        return str(exc.args[0])
    return str(exc).split('\nTraceback', 1)[0].strip()


def fault_message(exc: BaseException) -> str:
    """A message a user can read: ours as they are, others with their
    type."""
    if isinstance(exc, HVAgentError):
        msg = text(exc)
    else:
        msg = ('%s: %s' % (type(exc).__name__, text(exc))).rstrip(': ')
    return msg[:1024]


class ConsoleTypeUnavailable(HVAgentError, ValueError):
    """The guest has no console of this kind (not enabled on its host, or
    defined before it was)."""
    msg = 'Instance %(instance)s has no %(protocol)s console: %(reason)s'


class ConsoleTokenInvalid(NotFound):
    """Unknown, expired, used, or its instance moved or went: one message
    for all, so a caller learns nothing about other people's tokens."""
    msg = 'The console token is invalid, expired or already used'


class ComputeHostUnreachable(HVAgentError):
    """A call to a compute agent got no answer (the agent is down or
    restarting): try again later (503)."""
    msg = 'The compute host %(host)s did not answer %(what)s; try again later'
