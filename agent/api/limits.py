"""Bounded input: what one caller can make hvagent-api hold.

- BodyLimit (ASGI middleware): a request body over ``[api]
  max_request_body_bytes`` gets 413, refused from its Content-Length
  before a byte of it is read, or, chunked, as soon as the bytes read
  pass the limit. The image uploads (PUT /image/v2/images/{id}/file)
  stream to disk under their own cap and are exempt
  (IMAGE_UPLOAD_EXEMPTION).
- Protocol: uvicorn's h11 protocol with a deadline for the request head:
  a connection that has not sent a whole request line and headers
  ``[api] request_header_timeout`` seconds after it opened (or after its
  last answer) is closed, however it trickles bytes (uvicorn alone keeps
  idle fresh connections forever, and any byte resets its keep-alive
  timer).
- server_config: uvicorn's limits from [api] (limit_concurrency,
  timeout_keep_alive, the largest request head, the listen backlog).
- raise_nofile_limit: the soft open-file limit up to the hard one.
"""
import logging
import re
import resource

from fastapi import HTTPException
from oslo_config import cfg
from uvicorn.protocols.http import h11_impl

from agent.api import errors

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

_IMAGE_FILE = re.compile(r'^/image/v2/images/[^/]+/file$')


def IMAGE_UPLOAD_EXEMPTION(scope):
    """glance's PUT /image/v2/images/{image_id}/file: streamed to disk,
    capped by the image store itself (agent/api/image_store.py), not by
    BodyLimit."""
    return scope['method'] == 'PUT' and bool(_IMAGE_FILE.match(
        scope['path']))


def _too_large(limit):
    return 'Request body larger than %d bytes' % limit


class BodyLimit:
    def __init__(self, app, exemptions=(IMAGE_UPLOAD_EXEMPTION,)):
        self.app, self.exemptions = app, exemptions

    async def __call__(self, scope, receive, send):
        if scope['type'] != 'http' or any(e(scope)
                                           for e in self.exemptions):
            return await self.app(scope, receive, send)
        limit = CONF.api.max_request_body_bytes
        length = dict(scope['headers']).get(b'content-length', b'')
        if length.isdigit() and int(length) > limit:
            return await _refuse(send, limit)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message['type'] == 'http.request':
                seen += len(message.get('body', b''))
                if seen > limit:
                    # FastAPI passes an HTTPException raised while it reads
                    # the body on to the app's handler: a JSON 413
                    raise HTTPException(413, _too_large(limit))
            return message
        await self.app(scope, counted, send)


async def _refuse(send, limit):
    response = errors.body(413, _too_large(limit),
                           headers={'Connection': 'close'})
    await send({'type': 'http.response.start', 'status': 413,
                'headers': response.raw_headers})
    await send({'type': 'http.response.body', 'body': response.body})


class Protocol(h11_impl.H11Protocol):
    """h11 with a deadline for each request head: from the connection's
    start, then from the end of each answer, until the next request's
    line and headers are in (idle and trickling clients alike)."""

    def connection_made(self, transport):
        self._head_deadline = None
        super().connection_made(transport)
        self._arm()

    def _arm(self):
        if self._head_deadline is not None:
            self._head_deadline.cancel()
        self._head_deadline = self.loop.call_later(
            CONF.api.request_header_timeout, self._head_timeout)

    def _waiting_for_head(self):
        return self.cycle is None or self.cycle.response_complete

    def _head_timeout(self):
        if self._waiting_for_head() and not self.transport.is_closing():
            self.transport.close()

    def handle_events(self):
        super().handle_events()
        if not self._waiting_for_head():
            self._head_deadline.cancel()

    def on_response_complete(self):
        self._arm()     # before: a pipelined request is handled within
        super().on_response_complete()

    def connection_lost(self, exc):
        if self._head_deadline is not None:
            self._head_deadline.cancel()
        super().connection_lost(exc)


def server_config():
    """uvicorn.Config keyword arguments of the limits above."""
    return {'http': Protocol,
            'limit_concurrency': CONF.api.limit_concurrency,
            'timeout_keep_alive': CONF.api.timeout_keep_alive,
            'h11_max_incomplete_event_size': CONF.api.max_request_head_bytes,
            'backlog': CONF.api.backlog}


def raise_nofile_limit():
    """Raise the soft RLIMIT_NOFILE to the hard limit (often 1024 of
    524288): each connection holds a descriptor. Returns the new soft
    limit; warns if it is below [api] limit_concurrency."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (OSError, ValueError) as e:  # a seccomp filter, say
            LOG.warning('could not raise the open-file limit: %s', e)
    if soft != resource.RLIM_INFINITY and \
            soft < CONF.api.limit_concurrency + 64:
        LOG.warning('open-file limit %d is below [api] limit_concurrency '
                    '%d (+64 for the rest): raise LimitNOFILE', soft,
                    CONF.api.limit_concurrency)
    return soft
