"""Signed bus messages (agent/security/bus_auth.py), the broker permissions
(agent/security/broker_perms.py) and image grants: the pure logic."""
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent import context
from agent import exception
from agent.security import broker_perms
from agent.security import bus_auth
from agent.security import image_grants
from tests import hostile

MASTER = b'm' * 32
CONTROL = bus_auth.Keyring(master=MASTER)
NODE = bus_auth.Keyring(host='node1', key=bus_auth.host_key(MASTER, 'node1'))
CTXT = context.RequestContext(request_id='req-1', user_id='u',
                              project_id='p').to_dict()
ARGS = {'instance_uuid': 'abc', 'n': 1, 'nested': {'a': [1, 2.5, None]}}


def _signed(ring=CONTROL, principal=bus_auth.CONTROL, topic='conductor_api',
            server=None, method='boot_instance', args=ARGS, ctxt=CTXT):
    return bus_auth.sign(ring, principal, topic, server, method, args, ctxt)


def _verify(wire, ring=CONTROL, audience=bus_auth.CONTROLLERS,
            topic='conductor_api', server=None, method='boot_instance',
            args=ARGS):
    return bus_auth.verify(ring, audience, topic, server, method, args, wire)


def test_a_controller_message_verifies_and_names_its_principal():
    assert _verify(_signed()) == bus_auth.CONTROL


@pytest.mark.parametrize('change', [
    {'topic': 'identity'}, {'method': 'instance_action'},
    {'args': dict(ARGS, n=2)}, {'args': dict(ARGS, extra=1)},
])
def test_any_change_to_what_was_signed_breaks_it(change):
    with pytest.raises(exception.BusNotTrusted, match='bad signature'):
        _verify(_signed(), **change)


@pytest.mark.parametrize('field', ['user_id', 'project_id', 'is_admin',
                                   'request_id'])
def test_the_context_is_signed_too(field):
    wire = _signed()
    wire[field] = True if field == 'is_admin' else 'someone-else'
    with pytest.raises(exception.BusNotTrusted, match='bad signature'):
        _verify(wire)


def test_what_the_transport_adds_to_the_context_is_not_signed():
    wire = dict(_signed(), msg_id='x', reply_q='reply_x', client_timeout=3)
    assert _verify(wire) == bus_auth.CONTROL


def test_a_compute_node_signs_only_as_itself():
    wire = _signed(NODE, bus_auth.compute_principal('node1'), 'conductor',
                   method='instance_get')
    assert _verify(wire, audience=bus_auth.AGENTS, topic='conductor',
                   method='instance_get') == 'compute:node1'
    for principal in (bus_auth.CONTROL, 'compute:node2'):
        with pytest.raises(exception.BusNotTrusted):
            _signed(NODE, principal, 'conductor')


def test_a_compute_node_is_not_in_the_controllers_audience():
    wire = _signed(NODE, 'compute:node1', 'conductor_api')
    with pytest.raises(exception.BusNotTrusted, match='controllers only'):
        _verify(wire)


def test_a_host_queue_admits_controllers_and_its_own_node_only():
    ring = bus_auth.Keyring(master=MASTER)
    mine = bus_auth.Audience(host='node1')
    for principal in (bus_auth.CONTROL, 'compute:node1'):
        wire = _signed(ring, principal, 'compute', 'node1')
        assert bus_auth.verify(NODE, mine, 'compute', 'node1',
                               'boot_instance', ARGS, wire) == principal
    other = _signed(ring, 'compute:node2', 'compute', 'node1')
    with pytest.raises(exception.BusNotTrusted):
        bus_auth.verify(NODE, mine, 'compute', 'node1', 'boot_instance',
                        ARGS, other)


def test_a_made_up_key_is_not_the_controllers():
    fake = bus_auth.Keyring(master=b'x' * 32)
    with pytest.raises(exception.BusNotTrusted, match='bad signature'):
        _verify(_signed(fake))


@settings(max_examples=300, deadline=None)
@given(ctxt=hostile.junk())
def test_junk_contexts_are_refused_cleanly(ctxt):
    with pytest.raises(exception.BusNotTrusted):
        _verify(ctxt)


@settings(max_examples=200, deadline=None)
@given(auth=hostile.junk())
def test_junk_signatures_are_refused_cleanly(auth):
    wire = dict(CTXT, bus_auth=auth)
    with pytest.raises(exception.BusNotTrusted):
        _verify(wire)


def test_the_receiver_never_believes_a_claimed_principal():
    ctxt = context.RequestContext.from_dict(
        dict(CTXT, is_admin=True, checked_principal='compute:node1'))
    assert ctxt.host_scope == 'node1' and not ctxt.is_admin


@settings(max_examples=300, deadline=None)
@given(host=hostile.hostile_text())
def test_broker_regexes_match_only_the_hosts_own_names(host):
    perms = broker_perms.compute(host, 'openstack')
    read = re.compile(perms.read)
    own = 'compute.' + host
    assert read.match(own) or '\n' in host
    for other in ('conductor', 'conductor_api', 'identity', 'scheduler',
                  'compute.x' + host, 'reply_x' + host + '_' + 'a' * 32):
        assert not read.match(other)


def test_image_grants_cover_their_images_for_a_while():
    grant = image_grants.issue(CONTROL, 'inst', 'p1', ['img-a'], 'node1',
                               ttl=60, now=1000)
    assert image_grants.verify(CONTROL, grant, 'img-a',
                               now=1030)['project_id'] == 'p1'
    for image, now, why in (('img-b', 1030, 'does not cover'),
                            ('img-a', 1061, 'expired')):
        with pytest.raises(exception.NotAuthenticated, match=why):
            image_grants.verify(CONTROL, grant, image, now=now)
    with pytest.raises(exception.NotAuthenticated, match='not signed'):
        image_grants.verify(bus_auth.Keyring(master=b'y' * 32), grant,
                            'img-a', now=1030)
    with pytest.raises(exception.BusNotTrusted):
        image_grants.issue(NODE, 'inst', 'p1', ['img-a'], 'node1')


def test_upload_grants_cover_one_image_and_never_pass_for_read_grants():
    grant = image_grants.issue_upload(CONTROL, 'inst', 'p1', 'img-a',
                                      'node1', ttl=60, now=1000)
    payload = image_grants.verify_upload(CONTROL, grant, 'img-a', now=1030)
    assert (payload['instance'], payload['project_id']) == ('inst', 'p1')
    for image, now, why in (('img-b', 1030, 'does not cover'),
                            ('img-a', 1061, 'expired')):
        with pytest.raises(exception.NotAuthenticated, match=why):
            image_grants.verify_upload(CONTROL, grant, image, now=now)
    read = image_grants.issue(CONTROL, 'inst', 'p1', ['img-a'], 'node1')
    with pytest.raises(exception.NotAuthenticated, match='not signed'):
        image_grants.verify_upload(CONTROL, read, 'img-a')
    with pytest.raises(exception.NotAuthenticated, match='not signed'):
        image_grants.verify(CONTROL, grant, 'img-a')
    with pytest.raises(exception.BusNotTrusted):
        image_grants.issue_upload(NODE, 'inst', 'p1', 'img-a', 'node1')


@given(text=st.text(max_size=300))
def test_junk_grants_are_refused_cleanly(text):
    with pytest.raises(exception.NotAuthenticated):
        image_grants.verify(CONTROL, text, 'img-a')
    with pytest.raises(exception.NotAuthenticated):
        image_grants.verify_upload(CONTROL, text, 'img-a')
