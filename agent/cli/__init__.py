"""hvctl: the operator's command line, talking to the conductor over RPC.

    hvctl boot NAME --flavor m1.tiny [--image REF] [--kernel REF
               --ramdisk REF] [--config-drive] [--user-data FILE]
               [--public-key FILE] [--wait]
    hvctl list | show REF | delete REF | reboot REF [--hard] | stop REF
    hvctl start REF | pause REF | unpause REF | console REF [--length N]
    hvctl suspend REF | resume REF   (memory to the host's disk and back)
    hvctl rebuild REF --image REF [--wait]   (a fresh root disk)
    hvctl snapshot REF --name NAME [--wait]   (the root disk as an image)
    hvctl interface-attach REF --network NET | interface-detach REF PORT
    hvctl rescue REF [--image REF] | unrescue REF   (boot a rescue image)
    hvctl attach REF VOLUME_ID --path FILE [--format qcow2|raw]
    hvctl detach REF VOLUME_ID
    hvctl volume-extend VOLUME_ID --size GB   (through hvagent-api)
    hvctl flavor-list | host-list | action-list REF
    hvctl host-disable HOST [--reason TEXT] | host-enable HOST   (admin)
    hvctl live-migrate REF [--host HOST] [--block-migrate|--no-block-migrate]
    hvctl migration-list [--server REF] [--host HOST] [--status STATUS]
    hvctl migration-show ID | migration-abort REF [ID]
               | migration-force-complete REF [ID]   (admin)
    hvctl host-drain HOST [--max-concurrent N] [--timeout S] [--no-disable]
    hvctl bus-host-key HOST   (the key a compute node signs with)
    hvctl bus-broker-permissions USER (--compute-host HOST | --controller)
               [--vhost VHOST]   (rabbitmqctl commands for that user)
    hvctl network-create NAME --cidr CIDR [--type flat|vlan|vxlan] ...
    hvctl network-list | network-delete REF | port-list [--network REF]
    hvctl fixed-ip-create NETWORK [--address IP] | fixed-ip-list
               | fixed-ip-delete UUID  (then: boot --fixed-ip UUID)
    hvctl secgroup-create NAME | secgroup-rule-add GROUP --protocol tcp
               --port 22 [--remote-ip CIDR] | secgroup-list
    hvctl complete bash   (a bash completion script)

    hvctl --endpoint URL login --user NAME [--project NAME]
               [--password-file FILE] | logout
    hvctl --endpoint URL password [--password-file F --new-password-file F]
    hvctl --endpoint URL user-set USER_ID [--enable|--disable]
               [--default-project REF]

The package: commands.py (the command table), parser.py and completion.py
(built from it), views.py (each resource's columns), the handlers by
subject (instances.py, hosts.py, migrations.py, drain.py...),
bus_backend.py and
api_backend.py (the two back ends), dispatch.py (the choice between
them).

Every command takes --json. Configuration (transport_url...) comes from
/etc/hvagent/hvagent.conf, --config-file or --transport-url. Over RPC
hvctl is a controller: it signs with the bus secret ([bus] secret_file).
With an endpoint (--endpoint or $HVAGENT_ENDPOINT) hvctl goes through
hvagent-api with the token ``login`` cached instead (see
agent.cli.api_backend); an https endpoint's certificate is verified
against --os-cacert FILE ($OS_CACERT), else the system's CAs
(docs/tls.md).
"""
from agent.cli.bus_backend import boot_options
from agent.cli.bus_backend import wait_for
from agent.cli.dispatch import main
from agent.cli.dispatch import run
from agent.cli.parser import add_boot_options
from agent.cli.parser import build_parser

__all__ = ['add_boot_options', 'boot_options', 'build_parser', 'main',
           'run', 'wait_for']
