"""Every rule the conductor accepts loads into the kernel: hypothesis
builds rule input (tests/hostile.py), the conductor's check (net.rules,
the renderer's validator) refuses it or normalizes it, and the ruleset of
a port with the accepted rules passes ``nft -c`` (the kernel's own check,
in a network namespace) every time."""
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent import exception
from agent.conductor import secgroups
from net import model
from net import ruleset as net_ruleset
from tests import hostile
from tests.fixtures import netns as nh

pytestmark = pytest.mark.functional


@pytest.fixture(scope='module')
def netns():
    nh.skip_unless('nft')
    name = 'hvt-fuzz-nft'
    nh.ip('netns', 'add', name)
    yield name
    nh.ip('netns', 'del', name)


def accepted(kw):
    try:
        return secgroups.check_rule(
            direction=kw['direction'], protocol=kw['protocol'],
            port_min=kw['port_range_min'], port_max=kw['port_range_max'],
            remote_ip_prefix=kw['remote_ip_prefix'], remote_group=None)
    except exception.InvalidSecurityGroupRule:
        return None


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.lists(hostile.secgroup_rules(), min_size=1, max_size=6))
def test_accepted_rules_load_into_nft(netns, inputs):
    rules = tuple(r for r in map(accepted, inputs) if r is not None)
    port = model.Port(id='11111111-2222-3333-4444-555555555555',
                      network_id='n', mac='02:00:00:00:00:01',
                      ip='10.0.0.3', rules=rules)
    other = model.Port(id='99999999-2222-3333-4444-555555555555',
                       network_id='n', mac='02:00:00:00:00:02',
                       ip='10.0.0.4', security=False)
    ruleset = net_ruleset.build([port, other])
    assert ruleset.rejected == {}
    proc = subprocess.run(['ip', 'netns', 'exec', netns, 'nft', '-c', '-f',
                           '-'], input=ruleset.text, capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0, (proc.stderr, ruleset.text)
