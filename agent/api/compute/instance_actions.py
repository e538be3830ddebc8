"""A server's actions as nova shows them at microversion 2.1:
``os-instance-actions`` (every request made on the server: what, who,
when) and one action with its events (each step, its host's result).
Readers of the server's project see them; an event's traceback is shown
to admin only (it names host paths)."""
import datetime
import uuid
from typing import Any

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Path

from agent import exception
from agent.api import deps
from agent.api.compute import microversions
from agent.api.compute.instances import fetch

router = APIRouter(
    prefix=microversions.PREFIX + '/servers/{server_id}/os-instance-actions',
    tags=['compute'], dependencies=[Depends(microversions.negotiate)])


def _time(value: Any) -> str | None:
    if isinstance(value, datetime.datetime):
        return value.strftime('%Y-%m-%dT%H:%M:%S.%f')
    return value


def _action(a) -> dict[str, Any]:
    """nova's fields, and hvagent's ``finish_time`` and ``result`` of the
    whole action (nova has them per event only)."""
    return {'action': a.action, 'instance_uuid': a.instance_uuid,
            'message': a.message, 'project_id': a.project_id,
            'request_id': a.request_id, 'start_time': _time(a.start_time),
            'user_id': a.user_id, 'finish_time': _time(a.finish_time),
            'result': a.result}


def _actions(caller, server_id):
    inst = fetch(caller, server_id, 'server:actions')
    return deps.conductor().action_list(caller.ctxt, ref=inst.uuid)


@router.get('')
def action_list(server_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    """Newest first, as nova lists them."""
    actions = sorted(_actions(caller, server_id),
                     key=lambda a: a.start_time or datetime.datetime.min,
                     reverse=True)
    return {'instanceActions': [_action(a) for a in actions]}


@router.get('/{request_id}')
def action_show(server_id: uuid.UUID,
                request_id: str = Path(min_length=1, max_length=64),
                caller: deps.Caller = deps.CALLER):
    for a in _actions(caller, server_id):
        if a.request_id == request_id:
            tracebacks = caller.can('server:actions:traceback')
            return {'instanceAction': dict(_action(a), events=[
                {'event': e.event, 'start_time': _time(e.start_time),
                 'finish_time': _time(e.finish_time), 'result': e.result,
                 'traceback': e.traceback if tracebacks else None}
                for e in a.events])}
    raise exception.NotFound('Action %s of server %s could not be found'
                             % (request_id, server_id))
