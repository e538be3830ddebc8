"""hvctl: one command table behind --help, the parser, the completion
script; one set of columns per resource, whichever back end answers."""
import shutil
import subprocess

import pytest

from agent import objects
from agent.api import schemas
from agent.api.compute import hypervisors
from agent.api.compute import instance_actions
from agent.api.compute import services
from agent.api.compute import views as compute_views
from agent.cli import api_backend
from agent.cli import bus_backend
from agent.cli import commands
from agent.cli import completion
from agent.cli import dispatch
from agent.cli import parser as cli_parser
from agent.cli import views

UUID = '6d1c8a34-7d52-4c1e-9a55-1f0b8b6c2a10'
NAMES = [c.name for c in commands.COMMANDS]


# ----------------------------------------------------------------- the table
def test_every_command_is_in_help_with_its_one_line_help():
    text = ' '.join(cli_parser.build_parser().format_help().split())
    assert len(NAMES) == len(set(NAMES)) > 40
    for command in commands.COMMANDS:
        assert command.help and '\n' not in command.help, command.name
        assert '%s %s' % (command.name, ' '.join(command.help.split())) \
            in text, command.name


@pytest.mark.parametrize('name', NAMES)
def test_every_command_has_its_own_help(name, capsys):
    with pytest.raises(SystemExit) as exit:
        cli_parser.build_parser().parse_args([name, '--help'])
    assert exit.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith('usage: hvctl %s' % name)
    assert ' '.join(commands.BY_NAME[name].help.split()) in \
        ' '.join(text.split())


def test_the_api_serves_what_it_served():
    assert {c.name for c in commands.COMMANDS
            if commands.API in c.serves} == {
        'boot', 'list', 'show', 'delete', 'reboot', 'stop', 'start',
        'pause', 'unpause', 'suspend', 'resume', 'isolate', 'release',
        'console', 'flavor-list',
        'host-list', 'host-disable', 'host-enable', 'action-list', 'login',
        'logout', 'password', 'user-set', 'live-migrate', 'migration-list',
        'migration-show', 'migration-abort', 'migration-force-complete',
        'host-drain', 'resize', 'migrate', 'resize-confirm',
        'resize-revert', 'volume-extend', 'rebuild', 'rescue',
        'unrescue', 'snapshot', 'interface-attach', 'interface-detach'}


def test_an_api_command_without_endpoint_is_refused(monkeypatch):
    monkeypatch.delenv('HVAGENT_ENDPOINT', raising=False)
    with pytest.raises(SystemExit) as exit:
        dispatch.main(['logout'])
    assert str(exit.value) == \
        'hvctl: logout needs --endpoint or $HVAGENT_ENDPOINT'


def test_an_rpc_command_through_the_api_is_refused(capsys):
    assert dispatch.main(['--endpoint', 'http://127.0.0.1:9',
                          'network-list']) == 1
    assert 'network-list is not available through the API' in \
        capsys.readouterr().err


def test_the_endpoint_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv('HVAGENT_ENDPOINT', 'http://api.example:8774')
    args = cli_parser.build_parser().parse_args(['list'])
    assert args.endpoint == 'http://api.example:8774'


# ------------------------------------------------------------ completion
def script():
    return completion.bash(commands.GLOBAL_OPTIONS, commands.COMMANDS)


def test_completion_names_every_command_and_option():
    text = script()
    for command in commands.COMMANDS:
        assert '        %s) opts="' % command.name in text, command.name
        for arg in completion._flat(command.args):
            for flag in arg.flags:
                assert flag in text or not flag.startswith('-'), flag
    assert 'complete -F _hvctl hvctl' in text


def test_hvctl_complete_bash_prints_the_script(capsys):
    assert dispatch.main(['complete', 'bash']) == 0
    assert capsys.readouterr().out == script() + '\n'


def complete(*words):
    """What bash offers after ``hvctl *words`` (the last one typed)."""
    probe = ('source /dev/stdin <<<"$SCRIPT"; COMP_WORDS=(hvctl "$@"); '
             'COMP_CWORD=$#; _hvctl; echo "${COMPREPLY[*]}"')
    r = subprocess.run(['bash', '-c', probe, 'bash', *words],
                       env={'SCRIPT': script()}, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and r.stderr == '', r.stderr
    return r.stdout.split()


@pytest.mark.skipif(shutil.which('bash') is None, reason='no bash')
def test_bash_completes_commands_options_and_choices():
    assert complete('') == NAMES
    assert complete('flo') == [n for n in NAMES
                               if n.startswith('floating-ip-')]
    assert complete('--json', 'boot', 'vm', '--f') == ['--flavor',
                                                       '--fixed-ip']
    assert complete('--tr') == ['--transport-url']
    assert complete('secgroup-rule-add', 'g', '--protocol', '') == [
        'tcp', 'udp', 'icmp']
    assert complete('network-set', 'n', '--no') == ['--no-shared']
    assert complete('complete', '') == ['bash', '--help']


# ----------------------------------------- one set of columns, two back ends
def instance():
    return objects.Instance(
        uuid=UUID, name='vm-1', project_id='p1', user_id='u1', host='node1',
        node='node1', image_ref='cirros', key_name='mykey',
        flavor=objects.Flavor(id=1, name='m1.small', vcpus=2,
                              memory_mb=2048, root_gb=20),
        vm_state='active', task_state=None, power_state='running',
        networks=['lan'], metadata={'role': 'web'})


def port():
    """The instance's NIC on 'lan', as the conductor lists ports."""
    return objects.Port(
        uuid=UUID, instance_uuid=UUID, mac_address='fa:16:3e:00:00:01',
        ip_address='10.0.0.5', project_id='p1', status='ACTIVE',
        host='node1', security_groups=[],
        network=objects.Network(uuid=UUID, name='lan', network_type='flat',
                                cidr='10.0.0.0/24'))


def action():
    return objects.InstanceAction(
        instance_uuid=UUID, action='create', request_id='req-1',
        user_id='u1', project_id='p1', result='Success', start_time=None)


def host():
    return {'service': objects.Service(host='node1', binary='hvagent-compute',
                                       up=True, disabled=True,
                                       disabled_reason='new disks'),
            'node': objects.ComputeNode(
                uuid=UUID, host='node1', hypervisor_type='qemu', vcpus=8,
                memory_mb=16384, local_gb=100, vcpus_used=2,
                memory_mb_used=2048, local_gb_used=20, running_vms=1)}


class Conductor:
    """The conductor's answers to the calls the shared commands make."""

    def instance_show(self, ctxt, ref):
        return instance()

    def instance_list(self, ctxt, host, project_id):
        return [instance()]

    def flavor_list(self, ctxt):
        return [instance().flavor]

    def action_list(self, ctxt, ref):
        return [action()]

    def host_list(self, ctxt):
        return [host()]

    def service_update(self, ctxt, host, binary, disabled, disabled_reason):
        self.updated = (host, binary, disabled, disabled_reason)
        return objects.Service(host=host, binary=binary, disabled=disabled,
                               disabled_reason=disabled_reason)


class Response:
    def __init__(self, body):
        self.body = body

    def json(self):
        return self.body


def wire(model, value):
    return model.model_validate(value).model_dump(mode='json')


class Client:
    """hvagent-api's answers, made by its own serializers from the same
    objects (hosts as catalog.hosts builds them)."""

    def __init__(self):
        self.calls = []

    def call(self, method, path, **kw):
        self.calls.append((method, path, kw.get('json')))
        if path.startswith('/compute/v2.1/os-services/'):
            body = kw['json']
            return Response({'service': wire(schemas.ServiceStatus, dict(
                host=body['host'], binary=body['binary'],
                status='enabled' if path.endswith('/enable') else 'disabled',
                disabled_reason=body.get('disabled_reason')))})
        srv = compute_views.server(instance(), [port()], 'http://api', True)
        compute = '/compute/v2.1'
        return Response({
            ('GET', compute + '/servers/' + UUID): {'server': srv},
            ('GET', compute + '/servers/detail'): {'servers': [srv]},
            ('GET', compute + '/flavors/detail'): {'flavors': [
                compute_views.flavor(instance().flavor, 'http://api')]},
            ('GET', compute + '/flavors'): {'flavors': [
                compute_views.flavor(instance().flavor, 'http://api',
                                     detail=False)]},
            ('GET', compute + '/servers/%s/os-instance-actions' % UUID): {
                'instanceActions': [instance_actions._action(action())]},
            ('GET', compute + '/os-services'): {
                'services': [services._service(host())]},
            ('GET', compute + '/os-hypervisors/detail'): {
                'hypervisors': [hypervisors.hypervisor(host(), True)]},
        }.get((method, path)))


def backends():
    return (bus_backend.Backend(Conductor(), None),
            api_backend.Backend('http://api', client=Client()))


def run(backend, *argv):
    lines = []
    args = cli_parser.build_parser().parse_args(list(argv))
    assert commands.BY_NAME[args.command].run(backend, args,
                                              lines.append) == 0
    return '\n'.join(lines)


@pytest.mark.parametrize('argv', [('show', UUID), ('list',),
                                  ('flavor-list',), ('action-list', 'vm-1')])
def test_both_back_ends_print_the_same_table(argv):
    """(Timestamps are left out: each back end prints them as it gets
    them, a datetime's str() over RPC, ISO 8601 text from the API.)"""
    rpc, api = (run(b, *argv) for b in backends())
    assert rpc == api
    assert 'vm-1' in rpc or 'm1.small' in rpc or 'req-1' in rpc


def test_show_has_the_fuller_set_of_fields():
    text = run(backends()[0], 'show', 'vm-1')
    fields = [line.split('|')[1].strip() for line in text.splitlines()
              if line.startswith('|')][1:]
    assert fields == views.INSTANCE.headers == [
        'uuid', 'name', 'vm_state', 'task_state', 'power_state', 'flavor',
        'host', 'project_id', 'image_ref', 'key_name', 'created_at',
        'launched_at', 'networks', 'volumes', 'metadata', 'fault']
    assert '| mykey ' in text and "{'role': 'web'}" in text


def cells(text):
    return [[c.strip() for c in line.split('|')[1:-1]]
            for line in text.splitlines() if line.startswith('|')]


def test_host_list_has_the_ten_columns_through_both():
    rpc, api = (cells(run(b, 'host-list')) for b in backends())
    assert rpc[0] == api[0] == ['Host', 'Service', 'State', 'Status',
                                'Reason', 'vCPUs', 'RAM MB', 'Disk GB',
                                'VMs', 'Last seen']
    assert rpc[1] == ['node1', 'hvagent-compute', 'up', 'disabled',
                      'new disks', '2/8', '2048/16384', '20/100', '1', '']
    assert api[1] == rpc[1]


@pytest.mark.parametrize('argv, sent, path', [
    (('host-disable', 'node1'), ('node1', 'hvagent-compute', True, None),
     'disable'),
    (('host-disable', 'node1', '--reason', 'new disks'),
     ('node1', 'hvagent-compute', True, 'new disks'), 'disable-log-reason'),
    (('host-enable', 'node1', '--binary', 'hvagent-compute'),
     ('node1', 'hvagent-compute', False, None), 'enable'),
])
def test_host_disable_and_enable_through_both(argv, sent, path):
    rpc, api = backends()
    assert run(rpc, *argv) == run(api, *argv)
    assert rpc.conductor.updated == sent
    body = {'host': sent[0], 'binary': sent[1]}
    if sent[3]:
        body['disabled_reason'] = sent[3]
    assert api.client.calls == [('PUT', '/compute/v2.1/os-services/' + path, body)]
    text = run(rpc, *argv)
    assert '| status          | %s ' % ('disabled' if sent[2]
                                        else 'enabled') in text


def test_json_prints_what_each_back_end_got():
    rpc, api = (run(b, '--json', 'list') for b in backends())
    assert '"uuid": "%s"' % UUID in rpc and '"vm_state"' in rpc
    assert '"id": "%s"' % UUID in api and '"status"' in api


def test_the_api_resolves_a_name_and_accepts_without_waiting():
    _rpc, api = backends()
    assert run(api, 'stop', 'vm-1') == \
        'Request to stop %s accepted' % UUID
    assert ('POST', '/compute/v2.1/servers/%s/action' % UUID,
            {'os-stop': None}) in api.client.calls
