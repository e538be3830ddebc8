"""Live migration of libvirt guests (the driver's half of virt.migration).

Peer to peer: the source's libvirtd connects to the destination's at
``peer_uri`` (operator config on the source: ``[libvirt]
live_migration_uri``, never a URI another host sent) and QEMU streams the
guest to ``tcp://<target.address>``, an address the destination reported,
checked here again with ``virt.migration.check_address`` before it goes
into the URI. Flags: live, peer to peer, persistent on the destination,
undefined on the source once it runs there; ``NON_SHARED_INC`` for a block
migration, which copies only the root overlay (``migrate_disks``: never
the config drive cdrom, never a volume), the destination having made the
overlay on its own cached copy of the base image and the config drive
beforehand (``prepare_incoming``; libvirt never copies a cdrom).

The blocking ``virDomainMigrateToURI3`` runs in a thread of its own; the
caller's thread polls the job every ``poll_interval_s`` for progress, sets
the maximum downtime once the job runs, and enforces the completion
timeout (abort, or pause the guest so it finishes). The final figures come
from libvirt's JOB_COMPLETED event on the source (the domain is gone from
the source by the time the call returns, and its completed-job statistics
with it). A failure or abort leaves the guest running on the source; the
error says why in one line.

The destination's console log starts at the move (its virtlogd opens a new
file at the same path); the history before it stays in the source's file,
which ``cleanup_migrated_source`` removes with the guest's directory.

The pure parts (flags, parameters, the figures) are functions of their
arguments, tested without libvirt.
"""
import concurrent.futures
import contextlib
import logging
import shutil
import threading
import time
import uuid as uuidlib
import xml.etree.ElementTree as ET

import libvirt
from oslo_config import cfg

from agent import exception
from virt import migration

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

BASE_FLAGS = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER |
              libvirt.VIR_MIGRATE_PERSIST_DEST |
              libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)
TIMEOUT_ACTIONS = ('abort', 'force_complete')
#: paused by the move itself, not by a user: finish_incoming resumes these
_MOVE_PAUSES = (libvirt.VIR_DOMAIN_PAUSED_MIGRATION,
                libvirt.VIR_DOMAIN_PAUSED_POSTCOPY)
#: how long live_migrate waits for the JOB_COMPLETED event after the call
_EVENT_WAIT = 5


# ------------------------------------------------------------ pure parts
def migrate_flags(options):
    """virDomainMigrateToURI3 flags for ``options``."""
    flags = BASE_FLAGS
    if options.block_migration:
        flags |= libvirt.VIR_MIGRATE_NON_SHARED_INC
    if options.native_tls:
        flags |= libvirt.VIR_MIGRATE_TLS
    return flags


def stream_uri(address):
    """``tcp://<address>`` of a checked address (IPv6 in brackets);
    ValueError for anything but an IP address or host name."""
    address = migration.check_address(address)
    return 'tcp://[%s]' % address if ':' in address else 'tcp://' + address


def migrate_params(address, options, disks):
    """virDomainMigrateToURI3 parameters: the stream to ``address``, the
    ``disks`` (target devs) to copy on a block migration, the bandwidth."""
    params = {libvirt.VIR_MIGRATE_PARAM_URI: stream_uri(address)}
    if options.block_migration:
        params[libvirt.VIR_MIGRATE_PARAM_MIGRATE_DISKS] = list(disks)
    if options.bandwidth_mibps:
        params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = options.bandwidth_mibps
    return params


def check_options(options):
    """ValueError unless ``options`` can be carried out."""
    if options.timeout_action not in TIMEOUT_ACTIONS:
        raise ValueError('timeout_action must be one of %s, not %r'
                         % (', '.join(TIMEOUT_ACTIONS),
                            options.timeout_action))
    for name in ('max_downtime_ms', 'bandwidth_mibps'):
        if getattr(options, name) < 0:
            raise ValueError('%s must not be negative' % name)
    if options.poll_interval_s <= 0 or options.completion_timeout_s <= 0:
        raise ValueError('poll_interval_s and completion_timeout_s must be '
                         'positive')


def disks_to_copy(domain_xml, root_path):
    """Target devs of the file disks whose source is ``root_path`` (the
    root overlay): never a cdrom, a volume or anything else."""
    root = ET.fromstring(domain_xml)
    return [d.find('target').get('dev')
            for d in root.iterfind('devices/disk')
            if d.get('device', 'disk') == 'disk' and
            d.find('source') is not None and
            d.find('source').get('file') == root_path]


def progress_from_stats(stats):
    """A MigrationProgress from a virDomainGetJobStats dict (or a
    JOB_COMPLETED event's parameters)."""
    def n(key):
        return int(stats.get(key) or 0)
    downtime = stats.get('downtime')
    return migration.MigrationProgress(
        elapsed_ms=n('time_elapsed'),
        memory_total_bytes=n('memory_total'),
        memory_processed_bytes=n('memory_processed'),
        memory_remaining_bytes=n('memory_remaining'),
        disk_total_bytes=n('disk_total'),
        disk_processed_bytes=n('disk_processed'),
        disk_remaining_bytes=n('disk_remaining'),
        downtime_ms=None if downtime is None else int(downtime),
        iterations=n('memory_iteration'))


def checked_uuid(uuid):
    """``uuid`` if it is an instance uuid in canonical form, else
    ValueError: it names a directory these methods make or remove."""
    try:
        if isinstance(uuid, str) and str(uuidlib.UUID(uuid)) == uuid:
            return uuid
    except ValueError:
        pass
    raise ValueError('not an instance uuid: %r' % (uuid,))


def job_active(stats):
    return stats.get('type', libvirt.VIR_DOMAIN_JOB_NONE) not in (
        libvirt.VIR_DOMAIN_JOB_NONE, libvirt.VIR_DOMAIN_JOB_COMPLETED)


def reason_of(error):
    """One readable line from a libvirtError (libvirt's own message, which
    names the cause: "operation aborted: migration out job: canceled by
    client", "unable to connect to server at ...")."""
    msg = error.get_error_message() or str(error)
    return ' '.join(msg.split())


# ------------------------------------------------------------ the driver's
class LiveMigrationMixin:
    """The ComputeDriver migration methods of LibvirtDriver. Uses the
    driver's ``host`` (Host), ``_do``, ``_guest``, ``_dir``,
    ``_guest_files``, ``_remove_domain`` and ``_aborts_asked`` (a set of
    the uuids whose move was asked to abort)."""

    # ------------------------------------------------------- destination
    def incoming_target(self):
        address = CONF.libvirt.live_migration_inbound_addr or CONF.host
        try:
            address = migration.check_address(address)
        except ValueError as e:
            raise exception.VirtDriverError(
                reason='[libvirt] live_migration_inbound_addr (or [DEFAULT] '
                'host): %s' % e) from None
        return migration.MigrationTarget(
            address=address,
            shared_storage=CONF.libvirt.instances_shared_storage)

    def prepare_incoming(self, spec, shared_storage):
        """The guest's files before it arrives: the overlay on the cached
        base and the config drive, made afresh unless a domain of it is
        here already (arriving or arrived: a redelivered prepare changes
        nothing). A stale overlay of an interrupted earlier attempt is
        never reused: an incremental copy writes only the blocks the
        source's overlay has, the others would show through."""
        checked_uuid(spec.uuid)
        try:
            self._guest(spec.uuid)
        except exception.GuestNotFound:
            pass
        else:
            LOG.info('Guest of %s is here already; its files stay as they '
                     'are', spec.uuid)
            return
        if shared_storage:
            return
        self._guest_files(spec)
        LOG.info('Prepared the files of incoming guest %s', spec.uuid)

    def finish_incoming(self, uuid):
        state, reason = self._do(uuid, 'state')
        if state == libvirt.VIR_DOMAIN_PAUSED and reason in _MOVE_PAUSES:
            self._do(uuid, 'resume')
        if not self._do(uuid, 'is_persistent'):
            self._do(uuid, 'persist')
        LOG.info('Guest of %s arrived', uuid)

    def cleanup_incoming(self, uuid, shared_storage):
        checked_uuid(uuid)
        existed = self.host.call(self._remove_domain, uuid)
        if not shared_storage:
            shutil.rmtree(self._dir(uuid), ignore_errors=True)
        if existed:
            LOG.info('Removed the incoming guest of %s', uuid)

    # ------------------------------------------------------------ source
    def live_migrate(self, uuid, target, peer_uri, options, progress):
        try:
            checked_uuid(uuid)
            check_options(options)
            address = migration.check_address(target.address)
        except ValueError as e:
            raise exception.MigrationFailed(instance=uuid,
                                            reason=str(e)) from None
        if not peer_uri:
            raise exception.MigrationFailed(
                instance=uuid, reason='no URI of the destination\'s '
                'hypervisor ([libvirt] live_migration_uri)')
        disks = disks_to_copy(self._do(uuid, 'xml'), self._dir(uuid, 'disk'))
        if options.block_migration and not disks:
            raise exception.MigrationFailed(
                instance=uuid, reason='no root disk to copy')
        return _Move(self, uuid, peer_uri, migrate_flags(options),
                     migrate_params(address, options, disks), options,
                     progress).run()

    def abort_live_migration(self, uuid):
        # remembered: a move that fails after this was aborted, whatever
        # error libvirt reports (it depends on the phase it was in)
        self._aborts_asked.add(uuid)
        with _no_job_is_fine():
            self._do(uuid, 'abort_job')
            LOG.info('Asked libvirt to abort the migration of %s', uuid)

    def force_complete_live_migration(self, uuid):
        """Pause the guest, only while a migration of it runs (a late or
        redelivered request never pauses a guest that stayed here)."""
        if self.live_migration_job(uuid) is None:
            LOG.info('No migration of %s running; nothing to complete',
                     uuid)
            return
        with _no_job_is_fine():
            self._do(uuid, 'pause')
            LOG.info('Paused %s so its migration completes', uuid)

    def live_migration_job(self, uuid):
        stats = None
        with _no_job_is_fine():
            stats = self._do(uuid, 'job_stats')
        return progress_from_stats(stats) if stats and job_active(stats) \
            else None

    def cleanup_migrated_source(self, uuid, shared_storage):
        checked_uuid(uuid)
        try:
            if self._do(uuid, 'is_active'):
                raise exception.VirtDriverError(
                    reason='the guest of %s still runs on this host; '
                    'nothing removed' % uuid)
            self._do(uuid, 'undefine')
        except exception.GuestNotFound:
            pass
        if not shared_storage:
            shutil.rmtree(self._dir(uuid), ignore_errors=True)
        LOG.info('Removed what was left of %s after its move', uuid)


@contextlib.contextmanager
def _no_job_is_fine():
    """Gone or no job (finished meanwhile, redelivered): nothing to do."""
    try:
        yield
    except exception.GuestNotFound:
        pass
    except libvirt.libvirtError as e:
        # gone between the lookup and the call (the move just finished)
        if e.get_error_code() not in (libvirt.VIR_ERR_OPERATION_INVALID,
                                      libvirt.VIR_ERR_NO_DOMAIN):
            raise


class _Move:
    """One outgoing migration: the call in a thread, the watch here."""

    def __init__(self, drv, uuid, peer_uri, flags, params, options,
                 progress):
        self.drv, self.uuid, self.options = drv, uuid, options
        self.peer_uri, self.flags, self.params = peer_uri, flags, params
        self.progress = progress
        self.completed = concurrent.futures.Future()  # JOB_COMPLETED stats
        self.last = migration.MigrationProgress()
        self.timed_out = False

    def run(self):
        self.drv._aborts_asked.discard(self.uuid)
        LOG.info('Migrating %s to %s (stream %s, flags %#x)', self.uuid,
                 self.peer_uri, self.params[libvirt.VIR_MIGRATE_PARAM_URI],
                 self.flags)
        with self._completion_event():
            call = concurrent.futures.Future()
            threading.Thread(target=self._call, args=(call,), daemon=True,
                             name='migrate-%s' % self.uuid[:8]).start()
            self._watch(call)
            try:
                call.result()
            except libvirt.libvirtError as e:
                raise self._failure(e) from None
            try:
                stats = self.completed.result(_EVENT_WAIT)
            except concurrent.futures.TimeoutError:
                LOG.warning('No completion figures for %s; reporting the '
                            'last progress', self.uuid)
                return self.last
        final = progress_from_stats(stats)
        LOG.info('Migrated %s in %d ms (downtime %s ms)', self.uuid,
                 final.elapsed_ms, final.downtime_ms)
        return final

    def _call(self, result):
        runs = []

        def migrate():
            if runs:    # the connection died under it: never start again
                raise exception.MigrationFailed(
                    instance=self.uuid, reason='the connection to libvirtd '
                    'was lost during the migration')
            runs.append(1)
            return self.drv.host.lookup(self.uuid).migrate(
                self.peer_uri, self.params, self.flags)
        try:
            result.set_result(self.drv.host.call(migrate, limit=0))
        except BaseException as e:
            result.set_exception(e)

    def _watch(self, call):
        """Report progress until the call ends; downtime and timeout."""
        opts = self.options
        deadline = time.monotonic() + opts.completion_timeout_s
        downtime_set = False
        while not call.done():
            if concurrent.futures.wait([call], opts.poll_interval_s).done:
                break
            if not self.timed_out and time.monotonic() > deadline:
                self._timeout()
            stats = self._stats()
            if stats is None or not job_active(stats):
                continue
            if not downtime_set and opts.max_downtime_ms:
                with _no_job_is_fine():
                    self.drv._do(self.uuid, 'set_max_downtime',
                                 opts.max_downtime_ms)
                downtime_set = True
            self.last = progress_from_stats(stats)
            try:
                self.progress(self.last)
            except Exception:
                LOG.exception('Progress report of %s failed', self.uuid)

    def _timeout(self):
        self.timed_out = True
        action = self.options.timeout_action
        LOG.warning('Migration of %s not done after %ss: %s', self.uuid,
                    self.options.completion_timeout_s, action)
        if action == 'abort':
            self.drv.abort_live_migration(self.uuid)
        else:
            self.drv.force_complete_live_migration(self.uuid)

    def _stats(self):
        try:
            return self.drv._do(self.uuid, 'job_stats')
        except (exception.GuestNotFound, libvirt.libvirtError,
                exception.HypervisorTimeout):
            return None     # finishing, or a slow daemon: the next poll

    def _failure(self, error):
        reason = reason_of(error)
        aborted = (error.get_error_code() ==
                   libvirt.VIR_ERR_OPERATION_ABORTED or
                   self.uuid in self.drv._aborts_asked)
        if aborted and self.timed_out:
            reason = 'not done after %ss (%s)' % (
                self.options.completion_timeout_s, reason)
        LOG.warning('Migration of %s %s: %s', self.uuid,
                    'aborted' if aborted else 'failed', reason)
        cls = (exception.MigrationAborted if aborted
               else exception.MigrationFailed)
        return cls(instance=self.uuid, reason=reason)

    @contextlib.contextmanager
    def _completion_event(self):
        """Catch the source's JOB_COMPLETED event (its figures) while the
        migration runs."""
        def completed(_conn, _dom, params, _opaque):
            if not self.completed.done():
                self.completed.set_result(dict(params))

        def register():
            conn = self.drv.host.get_connection()
            return conn, conn.domainEventRegisterAny(
                conn.lookupByUUIDString(self.uuid),
                libvirt.VIR_DOMAIN_EVENT_ID_JOB_COMPLETED, completed, None)
        conn, cb = self.drv.host.call(register)
        try:
            yield
        finally:
            with contextlib.suppress(libvirt.libvirtError):
                conn.domainEventDeregisterAny(cb)
