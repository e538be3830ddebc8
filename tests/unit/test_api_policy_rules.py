"""Policy rules as data: the defaults, and a policy file overriding one."""
import pytest
from oslo_config import cfg

from agent.api import policy

CONF = cfg.CONF


def creds(role, project='p1', user='u1'):
    return {'roles': [role], 'project_id': project, 'user_id': user}


@pytest.fixture(autouse=True)
def fresh_enforcer(tmp_path):
    CONF.set_override('policy_file', str(tmp_path / 'policy.yaml'),
                      group='api')
    policy.reset()
    yield tmp_path / 'policy.yaml'
    policy.reset()
    CONF.clear_override('policy_file', group='api')


OWN = {'project_id': 'p1', 'user_id': 'u1'}
MATE = {'project_id': 'p1', 'user_id': 'u2'}
FOREIGN = {'project_id': 'p2', 'user_id': 'u9'}


@pytest.mark.parametrize('rule, role, target, allowed', [
    ('server:stop', 'developer', OWN, True),
    ('server:stop', 'developer', MATE, False),
    ('server:stop', 'project_manager', MATE, True),
    ('server:stop', 'project_manager', FOREIGN, False),
    ('server:stop', 'admin', FOREIGN, True),
    ('server:stop', 'itsec', FOREIGN, False),
    ('server:pause', 'itsec', FOREIGN, True),
    ('server:isolate', 'itsec', FOREIGN, True),
    ('server:release', 'itsec', FOREIGN, True),
    ('server:isolate', 'developer', OWN, False),
    ('server:release', 'developer', OWN, False),
    ('server:isolate', 'project_manager', MATE, False),
    ('server:show', 'itsec', FOREIGN, True),
    ('server:show', 'netadmin', MATE, True),
    ('server:show', 'developer', FOREIGN, False),
    ('server:create', 'project_manager', OWN, False),
    ('secgroup:rule_add', 'netadmin', MATE, True),
    ('secgroup:rule_add', 'netadmin', FOREIGN, False),
    ('quota:update', 'project_manager', OWN, False),
    ('role:assign', 'project_manager', dict(MATE, role='developer'), True),
    ('role:assign', 'project_manager', dict(MATE, role='admin'), False),
    ('role:assign', 'project_manager', dict(FOREIGN, role='developer'),
     False),
    # disabling hosts: admins only (not itsec, not a project's manager)
    ('service:update', 'admin', FOREIGN, True),
    ('service:list', 'admin', FOREIGN, True),
    ('service:update', 'itsec', OWN, False),
    ('service:list', 'project_manager', OWN, False),
    ('service:update', 'project_manager', OWN, False),
    ('service:update', 'developer', OWN, False),
    # resize is the owner's (nova's), cold migration the admin's
    ('server:resize', 'developer', OWN, True),
    ('server:resize', 'developer', MATE, False),
    ('server:resize', 'itsec', FOREIGN, False),
    ('server:confirm_resize', 'project_manager', MATE, True),
    ('server:revert_resize', 'developer', FOREIGN, False),
    ('server:migrate', 'project_manager', OWN, False),
    ('server:migrate', 'developer', OWN, False),
    ('server:migrate', 'admin', FOREIGN, True),
])
def test_defaults(rule, role, target, allowed):
    assert policy.allowed(rule, target, creds(role)) is allowed


def test_policy_file_overrides_one_rule(fresh_enforcer):
    fresh_enforcer.write_text('"server:create": "role:admin"\n')
    assert not policy.allowed('server:create', OWN, creds('developer'))
    # the other rules keep their defaults
    assert policy.allowed('server:stop', OWN, creds('developer'))
