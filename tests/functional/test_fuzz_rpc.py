"""Hostile RPC payloads and hostile names against real services.

Transport: real RabbitMQ on a private vhost (no kombu+memory shortcut), with
conductor, scheduler and compute agent (fake driver) as three processes
(tests/fixtures/deployment.py) and a SQLite database, so every case
crosses the broker, oslo.messaging's envelope and our dispatcher exactly as
in production.

* ``test_malformed_rpc_payloads``: hypothesis builds messages our client's
  serializer would never produce (unknown and private methods, missing,
  extra and wrongly typed arguments, huge strings, nested junk, wire
  objects with bad names/versions/data, junk contexts, junk envelope
  fields) and sends them with the transport's raw ``_send`` -- after
  oslo's client and our Serializer -- as calls, to the agent
  (``compute.<host>``) and to the conductor; each must be answered with an
  exception the client can catch (an ``agent.exception`` class, or oslo's
  UnsupportedVersion) carrying a message, or with a normal result. A
  smaller batch of raw AMQP bodies (not JSON, not a mapping, broken
  envelopes) is published with kombu; those carry no reply address, so
  they must be dropped with a log line.
* ``test_hostile_boot_requests``: hostile names, metadata, image references,
  networks, groups and zones through the normal API (ConductorAPI
  boot_instance, as hvctl sends it): each is refused with a clear error and
  leaves no row behind, or the instance is stored exactly as given.

Both end by checking the services are alive and answer normal calls.
"""
import collections
import json
import os
import sqlite3
import subprocess
import time
import uuid

import kombu
import oslo_messaging as messaging
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent import context
from agent import exception
from agent.conductor import rpcapi as conductor_rpcapi
from agent.objects import states
from agent.rpc import transport as rpc_transport
from agent.security import bus_auth
from tests import hostile
from tests.fixtures import brokers
from tests.fixtures import deployment
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.functional

#: cases per target (agent, conductor) and boot requests; the environment
#: may raise them for a longer run
EXAMPLES = int(os.environ.get('HVAGENT_FUZZ_EXAMPLES', 1000))
BOOT_EXAMPLES = EXAMPLES
RAW_BODIES = 120
CALL_TIMEOUT = 30
#: oslo's own answer to a message for an RPC version no endpoint serves
CLEAR_REMOTE = {'UnsupportedVersion'}
#: every table a refused boot must leave untouched
TABLES = ('instances', 'instance_metadata', 'instance_actions',
          'instance_actions_events', 'instance_faults', 'ports',
          'block_device_mappings')

COMPUTE_METHODS = ['build_and_run_instance', 'reboot_instance',
                   'stop_instance', 'start_instance', 'pause_instance',
                   'unpause_instance', 'terminate_instance', 'attach_volume',
                   'detach_volume', 'get_console_output']
HIDDEN = ['init_host', '_run', '__init__', '__class__', 'target', 'driver',
          'periodic_tasks', '', ' ', 'a' * 300, '\x00', 'probe']
ARG_NAMES = ['instance_uuid', 'volume_id', 'reboot_type', 'tail_length',
             'host', 'node', 'service', 'updates', 'spec', 'ref', 'name',
             'metadata', 'options', 'hints', 'timeout', 'seen',
             'ctxt', 'self']


class Tally:
    """Cases per target and outcome, printed at the end."""

    def __init__(self):
        self.counts = collections.Counter()
        self.failures = []

    def add(self, target, outcome, failure=None):
        self.counts[target, outcome] += 1
        if failure:
            self.failures.append('%s: %s' % (target, failure))

    def total(self, target=None):
        return sum(n for (t, _), n in self.counts.items()
                   if target in (None, t))

    def report(self, title):
        print('\n%s: %d cases, %d failed' % (title, self.total(),
                                              len(self.failures)))
        for key, n in sorted(self.counts.items()):
            print('  %-10s %-28s %d' % (key[0], key[1], n))
        for failure in self.failures[:30]:
            print('  FAILED', failure[:300])


@pytest.fixture(scope='module')
def cloud(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('fuzz')
    vhost = brokers.VHost()
    dep = deployment.Deployment(
        tmp, vhost.url, 'sqlite:///%s' % (tmp / 'hv.sqlite'),
        extra={'scheduler': {'cpu_allocation_ratio': 1000,
                             'ram_allocation_ratio': 1000,
                             'disk_allocation_ratio': 1000,
                             'max_instances_per_host': 10000}})
    try:
        dep.start()
        rpc_transport.cleanup()
        dep.transport = rpc_transport.init(url=vhost.url)
        dep.conductor = conductor_rpcapi.ConductorAPI(timeout=CALL_TIMEOUT)
        dep.ctxt = context.RequestContext(user_id='alice', project_id='p1')
        dep.db = tmp / 'hv.sqlite'
        dep.vhost = vhost
        dep.ready()
        yield dep
    finally:
        codes = dep.stop()
        rpc_transport.cleanup()
        vhost.delete()
    assert set(codes.values()) == {0}, codes


def assert_healthy(dep):
    """Every service process alive and answering a normal request: a boot
    goes through conductor, scheduler and agent to active."""
    for name, proc in dep.procs.items():
        assert proc.poll() is None, '%s died:\n%s' % (name, dep.log(name))
    ctxt = context.RequestContext(user_id='alice', project_id='p1')
    inst = dep.conductor.boot_instance(
        ctxt, name='healthy-%s' % uuid.uuid4().hex[:8], flavor='m1.tiny',
        image_ref='cirros', availability_zone=None, hints={}, metadata={},
        networks=[])
    def active():
        shown = dep.conductor.instance_show(ctxt, ref=inst.uuid)
        assert shown.vm_state in (states.BUILDING, states.ACTIVE), shown
        return shown.vm_state == states.ACTIVE
    if inst.vm_state != states.ACTIVE:
        assert inst.vm_state == states.BUILDING, inst
        wait_until(active, 60, interval=0.05, message='the healthy boot')
    for name in dep.procs:
        assert 'Exception during message handling' not in dep.log(name), \
            dep.log(name)


def judge(call):
    """Run one call; return (outcome, failure or None)."""
    try:
        call()
    except exception.HVAgentError as e:
        if not exception.text(e).strip():
            return type(e).__name__, 'empty message from %r' % (e,)
        return type(e).__name__.replace('_Remote', ''), None
    except messaging.RemoteError as e:
        if e.exc_type in CLEAR_REMOTE and e.value:
            return e.exc_type, None
        return 'remote ' + str(e.exc_type), '%s: %s' % (e.exc_type, e.value)
    except messaging.MessagingTimeout:
        return 'timeout', 'no answer within %ss' % CALL_TIMEOUT
    except Exception as e:   # builtins the server let escape (TypeError...)
        return type(e).__name__, '%s: %s' % (type(e).__name__, e)
    return 'answered', None


# ------------------------------------------------------------ raw messages
def _message():
    """(message, context): two thirds well-formed envelopes naming real
    methods with junk arguments (what ``@expects`` must refuse), one third
    broken envelopes (what the dispatcher must refuse)."""
    real = st.sampled_from(COMPUTE_METHODS + sorted(conductor_rpcapi.TOPIC_OF))
    args = st.dictionaries(
        st.sampled_from(ARG_NAMES),
        st.one_of(st.uuids().map(str), hostile.junk(), hostile.deep()),
        max_size=5)
    well_formed = st.fixed_dictionaries(
        {'method': real, 'args': args},
        optional={'version': st.sampled_from(['1.0', '1.1', '1.10'])})
    broken = st.fixed_dictionaries(
        {'method': st.one_of(real, st.sampled_from(HIDDEN),
                             hostile.junk(3)),
         'args': st.one_of(args, st.dictionaries(
             hostile.hostile_text(), hostile.junk(), max_size=3),
             hostile.junk(4))},
        optional={'version': st.one_of(st.sampled_from(
            ['1.9', '2.0', '0.1', 'x', '1.0.0.0']), hostile.junk(2)),
            'namespace': st.one_of(st.just('nope'), hostile.junk(2))})
    message = st.one_of(well_formed, well_formed, broken)
    ctxt = st.one_of(
        st.just({'user_id': 'fuzz', 'project_id': 'fuzz'}),
        st.dictionaries(st.sampled_from(['request_id', 'user_id',
                                         'project_id', 'is_admin', 'x']),
                        hostile.junk(3), max_size=4))
    # most are signed by a controller, so that they reach the argument
    # checks behind the signature check; the rest must be refused unsigned
    return st.tuples(message, ctxt, st.sampled_from([True, True, True,
                                                     False]))


def _target_of(target_name, host, message):
    """The agent's queue, or the conductor topic serving the method."""
    if target_name == 'agent':
        return messaging.Target(topic='compute', server=host)
    method = message.get('method')
    return messaging.Target(topic=conductor_rpcapi.TOPIC_OF.get(method, 'conductor')
                            if isinstance(method, str) else 'conductor')


def _signed(target, message, ctxt):
    """``ctxt`` signed as a controller for ``message``, where it can be
    (a method name, arguments JSON can carry); else as it is."""
    method, args = message.get('method'), message.get('args')
    if not (isinstance(method, str) and isinstance(args, dict) and
            isinstance(ctxt, dict)):
        return ctxt
    try:
        return bus_auth.sign(bus_auth.keyring(), bus_auth.CONTROL,
                             target.topic, target.server, method, args,
                             ctxt)
    except (TypeError, ValueError, OverflowError):
        return ctxt


@pytest.mark.parametrize('target_name', ['agent', 'conductor'])
def test_malformed_rpc_payloads(cloud, target_name):
    tally = Tally()
    started = time.monotonic()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(_message())
    def case(payload):
        message, ctxt, sign = payload
        target = _target_of(target_name, cloud.host, message)
        if sign:
            ctxt = _signed(target, message, ctxt)
        outcome, failure = judge(lambda: cloud.transport._send(
            target, ctxt, message, wait_for_reply=True,
            timeout=CALL_TIMEOUT))
        tally.add(target_name, outcome, failure)

    case()
    tally.counts[target_name, 'raw AMQP body (no reply)'] = \
        send_raw_bodies(cloud, _target_of(target_name, cloud.host, {}))
    tally.report('malformed RPC payloads to the %s in %.1fs' % (
        target_name, time.monotonic() - started))
    assert_healthy(cloud)
    assert tally.total() >= min(EXAMPLES, 1000)
    assert not tally.failures, '\n'.join(tally.failures[:20])


def send_raw_bodies(dep, target):
    """Publish bodies oslo's client cannot produce; return how many."""
    routing_key = target.topic + ('.%s' % target.server
                                  if target.server else '')
    good_inner = '{"method": "flavor_list", "args": {}}'
    bodies = [
        (b'\xff\xfe not json at all', 'application/json'),
        (b'{"unterminated": ', 'application/json'),
        (b'[' * 5000 + b']' * 5000, 'application/json'),
        (b'[]', 'application/json'), (b'42', 'application/json'),
        (b'"text"', 'application/json'), (b'null', 'application/json'),
        (b'{}', 'application/json'),
        (b'{"oslo.version": "9.0", "oslo.message": "{}"}',
         'application/json'),
        (b'{"oslo.version": "2.0", "oslo.message": 42}',
         'application/json'),
        (b'{"oslo.version": "2.0", "oslo.message": "not json"}',
         'application/json'),
        (b'{"oslo.version": "2.0", "oslo.message": "[1, 2]"}',
         'application/json'),
        (b'{"oslo.version": [], "oslo.message": "%s"}'
         % good_inner.replace('"', '\\"').encode(), 'application/json'),
        (b'binary \x00\x01\x02', 'application/octet-stream'),
        (('{"oslo.version": "2.0", "oslo.message": "%s"}'
          % good_inner.replace('"', '\\"')).encode(), 'text/plain'),
    ]
    sent = 0
    with kombu.Connection(dep.vhost.url.replace('rabbit://', 'amqp://'),
                          connect_timeout=10) as conn:
        producer = conn.Producer()
        for i in range(RAW_BODIES):
            body, ctype = bodies[i % len(bodies)]
            producer.publish(body, exchange='openstack',
                             routing_key=routing_key, content_type=ctype,
                             content_encoding='binary', retry=True)
            sent += 1
    return sent


# ------------------------------------------------------- hostile boot requests
def row_counts(db):
    with sqlite3.connect(str(db)) as conn:
        counts = {t: conn.execute('SELECT count(*) FROM %s' % t).fetchone()[0]
                  for t in TABLES}
        counts['claimed'] = conn.execute(
            'SELECT coalesce(sum(vcpus_used), 0), '
            'coalesce(sum(memory_mb_used), 0) FROM compute_nodes').fetchone()
    return counts


BENIGN_BOOT = {'name': 'vm', 'flavor': 'm1.tiny', 'image_ref': 'cirros',
               'availability_zone': None, 'metadata': {}, 'networks': [],
               'security_groups': [], 'options': {}}
OPTION_KEYS = ['kernel_ref', 'ramdisk_ref', 'key_name', 'user_data',
               'key_data']


@st.composite
def _boot_request(draw):
    """A boot request with one to three hostile fields (the rest benign, so
    each hostile value gets as far as it can)."""
    text = hostile.hostile_text()
    hostile_values = {
        'name': text, 'flavor': text, 'image_ref': text,
        'availability_zone': text,
        'metadata': st.dictionaries(st.one_of(text, st.just('role')), text,
                                    min_size=1, max_size=4),
        'networks': st.lists(text, min_size=1, max_size=2),
        'security_groups': st.lists(text, min_size=1, max_size=2),
        'options': st.dictionaries(st.sampled_from(OPTION_KEYS), text,
                                   min_size=1, max_size=3),
    }
    req = dict(BENIGN_BOOT)
    # the name is unique per project: a benign one must be fresh
    req['name'] = 'vm-%s' % uuid.uuid4().hex[:12]
    weights = ['name', 'name', 'metadata', 'metadata', 'image_ref',
               'options', 'flavor', 'availability_zone', 'networks',
               'security_groups']
    for field in draw(st.sets(st.sampled_from(weights), min_size=1,
                              max_size=3)):
        req[field] = draw(hostile_values[field])
    return req


def settle(dep, ctxt, uuid_, timeout=60):
    """Wait until the agent is done with a new instance (so the next case's
    row counts are not moved by it)."""
    def done():
        inst = dep.conductor.instance_show(ctxt, ref=uuid_)
        return inst if (inst.vm_state != states.BUILDING
                        and inst.task_state is None) else None
    return wait_until(done, timeout, interval=0.01, message=lambda:
                      dep.conductor.instance_show(ctxt, ref=uuid_))


def test_hostile_boot_requests(cloud):
    tally = Tally()
    started = time.monotonic()

    @settings(max_examples=BOOT_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(_boot_request())
    def case(req):
        ctxt = context.RequestContext(user_id='mallory', project_id='p1')
        before = row_counts(cloud.db)
        try:
            inst = cloud.conductor.boot_instance(ctxt, hints={}, **req)
        except exception.HVAgentError as e:
            after = row_counts(cloud.db)
            failure = None
            if not exception.text(e).strip():
                failure = 'empty message: %r' % (e,)
            elif after != before:
                failure = 'refused boot %r (%s) left rows: %s -> %s' % (
                    req, e, before, after)
            tally.add('boot', 'refused ' + type(e).__name__, failure)
            return
        except Exception as e:
            tally.add('boot', type(e).__name__, '%r: %s: %s' % (
                req, type(e).__name__, e))
            return
        shown = settle(cloud, ctxt, inst.uuid)
        given_back = {'name': shown.name, 'image_ref': shown.image_ref,
                      'metadata': shown.metadata,
                      'availability_zone': shown.availability_zone}
        expected = {k: req[k] for k in given_back}
        for key, value in req['options'].items():
            given_back[key], expected[key] = getattr(shown, key), value
        failure = None
        if given_back != expected:
            failure = 'stored %r, given %r' % (given_back, expected)
        elif shown.vm_state == states.ERROR and not (
                shown.fault and shown.fault.message.strip()):
            failure = '%r ended in error without a fault' % (req,)
        tally.add('boot', 'accepted (%s)' % shown.vm_state, failure)

    case()
    tally.report('hostile boot requests in %.1fs'
                 % (time.monotonic() - started))
    assert_healthy(cloud)
    assert tally.total() >= min(EXAMPLES, 1000)
    assert not tally.failures, '\n'.join(tally.failures[:20])


# ------------------------------------------------------------- through hvctl
HVCTL_CASES = [
    # (name, extra argv, accepted?)
    ('<domain><name>x</name></domain>', [], True),
    ('$(reboot);`id`|cat /etc/shadow', [], True),
    ('\u202eexe.\u202dvm', [], True),
    ('\U0001f600\U0001f525 \u4e2d\u6587', [], True),
    # a relative path is no image reference (agent.image_refs)
    ('img-traversal', ['--image', '../../etc/passwd'], False),
    ('img-shadow', ['--image', 'file:///etc/shadow'], True),
    ('meta', ['--meta', '<k&>=<v "q">', '--meta', '$(id)=`x`;\nrm'], True),
    ('a' * 256, [], False),
    ('line\nbreak', [], False),
    ('flavor', ['--flavor', "m1.tiny' OR '1'='1"], False),
    ('net', ['--network', '../../etc'], False),
    ('group', ['--security-group', '<script>'], False),
]


def test_hostile_names_through_hvctl(cloud):
    """A sample of the same through the operator's command line: refused
    with 'hvctl: error: <message>' and exit 1, or stored exactly as given
    (the rest of argv is hvctl's own: --flavor given last wins)."""
    token = uuid.uuid4().hex[:6]
    procs = []
    for name, extra, accepted in HVCTL_CASES:
        name = name if not accepted else '%s-%s' % (name, token)
        argv = [os.path.join(deployment.BIN, 'hvctl'), '--json',
                '--transport-url', cloud.vhost.url, '--project', 'p1',
                'boot', name, '--flavor', 'm1.tiny'] + extra + [
                    '--config-file', deployment.bus_conf()]
        procs.append((name, extra, accepted, subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)))
    for name, extra, accepted, proc in procs:
        out, err = proc.communicate(timeout=120)
        assert 'Traceback' not in err, err
        if not accepted:
            assert proc.returncode == 1, (name, out, err)
            assert err.startswith('hvctl: error: ') and len(err) > 20, err
            continue
        assert proc.returncode == 0, (name, err)
        shown = json.loads(out)
        assert shown['name'] == name
        if '--image' in extra:
            assert shown['image_ref'] == extra[extra.index('--image') + 1]
        if '--meta' in extra:
            assert shown['metadata'] == {'<k&>': '<v "q">',
                                         '$(id)': '`x`;\nrm'}
    print('\nhostile names through hvctl: %d cases, 0 failed'
          % len(HVCTL_CASES))
