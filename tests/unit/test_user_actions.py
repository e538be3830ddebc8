"""The user actions are declared once (agent.objects.actions); what the
API, the conductor's client and the agent serve must agree with it."""
import inspect

import pytest

from agent import exception
from agent.api import policy
from agent.api.compute import server_actions
from agent.compute import manager as compute_manager
from agent.compute import rpcapi as compute_rpcapi
from agent.conductor import rpcapi as conductor_rpcapi
from agent.objects import actions
from agent.objects import states


def test_every_action_is_cast_to_a_method_the_agent_serves():
    for action in actions.ACTIONS:
        served = getattr(compute_manager.ComputeManager, action.method)
        assert getattr(served, 'rpc_exposed', False), action.name
        assert callable(getattr(compute_rpcapi.ComputeAPI, action.method))
        takes = inspect.signature(served).parameters
        assert ('reboot_type' in takes) == (action.reboot_type is not None)


def test_every_action_names_a_policy_rule_and_known_states():
    for action in actions.ACTIONS:
        assert action.rule in policy.RULES, action.name
        assert action.task_state in states.TASK_STATES, action.name
        assert set(action.allowed) <= set(states.VM_STATES), action.name


def test_the_agent_runs_a_method_in_the_task_states_its_actions_set():
    assert actions.task_states_of('reboot_instance') == (
        states.REBOOTING, states.REBOOTING_HARD)
    assert actions.task_states_of('stop_instance') == (states.POWERING_OFF,)
    assert set(actions.POWER_BY_METHOD) == {
        'start_instance', 'stop_instance', 'pause_instance',
        'unpause_instance', 'suspend_instance', 'resume_instance'}


def test_the_action_body_takes_the_actions_that_have_no_route_of_their_own():
    """Every lifecycle action is a key of POST /servers/{id}/action
    (reboot's two through {"reboot": {"type"}})."""
    assert actions.IN_BODY == ('start', 'stop', 'reboot', 'reboot_hard',
                               'pause', 'unpause', 'suspend', 'resume',
                               'unrescue', 'isolate', 'release')
    assert set(server_actions.LIFECYCLE.values()) | {
        'reboot', 'reboot_hard'} == set(actions.IN_BODY)


def test_an_isolated_instance_allows_only_what_cannot_undo_the_quarantine():
    assert {a.name for a in actions.ACTIONS if a.while_isolated} == \
        {'stop', 'delete'} | set(conductor_rpcapi.ISOLATION_ACTIONS)


def test_an_action_without_arguments_takes_null_or_an_empty_object():
    """The clients send null, Tempest {} (nova takes either); anything
    else is a clear refusal."""
    for body in ({'pause': None}, {'pause': {}}, {'os-stop': {}}):
        assert server_actions.parse(body) == (next(iter(body)), None)
    with pytest.raises(exception.InvalidRPCPayload, match='takes null'):
        server_actions.parse({'pause': {'now': True}})
