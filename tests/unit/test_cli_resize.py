"""hvctl's resize commands (resize, migrate, resize-confirm,
resize-revert) through both back ends, and the REST bodies of nova's
server actions they send."""
import pytest

from agent import exception
from agent.api.compute import server_actions
from tests.unit.test_cli_migrations import UUID
from tests.unit.test_cli_migrations import action
from tests.unit.test_cli_migrations import backends
from tests.unit.test_cli_migrations import cells
from tests.unit.test_cli_migrations import run

ARGVS = [('resize', UUID, 'm1.medium'), ('migrate', UUID),
         ('migrate', UUID, '--host', 'node2'), ('resize-confirm', UUID),
         ('resize-revert', UUID)]


@pytest.mark.parametrize('body', [
    {'resize': {}},
    {'resize': {'flavorRef': ''}},
    {'resize': {'flavorRef': 'm1\nsmall'}},
    {'resize': {'flavorRef': 'm1.small', 'OS-DCF:diskConfig': 'AUTO'}},
    {'resize': None},
    {'migrate': {'host': ''}},
    {'migrate': {'host': 'node2', 'force': True}},
    {'confirmResize': {'now': True}},
    {'revertResize': 1},
    {'resize': {'flavorRef': 'm1.small'}, 'migrate': None},
])
def test_resize_bodies_refused(body):
    with pytest.raises(exception.InvalidRPCPayload):
        action(body)


def test_resize_bodies_accepted():
    assert action({'resize': {'flavorRef': '3'}}).flavorRef == '3'
    assert action({'migrate': None}) is None
    assert action({'migrate': {'host': 'node2'}}).host == 'node2'
    assert server_actions.parse({'confirmResize': None}) == (
        'confirmResize', None)
    assert server_actions.parse({'revertResize': None}) == (
        'revertResize', None)


@pytest.mark.parametrize('argv', ARGVS)
def test_both_back_ends_print_the_same_migration(argv):
    rpc, api = (cells(run(b, *argv)) for b in backends())
    assert [r for r in rpc if r[0] not in ('created_at', 'updated_at')] == \
        [r for r in api if r[0] not in ('created_at', 'updated_at')]


def test_rest_and_rpc_calls():
    rpc, api = backends()
    for argv in ARGVS:
        run(rpc, *argv)
        run(api, *argv)
    path = '/compute/v2.1/servers/%s/action' % UUID
    assert api.client.calls == [('POST', path, body, None) for body in (
        {'resize': {'flavorRef': 'm1.medium'}}, {'migrate': None},
        {'migrate': {'host': 'node2'}}, {'confirmResize': None},
        {'revertResize': None})]
    assert rpc.conductor.calls == [
        ('resize', {'ref': UUID, 'flavor': 'm1.medium'}),
        ('migrate', {'ref': UUID, 'host': None}),
        ('migrate', {'ref': UUID, 'host': 'node2'}),
        ('resize_confirm', {'ref': UUID}),
        ('resize_revert', {'ref': UUID})]
