"""hvctl's instance and catalogue commands, written once for both back
ends (``b``: a bus_backend.Backend or an api_backend.Backend)."""
from agent.cli import console_attach
from agent.cli import output
from agent.cli import views

ERROR = 'error'


def _print(b, args, out, inst):
    """Show an instance; exit code 1 if it is in error."""
    views.emit(out, b, views.INSTANCE, inst, args.json)
    return 1 if b.adapt('instance', inst)['vm_state'] == ERROR else 0


def boot(b, args, out):
    inst = b.boot(args)
    if args.wait and b.adapt('instance', inst)['vm_state'] != ERROR:
        inst = b.wait(b.adapt('instance', inst)['uuid'], args.timeout,
                      start=inst)
    return _print(b, args, out, inst)


def act(b, args, out):
    """delete, reboot, stop, start, ... attach, detach: request it;
    with --wait follow the instance until it settles."""
    ref = b.resolve(args.ref)
    inst = b.act(ref, args)
    if args.wait:
        uuid = ref if inst is None else b.adapt('instance', inst)['uuid']
        inst = b.wait(uuid, args.timeout, gone_ok=args.command == 'delete')
        if inst is None:
            out('Instance %s deleted' % ref)
            return 0
    elif inst is None:
        out('Request to %s %s accepted' % (args.command, ref))
        return 0
    return _print(b, args, out, inst)


def interface_attach(b, args, out):
    """A new port on --network plugged into the instance; its view."""
    ref = b.resolve(args.ref)
    port = b.interface_attach(ref, args.network)
    if args.wait:
        b.wait(ref, args.timeout)
        port = next((p for p in b.interfaces(ref)
                     if p['port_id'] == port['port_id']), port)
    out(output.dumps(port) if args.json else 'Port %s (%s, %s): %s' % (
        port['port_id'], port['fixed_ips'][0]['ip_address'],
        port['mac_addr'], port['port_state']))
    return 0


def interface_detach(b, args, out):
    ref = b.resolve(args.ref)
    b.interface_detach(ref, args.port_id)
    if args.wait:
        b.wait(ref, args.timeout)
    out('Port %s detached from %s' % (args.port_id, ref)
        if args.wait else 'Request to detach %s accepted' % args.port_id)
    return 0


def snapshot(b, args, out):
    """The instance's root disk into a new image; with --wait until the
    instance settles, then the image must be active (else its fault)."""
    ref = b.resolve(args.ref)
    image = b.snapshot(ref, args.name)
    if args.wait:
        inst = b.wait(ref, args.timeout)
        image = b.image(image['id'])
        if image is None or image['status'] != 'active':
            out('Snapshot of %s failed: %s' % (
                ref, (inst or {}).get('fault') or 'the image is gone'))
            return 1
    if args.json:
        out(output.dumps(image))
    else:
        out('Image %s (%s): %s' % (image['id'], image['name'],
                                   image['status']))
    return 0


def show(b, args, out):
    return views.emit(out, b, views.INSTANCE, b.instance(b.resolve(
        args.ref)), args.json)


def list_(b, args, out):
    return views.emit(out, b, views.INSTANCES, b.instances(args.host),
                      args.json)


def console(b, args, out):
    """The console log; with --url a one-use console URL (--vnc: the
    noVNC page's); with --attach the serial console in this terminal."""
    if args.attach or args.url:
        ref = b.resolve(args.ref)
        url = b.console_url(ref, 'vnc' if args.vnc else 'serial')
        if args.url:
            out(output.dumps({'url': url}) if args.json else url)
            return 0
        return console_attach.attach(url, args.ref,
                                     getattr(b, 'cacert', None))
    text = b.console(b.resolve(args.ref), args.length)
    out(output.dumps({'output': text}) if args.json else text.rstrip())
    return 0


def action_list(b, args, out):
    return views.emit(out, b, views.ACTIONS, b.actions(b.resolve(args.ref)),
                      args.json)


def flavor_list(b, args, out):
    return views.emit(out, b, views.FLAVORS, b.flavors(), args.json)
