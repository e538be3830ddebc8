"""The conductor's console tokens on a real (SQLite) database, the agent a
stand-in: a token is stored hashed, opens its console once, and is refused
once expired, used, or when its instance stopped or moved; an agent that
does not answer is a clear 503, one that answers nonsense a refusal."""
import datetime
from unittest import mock

import oslo_messaging as messaging
import pytest
import sqlalchemy as sa

import agent.conf  # noqa: F401 ([console] token_ttl)
from agent import context
from agent import exception
from agent.conductor import consoles
from agent.db import api_models
from agent.db import models

UUID = '0b9d6a52-5d7e-4a43-8d1e-1c2f3a4b5c6d'


@pytest.fixture
def conductor(tmp_path):
    engine = sa.create_engine('sqlite:///%s' % (tmp_path / 'db.sqlite'))
    models.Base.metadata.create_all(engine)
    with engine.begin() as c:
        c.execute(sa.insert(models.Flavor.__table__), [dict(
            id=1, name='m1.tiny', vcpus=1, memory_mb=512, root_gb=1)])
        c.execute(sa.insert(models.Instance.__table__), [dict(
            uuid=UUID, name='web-1', project_id='p', user_id='u',
            flavor_id=1, vcpus=1, memory_mb=512, root_gb=1,
            vm_state='active', host='node1', deleted=0)])
    compute = mock.Mock()
    compute.get_console.return_value = {'protocol': 'serial',
                                        'host': '127.0.0.1', 'port': 10001}
    m = consoles.ConsoleManager(engine=engine, compute=compute)
    yield m, engine
    engine.dispose()


def refused(call, **kw):
    """The exception ``call`` raised (through the RPC server's wrapping
    of expected errors)."""
    with pytest.raises(messaging.ExpectedException) as e:
        call(context.admin_context(), **kw)
    return e.value.exc_info[1]


def create(m):
    return m.console_token_create(context.admin_context(),
                                  instance_uuid=UUID, protocol='serial')


def check(m, token, consume=True):
    return m.console_token_check(context.admin_context(), token=token,
                                 consume=consume)


def test_a_token_opens_its_console_once(conductor):
    m, engine = conductor
    token = create(m)['token']
    with engine.connect() as c:
        stored = c.execute(sa.select(api_models.ConsoleToken)).one()
    assert stored.token_hash == consoles.token_hash(token) != token
    found = check(m, token, consume=False)          # /info: still there
    assert (found['address'], found['port'], found['instance_name']) == (
        '127.0.0.1', 10001, 'web-1')
    assert check(m, token)['instance_uuid'] == UUID
    assert isinstance(refused(m.console_token_check, token=token,
                              consume=True), exception.ConsoleTokenInvalid)


def test_expired_tokens_are_refused_and_purged(conductor):
    m, engine = conductor
    token = create(m)['token']
    with engine.begin() as c:
        c.execute(sa.update(api_models.ConsoleToken).values(
            expires_at=models.utcnow() - datetime.timedelta(seconds=1)))
    assert isinstance(refused(m.console_token_check, token=token,
                              consume=False), exception.ConsoleTokenInvalid)
    create(m)                       # a new one purges the expired
    with engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(
            api_models.ConsoleToken)).scalar() == 1


@pytest.mark.parametrize('change', [
    {'host': 'node2'}, {'vm_state': 'stopped'}, {'deleted': 1}])
def test_a_token_of_an_instance_that_moved_or_stopped_is_void(conductor,
                                                               change):
    m, engine = conductor
    token = create(m)['token']
    with engine.begin() as c:
        c.execute(sa.update(models.Instance.__table__).values(**change))
    assert isinstance(refused(m.console_token_check, token=token,
                              consume=False), exception.ConsoleTokenInvalid)
    with engine.connect() as c:         # and gone for good
        assert c.execute(sa.select(api_models.ConsoleToken)).first() is None


def test_only_an_active_instance_gets_a_token(conductor):
    m, engine = conductor
    with engine.begin() as c:
        c.execute(sa.update(models.Instance.__table__).values(
            vm_state='stopped'))
    assert isinstance(refused(m.console_token_create, instance_uuid=UUID,
                              protocol='serial'),
                      exception.InstanceInvalidState)


def test_an_agent_that_does_not_answer_or_answers_nonsense(conductor):
    m, _ = conductor
    m.compute.get_console.side_effect = messaging.MessagingTimeout()
    e = refused(m.console_token_create, instance_uuid=UUID,
                protocol='serial')
    assert isinstance(e, exception.ComputeHostUnreachable)
    assert 'node1' in str(e)
    m.compute.get_console.side_effect = None
    m.compute.get_console.return_value = {'host': 'evil.example',
                                          'port': 22}
    assert isinstance(refused(m.console_token_create, instance_uuid=UUID,
                              protocol='serial'),
                      exception.InvalidRPCPayload)
