"""The conductor's instance lifecycle endpoint for users: boot, the user
actions (agent.objects.actions: start, stop, reboot, pause, isolate,
volumes, delete...), and the reads that follow them (show, long-poll wait,
list, console, action log; flavors and hosts).

A request is checked against the instance's state, recorded as an instance
action and as a task_state in one transaction (compare and swap, so two
racing requests cannot both win), and only then cast to the host's agent.
"""
import logging
import os
import uuid as uuidlib

import oslo_messaging as messaging
from oslo_config import cfg
from sqlalchemy import exc as sa_exc

from agent import exception
from agent import objects
from agent.conductor import endpoint
from agent.conductor import failed_builds
from agent.conductor import fixed_ips as fixed_ip_api
from agent.conductor import images as image_api
from agent.conductor import ipam
from agent.conductor import networks as net_api
from agent.conductor import quota
from agent.conductor import resizes
from agent.conductor import rpcapi as conductor_rpcapi
from agent.conductor import secgroups
from agent.conductor import watch
from agent.db import api as db
from agent.db import to_objects
from agent.objects import actions as user_actions
from agent.objects import fields as f
from agent.objects import states
from agent.rpc import checks
from agent.scheduler import Settings as ClaimSettings
from agent.scheduler import claim
from agent.scheduler import rpcapi as scheduler_rpcapi

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

NAME = f.String(max_length=255)
_INSTANCE = objects.Instance.fields
BOOT_OPTIONS = f.Struct({k: _INSTANCE[k] for k in db.BOOT_OPTIONS})
REF = f.String(max_length=255)


def check_volume_path(connection_info):
    """A volume's path must be absolute and normalised (no '.' or '..'
    parts); which directories it may be in is the agent's to decide
    (``[libvirt] allowed_volume_dirs``), how it is spelt is checked here,
    before anything is recorded."""
    path = connection_info.get('path')
    if path is not None and (not os.path.isabs(path) or
                             os.path.normpath(path) != path.rstrip('/')):
        raise exception.InvalidRPCPayload(
            'Volume path must be absolute and normalised (no . or .. '
            'parts), got %r' % (path,))


def check_name(name, what='Instance'):
    """InvalidRPCPayload unless ``name`` (of an instance, an image...) is
    non-empty printable text."""
    if not name.strip() or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise exception.InvalidRPCPayload(
            '%s name must be non-empty printable text, got %r'
            % (what, name))


def check_hosted(row, action):
    """InstanceInvalidState unless the instance ``row`` reached a host
    (an action its agent does needs one)."""
    if not row.host:
        raise exception.InstanceInvalidState(
            action='%s (it never reached a host; delete it)' % action,
            instance=row.uuid, vm_state=row.vm_state,
            task_state=row.task_state)


#: actions that need more than instance_action takes: their own call
OWN_ENTRY = {'extend_volume': 'volume_extend', 'rebuild': 'instance_rebuild',
             'rescue': 'instance_rescue', 'snapshot': 'instance_snapshot',
             'attach_interface': 'interface_attach',
             'detach_interface': 'interface_detach'}


def check_allowed(row, declared):
    """InstanceInvalidState (or InstanceIsolated) unless the instance
    ``row`` may take the action ``declared`` (user_actions.Action) now."""
    action = declared.name
    if row.vm_state not in declared.allowed or \
            row.task_state is not None and action != 'delete':
        raise exception.InstanceInvalidState(
            action=action.replace('_', ' '), instance=row.uuid,
            vm_state=row.vm_state, task_state=row.task_state)
    if row.isolated and not declared.while_isolated:
        raise exception.InstanceIsolated(
            action=action.replace('_', ' '), instance=row.uuid)


class LifecycleManager(endpoint.Endpoint):
    target = messaging.Target(version='1.22')  # see conductor_rpcapi.ConductorAPI

    def __init__(self, engine=None, scheduler=None, compute=None):
        super().__init__(engine, compute)
        self.scheduler = scheduler or scheduler_rpcapi.SchedulerAPI()

    # ------------------------------------------------------------ boot
    @checks.expects(name=NAME, flavor=NAME,
                 image_ref=f.String(max_length=1024, nullable=True),
                 availability_zone=f.String(nullable=True),
                 hints=f.Struct({'same_host': f.List(f.UUID(), max_items=100),
                                 'different_host': f.List(f.UUID(),
                                                          max_items=100)}),
                 metadata=f.Dict(), networks=f.List(f.String(), max_items=16),
                 options=BOOT_OPTIONS,
                 security_groups=f.List(NAME, max_items=16),
                 fixed_ips=f.List(f.String(max_length=64), max_items=16))
    def boot_instance(self, ctxt, name, flavor, image_ref, availability_zone,
                      hints, metadata, networks, options=None,
                      security_groups=(), fixed_ips=()):
        """A port per network in ``networks`` (names or uuids) is
        allocated before scheduling, and the project's reserved ports
        ``fixed_ips`` (uuids) are lent to the instance (they come first
        among its NICs); an unknown network, group or reservation refuses
        the request, a full network fails the build."""
        check_name(name)
        instance_uuid = str(uuidlib.uuid4())
        with self._session() as s:
            options = dict(options or {})
            for key, what in image_api.BOOT_REFS[1:]:
                options[key] = image_api.resolve(s, ctxt, options.get(key),
                                                 what)
            image_ref = image_api.resolve(s, ctxt, image_ref)
            net_ids = [net_api.port_network(s, ctxt, n).id
                       for n in networks]
            # the instance's project's groups only, for admins too
            group_ids = [secgroups.in_project(
                s, secgroups.caller_project(ctxt), g).id
                for g in security_groups]
            lent = fixed_ip_api.for_boot(s, ctxt, fixed_ips)
            flavor_row = db.flavor_get_by_name(s, flavor)
            quota.check_boot(s, ctxt.project_id, flavor_row, len(net_ids))
            row = db.instance_create(
                s, uuid=instance_uuid, name=name,
                project_id=ctxt.project_id or 'admin',
                user_id=ctxt.user_id or 'admin', flavor=flavor_row,
                image_ref=image_ref, availability_zone=availability_zone,
                hints=hints, metadata=metadata, options=options,
                fixed_ips=len(net_ids))
            db.action_start(s, instance_uuid, 'create', ctxt.request_id,
                            ctxt.user_id, ctxt.project_id)
            # a new instance: its metadata is what was given, no volumes
            instance = to_objects.instances(
                s, [row], metadata={instance_uuid: dict(metadata)},
                bdms={instance_uuid: []})[0]
            ipam.bind_reserved(s, lent, instance_uuid, group_ids)
            spec = objects.RequestSpec(
                instance_uuid=instance_uuid, project_id=row.project_id,
                vcpus=row.vcpus, memory_mb=row.memory_mb,
                root_gb=row.root_gb, availability_zone=availability_zone,
                same_host=hints.get('same_host', []),
                different_host=hints.get('different_host', []))
        try:
            for net_id in net_ids:
                ipam.allocate(self.engine, net_id, instance_uuid, group_ids,
                              project_id=secgroups.caller_project(ctxt))
        except exception.NetworkFull as e:
            self._fail_build(ctxt, instance_uuid, exception.text(e))
            return self._show(instance_uuid)
        if net_ids or lent:
            with self._session() as s:
                to_objects.add_addresses(s, [instance])
        host = self._schedule_and_cast(ctxt, spec)
        if host is None:
            return self._show(instance_uuid)    # in error, with its fault
        instance.update(host=host, node=host)
        return instance

    def _schedule_and_cast(self, ctxt, spec):
        try:
            host = self.scheduler.select_destination(ctxt, spec)
        except exception.NoValidHost as e:
            LOG.warning('Instance %s: %s', spec.instance_uuid,
                        exception.text(e))
            self._fail_build(ctxt, spec.instance_uuid, exception.text(e),
                             code=404)
            return
        except Exception as e:  # scheduler unreachable, timeout...
            LOG.exception('Scheduling %s failed', spec.instance_uuid)
            self._fail_build(ctxt, spec.instance_uuid,
                             'Scheduling failed: %s: %s'
                             % (type(e).__name__, exception.text(e)))
            return None
        LOG.info('Instance %s scheduled to %s', spec.instance_uuid, host)
        self.compute.build_and_run_instance(ctxt, host, spec.instance_uuid)
        return host

    def _fail_build(self, ctxt, instance_uuid, message, code=500):
        with self._session() as s:
            row = db.instance_get(s, instance_uuid, for_update=True)
            if row.task_state != states.SCHEDULING:
                return      # settled meanwhile: deleted, or swept
            failed_builds.fail(s, row, message, code=code,
                               request_id=ctxt.request_id)

    # ------------------------------------------------------- lifecycle
    @checks.expects(ref=REF, action=f.Enum(sorted(user_actions.BY_NAME)),
                 volume_id=f.UUID(nullable=True),
                 connection_info=f.Dict(value_field=f.String(
                     max_length=4096)))
    def instance_action(self, ctxt, ref, action, volume_id, connection_info):
        if action in OWN_ENTRY:
            raise exception.InvalidRPCPayload(
                '%s is asked with %s' % (action, OWN_ENTRY[action]))
        if action.endswith('_volume') and not volume_id:
            raise exception.InvalidRPCPayload('%s needs a volume_id' % action)
        try:
            try:
                result, cast, confirm = self._record_action(
                    ctxt, ref, action, volume_id, connection_info)
            except exception.UnexpectedTaskState:
                if action != 'delete':
                    raise
                # the task the delete found running ended meanwhile (its
                # agent swapped the task_state first): a delete goes on
                # whatever the task was, so it is recorded anew, once
                result, cast, confirm = self._record_action(
                    ctxt, ref, action, volume_id, connection_info)
        except sa_exc.IntegrityError:
            if action != 'attach_volume':
                raise
            # lost the race for the volume's one attachment (uniq_bdm0volume)
            with self._session() as s:
                holder = db.bdm_holder(s, volume_id) or 'another instance'
            raise exception.VolumeInUse(volume_id=volume_id,
                                        instance=holder) from None
        if confirm is not None:
            # a resized instance's source is released (recorded with the
            # delete) and cleaned up before the instance goes (else its
            # claim and stopped guest would stay)
            source, migration_uuid = confirm
            self.compute.confirm_resize(ctxt, source, result.uuid,
                                        migration_uuid)
        if cast is None:
            return result
        host, instance_uuid = cast
        declared = user_actions.BY_NAME[action]
        kwargs = {}
        if declared.reboot_type:
            kwargs['reboot_type'] = declared.reboot_type
        if volume_id:
            kwargs['volume_id'] = volume_id
        getattr(self.compute, declared.method)(ctxt, host, instance_uuid,
                                               **kwargs)
        return result

    @checks.expects(ref=REF, image_ref=f.String(max_length=1024),
                 kernel_ref=f.String(max_length=1024, nullable=True),
                 ramdisk_ref=f.String(max_length=1024, nullable=True))
    def instance_rebuild(self, ctxt, ref, image_ref, kernel_ref, ramdisk_ref):
        """A fresh root disk from ``image_ref`` (checked as a boot checks
        it: an image the caller's project sees) for the same instance:
        the refs and the ``rebuild`` action are recorded in one
        transaction, then its agent rebuilds it (rebuild_in_place)."""
        return self._with_images(ctxt, ref, 'rebuild', (
            image_ref, kernel_ref, ramdisk_ref), ('image_ref', 'kernel_ref',
                                                  'ramdisk_ref'))

    @checks.expects(ref=REF,
                    image_ref=f.String(max_length=1024, nullable=True),
                    kernel_ref=f.String(max_length=1024, nullable=True),
                    ramdisk_ref=f.String(max_length=1024, nullable=True))
    def instance_rescue(self, ctxt, ref, image_ref, kernel_ref, ramdisk_ref):
        """Boot the instance from a rescue image (``image_ref``, checked
        as a boot checks it; None: its own image, kernel and ramdisk) with
        its own root disk as the second disk: recorded with the
        ``rescue`` action, then its agent does it (rescue_instance)."""
        return self._with_images(ctxt, ref, 'rescue', (
            image_ref, kernel_ref, ramdisk_ref), ('rescue_image_ref',
                                                  'rescue_kernel_ref',
                                                  'rescue_ramdisk_ref'))

    def _with_images(self, ctxt, ref, action, refs, columns):
        """Record ``action`` with the images ``refs`` (image, kernel,
        ramdisk; an image of None: the instance's own three) in
        ``columns``, in one transaction; cast it to the agent."""
        declared = user_actions.BY_NAME[action]
        with self._session() as s:
            row = db.instance_get_by_ref(s, ref)
            if refs[0] is None:
                refs = (row.image_ref, row.kernel_ref, row.ramdisk_ref)
            updates = {column: image_api.resolve(s, ctxt, value, what)
                       for column, value, (_key, what) in zip(
                           columns, refs, image_api.BOOT_REFS)}
            check_allowed(row, declared)
            check_hosted(row, action)
            row = db.instance_update(
                s, row.uuid, dict(updates, task_state=declared.task_state),
                expected_task_state=[None])
            db.action_start(s, row.uuid, declared.name, ctxt.request_id,
                            ctxt.user_id, ctxt.project_id)
            result = to_objects.instance(s, row)
        getattr(self.compute, declared.method)(ctxt, row.host, row.uuid)
        return result

    def _record_action(self, ctxt, ref, action, volume_id, connection_info):
        """Check and record ``action`` in one transaction; (the instance,
        None if nothing is to be cast, else (host, uuid), and for a
        delete of a resized instance (source, migration uuid) to cast
        confirm_resize with, else None)."""
        declared = user_actions.BY_NAME[action]
        with self._session() as s:
            row = db.instance_get_by_ref(s, ref)
            confirm = resizes.confirm_if_resized(s, row) \
                if action == 'delete' else None
            result, cast = self._record(s, ctxt, row, declared, action,
                                        volume_id, connection_info)
        return result, cast, confirm

    def _record(self, s, ctxt, row, declared, action, volume_id,
                connection_info):
        """``_record_action``'s checks and record on ``row``: (the
        instance, the cast or None)."""
        check_allowed(row, declared)
        if action == 'delete' and row.task_state == states.DELETING:
            return to_objects.instance(s, row), None  # on its way
        self._prepare_volume(s, row, action, volume_id, connection_info)
        if action == 'delete' and not row.host:
            claim.release(s, row)   # never reached a host
            ipam.release(s, row.uuid)
            db.instance_mark_deleted(s, row)
            db.action_start(s, row.uuid, action, ctxt.request_id,
                            ctxt.user_id, ctxt.project_id, 'Success')
            return to_objects.instance(s, row), None
        if declared.reclaims_compute:
            claim.reclaim_compute(s, row, ClaimSettings.from_conf())
        updates = {'task_state': declared.task_state}
        if action in conductor_rpcapi.ISOLATION_ACTIONS:
            # recorded before the agent acts: every port refresh from
            # now on, on any path, renders the quarantine (or not)
            updates['isolated'] = action == 'isolate'
        row = db.instance_update(s, row.uuid, updates,
                                 expected_task_state=[row.task_state])
        db.action_start(s, row.uuid, action, ctxt.request_id,
                        ctxt.user_id, ctxt.project_id)
        return to_objects.instance(s, row), (row.host, row.uuid)

    @staticmethod
    def _prepare_volume(s, row, action, volume_id, connection_info):
        if action == 'attach_volume':
            check_volume_path(connection_info)
            db.bdm_create(s, row.uuid, volume_id, connection_info)
        elif action == 'detach_volume':
            bdm = db.bdm_get(s, row.uuid, volume_id)
            if bdm is None:
                raise exception.VolumeNotFound(volume_id=volume_id,
                                               instance=row.uuid)
            # what a restarted agent retries if it dies mid-detach
            bdm.status = 'detaching'

    # ---------------------------------------------------------- reading
    def _show(self, ref):
        with self._session() as s:
            return to_objects.add_addresses(s, [to_objects.instance(
                s, db.instance_read(s, ref))])[0]

    @checks.expects(ref=REF)
    def instance_show(self, ctxt, ref):
        return self._show(ref)

    @checks.expects(ref=REF, seen=f.List(f.String(nullable=True), max_items=3),
                 timeout=f.Float(min=0, max=30),
                 until=f.List(f.Enum(states.VM_STATES), nullable=True,
                              max_items=len(states.VM_STATES)))
    def instance_wait(self, ctxt, ref, seen, timeout, until):
        """A long poll: return the instance as soon as its (vm_state,
        task_state, power_state) is not ``seen`` -- with ``until`` (1.3),
        only once its vm_state is one of those with no task running --, or
        after ``timeout`` seconds; InstanceNotFound once it is gone. Waiters
        wake on this conductor's commits (see watch), not on a timer."""
        try:        # a uuid is watched as it is: no read to resolve it
            uuid = str(uuidlib.UUID(ref))
        except ValueError:
            with self._session() as s:
                uuid = db.instance_get_by_ref(s, ref).uuid

        def read():    # the first one after watch.wait registered us
            try:
                return self._show(uuid)
            except exception.InstanceNotFound:
                return None

        def probe():   # wakeups in between read three columns, not all
            with self.engine.connect() as conn:     # no ORM session
                return db.instance_state(conn, uuid)
        if until:
            def done(i):
                return i is None or (i.vm_state in until and
                                     i.task_state is None)
        else:
            def done(i):
                return i is None or [
                    i.vm_state, i.task_state, i.power_state] != seen
        inst = watch.wait(uuid, read, done, timeout, probe)
        if inst is None:
            raise exception.InstanceNotFound(instance=ref)
        return inst

    @checks.expects(host=f.String(nullable=True),
                 project_id=f.String(max_length=64, nullable=True))
    def instance_list(self, ctxt, host, project_id):
        with self._session() as s:
            return to_objects.add_addresses(s, to_objects.instances(
                s, db.instance_list(s, host=host, project_id=project_id)))

    @checks.expects(ref=REF, length=f.Integer(min=1, max=10000, nullable=True))
    def console_output(self, ctxt, ref, length):
        instance = self._show(ref)
        if not instance.host or instance.vm_state == states.BUILDING:
            raise exception.InstanceInvalidState(
                action='read the console of', instance=instance.uuid,
                vm_state=instance.vm_state, task_state=instance.task_state)
        return self.compute.get_console_output(
            ctxt, instance.host, instance.uuid,
            length or CONF.conductor.default_console_length)

    @checks.expects()
    def flavor_list(self, ctxt):
        with self._session() as s:
            return [to_objects.flavor(r) for r in db.flavor_list(s)]

    @checks.expects()
    def host_list(self, ctxt):
        with self._session() as s:
            nodes = {n.host: to_objects.compute_node(n)
                     for n in db.compute_node_list(s)}
            return [{'service': to_objects.service(r, CONF.service_down_time),
                     'node': nodes.get(r.host)
                     if r.binary == 'hvagent-compute' else None}
                    for r in db.service_list(s)]

    @checks.expects(ref=REF)
    def action_list(self, ctxt, ref):
        with self._session() as s:
            row = db.instance_get_by_ref(s, ref)
            return [to_objects.action(a) for a in db.action_list(s, row.uuid)]
