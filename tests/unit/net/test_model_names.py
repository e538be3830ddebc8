"""Kernel names derived in net/model.py: never longer than IFNAMSIZ - 1."""
import uuid

import pytest

from net import model

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
