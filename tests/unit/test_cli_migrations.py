"""hvctl's live-migration commands: their arguments, one set of columns
through both back ends, the REST calls they make, and host-drain's
bookkeeping (a pure Drain) and loop against a scripted back end."""
import argparse
import datetime

import pytest

from agent import exception
from agent import objects
from agent.api import action_schemas
from agent.api.compute import server_actions
from agent.cli import api_backend
from agent.cli import bus_backend
from agent.cli import commands
from agent.cli import drain
from agent.cli import parser as cli_parser
from agent.cli import views

UUID = '6d1c8a34-7d52-4c1e-9a55-1f0b8b6c2a10'
MIG = '0b6f7a2e-33c4-4a8e-8f7e-2d6d6c1c9e01'
WHEN = datetime.datetime(2026, 12, 5, 12, 0, 0)


def parse(*argv):
    return cli_parser.build_parser().parse_args(list(argv))


def migration(status='running', processed=256, **kw):
    return objects.Migration(**dict(dict(
        uuid=MIG, instance_uuid=UUID, migration_type='live-migration',
        status=status, source_compute='node1', dest_compute='node2',
        memory_total=1024, memory_processed=processed,
        memory_remaining=1024 - processed, disk_total=0, disk_processed=0,
        disk_remaining=0, error=None, created_at=WHEN, updated_at=WHEN),
        **kw))


# ----------------------------------------------------------------- arguments
@pytest.mark.parametrize('flags, block', [
    ((), None), (('--block-migrate',), True),
    (('--no-block-migrate',), False)])
def test_live_migrate_block_flags(flags, block):
    args = parse('live-migrate', 'vm-1', '--host', 'node2', *flags)
    assert (args.ref, args.host, args.block_migration) == (
        'vm-1', 'node2', block)


def test_block_flags_exclude_each_other(capsys):
    with pytest.raises(SystemExit):
        parse('live-migrate', 'vm-1', '--block-migrate',
              '--no-block-migrate')
    assert 'not allowed with argument' in capsys.readouterr().err


def test_host_drain_arguments_keep_the_global_timeout():
    args = parse('--timeout', '5', 'host-drain', 'node1')
    assert (args.host, args.max_concurrent, args.drain_timeout,
            args.no_disable, args.timeout) == ('node1', 2, None, False, 5.0)
    args = parse('host-drain', 'node1', '--max-concurrent', '4',
                 '--timeout', '600', '--no-disable')
    assert (args.max_concurrent, args.drain_timeout, args.no_disable) == (
        4, 600.0, True)


def test_abort_and_force_complete_take_an_optional_migration():
    assert parse('migration-abort', 'vm-1').migration is None
    assert parse('migration-force-complete', 'vm-1', MIG).migration == MIG


def test_a_status_filter_is_a_known_status(capsys):
    with pytest.raises(SystemExit):
        parse('migration-list', '--status', 'bogus')
    assert parse('migration-list', '--status', 'running').status == 'running'


# --------------------------------------------- the REST body, both forms
def action(body):
    """hvagent-api's reading of a server action's body: its arguments."""
    return server_actions.parse(body)[1]


@pytest.mark.parametrize('body', [
    {'os-migrateLive': {'host': 'node\n2'}},
    {'os-migrateLive': {'host': 'node\u202e2'}},
    {'os-migrateLive': {'host': ''}},
    {'os-migrateLive': {'host': 'n' * 256}},
    {'os-migrateLive': {'block_migration': 'yes'}},
    {'os-migrateLive': {'block_migration': 1}},
    {'os-migrateLive': {'host': None, 'force': True}},
    {'os-migrateLive': {}, 'os-stop': None},
    {'action': 'migrate'},
    {'os-stop': {'force': True}},
    {},
])
def test_server_action_bodies_refused(body):
    with pytest.raises(exception.InvalidRPCPayload):
        action(body)


def test_server_action_bodies_accepted():
    assert server_actions.parse({'os-stop': None}) == ('os-stop', None)
    live = action({'os-migrateLive': {}})
    assert (live.host, live.block_migration) == (None, 'auto')
    live = action({'os-migrateLive': {
        'host': 'node2', 'block_migration': False}})
    assert (live.host, live.block_migration) == ('node2', False)
    # nova's body before 2.25 (what the openstack client sends at 2.1)
    live = action({'os-migrateLive': {
        'host': None, 'block_migration': True, 'disk_over_commit': False}})
    assert (live.host, live.block_migration) == (None, True)


# ------------------------------------------------ both back ends, one view
class Conductor:
    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def record(ctxt, **kw):
            self.calls.append((name, kw))
            return [migration()] if name == 'migration_list' else migration()
        return record


class Response:
    def __init__(self, body):
        self.body = body

    def json(self):
        return self.body


class Client:
    """hvagent-api's answers, by its own view of the same Migration."""

    def __init__(self):
        self.calls = []

    def call(self, method, path, **kw):
        self.calls.append((method, path, kw.get('json'), kw.get('params')))
        one = action_schemas.Migration.of(migration()).model_dump(mode='json')
        if path.endswith('/migrations') or \
                path == '/compute/v2.1/os-migrations':
            return Response({'migrations': [one]})
        return Response({'migration': one})


def backends():
    return (bus_backend.Backend(Conductor(), None),
            api_backend.Backend('http://api', client=Client()))


def run(backend, *argv):
    lines = []
    args = parse(*argv)
    assert commands.BY_NAME[args.command].run(backend, args,
                                              lines.append) == 0
    return '\n'.join(lines)


def cells(text):
    return [[c.strip() for c in line.split('|')[1:-1]]
            for line in text.splitlines() if line.startswith('|')]


@pytest.mark.parametrize('argv', [
    ('live-migrate', UUID), ('migration-show', MIG),
    ('migration-list',), ('migration-abort', UUID),
    ('migration-force-complete', UUID, MIG)])
def test_both_back_ends_print_the_same_migration(argv):
    """(Timestamps left out: a datetime over RPC, ISO text from the API.)"""
    rpc, api = (cells(run(b, *argv)) for b in backends())
    stamp = rpc[0].index('Created') if 'Created' in rpc[0] else None

    def untimed(rows):
        return [[c for i, c in enumerate(r) if i != stamp] for r in rows
                if r[0] not in ('created_at', 'updated_at')]
    assert untimed(rpc) == untimed(api)
    assert ['memory', '25%'] in rpc or '25%' in rpc[1]


def test_the_migration_fields():
    assert views.MIGRATION.headers == [
        'id', 'server_uuid', 'status', 'source_compute', 'dest_compute',
        'memory', 'memory_total_bytes', 'memory_remaining_bytes',
        'disk_total_bytes', 'disk_remaining_bytes', 'error', 'created_at',
        'updated_at']


def test_rest_calls_are_novas():
    _rpc, api = backends()
    run(api, 'live-migrate', UUID)
    run(api, 'live-migrate', UUID, '--host', 'node2', '--no-block-migrate')
    run(api, 'migration-list', '--server', UUID, '--status', 'running')
    run(api, 'migration-abort', UUID)
    run(api, 'migration-force-complete', UUID, MIG)
    action = '/compute/v2.1/servers/%s/action' % UUID
    mine = '/compute/v2.1/servers/%s/migrations' % UUID
    assert api.client.calls == [
        ('POST', action, {'os-migrateLive': {
            'host': None, 'block_migration': 'auto'}}, None),
        ('POST', action, {'os-migrateLive': {
            'host': 'node2', 'block_migration': False}}, None),
        ('GET', '/compute/v2.1/os-migrations', None, {
            'instance_uuid': UUID, 'status': 'running'}),
        ('GET', mine, None, None),        # which one is in progress
        ('DELETE', '%s/%s' % (mine, MIG), None, None),
        ('POST', '%s/%s/action' % (mine, MIG), {'force_complete': None},
         None)]


def test_rpc_calls():
    rpc, _api = backends()
    run(rpc, 'live-migrate', 'vm-1', '--host', 'node2', '--block-migrate')
    run(rpc, 'migration-abort', 'vm-1')
    assert rpc.conductor.calls == [
        ('live_migrate', {'ref': 'vm-1', 'host': 'node2',
                          'block_migration': True}),
        ('migration_abort', {'ref': 'vm-1', 'migration_uuid': None})]


def test_abort_over_rest_with_nothing_in_progress():
    _rpc, api = backends()
    api.client.call = lambda *a, **kw: Response({'migrations': [
        action_schemas.Migration.of(migration('completed')).model_dump(
            mode='json')]})
    with pytest.raises(api_backend.ApiError,
                       match='no migration of %s is in progress' % UUID):
        api.migration_abort(UUID)


# ------------------------------------------------ host-drain's bookkeeping
def inst(n, state='active'):
    return {'uuid': 'u%d' % n, 'name': 'vm%d' % n, 'host': 'node1',
            'vm_state': state}


def mig(n, status, processed=0, error=None, dest='node2'):
    return {'id': 'm%d' % n, 'status': status, 'dest_compute': dest,
            'memory_processed_bytes': processed, 'memory_total_bytes': 100,
            'error': error}


def test_drain_starts_at_most_n_and_skips_what_cannot_move():
    plan = drain.Drain([inst(1), inst(2), inst(3, 'stopped'), inst(4,
                                                                  'paused')],
                       max_concurrent=2)
    assert plan.skipped() == ['vm3 (u3): not moved: vm_state stopped: only '
                              'active and paused instances move live']
    first = plan.to_start()
    assert [m.uuid for m in first] == ['u1', 'u2']
    for n, move in enumerate(first, 1):
        plan.update(move, mig(n, 'accepted'))
    assert plan.to_start() == []                 # two are running
    assert plan.update(first[0], mig(1, 'running', 40)) == \
        'vm1 (u1): running -> node2, memory 40%'
    assert plan.update(first[0], mig(1, 'running', 40)) is None
    assert plan.update(first[0], mig(1, 'completed', 100)) == \
        'vm1 (u1): completed (moved to node2)'
    (third,) = plan.to_start()
    assert third.uuid == 'u4'
    assert plan.refused(third, 'No valid host: ...') == \
        'vm4 (u4): refused: No valid host: ...'
    plan.update(first[1], mig(2, 'error', error='Live migration of u2 '
                              'failed: disk full'))
    assert plan.finished and plan.exit_code == 1
    assert [(r['uuid'], r['result'], r['host'], r['reason'])
            for r in plan.summary()] == [
        ('u1', 'moved', 'node2', None),
        ('u2', 'not moved', 'node1', 'Live migration of u2 failed: '
         'disk full'),
        ('u3', 'not moved', 'node1', 'vm_state stopped: only active and '
         'paused instances move live'),
        ('u4', 'not moved', 'node1', 'No valid host: ...')]


def test_drain_of_nothing_or_everything_moved_exits_0():
    assert drain.Drain([]).finished and drain.Drain([]).exit_code == 0
    plan = drain.Drain([inst(1)], max_concurrent=0)     # at least one
    (move,) = plan.to_start()
    plan.update(move, mig(1, 'completed', 100))
    assert plan.exit_code == 0


def test_drain_time_out_reports_what_is_left():
    plan = drain.Drain([inst(1), inst(2)], max_concurrent=1)
    (move,) = plan.to_start()
    plan.update(move, mig(1, 'running', 10))
    assert plan.time_out(30) == [
        'vm1 (u1): timed out: still running after 30s',
        'vm2 (u2): timed out: still waiting to start after 30s']
    assert plan.finished and plan.exit_code == 1


class ScriptedBackend:
    """A back end whose moves go accepted -> running -> completed (or
    are refused for the instances in ``refuse``)."""
    refusals = exception.HVAgentError
    reason = staticmethod(exception.text)

    def __init__(self, instances, refuse=()):
        self.instances, self.refuse = instances, refuse
        self.looks, self.disabled, self.started = {}, [], []

    def adapt(self, kind, item):
        return item

    def service_update(self, host, binary, disabled, reason=None):
        self.disabled.append((host, binary, disabled, reason))

    def instances_on(self, host):
        return self.instances

    def live_migrate(self, uuid, host, block):
        if uuid in self.refuse:
            raise exception.NoValidHost(reason='node2 is full')
        self.started.append(uuid)
        self.looks['m' + uuid] = 0
        return mig(0, 'accepted') | {'id': 'm' + uuid}

    def migration(self, mid):
        self.looks[mid] += 1
        status = ('running', 'completed')[min(self.looks[mid], 2) - 1]
        return mig(0, status, 50 * self.looks[mid]) | {'id': mid}


def drain_args(*extra):
    return parse('host-drain', 'node1', *extra)


def test_host_drain_loop():
    b = ScriptedBackend([inst(1), inst(2), inst(3), inst(4, 'stopped')],
                        refuse=('u3',))
    lines = []
    code = drain.host_drain(b, drain_args('--max-concurrent', '2'),
                            lines.append, sleep=lambda s: None)
    assert code == 1
    assert b.disabled == [('node1', 'hvagent-compute', True, 'drain')]
    assert b.started == ['u1', 'u2']
    assert 'vm3 (u3): refused: No valid host: node2 is full' in lines
    assert 'vm1 (u1): completed (moved to node2)' in lines
    table = cells(lines[-1])
    assert table[0] == ['Instance', 'Name', 'Result', 'Host', 'Migration',
                        'Reason']
    assert [r[:4] for r in table[1:]] == [
        ['u1', 'vm1', 'moved', 'node2'], ['u2', 'vm2', 'moved', 'node2'],
        ['u3', 'vm3', 'not moved', 'node1'],
        ['u4', 'vm4', 'not moved', 'node1']]


def test_host_drain_no_disable_and_timeout():
    b = ScriptedBackend([inst(1)])
    b.migration = lambda mid: mig(0, 'running', 5) | {'id': mid}
    now = iter(range(0, 1000, 10))
    lines = []
    code = drain.host_drain(b, drain_args('--no-disable', '--timeout', '25'),
                            lines.append, sleep=lambda s: None,
                            clock=lambda: next(now))
    assert code == 1 and b.disabled == []
    assert 'vm1 (u1): timed out: still running after 25s' in lines


def test_host_drain_json_summary(capsys):
    b = ScriptedBackend([inst(1)])
    lines = []
    args = parse('--json', 'host-drain', 'node1')
    assert drain.host_drain(b, args, lines.append,
                            sleep=lambda s: None) == 0
    assert len(lines) == 1 and '"result": "moved"' in lines[0]
    assert 'completed (moved to node2)' in capsys.readouterr().err


def test_an_args_namespace_is_all_a_drain_needs():
    args = argparse.Namespace(host='node1', json=False, no_disable=True,
                              max_concurrent=1, drain_timeout=None)
    assert drain.host_drain(ScriptedBackend([]), args, lambda line: None) \
        == 0


def test_text_from_compute_nodes_reaches_no_terminal_raw():
    """A migration's error is what a (less trusted) compute node
    reported: escape sequences, line breaks and bidi overrides in it are
    shown escaped, in the tables and in host-drain's lines."""
    evil = 'failed\x1b]0;owned\x07\n\u202eboom'
    shown = 'failed\\u001b]0;owned\\u0007\\u000a\\u202eboom'
    rpc, _api = backends()
    rpc.conductor.migration_show = lambda ctxt, **kw: migration(
        'error', error=evil)
    text = run(rpc, 'migration-show', MIG)
    assert shown in text and '\x1b' not in text and '\u202e' not in text
    plan = drain.Drain([inst(1) | {'name': 'vm\x1b[2J'}])
    (move,) = plan.to_start()
    line = plan.update(move, mig(1, 'error', error=evil))
    assert line == 'vm\\u001b[2J (u1): error: ' + shown
    table = views.DRAIN.render(plan.summary())
    assert '\x1b' not in table and shown in table
