"""The RPC payload check (@expects), serializer and access policy."""
import oslo_messaging as messaging
import pytest

from agent import context
from agent import exception
from agent import objects
from agent.objects import fields as f
from agent.rpc import checks
from agent.rpc import serializer


class Endpoint:
    def __init__(self):
        self.calls = []

    @checks.expects(name=f.String(max_length=8), count=f.Integer(default=1),
                 flavor=f.Object('Flavor', nullable=True))
    def act(self, ctxt, name, count, flavor):
        self.calls.append((ctxt.request_id, name, count, flavor))
        return 'done'

    def helper(self, ctxt):
        return 'private'


def call(endpoint, **kwargs):
    try:
        return endpoint.act({'request_id': 'req-1'}, **kwargs)
    except messaging.ExpectedException as e:
        raise e.exc_info[1]


def test_good_payload_is_coerced_and_context_built():
    ep = Endpoint()
    fl = objects.Flavor(name='t', vcpus=1, memory_mb=1, root_gb=0)
    assert call(ep, name='a', flavor=fl.to_primitive()) == 'done'
    assert ep.calls == [('req-1', 'a', 1, fl)]


@pytest.mark.parametrize('kwargs,reason', [
    ({}, 'missing argument name'),
    ({'name': 'a', 'evil': 1}, 'unknown argument'),
    ({'name': 'much too long'}, 'name longer than 8'),
    ({'name': 'a', 'count': '1; rm -rf /'}, 'count must be an integer'),
    ({'name': 'a', 'flavor': {'hv_object.name': 'Flavor'}},
     'bad object version None'),
])
def test_bad_payload_is_refused_before_the_method_runs(kwargs, reason):
    ep = Endpoint()
    with pytest.raises(exception.InvalidRPCPayload, match=reason):
        call(ep, **kwargs)
    assert ep.calls == []


def test_only_checked_methods_are_reachable_over_rpc():
    policy = checks.ExposedOnlyPolicy()
    ep = Endpoint()
    assert policy.is_allowed(ep, 'act')
    assert not policy.is_allowed(ep, 'helper')
    assert not policy.is_allowed(ep, 'missing')


def test_serializer_round_trip_and_bad_primitive_left_for_the_check():
    ser = serializer.Serializer()
    fl = objects.Flavor(name='t', vcpus=1, memory_mb=1, root_gb=0)
    prim = ser.serialize_entity(None, {'a': [fl]})
    assert prim['a'][0]['hv_object.name'] == 'Flavor'
    assert ser.deserialize_entity(None, prim['a']) == [fl]
    bad = {'hv_object.name': 'Flavor', 'hv_object.version': '1.0',
           'hv_object.data': {'vcpus': -1}}
    assert ser.deserialize_entity(None, bad) is bad
    ctxt = ser.deserialize_context(ser.serialize_context(
        context.RequestContext(user_id='u', project_id='p')))
    assert (ctxt.user_id, ctxt.project_id) == ('u', 'p')
    assert ser.deserialize_context('garbage').request_id.startswith('req-')


def test_context_carries_no_token_and_says_whether_it_came_via_the_api():
    ser = serializer.Serializer()
    sent = context.RequestContext(user_id='u', project_id='p', via_api=True)
    got = ser.deserialize_context(ser.serialize_context(sent))
    assert got.via_api is True and 'via api' in repr(got)
    assert set(sent.to_dict()) <= set(context.WIRE_FIELDS)
    assert not any('token' in k for k in context.WIRE_FIELDS)
    assert context.RequestContext.from_dict({'via_api': 'yes'}).via_api \
        is False
