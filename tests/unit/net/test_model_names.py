"""Kernel names derived in net/model.py: never longer than IFNAMSIZ - 1."""
import re
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.objects import fields as f
from net import floating
from net import model
from tests import hostile

IDS = [str(uuid.UUID(int=0)), str(uuid.UUID(int=(1 << 128) - 1)),
       '3f1c2b7e-9d4a-4c1e-8f00-123456789abc', 'short', 'x' * 64]


@pytest.mark.parametrize('ident', IDS)
def test_bridge_and_tap_names_fit(ident):
    for name, prefix in ((model.bridge_name(ident), 'brq'),
                         (model.tap_name(ident), 'tap')):
        assert name.startswith(prefix)
        assert 0 < len(name) <= model.IFNAMSIZ == 15
        assert '-' not in name


def test_bridge_name_is_brq_and_the_first_hex_digits_of_the_id():
    assert model.bridge_name('3f1c2b7e-9d4a-4c1e-8f00-123456789abc') == \
        'brq3f1c2b7e9d4a'
    assert model.tap_name('3f1c2b7e-9d4a-4c1e-8f00-123456789abc') == \
        'tap3f1c2b7e9d4a'


def test_network_and_port_use_the_helpers():
    net = model.Network(id=IDS[2], name='n', type='flat', cidr='10.0.0.0/24')
    port = model.Port(id=IDS[2], network_id=net.id, mac='02:00:00:00:00:01',
                      ip='10.0.0.2')
    assert net.bridge == model.bridge_name(IDS[2])
    assert port.tap == model.tap_name(IDS[2])


@pytest.mark.parametrize('phys', ['eth0', 'ens1f0', 'enp129s0f1np1',
                                  'a' * 15])
@pytest.mark.parametrize('vid', [1, 100, 4094])
def test_vlan_names_fit_and_keep_the_vlan_id(phys, vid):
    name = model.vlan_name(phys, vid)
    assert len(name) <= 15
    assert name.endswith('.%d' % vid)
    assert phys.startswith(name[:-len('.%d' % vid)])


def test_short_vlan_names_are_the_usual_ones():
    assert model.vlan_name('eth0', 100) == 'eth0.100'


@pytest.mark.parametrize('vni', [1, 100, 4096, (1 << 24) - 1])
def test_vxlan_names_fit(vni):
    assert model.vxlan_name(vni) == 'vxlan-%d' % vni
    assert len(model.vxlan_name(vni)) <= 15



NAME = re.compile(r'^(brq|tap)[0-9a-f]{12}$')


@settings(max_examples=1000, deadline=None)
@given(st.one_of(hostile.hostile_text(), st.text(), st.uuids().map(str),
                 st.uuids().map(lambda u: '{%s}' % str(u).upper()),
                 st.uuids().map(lambda u: u.hex)))
def test_names_from_wire_ids_are_short_and_plain(ident):
    """Ids reach net/ from wire objects, whose UUID fields refuse anything
    but a uuid and make it canonical: whatever was sent, a kernel name is
    the prefix and 12 lower-case hex digits, or nothing is named at all."""
    try:
        canonical = f.UUID().coerce(ident)
    except ValueError:
        return
    for name in (model.bridge_name(canonical), model.tap_name(canonical)):
        assert NAME.match(name), name
        assert len(name.encode()) <= model.IFNAMSIZ


def test_floating_label_fits_a_label():
    assert floating.label('eth0') == 'eth0:fip'
    long = floating.label('enp0s31f6abcdef')
    assert len(long) == model.IFNAMSIZ and long == 'enp0s31f6ab:fip'
