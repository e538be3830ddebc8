"""Every error as ``{"error": {"code", "title", "message"}}`` (keystone's
shape) with its HTTP status.

Conductor errors cross RPC as agent.exception classes and map by class;
bad input of any shape is a 4xx, never a 5xx.
"""
import http
import logging

import oslo_messaging as messaging
from fastapi import exceptions as fastapi_exc
from fastapi.responses import JSONResponse
from starlette import exceptions as starlette_exc

from agent import exception

LOG = logging.getLogger(__name__)

#: first match wins (subclasses before their bases)
STATUS = (
    (exception.NotAuthenticated, 401),
    (exception.Throttled, 429),
    (exception.Busy, 503),
    (exception.ComputeHostUnreachable, 503),
    (exception.QuotaExceeded, 403),
    (exception.TooLarge, 413),
    (exception.NotFound, 404),
    (exception.Conflict, 409),
    (exception.DuplicateName, 409),
    (exception.InstanceInvalidState, 409),
    (exception.MigrationInvalidState, 409),
    (exception.NoValidHost, 400),       # nova's answer to a live migration
    (exception.UnexpectedTaskState, 409),
    (exception.NetworkInUse, 409),
    (exception.NetworkFull, 409),
    (exception.SubnetExists, 409),
    (ValueError, 400),      # InvalidRPCPayload, InvalidNetwork...
)


class Forbidden(exception.HVAgentError):
    msg = 'Policy does not allow %(rule)s'


def _title(status):
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return 'Error'


def body(status, message, headers=None, **extra):
    error = {'code': status, 'title': _title(status), 'message': message}
    error.update(extra)
    return JSONResponse({'error': error}, status_code=status,
                        headers=headers)


def status_of(exc):
    if isinstance(exc, Forbidden):
        return 403
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400      # any other refusal of the conductor's is of the input


def install(app):
    @app.exception_handler(exception.HVAgentError)
    def _hv(request, exc):
        extra = {}
        if isinstance(exc, exception.QuotaExceeded):
            extra = {k: exc.kwargs.get(k) for k in
                     ('resource', 'limit', 'in_use', 'requested')}
        headers = None
        if isinstance(exc, (exception.Throttled, exception.Busy)):
            headers = {'Retry-After': str(exc.kwargs.get('retry_after', 1))}
        return body(status_of(exc), exception.text(exc), headers, **extra)

    @app.exception_handler(fastapi_exc.RequestValidationError)
    def _invalid(request, exc):
        problems = '; '.join('%s: %s' % ('.'.join(map(str, e['loc'])),
                                         e['msg']) for e in exc.errors())
        return body(400, 'Invalid request: %s' % problems)

    @app.exception_handler(starlette_exc.HTTPException)
    def _http(request, exc):
        return body(exc.status_code, str(exc.detail))

    @app.exception_handler(messaging.MessagingTimeout)
    def _timeout(request, exc):
        return body(503, 'The conductor did not answer in time')

    @app.exception_handler(Exception)
    def _unexpected(request, exc):
        LOG.exception('Unexpected error on %s %s', request.method,
                      request.url.path)
        return body(500, 'Internal error (%s); see the log for request %s'
                    % (type(exc).__name__,
                       getattr(request.state, 'request_id', '?')))
