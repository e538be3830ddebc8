"""hvctl's command table: every command declared once, with its one-line
help, its arguments, its handler and the back ends that serve it.

A handler is ``handler(backend, args, out) -> exit code``; ``backend`` is
the bus back end (bus_backend.Backend), the API back end
(api_backend.Backend), or None for the commands that need neither.
The parser (parser.py), the shell completion (completion.py) and the man
page (tools/manpages.py) are all built from this table.
"""
import argparse
import dataclasses
from typing import Callable

from agent.cli import accounts
from agent.cli import bus_admin
from agent.cli import completion
from agent.cli import drain
from agent.cli import hosts
from agent.cli import instances
from agent.cli import migrations
from agent.cli import networking
from agent.cli import volumes
from agent.objects import states

#: what hvctl is, in one line (its --help and its man page's NAME)
SUMMARY = ("hvctl: the operator's command line, talking to the conductor "
           "over RPC.")

#: who serves a command: the conductor over the bus, hvagent-api, the
#: controller's configuration alone (no bus, no endpoint), or hvctl itself
RPC, API, CONF, LOCAL = 'rpc', 'api', 'conf', 'local'
BOTH = frozenset({RPC, API})


class Arg:
    """One argparse argument: ``add_argument(*flags, **kwargs)``; ``env``
    names the environment variable its default comes from."""

    def __init__(self, *flags, env=None, **kwargs):
        self.flags, self.env, self.kwargs = flags, env, kwargs

    @property
    def positional(self):
        return not self.flags[0].startswith('-')


class Exclusive:
    """Mutually exclusive arguments (one of them required if ``required``)."""

    def __init__(self, *args, required=False):
        self.args, self.required = args, required


@dataclasses.dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable
    args: tuple = ()
    serves: frozenset = frozenset({RPC})


GLOBAL_OPTIONS = (
    Arg('--json', action='store_true', help='print JSON'),
    Arg('--transport-url', help='oslo.messaging transport URL'),
    Arg('--endpoint', env='HVAGENT_ENDPOINT',
        help='hvagent-api URL (default $HVAGENT_ENDPOINT): use the REST '
        'API with the cached token, not RPC'),
    Arg('--os-cacert', env='OS_CACERT', metavar='FILE',
        help='PEM CA bundle that signed an https --endpoint\'s certificate '
        '(default $OS_CACERT, else the system CAs); the certificate is '
        'always verified'),
    Arg('--project', default='admin', help='acting project'),
    Arg('--user', default='admin', help='acting user'),
    Arg('--timeout', type=float, default=60.0, help='seconds --wait waits'),
)

#: options of a boot beyond flavor and image (hvctl, hvagent-allinone)
BOOT_OPTIONS = (
    Arg('--kernel', help='kernel for direct kernel boot (path or URL)'),
    Arg('--ramdisk', help='initramfs for direct kernel boot'),
    Arg('--config-drive', action='store_true',
        help='give the guest a config drive'),
    Arg('--user-data', type=argparse.FileType('r'), metavar='FILE',
        help='user data for the guest'),
    Arg('--public-key', type=argparse.FileType('r'), metavar='FILE',
        help='OpenSSH public key to inject'),
    Arg('--key-name', default=None),
)

REF = Arg('ref', help='instance uuid or name')
WAIT = Arg('--wait', action='store_true')
INSTANCE = Arg('instance', help='instance uuid')
GROUP = Arg('group')
FLOATING_IP = Arg('floating_ip', help='address or uuid')
ONLY_PROJECT = Arg('--project', help='only this project\'s')


def repeated(flag, metavar, help=None):
    return Arg(flag, action='append', default=[], metavar=metavar, help=help)


def complete(_b, args, out):
    out(completion.bash(GLOBAL_OPTIONS, COMMANDS))
    return 0


def _instance_actions():
    for name in ('delete', 'reboot', 'stop', 'start', 'pause', 'unpause',
                 'suspend', 'resume', 'unrescue', 'isolate', 'release'):
        hard = (Arg('--hard', action='store_true'),) if name == 'reboot' \
            else ()
        yield Command(name, '%s an instance' % name, instances.act,
                      (REF, WAIT) + hard, BOTH)


def _instance_commands():
    yield Command('boot', 'boot an instance', instances.boot, (
        Arg('name'), Arg('--flavor', required=True),
        Arg('--image', default=None),
        Arg('--availability-zone', default=None),
        repeated('--same-host', 'UUID'),
        repeated('--different-host', 'UUID'),
        repeated('--meta', 'KEY=VALUE')) + BOOT_OPTIONS + (
        repeated('--network', 'NAME', 'a NIC on this network (repeatable)'),
        repeated('--fixed-ip', 'UUID', "a NIC on one of the project's "
                 'reserved fixed IPs (fixed-ip-create; repeatable)'),
        repeated('--security-group', 'NAME'), WAIT), BOTH)
    yield Command('list', 'list instances', instances.list_,
                  (Arg('--host'),), BOTH)
    yield Command('show', 'show an instance', instances.show, (REF,), BOTH)
    yield Command('action-list', 'list the actions recorded on an instance',
                  instances.action_list, (REF,), BOTH)
    yield from _instance_actions()
    yield Command('attach', 'attach a volume', instances.act, (
        Arg('ref'), Arg('volume_id'), WAIT,
        Arg('--path', help='file backing the volume (absolute; readable by '
            'the hypervisor)'),
        Arg('--format', default='qcow2', choices=['qcow2', 'raw'])))
    yield Command('detach', 'detach a volume', instances.act,
                  (Arg('ref'), Arg('volume_id'), WAIT))
    yield Command('rebuild', 'rebuild an instance: a fresh root disk from '
                  'an image, the same id, ports and volumes', instances.act,
                  (REF, Arg('--image', required=True),
                   Arg('--kernel', default=None,
                       help='over the bus: the kernel (through the API: '
                       "the image's kernel_id)"),
                   Arg('--ramdisk', default=None), WAIT), BOTH)
    yield Command('rescue', 'boot an instance from a rescue image (--image; '
                  'default: its own), its own disk as the second disk',
                  instances.act, (REF, Arg('--image', default=None), WAIT),
                  BOTH)
    yield Command('interface-attach', 'plug a new port on a network into a '
                  'running instance', instances.interface_attach,
                  (REF, Arg('--network', required=True), WAIT),
                  frozenset({API}))
    yield Command('interface-detach', 'take a port out of an instance (the '
                  'port is deleted)', instances.interface_detach,
                  (REF, Arg('port_id'), WAIT), frozenset({API}))
    yield Command('snapshot', "save an instance's root disk as a new image "
                  "of the token's project; with --wait until it is active",
                  instances.snapshot, (REF, Arg('--name', required=True),
                                       WAIT), frozenset({API}))
    yield Command('volume-extend', 'grow a volume (an attached one: its '
                  'guest sees the new size)', volumes.volume_extend,
                  (Arg('volume_id'), Arg('--size', type=int, required=True,
                                         help='the new size, GiB')),
                  frozenset({API}))
    yield Command('console', 'print console output; or type into the '
                  'serial console (--attach, Ctrl-] leaves), or print a '
                  'one-use console URL (--url)', instances.console, (
                      Arg('ref'), Arg('--length', type=int, default=None),
                      Exclusive(Arg('--attach', action='store_true',
                                    help='the serial console in this '
                                    'terminal, through the console proxy'),
                                Arg('--url', action='store_true',
                                    help='print a one-use console URL')),
                      Arg('--vnc', action='store_true',
                          help='with --url: the VNC (noVNC page) URL')),
                  BOTH)
    yield Command('flavor-list', 'list flavors', instances.flavor_list,
                  serves=BOTH)


def _host_commands():
    host, binary = Arg('host'), Arg('--binary', default='hvagent-compute',
                                    help='the service (default: '
                                    'hvagent-compute, the only one that '
                                    'can be disabled)')
    yield Command('host-list', "list services, their hosts' resources "
                  'and why one is disabled', hosts.host_list, serves=BOTH)
    yield Command('host-disable', 'place no new instance on a host '
                  '(admin; what runs there stays)', hosts.host_disable, (
                      host, binary, Arg('--reason', help='why (printable '
                                        'text, at most 255 characters)')),
                  BOTH)
    yield Command('host-enable', 'place instances on a host again (admin; '
                  'the reason is cleared)', hosts.host_enable,
                  (host, binary), BOTH)


def _migration_commands():
    m = migrations
    migration = Arg('migration', nargs='?', default=None, help='migration '
                    'uuid (default: the one in progress)')
    yield Command('live-migrate', "move a running instance to another host "
                  '(admin); prints the migration', m.live_migrate, (
                      REF, Arg('--host', help='the destination (default: '
                               "the scheduler's choice)"),
                      Exclusive(
                          Arg('--block-migrate', dest='block_migration',
                              action='store_const', const=True,
                              default=None, help='copy the root disk too'),
                          Arg('--no-block-migrate', dest='block_migration',
                              action='store_const', const=False,
                              help='shared instances directory: copy '
                              'memory only (default: decided by the '
                              'destination)'))), BOTH)
    yield Command('migration-list', 'list migrations, newest first (admin)',
                  m.migration_list, (
                      Arg('--server', help='only this instance\'s'),
                      Arg('--host', help='only those from or to this host'),
                      Arg('--status', choices=states.MIGRATION_STATUSES)),
                  BOTH)
    yield Command('migration-show', 'show a migration (admin)',
                  m.migration_show, (Arg('migration',
                                         help='migration uuid'),), BOTH)
    yield Command('migration-abort', "cancel an instance's migration in "
                  'progress; it stays on its source (admin)',
                  m.migration_abort, (REF, migration), BOTH)
    yield Command('migration-force-complete', 'pause an instance so its '
                  'migration finishes (admin)', m.migration_force_complete,
                  (REF, migration), BOTH)
    yield Command('resize', 'move an instance to another host with another '
                  'flavor, stopped on the way; it then waits for '
                  'resize-confirm or resize-revert; prints the migration',
                  m.resize, (REF, Arg('flavor', help='flavor name or id')),
                  BOTH)
    yield Command('migrate', 'move an instance to another host, stopped on '
                  'the way, with its flavor (admin); then resize-confirm or '
                  'resize-revert; prints the migration', m.migrate, (
                      REF, Arg('--host', help='the destination (default: '
                               "the scheduler's choice)")), BOTH)
    yield Command('resize-confirm', 'keep a resized (or migrated) instance '
                  'where it is now; its source is cleaned up',
                  m.resize_confirm, (REF,), BOTH)
    yield Command('resize-revert', 'move a resized (or migrated) instance '
                  'back to its source with its old flavor',
                  m.resize_revert, (REF,), BOTH)
    yield Command('host-drain', 'disable a host and live-migrate every '
                  'active and paused instance off it; a summary of what '
                  'moved, exit code 1 unless all did (admin)',
                  drain.host_drain, (
                      Arg('host'),
                      Arg('--max-concurrent', type=int, default=2,
                          metavar='N', help='moves at once (default 2)'),
                      Arg('--timeout', dest='drain_timeout', type=float,
                          default=None, metavar='S', help='give up after '
                          'S seconds (moves in progress carry on)'),
                      Arg('--no-disable', action='store_true',
                          help='leave the host enabled')), BOTH)


def _bus_commands():
    yield Command(
        'bus-host-key', 'print the [bus] host_key_file content for a '
        'compute node (on a controller, from the bus secret)',
        bus_admin.host_key, (Arg('host'),), frozenset({CONF}))
    yield Command(
        'bus-broker-permissions', 'print the rabbitmqctl commands that give '
        'a broker user the rights of a compute node (or a controller)',
        bus_admin.broker_permissions, (
            Arg('user', help='the RabbitMQ user'),
            Arg('--vhost', default='/'),
            Exclusive(Arg('--compute-host', help='the compute node (its '
                          '[DEFAULT] host) that uses this user'),
                      Arg('--controller', action='store_true'),
                      required=True)), frozenset({CONF}))


def _network_commands():
    n = networking
    yield Command('network-create', 'create a network and its subnet',
                  n.network_create, (
                      Arg('name'),
                      Arg('--type', dest='network_type', default='vxlan',
                          choices=['flat', 'vlan', 'vxlan']),
                      Arg('--cidr', required=True), Arg('--gateway'),
                      repeated('--dns', 'IP'),
                      repeated('--pool', 'FIRST-LAST',
                               'allocation pool (repeatable)'),
                      Arg('--segmentation-id', type=int, help='VLAN id, or '
                          'VNI (vxlan: the next free if unset)'),
                      Arg('--physical-network', help='flat/vlan: the uplink '
                          'name the agents map to an interface'),
                      Arg('--mtu', type=int),
                      Arg('--external', action='store_true', help='a pool '
                          'of floating IPs (no ports); the agents put '
                          'floating addresses on its physical network\'s '
                          'uplink'),
                      Arg('--shared', action='store_true', help='every '
                          'project may use it (else only the creating '
                          'project)')))
    yield Command('network-set', 'share a network with every project, or '
                  'stop (admin)', n.network_set, (
                      Arg('ref'), Arg('--shared', required=True,
                                      action=argparse.BooleanOptionalAction)))
    yield Command('port-set', 'port security (anti-spoofing and security '
                  'groups) on or off (admin)', n.port_set, (
                      Arg('uuid'),
                      Arg('--port-security', required=True,
                          action=argparse.BooleanOptionalAction)))
    yield Command('network-list', 'list networks', n.network_list)
    yield Command('network-delete', 'delete a network', n.network_delete,
                  (Arg('ref'),))
    yield Command('port-list', 'list ports', n.port_list, (
        Arg('--network'), Arg('--instance', help='instance uuid')))
    yield Command('secgroup-create', 'create a security group',
                  n.secgroup_create, (Arg('name'), Arg('--description')))
    yield Command('secgroup-rule-add', 'add a rule to a security group',
                  n.secgroup_rule_add, (
                      GROUP, Arg('--direction', default='ingress',
                                 choices=['ingress', 'egress']),
                      Arg('--protocol', choices=['tcp', 'udp', 'icmp']),
                      Arg('--port', metavar='N[-M]', help='port or range'),
                      Arg('--remote-ip', help='remote CIDR'),
                      Arg('--remote-group', help='remote security group')))
    yield Command('secgroup-list', 'list security groups and their rules',
                  n.secgroup_list)
    yield Command('secgroup-delete', 'delete a security group',
                  n.secgroup_delete, (GROUP,))
    yield Command('secgroup-rule-delete', 'delete a security group rule',
                  n.secgroup_rule_delete, (Arg('rule', help='rule uuid'),))
    yield Command('server-secgroup-add', 'add a security group to an '
                  'instance', n.server_secgroup_add, (INSTANCE, GROUP))
    yield Command('server-secgroup-remove', 'remove a security group from '
                  'an instance', n.server_secgroup_remove, (INSTANCE, GROUP))


def _address_commands():
    n = networking
    yield Command('floating-ip-create', 'allocate a floating IP',
                  n.floating_ip_create, (Arg('--network', help='external '
                                             'network (default: first)'),))
    yield Command('floating-ip-list', 'list floating IPs',
                  n.floating_ip_list, (ONLY_PROJECT,))
    yield Command('floating-ip-associate', 'NAT a floating IP to an '
                  'instance\'s port', n.floating_ip_associate, (
                      FLOATING_IP, INSTANCE,
                      Arg('--port', help='port uuid (default: its first)')))
    yield Command('floating-ip-disassociate', 'stop NATing a floating IP',
                  n.floating_ip_disassociate, (FLOATING_IP,))
    yield Command('floating-ip-delete', 'release a floating IP',
                  n.floating_ip_delete, (FLOATING_IP,))
    yield Command('fixed-ip-create', 'reserve a fixed IP for the project '
                  '(boot --fixed-ip takes it)', n.fixed_ip_create, (
                      Arg('network'),
                      Arg('--address', help='default: the first free')))
    yield Command('fixed-ip-list', 'list reserved fixed IPs',
                  n.fixed_ip_list, (ONLY_PROJECT,))
    yield Command('fixed-ip-delete', 'release a reserved fixed IP',
                  n.fixed_ip_delete, (Arg('uuid'),))


def _account_commands():
    api = frozenset({API})
    password_file = Arg('--password-file', type=argparse.FileType('r'))
    yield Command('login', 'log in to --endpoint, cache the token',
                  accounts.login, (
                      Arg('--user', dest='login_user', required=True),
                      Arg('--project', dest='login_project'),
                      password_file), api)
    yield Command('logout', 'revoke and forget the cached token',
                  accounts.logout, (), api)
    yield Command('password', "change the logged-in user's own password "
                  '(every token of it dies)', accounts.password, (
                      Arg('--password-file', type=argparse.FileType('r'),
                          help='the current password (else '
                          '$HVCTL_PASSWORD)'),
                      Arg('--new-password-file',
                          type=argparse.FileType('r'), help='the new '
                          'password (else $HVCTL_NEW_PASSWORD)')), api)
    yield Command('user-set', 'enable/disable a user (admin), set their '
                  'default project (the user or admin)', accounts.user_set, (
                      Arg('user_id'),
                      Arg('--enable', dest='enabled', action='store_true',
                          default=None),
                      Arg('--disable', dest='enabled', action='store_false',
                          default=None),
                      Arg('--default-project', help='project id or name')),
                  api)


COMMANDS = (
    *_instance_commands(), *_host_commands(), *_migration_commands(),
    *_bus_commands(),
    *_network_commands(),
    *_address_commands(), *_account_commands(),
    Command('complete', 'print a shell completion script (bash: eval '
            '"$(hvctl complete bash)")', complete,
            (Arg('shell', choices=['bash']),), frozenset({LOCAL})),
)
BY_NAME = {c.name: c for c in COMMANDS}
