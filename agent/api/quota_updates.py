"""Quota updates as nova, neutron and cinder take them: ``{key: {name:
limit, ...}}`` in the service's own names, checked, then set through
the conductor in hvagent's resources (an admin's)."""
from typing import Any

from agent import exception
from agent.api import deps
from agent.api.identity.projects import project_of
from agent.api.schemas import QuotaUpdate


def parse(body: Any, key: str, known: dict[str, str],
          ignored: tuple[str, ...] = ()) -> dict[str, int]:
    """``body``'s limits by hvagent resource; ``known``: the service's
    quota names -> hvagent's resources; ``ignored`` names are dropped
    (nova's ``force``)."""
    quota = body.get(key) if isinstance(body, dict) and len(body) == 1 \
        else None
    if not isinstance(quota, dict):
        raise exception.InvalidRPCPayload('the body is {"%s": {...}}' % key)
    quota = {k: v for k, v in quota.items() if k not in ignored}
    unknown = sorted(set(quota) - set(known))
    if unknown:
        raise exception.InvalidRPCPayload(
            'quota %s: not a quota hvagent keeps (it keeps %s)'
            % (', '.join(unknown)[:200], ', '.join(known)))
    for name, value in quota.items():
        if isinstance(value, bool) or not isinstance(value, int) or \
                not -1 <= value < 2 ** 31:
            raise exception.InvalidRPCPayload(
                'quota %s must be an integer from -1 (unlimited)' % name)
    return {known[k]: v for k, v in quota.items()}


def apply(caller, project: str, limits: dict[str, int]):
    """Set ``limits`` (hvagent's resources) of ``project`` (id or name);
    (its id, every quota of it) after."""
    pid = project_of(caller, project)['id']
    caller.check('quota:update', pid)
    return pid, deps.conductor().quota_set(
        caller.ctxt, project_id=pid,
        limits=dict(dict.fromkeys(QuotaUpdate.model_fields), **limits))
