"""Query parameters of list endpoints and paging of short lists."""
from fastapi import Query
from oslo_config import cfg

from agent import exception

CONF = cfg.CONF


def limit_param(limit: int | None = Query(
        None, ge=1, le=10000, description='at most this many items '
        '(capped at [api] max_limit)')):
    return min(limit or CONF.api.max_limit, CONF.api.max_limit)


def marker_param(marker: str | None = Query(
        None, min_length=1, max_length=64,
        description='the id of the last item of the previous page')):
    return marker


def next_marker(items, limit, key):
    """The marker of the next page, when this one is full."""
    return key(items[-1]) if items and len(items) == limit else None


def page(items, limit, marker, key):
    """Page a list the conductor answers whole (it is short)."""
    if marker is not None:
        keys = [key(i) for i in items]
        if marker not in keys:      # the caller's items only
            raise exception.InvalidRPCPayload('marker %s not found'
                                              % marker)
        items = items[keys.index(marker) + 1:]
    items = items[:limit]
    return items, next_marker(items, limit, key)


def project_page(list_method, caller, name, limit, marker):
    """A page of the caller's project's items from a conductor list
    method taking project_id, limit and marker (a uuid)."""
    items = list_method(caller.ctxt, project_id=caller.project_id,
                        limit=limit, marker=marker and str(marker))
    return {name: items,
            'next_marker': next_marker(items, limit, lambda i: i['id'])}


def scoped_page(caller, rule, list_method, view, name, all_projects, limit,
                marker):
    """A page of a short list the conductor answers whole: the caller's
    project's items (``rule``), or every project's (``rule:all_projects``).
    ``list_method`` takes project_id (None: all); items are viewed, keyed
    by their 'id'."""
    caller.check(rule + ':all_projects' if all_projects else rule)
    items = [view(i) for i in list_method(
        caller.ctxt, project_id=None if all_projects else caller.project_id)]
    items, nxt = page(items, limit, marker, lambda i: str(i['id']))
    return {name: items, 'next_marker': nxt}
