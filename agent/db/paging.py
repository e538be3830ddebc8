"""``limit`` + ``marker`` pagination of a query, the same for every list.

The marker is the id (uuid) of the last item of the previous page; the
next page starts after it in the query's order. The marker is looked up
*inside the query* (the caller's scope): one the caller cannot list --
another project's, or one that never existed -- is the same error, with
the same words, from the same single statement (400 "marker ... not
found" at the API), so a marker reveals nothing of other projects.
"""

from agent import exception


def not_found(marker):
    return exception.InvalidRPCPayload('marker %s not found' % marker)


def page(session, query, model, key, order, limit, marker):
    """Rows of ``query`` (ordered by ``order``, a unique column of
    ``model``) after the row whose ``key`` is ``marker``, at most
    ``limit`` (None: all)."""
    if marker is not None:
        after = session.scalar(query.with_only_columns(order).where(
            key == marker))
        if after is None:
            raise not_found(marker)
        query = query.where(order > after)
    query = query.order_by(order)
    if limit is not None:
        query = query.limit(limit)
    return session.scalars(query).all()
