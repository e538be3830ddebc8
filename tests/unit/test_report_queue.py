"""What the resource reports' reader refuses before a report reaches the
endpoint (agent.conductor.report_queue): each in one log line, none
reaching ``compute_node_update``."""
import logging
import uuid

import pytest

from agent import context
from agent import objects
from agent.conductor import agent_calls
from agent.conductor import report_queue
from agent.conductor.topics_rpcapi import REPORT_TOPIC
from agent.rpc import checks
from agent.rpc import serializer
from agent.security import bus_auth


class Manager:
    def __init__(self):
        self.called = []

    def compute_node_update(self, ctxt, **kwargs):
        self.called.append((ctxt, kwargs))
    compute_node_update.rpc_schema = \
        agent_calls.AgentManager.compute_node_update.rpc_schema


@pytest.fixture
def reader():
    return report_queue.ReportQueue(Manager())


def report(**changes):
    message = {'method': 'compute_node_update', 'version': '1.16',
               'args': {'node': {}}, '_context_user_id': None,
               '_unique_id': 'x'}
    message.update(changes)
    return message


@pytest.mark.parametrize('message, reason', [
    (report(method='instance_destroy'), 'Unknown RPC method instance_destroy'),
    (report(args={'node': {}, 'ctxt': {}}), 'may not be named ctxt'),
    (report(args={'node': {}, 'pad': 1}), 'unknown argument(s) pad'),
    (report(version='2.0'), 'at version 2.0: this conductor reads up to'),
    (report(version='1.17'), 'at version 1.17'),
    (report(version=7), 'version of compute_node_update must be "X.Y"'),
    (report(), 'compute_node_update is not signed'),
])
def test_refused_in_one_line(reader, caplog, message, reason):
    caplog.set_level(logging.INFO, logger=report_queue.__name__)
    reader._handle(message)
    (record,) = caplog.records
    assert record.levelname == 'ERROR' and record.exc_info is None
    assert record.getMessage().startswith('Rejected resource report: ')
    assert reason in record.getMessage()
    assert reader.manager.called == []


def test_a_signed_report_reaches_the_endpoint_as_its_sender(reader):
    node = objects.ComputeNode(uuid=str(uuid.uuid4()), host='node1',
                               hypervisor_type='fake', vcpus=2,
                               memory_mb=512, local_gb=1)
    reader._handle(signed_report(node))
    ((ctxt, kwargs),) = reader.manager.called
    assert ctxt.host_scope == 'node1'
    assert kwargs['node'].uuid == node.uuid


class Checked(Manager):
    """The endpoint's own argument check in front (checks.expects)."""
    compute_node_update = checks.expects(
        **Manager.compute_node_update.rpc_schema)(
        Manager.compute_node_update)


def signed_report(node):
    wire, args = serializer.signed(
        bus_auth.compute_principal('node1'), REPORT_TOPIC, None,
        context.RequestContext(), 'compute_node_update', {'node': node})
    message = report(args=args)
    message.update(('_context_%s' % k, v) for k, v in wire.to_dict().items())
    return message


def test_what_the_endpoint_refuses_is_one_line(caplog):
    """A signed report whose node is no ComputeNode: checks.expects logs
    the refusal; the reader does not log it again."""
    caplog.set_level(logging.INFO)
    reader = report_queue.ReportQueue(Checked())
    reader._handle(signed_report({'not': 'a node'}))
    (record,) = [r for r in caplog.records if r.levelname == 'ERROR']
    assert 'Rejected malformed RPC message compute_node_update' in \
        record.getMessage()
    assert reader.manager.called == []


def test_versions_read():
    assert report_queue._readable('1.0') and report_queue._readable('1.16')
    assert not report_queue._readable('1.17')
    assert not report_queue._readable('2.0')
