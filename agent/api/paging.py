"""Query parameters of list endpoints, paging of short lists, and the
``links`` of a page (OpenStack's: self, previous, next)."""
from urllib import parse

from fastapi import Query
from oslo_config import cfg

from agent import exception
from agent.api import service_catalog

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


def links(request, marker):
    """A page's ``links``: this URL, and the next page's (``marker``
    given) under the API's public URL."""
    here = service_catalog.base_url(request) + \
        request.url.path
    query = dict(request.query_params)
    this = here + ('?' + parse.urlencode(query) if query else '')
    nxt = None
    if marker is not None:
        query['marker'] = marker
        nxt = here + '?' + parse.urlencode(query)
    return {'self': this, 'previous': None, 'next': nxt}


def nova_page(request, name, items, marker):
    """nova's page: ``{name: items}``, and ``{name}_links`` with the next
    page's URL when ``marker`` is given."""
    out = {name: items}
    if marker is not None:
        out[name + '_links'] = [{'rel': 'next',
                                 'href': links(request, marker)['next']}]
    return out
