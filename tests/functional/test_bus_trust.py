"""The message bus as a compromised compute node would try it.

Real RabbitMQ (a private vhost), conductor and scheduler as controllers
(the vhost's full rights, the bus secret), and a compute agent for
``hvtest-node1`` with what a production compute node has: its own broker
user with broker_perms.compute() rights and only its host key. The
attacker is another compute node, ``evil``, holding exactly the same
kind of credentials for itself: its broker user and its host key.

Each attack is tried for real and must fail, and the legitimate node
(same kind of credentials) keeps working: it boots, answers the console
call through its own reply queue, and its instance is untouched.
"""
import json
import sqlite3
import uuid

import amqp
import kombu
import oslo_messaging as messaging
import pytest
from oslo_config import cfg
from oslo_messaging._drivers import amqp as oslo_amqp
from oslo_messaging._drivers import common as oslo_common

from agent import context
from agent import exception
from agent import objects
from agent.cli import change_waiter
from agent.conductor import changes_rpcapi
from agent.conductor import rpcapi as conductor_rpcapi
from agent.objects import states
from agent.rpc import serializer
from agent.rpc import transport as rpc_transport
from agent.security import bus_auth
from tests.fixtures import brokers
from tests.fixtures import deployment
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional

NODE, EVIL = 'hvtest-node1', 'evil'
EXCHANGE = 'openstack'            # oslo's default control_exchange
CONTROLLER_QUEUES = ('conductor_api', 'identity', 'scheduler')


@pytest.fixture(scope='module')
def bus(tmp_path_factory):
    """One cloud for the module (the attacks change nothing; the last
    test stops the victim)."""
    tmp_path = tmp_path_factory.mktemp('bus')
    vhost = brokers.VHost()
    dep = deployment.Deployment(
        tmp_path, vhost.url, 'sqlite:///%s' % (tmp_path / 'hv.sqlite'),
        host=NODE)
    master = bus_auth.keyring().master
    try:
        dep.start('hvagent-conductor', 'hvagent-scheduler')
        # the compute node: its own broker user, its host key, no secret
        node_conf = deployment.compute_node_config(
            tmp_path, NODE, vhost.compute_user(NODE, EXCHANGE))
        dep.start('hvagent-compute', config=node_conf)
        rpc_transport.cleanup()
        rpc_transport.init(url=vhost.url)
        conductor = conductor_rpcapi.ConductorAPI(timeout=30)
        ctxt = context.RequestContext(user_id='alice', project_id='p1')
        dep.conductor, dep.ctxt, dep.vhost = conductor, ctxt, vhost
        dep.ready()
        inst = conductor.boot_instance(
            ctxt, name='victim', flavor='m1.tiny', image_ref=None,
            availability_zone=None, hints={}, metadata={}, networks=[])
        inst = deployment.settle(dep, inst.uuid)
        assert inst.vm_state == states.ACTIVE and inst.host == NODE
        evil_url = vhost.compute_user(EVIL, EXCHANGE)
        dep.victim = inst
        dep.evil = Attacker(evil_url, bus_auth.Keyring(
            host=EVIL, key=bus_auth.host_key(master, EVIL)))
        dep.db = tmp_path / 'hv.sqlite'
        yield dep
        dep.evil.close()
    finally:
        codes = dep.stop()
        rpc_transport.cleanup()
        vhost.delete()      # and its broker users
    assert set(codes.values()) == {0}, codes


class Attacker:
    """What a compromised compute node ``evil`` can do: its broker
    credentials (raw kombu and oslo.messaging) and its host key."""

    def __init__(self, url, keyring):
        self.url, self.keyring = url, keyring
        self.amqp_url = url.replace('rabbit://', 'amqp://', 1)
        self.transport = messaging.get_rpc_transport(
            cfg.CONF, url=url, allowed_remote_exmods=rpc_transport.ALLOWED_EXMODS)
        # its replies come back on a queue its broker user may read
        self.transport._driver._q_manager = rpc_transport._ReplyQueueNames(EVIL)

    def close(self):
        self.transport.cleanup()

    def call(self, topic, method, principal=None, server=None, ctxt=None,
             cast=False, claim=None, **kwargs):
        """A signed oslo.messaging call (or ``cast``), signed with evil's
        own key; with ``claim``, the signature then says it is that
        principal's."""
        ctxt = ctxt or context.RequestContext(user_id='evil',
                                              project_id='evil')
        ser = serializer.Serializer()
        args = {k: ser.serialize_entity(ctxt, v) for k, v in kwargs.items()}
        wire = bus_auth.sign(self.keyring, principal or
                             bus_auth.compute_principal(EVIL), topic, server,
                             method, args, ctxt.to_dict())
        if claim:
            wire[bus_auth.FIELD]['principal'] = claim
        client = messaging.get_rpc_client(
            self.transport, messaging.Target(topic=topic, server=server),
            serializer=ser, timeout=20)
        send = client.cast if cast else client.call
        return send(serializer.SignedContext(wire), method, **args)

    def broker(self, action):
        """Run ``action(channel)`` on a fresh connection as evil's broker
        user; the AMQP error if the broker refuses it, else None."""
        conn = kombu.Connection(self.amqp_url,
                                transport_options={'confirm_publish': True})
        try:
            with conn.channel() as ch:
                action(ch)
        except amqp.exceptions.AccessRefused as e:
            return e
        finally:
            conn.release()
        return None

    def inject(self, queue, method, ctxt, args, timeout=20):
        """Put an oslo call envelope straight into ``queue`` through the
        default exchange (which a compute user may publish to, to answer
        calls), and return the answer that comes back on evil's own
        reply queue: (result, failure)."""
        reply_q = 'reply_%s_%s' % (EVIL, uuid.uuid4().hex)
        msg_id = uuid.uuid4().hex
        raw = {'method': method, 'args': args, 'version': '1.0',
               '_msg_id': msg_id, '_reply_q': reply_q,
               '_unique_id': uuid.uuid4().hex, '_timeout': timeout}
        oslo_amqp.pack_context(raw, ctxt)
        conn = kombu.Connection(self.amqp_url)
        try:
            with conn.channel() as ch:
                ch.queue_declare(reply_q, auto_delete=True)
                kombu.Producer(ch).publish(
                    oslo_common.serialize_msg(raw), exchange='',
                    routing_key=queue, serializer='json')
                def answer():
                    got = ch.basic_get(reply_q, no_ack=True)
                    if got is None:
                        return None
                    body = oslo_common.deserialize_msg(json.loads(got.body))
                    if body.get('_msg_id') == msg_id and \
                            body.get('ending') is not False:
                        return body.get('result'), body.get('failure')
                    return None
                return wait_until(answer, timeout,
                                  message='no answer from %s' % queue)
        finally:
            conn.release()


def _rows(db, sql, *params):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def test_broker_keeps_a_compute_node_off_what_is_not_its_own(bus):
    evil = bus.evil
    x = kombu.Exchange(EXCHANGE, 'topic', durable=False)

    def publish(key):
        return lambda ch: kombu.Producer(ch).publish(
            {'x': 1}, exchange=x, routing_key=key)

    refused = {}
    # speaking on controllers' topics or to another host's queue
    for key in CONTROLLER_QUEUES + ('compute.' + NODE,):
        refused['publish ' + key] = evil.broker(publish(key))
    # reading controllers' queues, another host's queue, others' replies
    for queue in CONTROLLER_QUEUES + ('conductor', 'compute.' + NODE):
        refused['consume ' + queue] = evil.broker(
            lambda ch, q=queue: ch.basic_consume(q, callback=print))
    refused['declare another host\'s reply queue'] = evil.broker(
        lambda ch: ch.queue_declare('reply_%s_%s' % (NODE, 'a' * 32)))
    # copying other topics' messages into its own queue
    for key in CONTROLLER_QUEUES + ('conductor', 'compute.' + NODE):
        refused['bind to ' + key] = evil.broker(
            lambda ch, k=key: ch.queue_bind('compute.' + EVIL, EXCHANGE, k))
    assert all(refused.values()), sorted(
        k for k, v in refused.items() if v is None)
    # ...while what an agent needs is allowed (the rights are not simply
    # "nothing"): its own queue, its conductor topic
    assert evil.broker(lambda ch: ch.queue_declare('compute.' + EVIL)) \
        is None
    assert evil.broker(publish('conductor')) is None


def test_forged_messages_reach_no_controller_and_no_other_host(bus):
    """Through the default exchange a compute user can put a message in
    any queue by name: every server refuses what is not signed by a
    principal it serves, and nothing changes."""
    evil, victim = bus.evil, bus.victim
    admin = context.RequestContext(user_id='admin', project_id='admin',
                                   is_admin=True).to_dict()

    def signed(principal, keyring, topic, server, method, args):
        return bus_auth.sign(keyring, principal, topic, server, method,
                             args, admin)
    # evil's key passed off as the master secret: a 'control' signature
    # with a key that is not the controllers'
    fake_control = bus_auth.Keyring(master=evil.keyring.key(
        bus_auth.compute_principal(EVIL), 'conductor', None))
    attacks = []
    boot = {'name': 'evil', 'flavor': 'm1.tiny', 'image_ref': None,
            'availability_zone': None, 'hints': {}, 'metadata': {},
            'networks': []}
    for queue, method, args in (
            ('identity', 'bootstrap', {'user': 'evil-admin',
                                       'password_hash': 'x' * 20,
                                       'project': 'admin'}),
            ('identity', 'authenticate', {'user': 'admin', 'password': 'x',
                                          'project': None}),
            ('conductor_api', 'boot_instance', boot),
            ('conductor_api', 'instance_action',
             {'ref': victim.uuid, 'action': 'delete', 'volume_id': None,
              'connection_info': {}}),
            # disabling the other hosts to draw every new boot to itself
            ('conductor_api', 'service_update',
             {'host': NODE, 'binary': 'hvagent-compute', 'disabled': True,
              'disabled_reason': 'pwned'}),
            # moving the victim to itself (resize is the project's on
            # the API; on the bus, a controller's like every user method)
            ('conductor_api', 'migrate', {'ref': victim.uuid,
                                          'host': EVIL}),
            ('conductor_api', 'resize', {'ref': victim.uuid,
                                         'flavor': 'm1.large'}),
            ('conductor_api', 'resize_confirm', {'ref': victim.uuid}),
            ('conductor_api', 'resize_revert', {'ref': victim.uuid}),
            ('scheduler', 'select_destination', {'spec': {}})):
        attacks += [
            (queue, method, 'unsigned', admin, args),
            (queue, method, 'as compute:evil', signed(
                bus_auth.compute_principal(EVIL), evil.keyring, queue, None,
                method, args), args),
            (queue, method, 'as control, forged', signed(
                bus_auth.CONTROL, fake_control, queue, None, method, args),
                args)]
    # another host's own queue: terminate its guest
    kill = {'instance_uuid': victim.uuid}
    attacks += [
        ('compute.' + NODE, 'terminate_instance', 'as compute:evil',
         signed(bus_auth.compute_principal(EVIL), evil.keyring, 'compute',
                NODE, 'terminate_instance', kill), kill),
        ('compute.' + NODE, 'terminate_instance', 'as control, forged',
         bus_auth.sign(bus_auth.Keyring(master=b'\x01' * 32),
                       bus_auth.CONTROL, 'compute', NODE,
                       'terminate_instance', kill, admin), kill)]
    outcomes = []
    for queue, method, how, ctxt, args in attacks:
        result, failure = evil.inject(queue, method, ctxt, args)
        outcomes.append((queue, method, how, result,
                         json.loads(failure)['class'] if failure else None))
    succeeded = [o for o in outcomes if o[4] != 'BusNotTrusted']
    assert not succeeded, succeeded
    assert len(outcomes) == 32
    # nothing changed: no admin, no login, no instance, no host disabled,
    # no move, victim alive
    assert _rows(bus.db, 'SELECT name FROM users') == []
    assert _rows(bus.db, 'SELECT host, disabled, disabled_reason FROM '
                 "services WHERE binary = 'hvagent-compute'") == [
        (NODE, 0, None)]
    assert [r[0] for r in _rows(bus.db, 'SELECT name FROM instances')] == \
        ['victim']
    assert _rows(bus.db, 'SELECT uuid FROM migrations') == []
    inst = bus.conductor.instance_show(bus.ctxt, ref=victim.uuid)
    assert (inst.vm_state, inst.power_state) == (states.ACTIVE,
                                                 states.RUNNING)
    assert 'Rejected RPC message' in bus.log('hvagent-compute')


def test_a_compute_node_can_neither_read_nor_forge_change_notices(bus):
    """The conductor's instance change notices go to controllers only: a
    compute user can neither listen to them (a queue on the fanout
    exchange, or its own queue bound there) nor publish on it; what it
    puts in a listener's queue by name is refused unsigned or as itself,
    and wakes no waiter."""
    evil, victim = bus.evil, bus.victim
    waiter = change_waiter.get()     # the fanout exchange and a listener
    event = waiter.watch(victim.uuid)
    fanout = kombu.Exchange(changes_rpcapi.TOPIC + '_fanout', 'fanout',
                            durable=False)
    listener_queue = '%s_fanout_%s' % (changes_rpcapi.TOPIC, 'a' * 32)
    refused = {
        'publish a notice': evil.broker(lambda ch: kombu.Producer(
            ch).publish({'x': 1}, exchange=fanout)),
        'declare a listener queue': evil.broker(
            lambda ch: ch.queue_declare(listener_queue)),
        'bind its own queue to the notices': evil.broker(
            lambda ch: ch.queue_bind('compute.' + EVIL, fanout.name, '')),
    }
    assert all(refused.values()), sorted(
        k for k, v in refused.items() if v is None)
    queues = [q for q in bus.vhost.queues()
              if q.startswith(changes_rpcapi.TOPIC + '_fanout_')]
    assert queues
    args = {'uuids': [victim.uuid], 'busy': []}
    admin = context.RequestContext(user_id='admin', project_id='admin',
                                   is_admin=True).to_dict()
    for ctxt in (admin, bus_auth.sign(
            evil.keyring, bus_auth.compute_principal(EVIL),
            changes_rpcapi.TOPIC, None, 'instances_changed', args, admin)):
        _result, failure = evil.inject(queues[0], 'instances_changed',
                                       ctxt, args)
        assert json.loads(failure)['class'] == 'BusNotTrusted'
    assert not event.is_set()
    waiter.unwatch(victim.uuid, event)


def test_a_compute_node_sees_and_changes_only_its_own_host(bus):
    evil, victim = bus.evil, bus.victim
    node = objects.ComputeNode(
        uuid=str(uuid.uuid4()), host=NODE, hypervisor_type='fake',
        vcpus=1, memory_mb=1, local_gb=1)
    refused = {}
    for name, topic, method, kwargs in (
            ('read another host\'s instance', 'conductor', 'instance_get',
             {'instance_uuid': victim.uuid}),
            ('list another host', 'conductor', 'instances_get_by_host',
             {'host': NODE}),
            ('change another host\'s instance', 'conductor',
             'instance_update', {'instance_uuid': victim.uuid,
                                 'updates': {'vm_state': 'error'},
                                 'expected_task_state': None}),
            ('destroy another host\'s instance', 'conductor',
             'instance_destroy', {'instance_uuid': victim.uuid}),
            ('start an operation for another host', 'conductor',
             'operation_start', {'instance_uuid': victim.uuid, 'host': NODE,
                                 'request_id': 'req-x', 'event': 'x',
                                 'expected_task_state': None,
                                 'updates': None}),
            ('finish an operation on another host\'s instance', 'conductor',
             'operation_finish', {'instance_uuid': victim.uuid,
                                  'request_id': 'req-x', 'event': 'x',
                                  'result': 'Error',
                                  'updates': {'vm_state': 'error'},
                                  'expected_task_state': None,
                                  'fault_message': 'pwned',
                                  'traceback': None, 'host': EVIL}),
            ('fault on another host\'s instance', 'conductor',
             'instance_fault_create', {'instance_uuid': victim.uuid,
                                       'message': 'pwned', 'host': EVIL}),
            ('report for another host', 'conductor', 'compute_node_update',
             {'node': node}),
            ('beat for the conductor', 'conductor', 'service_heartbeat',
             {'service': objects.Service(host=EVIL,
                                         binary='hvagent-conductor')}),
            ('bind another host\'s ports', 'conductor', 'ports_bind',
             {'instance_uuid': victim.uuid, 'host': EVIL}),
            ('read another host\'s ports', 'conductor', 'ports_get_by_host',
             {'host': NODE}),
            ('set another host\'s ports', 'conductor', 'ports_set_status',
             {'instance_uuid': victim.uuid, 'status': 'DOWN'}),
            ('a grant to read another host\'s instance\'s images',
             'conductor', 'image_grant', {'instance_uuid': victim.uuid}),
            ('disable another host (on the agents\' topic)', 'conductor',
             'service_update', {'host': NODE, 'binary': 'hvagent-compute',
                                'disabled': True, 'disabled_reason': None}),
            ('speak as control on the agents\' topic', 'conductor',
             'instances_get_by_host', {'host': NODE, 'principal': 'control'}),
    ):
        principal = kwargs.pop('principal', None)
        try:
            if principal:       # evil holds no control key at all
                with pytest.raises(exception.BusNotTrusted):
                    evil.call(topic, method, principal=principal, **kwargs)
                refused[name] = 'no key'
                continue
            evil.call(topic, method, **kwargs)
        except (exception.BusNotTrusted, exception.InstanceNotFound,
                exception.InvalidRPCPayload) as e:
            refused[name] = type(e).__name__
    assert len(refused) == 15, refused
    # not a method of the agents' topic at all
    assert refused['disable another host (on the agents\' topic)'] \
        .startswith('InvalidRPCPayload')
    # what it may do works: its own (empty) host
    assert evil.call('conductor', 'instances_get_by_host', host=EVIL) == []
    inst = bus.conductor.instance_show(bus.ctxt, ref=victim.uuid)
    assert (inst.vm_state, inst.task_state, inst.host) == (
        states.ACTIVE, None, NODE)
    assert not [a for a in bus.conductor.action_list(bus.ctxt,
                                                     ref=victim.uuid)
                if a.action != 'create']
    assert _rows(bus.db, "SELECT count(*) FROM instance_faults")[0][0] == 0
    assert _rows(bus.db, "SELECT host FROM compute_nodes") == [(NODE,)]
    assert _rows(bus.db, 'SELECT disabled FROM services WHERE host = ? '
                 "AND binary = 'hvagent-compute'", NODE) == [(0,)]


def test_reports_take_their_own_queue_and_forged_ones_change_nothing(bus):
    """The node's periodic reports (conductor 1.16) come through
    ``conductor_reports`` and move its heartbeat; what evil casts there (a
    report for the node's host, one signed as the node with evil's key,
    another method, a body that is no oslo message) is refused in one
    line each and changes nothing."""
    evil, x = bus.evil, kombu.Exchange(EXCHANGE, 'topic', durable=False)

    def reported():
        return _rows(bus.db, 'SELECT vcpus, reported_at FROM compute_nodes '
                     'WHERE host = ?', NODE)[0]
    vcpus, first = reported()
    wait_until(lambda: reported()[1] != first, 10,
               message='the node\'s periodic report never landed')
    assert 'conductor_reports' in bus.vhost.queues()
    seen = len(bus.log('hvagent-conductor'))
    forged = objects.ComputeNode(
        uuid=_rows(bus.db, 'SELECT uuid FROM compute_nodes')[0][0],
        host=NODE, hypervisor_type='fake', vcpus=vcpus + 64, memory_mb=1,
        local_gb=1)
    topic = conductor_rpcapi.REPORT_TOPIC
    evil.call(topic, 'compute_node_update', cast=True, node=forged)
    evil.call(topic, 'compute_node_update', cast=True, node=forged,
              claim=bus_auth.compute_principal(NODE))
    evil.call(topic, 'instance_destroy', cast=True,
              instance_uuid=bus.victim.uuid)
    assert evil.broker(lambda ch: kombu.Producer(ch).publish(
        'not an oslo message', exchange=x, routing_key=topic)) is None
    lines = {
        'another host': 'Rejected resource report from compute:evil: ',
        'signature': "bad signature for 'compute:%s'" % NODE,
        'method': 'Unknown RPC method instance_destroy'}
    wait_until(lambda: all(text in bus.log('hvagent-conductor')[seen:]
                           for text in lines.values()), 20,
               message=lambda: bus.log('hvagent-conductor')[seen:])
    # the reader goes on: the node's next reports land, evil's did not
    now = reported()[1]
    wait_until(lambda: reported()[1] != now, 10,
               message='reports stopped after the forged ones')
    assert reported()[0] == vcpus
    assert _rows(bus.db, 'SELECT host FROM compute_nodes') == [(NODE,)]
    inst = bus.conductor.instance_show(bus.ctxt, ref=bus.victim.uuid)
    assert inst.vm_state == states.ACTIVE


def test_the_confined_node_still_does_its_job(bus):
    """The same kind of credentials are enough for a real agent: it booted
    the victim (fixture), answers a call through its own reply queue, and
    stops it."""
    c, ctxt, victim = bus.conductor, bus.ctxt, bus.victim
    seen = len(bus.log('hvagent-compute'))
    assert victim.uuid in c.console_output(ctxt, ref=victim.uuid, length=10)
    c.instance_action(ctxt, ref=victim.uuid, action='stop', volume_id=None,
                      connection_info={})
    inst = deployment.settle(bus, victim.uuid)
    assert inst.vm_state == states.STOPPED
    assert 'Rejected' not in bus.log('hvagent-compute')[seen:]
