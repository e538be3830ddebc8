"""Test doubles for the compute agent: an in-memory conductor and fixtures.

FakeConductor keeps instances as wire objects and hands out copies that went
through to_primitive/from_primitive, so whatever the agent sends must survive
the wire. It enforces the contract the real conductor has (allowed update
keys, expected_task_state compare-and-swap, instance_destroy once).
"""
import copy
import datetime
import threading
import uuid as uuidlib

import pytest
from oslo_config import cfg

import agent.conf  # noqa: F401  (registers the options)
from agent import context
from agent import exception
from agent import objects
from agent.objects import states

CONF = cfg.CONF
UPDATE_KEYS = {'vm_state', 'task_state', 'power_state', 'launched_at'}


def ensure_conf_parsed():
    if getattr(CONF, '_namespace', None) is None:
        CONF([], project='hvagent', default_config_files=[])


@pytest.fixture
def conf():
    """Yield a setter for [compute] options; every override is cleared."""
    ensure_conf_parsed()
    done = []

    def set_override(name, value, group='compute'):
        CONF.set_override(name, value, group=group)
        done.append((name, group))
    yield set_override
    for name, group in done:
        CONF.clear_override(name, group=group)


def ctxt(request_id=None):
    return context.RequestContext(request_id=request_id, user_id='u1',
                                  project_id='p1')


def _wire(obj):
    return type(obj).from_primitive(copy.deepcopy(obj.to_primitive()))


class FakeConductor:
    def __init__(self, host='node1'):
        self.host = host
        self.lock = threading.Lock()
        self.instances = {}
        self.faults = []        # dicts as given
        self.events = []        # ('start'|'finish', dict)
        self.updates = []       # (uuid, updates, expected_task_state)
        self.bdm_updates = []
        self.nodes = []
        self.heartbeats = []
        self.calls = []         # every method name, in order
        self.fail_with = None   # raise this from every call when set

    def _enter(self, name):
        self.calls.append(name)
        if self.fail_with is not None:
            raise self.fail_with

    # -------------------------------------------------------- test setup
    def add_instance(self, vm_state=states.BUILDING,
                     task_state=states.SCHEDULING, host=None, **fields):
        values = dict(
            uuid=str(uuidlib.uuid4()), name='vm-%d' % len(self.instances),
            project_id='p1', user_id='u1', host=host or self.host,
            node=host or self.host, image_ref='cirros',
            flavor=objects.Flavor(id=1, name='m1.small', vcpus=2,
                                  memory_mb=2048, root_gb=20),
            vm_state=vm_state, task_state=task_state)
        values.update(fields)
        inst = objects.Instance(**values)
        self.instances[inst.uuid] = inst
        return inst

    def get(self, uuid):
        return self.instances[uuid]

    def faults_of(self, uuid):
        return [f for f in self.faults if f['instance_uuid'] == uuid]

    def events_of(self, uuid):
        return [(kind, e['event'], e.get('result'))
                for kind, e in self.events if e['instance_uuid'] == uuid]

    # ----------------------------------------------------- the contract
    def instance_get(self, ctxt, instance_uuid):
        with self.lock:
            self._enter('instance_get')
            if instance_uuid not in self.instances:
                raise exception.InstanceNotFound(instance=instance_uuid)
            return _wire(self.instances[instance_uuid])

    def instances_get_by_host(self, ctxt, host):
        with self.lock:
            self._enter('instances_get_by_host')
            return [_wire(i) for i in self.instances.values()
                    if i.host == host and i.vm_state != states.DELETED]

    def instance_update(self, ctxt, instance_uuid, updates,
                        expected_task_state=None):
        with self.lock:
            self._enter('instance_update')
            inst = self.instances.get(instance_uuid)
            if inst is None or inst.vm_state == states.DELETED:
                raise exception.InstanceNotFound(instance=instance_uuid)
            self._check_task_state(inst, expected_task_state)
            self._apply(inst, updates, expected_task_state)
            return _wire(inst)

    @staticmethod
    def _check_task_state(inst, expected_task_state):
        if expected_task_state is not None and \
                inst.task_state not in expected_task_state:
            raise exception.UnexpectedTaskState(
                instance=inst.uuid, actual=inst.task_state,
                expected=expected_task_state)

    def _apply(self, inst, updates, expected_task_state):
        assert set(updates) <= UPDATE_KEYS, updates
        if updates.get('launched_at') is not None:
            assert isinstance(updates['launched_at'], str)
        inst.update(**updates)
        self.updates.append((inst.uuid, dict(updates), expected_task_state))

    def instance_destroy(self, ctxt, instance_uuid):
        with self.lock:
            self._enter('instance_destroy')
            inst = self.instances[instance_uuid]
            if inst.vm_state != states.DELETED:
                inst.update(vm_state=states.DELETED, task_state=None,
                            power_state=states.NOSTATE,
                            deleted_at=datetime.datetime.now())

    def instance_fault_create(self, ctxt, instance_uuid, message, details='',
                              host=None):
        with self.lock:
            self._enter('instance_fault_create')
            assert isinstance(message, str) and len(message) <= 1024
            self.faults.append(dict(instance_uuid=instance_uuid,
                                    message=message, details=details,
                                    host=host))

    def action_event_start(self, ctxt, instance_uuid, request_id, event,
                           host):
        with self.lock:
            self._enter('action_event_start')
            self.events.append(('start', dict(
                instance_uuid=instance_uuid, request_id=request_id,
                event=event, host=host)))

    def action_event_finish(self, ctxt, instance_uuid, request_id, event,
                            result, traceback=None):
        with self.lock:
            self._enter('action_event_finish')
            assert result in ('Success', 'Error')
            self.events.append(('finish', dict(
                instance_uuid=instance_uuid, request_id=request_id,
                event=event, result=result, traceback=traceback)))

    def operation_start(self, ctxt, instance_uuid, host, request_id, event,
                        expected_task_state, updates):
        with self.lock:
            self._enter('operation_start')
            inst = self.instances.get(instance_uuid)
            if inst is None or inst.vm_state == states.DELETED:
                raise exception.InstanceNotFound(instance=instance_uuid)
            if inst.host != host:
                raise exception.InstanceNotOnHost(
                    instance=instance_uuid, actual=inst.host, host=host)
            self._check_task_state(inst, expected_task_state)
            if updates:
                self._apply(inst, updates, expected_task_state)
            self.events.append(('start', dict(
                instance_uuid=instance_uuid, request_id=request_id,
                event=event, host=host)))
            return _wire(inst)

    def operation_finish(self, ctxt, instance_uuid, request_id, event,
                         result, updates, expected_task_state, fault_message,
                         traceback, host):
        with self.lock:
            self._enter('operation_finish')
            assert result in ('Success', 'Error')
            if updates:
                inst = self.instances.get(instance_uuid)
                if inst is None or inst.vm_state == states.DELETED:
                    raise exception.InstanceNotFound(instance=instance_uuid)
                self._check_task_state(inst, expected_task_state)
                self._apply(inst, updates, expected_task_state)
            if fault_message:
                assert len(fault_message) <= 1024
                self.faults.append(dict(
                    instance_uuid=instance_uuid, message=fault_message,
                    details=traceback or '', host=host))
            self.events.append(('finish', dict(
                instance_uuid=instance_uuid, request_id=request_id,
                event=event, result=result, traceback=traceback)))

    def block_device_update(self, ctxt, instance_uuid, volume_id, status=None,
                            device_name=None, destroy=False):
        with self.lock:
            self._enter('block_device_update')
            self.bdm_updates.append((instance_uuid, volume_id, status,
                                     device_name, destroy))
            inst = self.instances[instance_uuid]
            bdms = [b for b in inst.block_devices if b.volume_id != volume_id]
            for bdm in inst.block_devices:
                if bdm.volume_id == volume_id and not destroy:
                    bdm.update(status=status or bdm.status,
                               device_name=device_name or bdm.device_name)
                    bdms.append(bdm)
            inst.update(block_devices=bdms)

    def compute_node_update(self, ctxt, node):
        with self.lock:
            self._enter('compute_node_update')
            self.nodes.append(_wire(node))
            # the real conductor records the agent's heartbeat with it
            self.heartbeats.append(objects.Service(
                host=node.host, binary='hvagent-compute'))

    def service_heartbeat(self, ctxt, service):
        with self.lock:
            self._enter('service_heartbeat')
            self.heartbeats.append(_wire(service))
