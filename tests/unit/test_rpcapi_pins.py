"""Every RPC client method is pinned to the endpoint that serves it: same
name, on the topic the client sends it to, with the same arguments (the
endpoint's ``@expects`` schema; required there, required in the client),
at a version the endpoint serves. And the ``[upgrade_levels]`` cap."""
import inspect
import types

import oslo_messaging as messaging
import pytest
from oslo_config import cfg

from agent import context
from agent import exception
from agent.compute import manager as compute_manager
from agent.compute import rpcapi as compute_rpcapi
from agent.conductor import main as conductor_main
from agent.conductor import report_queue
from agent.conductor import rpcapi as conductor_rpcapi
from agent.rpc import clients
from agent.scheduler import manager as scheduler_manager
from agent.scheduler import rpcapi as scheduler_rpcapi
from agent.security import bus_auth

CONF = cfg.CONF


class Recorder:
    """A client's ``_call``/``_cast`` as a record of what would be sent."""

    def __init__(self, client_cls):
        self.sent = []
        self.client = client_cls.__new__(client_cls)
        self.client._call = self._record
        self.client._cast = self._record

    def _record(self, ctxt, method, server=None, version=None, topic=None,
                **kwargs):
        self.sent.append((method, topic, version, kwargs))


def client_methods(cls):
    return {name: fn for name, fn in inspect.getmembers(cls, callable)
            if not name.startswith('_') and
            name not in vars(clients.Client) and
            'ctxt' in inspect.signature(fn).parameters}


def endpoints_by_topic():
    served = {conductor_rpcapi.AGENT_TOPIC: {}, conductor_rpcapi.API_TOPIC: {},
              conductor_rpcapi.IDENTITY_TOPIC: {}, 'compute': {},
              'scheduler': {}}
    topics = dict(conductor_main.ENDPOINTS)
    topics['compute'] = (compute_manager.ComputeManager,)
    topics['scheduler'] = (scheduler_manager.SchedulerManager,)
    for topic, classes in topics.items():
        for cls in classes:
            for name, fn in inspect.getmembers(cls, callable):
                if getattr(fn, 'rpc_exposed', False) and \
                        hasattr(fn, 'rpc_schema'):
                    served[topic][name] = (cls, fn.rpc_schema)
    # the periodic reports' queue: the agents' endpoint, read by
    # report_queue up to its own version
    reader = types.SimpleNamespace(
        target=messaging.Target(version=report_queue.VERSION))
    served[conductor_rpcapi.REPORT_TOPIC] = {
        report_queue.METHOD: (reader, served[conductor_rpcapi.AGENT_TOPIC][
            report_queue.METHOD][1])}
    return served


CASES = ([(conductor_rpcapi.ConductorAPI, name)
          for name in sorted(client_methods(conductor_rpcapi.ConductorAPI))] +
         [(compute_rpcapi.ComputeAPI, name)
          for name in sorted(client_methods(compute_rpcapi.ComputeAPI))] +
         [(scheduler_rpcapi.SchedulerAPI, name)
          for name in sorted(client_methods(scheduler_rpcapi.SchedulerAPI))])


def _send(client_cls, name):
    """What the client sends for ``name`` with every argument given."""
    rec = Recorder(client_cls)
    params = inspect.signature(getattr(client_cls, name)).parameters
    kwargs = {p: 'x' for p in params if p not in ('self', 'ctxt')}
    getattr(rec.client, name)(None, **kwargs)
    return params, rec.sent[0]


def _version(text):
    return tuple(int(p) for p in text.split('.'))


@pytest.mark.parametrize('client_cls, name', CASES,
                         ids=['%s.%s' % (c.__name__, n) for c, n in CASES])
def test_client_method_is_pinned_to_its_endpoint(client_cls, name):
    params, (method, topic, version, sent) = _send(client_cls, name)
    topic = topic or client_cls.TOPIC
    served = endpoints_by_topic()[topic]
    assert method == name
    assert name in served, '%s is not served on topic %s' % (name, topic)
    endpoint_cls, schema = served[name]
    assert set(sent) == set(schema), (name, sorted(sent), sorted(schema))
    for arg, field in schema.items():
        required = field.default is None and not field.nullable
        given = params[arg].default is inspect.Parameter.empty
        # the server's required arguments are the client's; the
        # conductor's keyword-only clients make the rest optional too
        exact = client_cls is conductor_rpcapi.ConductorAPI
        assert required == given if exact else given or not required, \
            '%s(%s): required %s on the server' % (name, arg, required)
    version = version or client_cls.VERSION
    assert _version(version) <= _version(endpoint_cls.target.version), (
        name, version, endpoint_cls.target.version)


def test_every_served_method_has_a_client():
    clients_of = {conductor_rpcapi.AGENT_TOPIC: conductor_rpcapi.AgentMethods,
                  conductor_rpcapi.REPORT_TOPIC: conductor_rpcapi.AgentMethods,
                  conductor_rpcapi.API_TOPIC: conductor_rpcapi.UserMethods,
                  conductor_rpcapi.IDENTITY_TOPIC:
                      conductor_rpcapi.IdentityMethods,
                  'compute': compute_rpcapi.ComputeAPI,
                  'scheduler': scheduler_rpcapi.SchedulerAPI}
    for topic, served in endpoints_by_topic().items():
        missing = set(served) - set(clients.methods(clients_of[topic]))
        assert not missing, (topic, sorted(missing))


def test_methods_are_sent_at_the_version_that_has_what_they_use():
    def sent(method, **kwargs):
        rec = Recorder(conductor_rpcapi.ConductorAPI)
        getattr(rec.client, method)(None, **kwargs)
        return rec.sent[0][2], rec.sent[0][3]
    assert sent('instance_wait', ref='a', timeout=1)[0] is None
    assert sent('instance_wait', ref='a', timeout=1, until=['active'])[0] == '1.3'
    assert sent('instance_action', ref='a', action='stop')[0] is None
    assert sent('instance_action', ref='a', action='isolate')[0] == '1.5'
    version, args = sent('boot_instance', name='n', flavor='f', fixed_ips=[])
    assert version is None and args['fixed_ips'] is clients.UNSET
    assert sent('token_check', token_id='t', user_id='u',
                project_id='p')[0] == '1.2'
    assert sent('token_check', token_id='t', user_id='u', project_id='p',
                issued_at=1)[0] == '1.8'
    assert sent('image_grant', instance_uuid='u')[0] == '1.10'
    assert sent('compute_node_update', node='n')[0] is None
    assert sent('compute_node_update', node='n', periodic=True)[0] == '1.16'
    assert sent('service_update', host='h', binary='hvagent-compute',
                disabled=True)[0] == '1.11'


class FakeOsloClient:
    def __init__(self):
        self.calls = []
        self.prepared = {}

    def prepare(self, **kw):
        self.prepared = kw
        return self

    def call(self, ctxt, method, **kwargs):
        self.calls.append((method, self.prepared.get('version'), kwargs))
        return 'answer'


@pytest.fixture
def signing(monkeypatch):
    """The real signing path (serializer.signed) with a test keyring."""
    monkeypatch.setattr(bus_auth, 'keyring', lambda: bus_auth.Keyring(
        master=b'k' * bus_auth.KEY_BYTES, host='test'))


def _client(cls):
    client = cls()
    fake = FakeOsloClient()
    client._client = lambda topic: fake
    return client, fake


def test_unset_arguments_are_not_sent(signing):
    client, fake = _client(conductor_rpcapi.ConductorAPI)
    client.instance_list(_ctxt(), host='node1')
    assert fake.calls == [('instance_list', None, {'host': 'node1'})]


def _ctxt():
    return context.admin_context()


def test_version_cap_refuses_what_the_older_conductor_cannot_serve(signing):
    CONF.set_override('conductor', '1.7', group='upgrade_levels')
    try:
        client, fake = _client(conductor_rpcapi.ConductorAPI)
        assert client.fixed_ip_list(_ctxt()) == 'answer'        # 1.7
        with pytest.raises(exception.RPCVersionCapped) as e:
            client.secgroup_delete(_ctxt(), group='web')           # 1.9
        assert str(e.value) == (
            'secgroup_delete needs conductor RPC version 1.9; '
            '[upgrade_levels] conductor caps this node at 1.7 (some '
            'conductor services still run an older release)')
        assert [c[0] for c in fake.calls] == ['fixed_ip_list']
        assert client.can_send_version('1.7')
        assert not client.can_send_version('1.10')
        # a 1.10 conductor cannot disable hosts: refused here, clearly
        CONF.set_override('conductor', '1.10', group='upgrade_levels')
        with pytest.raises(exception.RPCVersionCapped, match='^service_update '
                           'needs conductor RPC version 1.11;'):
            client.service_update(_ctxt(), host='h', binary='hvagent-compute',
                                  disabled=True)
    finally:
        CONF.clear_override('conductor', group='upgrade_levels')


def test_periodic_reports_are_calls_for_conductors_older_than_1_16():
    """Below 1.16 no conductor reads conductor_reports: the periodic
    report goes the way the start-up one does."""
    rec = Recorder(conductor_rpcapi.ConductorAPI)
    rec.client.compute_node_update(None, node='n', periodic=True)
    CONF.set_override('conductor', '1.15', group='upgrade_levels')
    try:
        rec.client.compute_node_update(None, node='n', periodic=True)
    finally:
        CONF.clear_override('conductor', group='upgrade_levels')
    assert [(topic, version) for _, topic, version, _ in rec.sent] == [
        (conductor_rpcapi.REPORT_TOPIC, '1.16'),
        (conductor_rpcapi.AGENT_TOPIC, None)]


def test_no_cap_by_default():
    assert compute_rpcapi.ComputeAPI().can_send_version('9.9')


def test_cap_option_refuses_a_malformed_version():
    with pytest.raises(ValueError):
        CONF.set_override('compute', 'one', group='upgrade_levels')


def test_topics_match_the_servers():
    assert conductor_rpcapi.TOPIC_OF['instance_get'] == 'conductor'
    assert conductor_rpcapi.TOPIC_OF['boot_instance'] == 'conductor_api'
    assert conductor_rpcapi.TOPIC_OF['authenticate'] == 'identity'
    assert set(conductor_rpcapi.TOPIC_OF) == {
        name for served in (endpoints_by_topic()[t] for t in (
            'conductor', 'conductor_api', 'identity')) for name in served}
    # the agent serves compute.<host> on the topic its client sends to
    assert bus_auth.COMPUTE_TOPIC == compute_rpcapi.ComputeAPI.TOPIC
