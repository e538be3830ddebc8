"""Wire objects: round trips, validation on receipt, version rules."""
import json
import uuid

import pytest

from agent import exception
from agent import objects
from agent.objects import base
from agent.objects import fields

UUID = str(uuid.UUID(int=1))


def flavor():
    return objects.Flavor(name='m1.tiny', vcpus=1, memory_mb=512, root_gb=1)


def instance(**kw):
    values = dict(uuid=UUID, name='vm', project_id='p', user_id='u',
                  flavor=flavor(), vm_state='building')
    values.update(kw)
    return objects.Instance(**values)


def wire(obj):
    return json.loads(json.dumps(obj.to_primitive()))


def test_round_trip_through_json_keeps_everything():
    inst = instance(metadata={'k': 'v'}, block_devices=[objects.BlockDevice(
        volume_id=UUID, connection_info={'path': '/v'})])
    back = objects.Instance.from_primitive(wire(inst))
    assert back == inst
    assert back.flavor.name == 'm1.tiny'
    assert back.block_devices[0].status == 'attaching'


@pytest.mark.parametrize('field,value,reason', [
    ('uuid', 'not-a-uuid', 'Instance.uuid is not a UUID'),
    ('vm_state', 'exploded', 'Instance.vm_state must be one of'),
    ('name', 'x' * 256, 'Instance.name longer than 255'),
    ('name', None, 'Instance.name may not be null'),
    ('metadata', {'k': 1}, r"Instance.metadata \['k'\] must be a string"),
    ('name', 'a\x00b', 'NUL'),
])
def test_bad_fields_are_refused_with_the_field_named(field, value, reason):
    prim = wire(instance())
    prim[base.DATA_KEY][field] = value
    with pytest.raises(exception.ObjectValidationError, match=reason):
        objects.Instance.from_primitive(prim)


def test_nested_object_is_validated_too():
    prim = wire(instance())
    prim[base.DATA_KEY]['flavor'][base.DATA_KEY]['vcpus'] = 0
    with pytest.raises(exception.ObjectValidationError,
                       match='Flavor.vcpus must be >= 1'):
        objects.Instance.from_primitive(prim)


def test_unknown_type_and_wrong_type_are_refused():
    prim = wire(flavor())
    prim[base.NAME_KEY] = 'Evil'
    with pytest.raises(exception.ObjectValidationError, match='unknown'):
        objects.HVObject.from_primitive(prim)
    with pytest.raises(exception.ObjectValidationError,
                       match='expected a Instance object, got Flavor'):
        objects.Instance.from_primitive(wire(flavor()))
    with pytest.raises(exception.ObjectValidationError, match='expected'):
        objects.Instance.from_primitive(['not', 'a', 'dict'])


def test_newer_minor_version_drops_unknown_fields_older_major_refused():
    prim = wire(flavor())
    prim[base.VERSION_KEY] = '1.7'
    prim[base.DATA_KEY]['gpus'] = 2
    assert objects.Flavor.from_primitive(prim).name == 'm1.tiny'
    prim[base.VERSION_KEY] = '2.0'
    with pytest.raises(exception.ObjectValidationError,
                       match='incompatible'):
        objects.Flavor.from_primitive(prim)
    prim[base.VERSION_KEY] = '1.0'
    with pytest.raises(exception.ObjectValidationError,
                       match='no field.*gpus'):
        objects.Flavor.from_primitive(prim)


def test_update_checks_values():
    inst = instance()
    inst.update(vm_state='active')
    assert inst.vm_state == 'active'
    with pytest.raises(exception.ObjectValidationError):
        inst.update(power_state='on fire')
    with pytest.raises(exception.ObjectValidationError):
        inst.update(colour='red')


@pytest.mark.parametrize('value, reason', [
    ('down\x1b[2Jfor disks', 'U\\+001B at position 4'),
    ('line\nbreak', 'U\\+000A at position 4'),
    ('\u202egnp.exe', 'U\\+202E at position 0'),     # right-to-left override
    ('x\x7f', 'U\\+007F at position 1'),
    ('x' * 256, 'longer than 255'),
])
def test_text_is_printable_text_only(value, reason):
    field = fields.Text(max_length=255, nullable=True)
    with pytest.raises(ValueError, match=reason):
        field.coerce(value)


def test_text_takes_ordinary_words_in_any_script():
    field = fields.Text(max_length=255, nullable=True)
    for value in ('new disks, back Monday', 'Ersatzteile fehlen — 3 Tage',
                  '磁盘更换', '', None):
        assert field.coerce(value) == value


def test_a_service_from_a_1_0_sender_has_no_id_nor_updated_at():
    """Service 1.1 added id and updated_at: a 1.0 one still reads."""
    prim = wire(objects.Service(host='node1', binary='hvagent-compute'))
    prim[base.VERSION_KEY] = '1.0'
    for name in ('id', 'updated_at'):
        del prim[base.DATA_KEY][name]
    svc = objects.Service.from_primitive(prim)
    assert (svc.host, svc.id, svc.updated_at) == ('node1', None, None)
