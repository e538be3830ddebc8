"""hvctl's RPC back end: the conductor over the bus, as a controller.

With no endpoint hvctl is a controller on the bus: it signs with the bus
secret ([bus] secret_file, from the configuration) and calls the
conductor. Acting as the admin project it is an admin (shares networks,
sees every project's groups), as any other project one of its users.
"""
import functools
import os
import sys
import time

from oslo_config import cfg

from agent import context
from agent import exception
from agent.cli import change_waiter
from agent.conductor import rpcapi as conductor_rpcapi
from agent.console import urls
from agent.objects import states
from agent.rpc import transport as rpc_transport

CONF = cfg.CONF
#: seconds one long poll may last (kept well under the RPC timeout)
WAIT_STEP = 10.0
#: the conductor version that sends instance change notices
NOTICES = '1.15'
SETTLED = (states.ACTIVE, states.STOPPED, states.PAUSED, states.SUSPENDED,
           states.RESCUED, states.ERROR, states.DELETED)


def boot_options(args):
    """The ``options`` of boot_instance from parsed boot options."""
    options = {'kernel_ref': args.kernel, 'ramdisk_ref': args.ramdisk,
               'config_drive': args.config_drive}
    if args.user_data:
        options['user_data'] = args.user_data.read()
    if args.public_key:
        options['key_data'] = args.public_key.read().strip()
        options['key_name'] = args.key_name or 'default'
    return {k: v for k, v in options.items() if v}


def pairs(text, flag):
    out = {}
    for item in text:
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise SystemExit('hvctl: %s wants KEY=VALUE, got %r'
                             % (flag, item))
        out[key] = value
    return out


def wait_for(conductor, ctxt, uuid, timeout, until=SETTLED, echo=None,
             start=None, since=None):
    """Follow the instance until its vm_state is in ``until`` with no task
    running; return it (None once deleted). ``echo`` gets a line for every
    new (vm_state, task_state, power_state) seen. Between reads it waits
    for the conductor's change notice naming the instance (change_waiter),
    holding nothing in the conductor. ``start`` is the instance as the
    caller read it at ``since`` (time.monotonic() before that request):
    it saves the first read, and a notice that came after ``since`` wakes
    the wait at once."""
    def show():
        return conductor.instance_show(ctxt, ref=uuid)
    if not conductor.can_send_version(NOTICES):
        # an older conductor sends no notices: long polls (instance_wait),
        # each holding one of its threads
        def long_poll(now, left):
            return conductor.instance_wait(
                ctxt, ref=uuid, seen=now,
                timeout=min(left, WAIT_STEP, CONF.rpc_call_timeout / 2),
                **({} if echo else {'until': list(until)}))
        return _follow(uuid, timeout, until, echo,
                       (lambda: start) if start else show, long_poll)
    waiter = change_waiter.get()
    # without echo only a change that ends a task can settle it
    event = waiter.watch(uuid, since if start is not None else None,
                         every=bool(echo))

    def fresh():
        event.clear()   # a change after this read sets it again
        return show()

    def after_notice(_now, left):
        event.wait(min(left, change_waiter.RECHECK))
        return fresh()
    try:
        return _follow(uuid, timeout, until, echo,
                       (lambda: start) if start and since is not None
                       else fresh, after_notice)
    finally:
        waiter.unwatch(uuid, event)


def _follow(uuid, timeout, until, echo, first, following):
    """Read with ``first()``, then ``following(states, seconds left)``
    while the instance has not settled in ``until``."""
    deadline = time.monotonic() + timeout
    now, read = None, first
    while True:
        try:
            inst = read()
            new = [inst.vm_state, inst.task_state, inst.power_state]
        except exception.InstanceNotFound:
            inst, new = None, [states.DELETED, None, states.NOSTATE]
        if echo and new != now:
            echo('  %-9s task_state=%-14s power_state=%s' % tuple(new))
        now = new
        if now[0] in until and now[1] is None:
            return inst
        if inst is None:
            raise exception.InstanceNotFound(instance=uuid)
        left = deadline - time.monotonic()
        if left <= 0:
            raise exception.HVAgentError(
                'Timed out after %ss waiting for %s (at %s)'
                % (timeout, uuid, '/'.join(map(str, now))))
        read = functools.partial(following, now, left)


def _instance(inst):
    return {
        'uuid': inst.uuid, 'name': inst.name, 'vm_state': inst.vm_state,
        'task_state': inst.task_state, 'power_state': inst.power_state,
        'flavor': inst.flavor.name, 'host': inst.host,
        'project_id': inst.project_id, 'image_ref': inst.image_ref,
        'key_name': inst.key_name, 'created_at': inst.created_at,
        'launched_at': inst.launched_at, 'networks': inst.networks,
        'volumes': ['%s on %s' % (b.volume_id, b.device_name)
                    for b in inst.block_devices],
        'metadata': inst.metadata,
        'fault': inst.fault and inst.fault.message}


def _host(item):
    svc, node = item['service'], item['node']
    record = {'host': svc.host, 'binary': svc.binary, 'up': svc.up,
              'disabled': svc.disabled,
              'disabled_reason': svc.disabled_reason,
              'last_seen': svc.last_seen_up}
    if node is not None:
        record.update({k: getattr(node, k) for k in (
            'vcpus', 'vcpus_used', 'memory_mb', 'memory_mb_used',
            'local_gb', 'local_gb_used', 'running_vms')})
    return record


def _service(svc):
    """A Service as hvagent-api's os-services answers it."""
    return {'host': svc.host, 'binary': svc.binary,
            'status': 'disabled' if svc.disabled else 'enabled',
            'disabled_reason': svc.disabled_reason}


def _migration(mig):
    """A Migration as hvagent-api answers it (nova's server migration)."""
    record = {'id': mig.uuid, 'server_uuid': mig.instance_uuid}
    record.update({k: getattr(mig, k) for k in (
        'migration_type', 'source_compute', 'dest_compute', 'status',
        'error', 'created_at', 'updated_at')})
    record.update({'%s_bytes' % k: getattr(mig, k) for k in (
        'memory_total', 'memory_processed', 'memory_remaining',
        'disk_total', 'disk_processed', 'disk_remaining')})
    return record


class Backend:
    """The commands both back ends serve, through the conductor; the
    RPC-only ones use ``conductor`` and ``ctxt`` directly."""

    name = 'rpc'
    ADAPTERS = {'instance': _instance, 'host': _host, 'service': _service,
                'migration': _migration}
    #: what the conductor raises when it refuses a request
    refusals = exception.HVAgentError

    @staticmethod
    def reason(error):
        return exception.text(error)

    def __init__(self, conductor, ctxt):
        self.conductor, self.ctxt = conductor, ctxt

    def adapt(self, kind, item):
        return self.ADAPTERS.get(kind, lambda i: i)(item)

    def boot(self, args):
        return self.conductor.boot_instance(
            self.ctxt, name=args.name, flavor=args.flavor,
            image_ref=args.image, availability_zone=args.availability_zone,
            hints={'same_host': args.same_host,
                   'different_host': args.different_host},
            metadata=pairs(args.meta, '--meta'), networks=args.network,
            options=boot_options(args),
            security_groups=args.security_group, fixed_ips=args.fixed_ip)

    def resolve(self, ref):
        """The conductor takes a name or a uuid."""
        return ref

    def wait(self, uuid, timeout, start=None, gone_ok=False):
        """Settled, or None once deleted (``gone_ok`` or not)."""
        return wait_for(self.conductor, self.ctxt, uuid, timeout,
                        start=start)

    def act(self, ref, args):
        if args.command == 'rescue':
            return self.conductor.instance_rescue(
                self.ctxt, ref=ref, image_ref=args.image)
        if args.command == 'rebuild':
            return self.conductor.instance_rebuild(
                self.ctxt, ref=ref, image_ref=args.image,
                kernel_ref=args.kernel, ramdisk_ref=args.ramdisk)
        action = {'attach': 'attach_volume', 'detach': 'detach_volume'}.get(
            args.command, args.command)
        if action == 'reboot' and args.hard:
            action = 'reboot_hard'
        info = {}
        if getattr(args, 'path', None):
            info = {'driver_volume_type': 'file', 'format': args.format,
                    'path': os.path.abspath(args.path)}
        return self.conductor.instance_action(
            self.ctxt, ref=ref, action=action,
            volume_id=getattr(args, 'volume_id', None), connection_info=info)

    def instances(self, host):
        return self.conductor.instance_list(self.ctxt, host=host,
                                            project_id=None)

    def instance(self, ref):
        return self.conductor.instance_show(self.ctxt, ref=ref)

    def console(self, ref, length):
        return self.conductor.console_output(self.ctxt, ref=ref,
                                             length=length)

    def console_url(self, ref, protocol):
        """A one-use URL of the instance's ``protocol`` console: a token
        from the conductor on this controller's [console] base URL."""
        uuid = self.conductor.instance_show(self.ctxt, ref=ref).uuid
        return urls.console_url(protocol, self.conductor.console_token_create(
            self.ctxt, instance_uuid=uuid, protocol=protocol)['token'])

    def flavors(self):
        return self.conductor.flavor_list(self.ctxt)

    def hosts(self):
        return self.conductor.host_list(self.ctxt)

    def service_update(self, host, binary, disabled, reason=None):
        return self.conductor.service_update(
            self.ctxt, host=host, binary=binary, disabled=disabled,
            disabled_reason=reason)

    def actions(self, ref):
        return self.conductor.action_list(self.ctxt, ref=ref)

    def instances_on(self, host):
        """Every project's instances on ``host``."""
        return self.instances(host)

    # moves (admins)
    def live_migrate(self, ref, host, block_migration):
        return self.conductor.live_migrate(
            self.ctxt, ref=ref, host=host, block_migration=block_migration)

    def migrations(self, ref=None, host=None, status=None):
        return self.conductor.migration_list(self.ctxt, ref=ref, host=host,
                                             status=status)

    def migration(self, migration_uuid):
        return self.conductor.migration_show(self.ctxt,
                                             migration_uuid=migration_uuid)

    def migration_abort(self, ref, migration_uuid=None):
        return self.conductor.migration_abort(
            self.ctxt, ref=ref, migration_uuid=migration_uuid)

    def migration_force_complete(self, ref, migration_uuid=None):
        return self.conductor.migration_force_complete(
            self.ctxt, ref=ref, migration_uuid=migration_uuid)

    def resize(self, ref, flavor):
        return self.conductor.resize(self.ctxt, ref=ref, flavor=flavor)

    def migrate(self, ref, host):
        return self.conductor.migrate(self.ctxt, ref=ref, host=host)

    def resize_confirm(self, ref):
        return self.conductor.resize_confirm(self.ctxt, ref=ref)

    def resize_revert(self, ref):
        return self.conductor.resize_revert(self.ctxt, ref=ref)


def error(e, exit_code=1, prefix=''):
    print('hvctl: error: %s%s' % (prefix, exception.text(e)),
          file=sys.stderr)
    return exit_code


def serve(command, args, out=print):
    """Run ``command`` against the conductor; the exit code."""
    try:
        rpc_transport.init(url=args.transport_url)
    except exception.HVAgentError as e:     # a broker refusing TLS
        return error(e)
    ctxt = context.RequestContext(user_id=args.user, project_id=args.project,
                                  is_admin=args.project == 'admin')
    try:
        return command.run(Backend(conductor_rpcapi.ConductorAPI(), ctxt), args, out)
    except exception.HVAgentError as e:
        return error(e)
    except Exception as e:  # MessagingTimeout, a broken transport...
        return error(e, 2, '%s: ' % type(e).__name__)
    finally:
        rpc_transport.cleanup()
