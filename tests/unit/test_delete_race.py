"""A delete that finds a task running records itself anyway: if the
task ends between the delete's read and its compare-and-swap (the agent
swapped task_state first), the delete is recorded anew, once, instead of
answering 409; any other action still gets the conflict."""
from unittest import mock

import oslo_messaging as messaging
import pytest

from agent import context
from agent import exception
from agent.conductor import lifecycle

UUID = '6d1c8a34-7d52-4c1e-9a55-1f0b8b6c2a10'


def manager(outcomes):
    m = lifecycle.LifecycleManager(engine=mock.Mock(), scheduler=mock.Mock(),
                                   compute=mock.Mock())
    m._record_action = mock.Mock(side_effect=outcomes)
    return m


def lost_race():
    return exception.UnexpectedTaskState(instance=UUID, actual=None,
                                         expected='unpausing')


def test_a_delete_that_lost_the_race_is_recorded_anew():
    done = mock.Mock(uuid=UUID)
    m = manager([lost_race(), (done, None, None)])
    assert m.instance_action(context.admin_context(), ref=UUID,
                             action='delete', volume_id=None,
                             connection_info={}) is done
    assert m._record_action.call_count == 2


@pytest.mark.parametrize('outcomes, action', [
    ([lost_race()], 'stop'),
    ([lost_race(), lost_race()], 'delete'),     # once only
])
def test_other_conflicts_still_answer_409(outcomes, action):
    m = manager(outcomes)
    # the RPC server's wrapping of an expected error (the API maps the
    # wrapped UnexpectedTaskState onto 409)
    with pytest.raises(messaging.ExpectedException) as refused:
        m.instance_action(context.admin_context(), ref=UUID,
                          action=action, volume_id=None, connection_info={})
    assert isinstance(refused.value.exc_info[1],
                      exception.UnexpectedTaskState)
    assert m._record_action.call_count == len(outcomes)
