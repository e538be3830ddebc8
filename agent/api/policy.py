"""Who may do what: oslo.policy rules, defaults here, overridable in
``[api] policy_file`` (YAML, rule name: check string; absent: defaults;
re-read when it changes).

Credentials are the token's: ``roles`` (the caller's roles in the token's
project), ``project_id``, ``user_id``. Targets carry the ``project_id`` and
``user_id`` of the thing acted on (an instance's owner; for project-wide
requests the project itself), ``role`` for role grants.

The seed's five roles: admin may do everything in every project; itsec
reads everything and may isolate any instance (pause it and cut its
ports off the network, ``isolate``/``release``); project_manager
adds users to the project, starts/stops/reboots/deletes its instances and
reads it; netadmin manages the project's security groups and rules (and
which groups its servers are in) and
its floating IPs (allocate, associate with an instance, free) and its
fixed IP reservations (hold an address for a boot, free it);
developer (the default) boots and manages their own instances and reads
the project. Every user changes their own password and default project
(admin may set anyone's default project and disable users). Only admin
moves instances between hosts and sees the moves (live and cold
migration); an instance's owner (or the project's manager) resizes it and
confirms or reverts the resize.
"""
from oslo_config import cfg
from oslo_policy import policy

CONF = cfg.CONF
_ENFORCER = None

PM = '(role:project_manager and project_id:%(project_id)s)'
OWNER = ('(role:developer and project_id:%(project_id)s and '
         'user_id:%(user_id)s)')
LIFECYCLE = 'rule:admin or %s or %s' % (PM, OWNER)
NETADMIN = 'rule:admin or (role:netadmin and project_id:%(project_id)s)'

RULES = {
    'admin': 'role:admin',
    'read_all': 'role:admin or role:itsec',
    'project_reader': 'rule:read_all or project_id:%(project_id)s',
    'grantable_role': "'developer':%(role)s or 'netadmin':%(role)s",
    # instances
    'server:create': 'rule:admin or role:developer',
    'server:list': '@',
    'server:list:all_projects': 'rule:read_all',
    'server:show': 'rule:project_reader',
    'server:actions': 'rule:project_reader',
    'server:actions:traceback': 'rule:admin',
    'server:start': LIFECYCLE,
    'server:stop': LIFECYCLE,
    'server:reboot': LIFECYCLE,
    'server:delete': LIFECYCLE,
    'server:pause': 'rule:admin or role:itsec or %s' % OWNER,
    'server:unpause': 'rule:admin or role:itsec or %s' % OWNER,
    'server:suspend': LIFECYCLE,
    'server:rebuild': LIFECYCLE,
    # and image:create: the image is the caller's project's
    'server:create_image': LIFECYCLE,
    # plug a new port into a server, take one out (os-interface)
    'server:interface': LIFECYCLE,
    'server:rescue': LIFECYCLE,
    'server:unrescue': LIFECYCLE,
    'server:resume': LIFECYCLE,
    'server:isolate': 'rule:admin or role:itsec',
    'server:release': 'rule:admin or role:itsec',
    'server:console': 'rule:admin or role:itsec or %s or %s' % (PM, OWNER),
    # an interactive console (a token to type into the guest)
    'server:remote_console': LIFECYCLE,
    'server:metadata:set': 'rule:admin or %s' % OWNER,
    # identity
    # another user's token (keystone's X-Subject-Token): a user's own
    # tokens are always theirs to check and revoke
    'token:validate': 'rule:admin',
    'token:revoke': 'rule:admin',
    'project:create': 'rule:admin',
    'project:delete': 'rule:admin',
    'project:list:all': 'rule:read_all',
    'project:show': 'rule:project_reader',
    'user:create': 'rule:admin or (%s and rule:grantable_role)' % PM,
    # keystone v3's user of no project (no project's manager's to make)
    'user:create:no_project': 'rule:admin',
    'user:delete': 'rule:admin',
    'user:projects': 'rule:read_all or user_id:%(user_id)s',
    'user:list': 'rule:project_reader',
    'user:list:all': 'rule:read_all',
    'role:assign': 'rule:admin or (%s and rule:grantable_role)' % PM,
    # a user's own account: the password theirs alone, enabling admin's
    'user:password': 'user_id:%(user_id)s',
    'user:enable': 'rule:admin',
    'user:default_project': 'rule:admin or user_id:%(user_id)s',
    'quota:show': 'rule:project_reader',
    'quota:update': 'rule:admin',
    # catalogue and networking
    'flavor:list': '@',
    'host:list': 'rule:read_all',
    # compute services disabled and enabled (nova's os-services)
    'service:list': 'rule:admin',
    'service:update': 'rule:admin',
    # moving instances between hosts (nova's live migration, migrations)
    'server:migrate_live': 'rule:admin',
    # resize and cold migration (nova's: resize, confirm and revert are
    # the project's, migrate is the admin's)
    'server:resize': LIFECYCLE,
    'server:confirm_resize': LIFECYCLE,
    'server:revert_resize': LIFECYCLE,
    'server:migrate': 'rule:admin',
    'migration:list': 'rule:admin',
    'migration:show': 'rule:admin',
    'migration:abort': 'rule:admin',
    'migration:force_complete': 'rule:admin',
    # Network v2: a project's netadmin makes its networks (VXLAN) and
    # their subnets; the segment, uplink, external and shared networks
    # are an admin's (the conductor refuses them to anyone else too)
    'network:create': 'rule:admin or role:netadmin',
    'network:share': 'rule:admin',
    'network:delete': NETADMIN,
    'network:provider': 'rule:read_all',
    'network:provider:set': 'rule:admin',
    'subnet:create': NETADMIN,
    'subnet:delete': NETADMIN,
    'port:binding': 'rule:read_all',
    'port:security': 'rule:admin',
    'secgroup:list': '@',
    'secgroup:list:all_projects': 'rule:read_all',
    'secgroup:create': 'rule:admin or role:netadmin',
    'secgroup:rule_add': NETADMIN,
    'secgroup:rule_delete': NETADMIN,
    'secgroup:delete': NETADMIN,
    'server:secgroup_add': NETADMIN,
    'server:secgroup_remove': NETADMIN,
    'floating_ip:list': '@',        # the caller's project's
    'floating_ip:list:all_projects': 'rule:read_all',
    'floating_ip:show': 'rule:project_reader',
    'floating_ip:create': 'rule:admin or role:netadmin',
    'floating_ip:associate': NETADMIN,
    'floating_ip:delete': NETADMIN,
    'fixed_ip:list': '@',           # the caller's project's
    'fixed_ip:list:all_projects': 'rule:read_all',
    'fixed_ip:show': 'rule:project_reader',
    'fixed_ip:create': 'rule:admin or role:netadmin',
    'fixed_ip:delete': NETADMIN,
    'keypair:manage': '@',      # a user's own key pairs, never another's
    # images: the project's own and the public ones
    'image:create': 'rule:admin or role:developer',
    'image:publicize': 'rule:admin',
    'image:list': '@',
    'image:show': "rule:project_reader or 'public':%(visibility)s",
    'image:upload': 'rule:admin or %s' % OWNER,
    'image:delete': 'rule:admin or %s' % OWNER,
    # volumes: the project's; attached by the instance's owner
    'volume:create': 'rule:admin or role:developer',
    'volume:list': '@',
    'volume:show': 'rule:project_reader',
    'volume:delete': 'rule:admin or %s' % OWNER,
    'volume:extend': 'rule:admin or %s' % OWNER,
    'server:volumes': 'rule:admin or %s' % OWNER,
}


def enforcer():
    """The process-wide enforcer (defaults + the policy file, if any)."""
    global _ENFORCER
    if _ENFORCER is None:
        enf = policy.Enforcer(CONF, policy_file=CONF.api.policy_file)
        enf.register_defaults([policy.RuleDefault(name, check)
                               for name, check in RULES.items()])
        enf.load_rules()    # a missing file: the defaults alone
        _ENFORCER = enf
    return _ENFORCER


def reset():
    global _ENFORCER
    _ENFORCER = None


def allowed(rule, target, creds):
    return enforcer().enforce(rule, target, creds, do_raise=False)
