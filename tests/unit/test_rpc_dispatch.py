"""Malformed RPC messages are refused with a clear error before oslo's
dispatcher or our endpoints touch them (bugs the RPC fuzz test found:
TypeError/AttributeError answers, RecursionError on deep nesting, TypeError
on an unhashable object name, UnicodeEncodeError from the database on a
lone surrogate)."""
import types

import oslo_messaging as messaging
import pytest
from oslo_messaging.rpc import dispatcher as oslo_dispatcher

from agent import exception
from agent.objects import base
from agent.objects import fields as f
from agent.rpc import checks
from agent.rpc import dispatch as rpc_dispatch
from agent.rpc import serializer


class Endpoint:
    target = messaging.Target(version='1.1')

    @checks.expects(name=f.String())
    def hello(self, ctxt, name):
        return 'hello ' + name

    def helper(self, ctxt):            # not exposed: no @expects
        return 'secret'


def dispatch(message, client_timeout=None):
    disp = rpc_dispatch.CheckingDispatcher(
        [Endpoint()], serializer.Serializer(), checks.ExposedOnlyPolicy)
    incoming = types.SimpleNamespace(message=message, ctxt={},
                                     client_timeout=client_timeout)
    try:
        return disp.dispatch(incoming)
    except oslo_dispatcher.ExpectedException as e:
        raise e.exc_info[1] from None


class Newer:
    """Another endpoint of the same server, at a later version."""
    target = messaging.Target(version='1.9')

    @checks.expects()
    def later(self, ctxt):
        return 'later'


def test_a_method_asked_at_a_version_only_another_endpoint_has():
    """hello is 1.1's; at 1.9 only Newer is compatible: oslo raises
    NoSuchMethod (found by the RPC fuzz test as a traceback), answered
    here as an unknown method, like any refusal."""
    disp = rpc_dispatch.CheckingDispatcher(
        [Endpoint(), Newer()], serializer.Serializer(), checks.ExposedOnlyPolicy)
    incoming = types.SimpleNamespace(
        message={'method': 'hello', 'args': {'name': 'x'},
                 'version': '1.9'}, ctxt={}, client_timeout=None)
    with pytest.raises(oslo_dispatcher.ExpectedException) as exc:
        disp.dispatch(incoming)
    error = exc.value.exc_info[1]
    assert isinstance(error, exception.InvalidRPCPayload)
    assert 'Unknown RPC method hello at version 1.9' in str(error)


def test_a_well_formed_message_is_dispatched():
    assert dispatch({'method': 'hello', 'args': {'name': 'x'},
                     'version': '1.0'}) == 'hello x'


@pytest.mark.parametrize('message, client_timeout, reason', [
    ({'method': None, 'args': {}}, None, 'method must be a non-empty string'),
    ({'method': ['hello'], 'args': {}}, None, 'non-empty string'),
    ({'method': '', 'args': {}}, None, 'non-empty string'),
    ({'method': 'a b', 'args': {}}, None, 'is not a method name'),
    ({'method': 'x' * 300, 'args': {}}, None, 'is not a method name'),
    ({'method': 'hello', 'args': ['x']}, None, 'must be a mapping'),
    ({'method': 'hello', 'args': 'x'}, None, 'must be a mapping'),
    ({'method': 'hello', 'args': {'a-b': 1}}, None, 'named by identifiers'),
    ({'method': 'hello', 'args': {'name': 'x', 'ctxt': 1}}, None,
     'may not be named ctxt'),
    ({'method': 'hello', 'args': {'self': 1}}, None, 'may not be named self'),
    ({'method': 'hello', 'args': {}, 'version': 1.0}, None, '"X.Y"'),
    ({'method': 'hello', 'args': {}, 'version': {}}, None, '"X.Y"'),
    ({'method': 'hello', 'args': {}, 'namespace': []}, None, 'namespace'),
    ({'method': 'hello', 'args': {}}, [], 'call timeout'),
    ({'method': 'hello', 'args': {}}, -5, 'call timeout'),
    ({'method': 'helper', 'args': {}}, None, 'Unknown RPC method helper'),
    ({'method': '__init__', 'args': {}}, None, 'Unknown RPC method'),
    ({'method': 'nope', 'args': {}}, None, 'Unknown RPC method nope'),
    ({'method': 'hello', 'args': {}, 'namespace': 'other'}, None,
     'Unknown RPC method hello'),
])
def test_malformed_message_is_refused_clearly(message, client_timeout,
                                              reason):
    with pytest.raises(exception.InvalidRPCPayload) as e:
        dispatch(message, client_timeout)
    assert reason in str(e.value)


def test_unsupported_version_is_an_expected_answer():
    with pytest.raises(oslo_dispatcher.UnsupportedVersion):
        dispatch({'method': 'hello', 'args': {'name': 'x'},
                  'version': '2.0'})


def _nest(depth):
    value = 'leaf'
    for _ in range(depth):
        value = [value]
    return value


def test_deep_nesting_is_left_for_the_check_not_a_recursion_error():
    deep = _nest(5000)
    got = serializer.Serializer().deserialize_entity(None, deep)
    for _ in range(serializer.Serializer.MAX_DEPTH + 2):   # past the limit: as sent
        got, deep = got[0], deep[0]
    assert got is deep
    with pytest.raises(exception.InvalidRPCPayload, match='name must be a'):
        dispatch({'method': 'hello', 'args': {'name': _nest(900)}})


@pytest.mark.parametrize('name', [[1], {'a': 1}, None, 7])
def test_object_with_unhashable_or_odd_name_is_a_validation_error(name):
    primitive = {base.NAME_KEY: name, base.VERSION_KEY: '1.0',
                 base.DATA_KEY: {}}
    with pytest.raises(exception.ObjectValidationError,
                       match='unknown object type'):
        base.HVObject.from_primitive(primitive)
    assert serializer.Serializer().deserialize_entity(None, primitive) == primitive


@pytest.mark.parametrize('value', ['\ud800', 'ok\udfffok', '\ud83d'])
def test_lone_surrogates_are_refused_by_string_fields(value):
    with pytest.raises(ValueError, match='not valid Unicode'):
        f.String().coerce(value)
    with pytest.raises(exception.InvalidRPCPayload, match='not valid Unicode'):
        dispatch({'method': 'hello', 'args': {'name': value}})


def test_real_unicode_is_accepted_exactly():
    name = '\u202ename \U0001f600 \u4e2d\u6587 <&>'
    assert f.String().coerce(name) == name
