"""The conductor's rule check and the renderer share one validator: a
rule the conductor accepts always renders (its port is never cut off),
fuzzed with hypothesis (tests/hostile.py); the kernel side (nft loads
it) is tests/functional/net/test_rule_fuzz.py."""
import pytest
from hypothesis import given, settings

from agent import exception
from agent.conductor import secgroups
from net import model
from net import ruleset as net_ruleset
from tests import hostile


def render_alone(rule):
    port = model.Port(id='11111111-2222-3333-4444-555555555555',
                      network_id='n', mac='02:00:00:00:00:01',
                      ip='10.0.0.3', rules=(rule,))
    return net_ruleset.build([port])


@settings(max_examples=600, deadline=None)
@given(hostile.secgroup_rules())
def test_accepted_rules_always_render(kw):
    try:
        rule = secgroups.check_rule(remote_group=None, direction=kw[
            'direction'], protocol=kw['protocol'],
            port_min=kw['port_range_min'], port_max=kw['port_range_max'],
            remote_ip_prefix=kw['remote_ip_prefix'])
    except exception.InvalidSecurityGroupRule as e:
        assert str(e).startswith('Invalid security group input: ')
        assert isinstance(e, ValueError)
        return
    ruleset = render_alone(rule)
    assert ruleset.rejected == {}, (kw, ruleset.rejected)
    # and what was stored renders the same again (normal form is stable)
    assert render_alone(model.Rule(**{**rule.__dict__})).text == \
        ruleset.text


@pytest.mark.parametrize('kw', [
    dict(protocol='tcp', port_min=30, port_max=20),
    dict(protocol='tcp', port_min=22, remote_ip_prefix='2001:db8::/64'),
    dict(protocol=None, port_min=22),
    dict(protocol='udp', port_max=53),
    dict(protocol='icmp', port_min=8, port_max=256),
    dict(protocol='tcp', remote_ip_prefix='10.0.0.0/8 accept'),
])
def test_known_bad_rules_are_refused(kw):
    args = dict(direction='ingress', protocol=None, port_min=None,
                port_max=None, remote_ip_prefix=None, remote_group=None)
    with pytest.raises(exception.InvalidSecurityGroupRule):
        secgroups.check_rule(**dict(args, **kw))
