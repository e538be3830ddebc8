"""``limit`` + ``marker`` pagination of a query, the same for every list.

The marker is the id (uuid) of the last item of the previous page; the
next page starts after it in the query's order. An unknown marker is an
error (400 at the API), not an empty page.
"""
import sqlalchemy as sa

from agent import exception


def page(session, query, model, key, order, limit, marker):
    """Rows of ``query`` (ordered by ``order``, a unique column of
    ``model``) after the row whose ``key`` is ``marker``, at most
    ``limit`` (None: all)."""
    if marker is not None:
        after = session.scalar(sa.select(order).where(key == marker))
        if after is None:
            raise exception.InvalidRPCPayload(
                'marker %s matches no item' % marker)
        query = query.where(order > after)
    query = query.order_by(order)
    if limit is not None:
        query = query.limit(limit)
    return session.scalars(query).all()
