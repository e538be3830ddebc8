"""What the Compute API does with instances, whatever the route: find
one the caller may act on, boot, page, ask for an action. Another
project's instance is 404 to whoever may not read it."""


from agent import exception
from agent import image_refs
from agent.api import deps
from agent.api.image import records as images
from agent.objects import actions as user_actions


def fetch(caller, server_id, rule):
    """The instance, if the caller may read it and then apply ``rule``."""
    inst = deps.conductor().instance_show(caller.ctxt, ref=str(server_id))
    caller.guard({'project_id': inst.project_id, 'user_id': inst.user_id},
                 'server:show', rule,
                 exception.InstanceNotFound(instance=server_id))
    return inst


def boot(caller, *, name, flavor, image, kernel, ramdisk, networks,
         fixed_ips, security_groups, metadata, key_name, user_data,
         config_drive, availability_zone):
    """Boot an instance in the caller's project (quota checked by the
    conductor): the images checked here, the key pair's public key put
    on a config drive."""
    caller.check('server:create')
    image, kernel, ramdisk = (image_ref(caller, ref) for ref in (
        image, kernel, ramdisk))
    options = {'config_drive': config_drive, 'kernel_ref': kernel,
               'ramdisk_ref': ramdisk}
    if user_data is not None:
        options['user_data'] = user_data
    if key_name:
        key = deps.conductor().keypair_show(
            caller.ctxt, user_id=caller.user_id, name=key_name)
        options.update(key_name=key_name, key_data=key['public_key'],
                       config_drive=True)
    return deps.conductor().boot_instance(
        caller.ctxt, name=name, flavor=flavor, image_ref=image,
        availability_zone=availability_zone,
        hints={'same_host': [], 'different_host': []}, metadata=metadata,
        networks=networks, options=options, fixed_ips=fixed_ips,
        security_groups=security_groups)


def boot_refs(caller, image):
    """(image, kernel, ramdisk) of ``image`` as a boot takes them: each
    checked here (one the caller may not read is 404), the kernel and
    ramdisk its glance properties."""
    ident = image_refs.image_id(image)
    shown = images.fetch(caller, ident, 'image:show') if ident else {}
    return tuple(image_ref(caller, ref) for ref in (
        image, shown.get('kernel_id'), shown.get('ramdisk_id')))


def rebuild(caller, inst, image):
    """The instance ``inst`` (fetched with server:rebuild) rebuilt from
    ``image`` (boot_refs); the instance as recorded."""
    image, kernel, ramdisk = boot_refs(caller, image)
    return deps.conductor().instance_rebuild(
        caller.ctxt, ref=inst.uuid, image_ref=image, kernel_ref=kernel,
        ramdisk_ref=ramdisk)


def rescue(caller, inst, image=None):
    """The instance ``inst`` (fetched with server:rescue) booted from
    ``image`` (boot_refs; None: its own) with its own disk second."""
    if image is None:
        return deps.conductor().instance_rescue(caller.ctxt, ref=inst.uuid)
    image, kernel, ramdisk = boot_refs(caller, image)
    return deps.conductor().instance_rescue(
        caller.ctxt, ref=inst.uuid, image_ref=image, kernel_ref=kernel,
        ramdisk_ref=ramdisk)


def image_ref(caller, ref):
    """An image id the caller may show (404 otherwise, 409 before its
    data), as its canonical id; anything else goes to the conductor,
    which refuses what no host may fetch (image_refs.classify)."""
    if ref and image_refs.image_id(ref):
        return images.active(images.fetch(caller, image_refs.image_id(ref),
                                          'image:show'))['id']
    return ref


def instance_page(caller, all_projects, limit, marker):
    """A page of the caller's project's instances (every project's:
    admin and itsec)."""
    caller.check('server:list')
    project = caller.project_id
    if all_projects:
        caller.check('server:list:all_projects')
        project = None
    return deps.conductor().instance_page(
        caller.ctxt, project_id=project, user_id=None, limit=limit,
        marker=marker and str(marker))


def act(caller, server_id, action):
    """Ask for one of agent.objects.actions (start, stop, delete...) on
    the instance, as its policy rule allows; the instance."""
    inst = fetch(caller, server_id, user_actions.BY_NAME[action].rule)
    return deps.conductor().instance_action(
        caller.ctxt, ref=inst.uuid, action=action, volume_id=None,
        connection_info={})
