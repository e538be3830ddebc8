"""The FastAPI application: request ids, JSON errors, the routers."""
import logging
import re
import time
import uuid

from fastapi import FastAPI

from agent.api import errors
from agent.api import limits
from agent.api import versions
from agent.api.compute import flavors as compute_flavors
from agent.api.compute import hypervisors as compute_hypervisors
from agent.api.compute import instance_actions as compute_actions
from agent.api.compute import interfaces as compute_interfaces
from agent.api.compute import keypairs as compute_keypairs
from agent.api.compute import migrations as compute_migrations
from agent.api.compute import quotas as compute_quotas
from agent.api.compute import remote_consoles
from agent.api.compute import server_actions
from agent.api.compute import server_metadata
from agent.api.compute import servers as compute_servers
from agent.api.compute import services
from agent.api.compute import volume_attachments
from agent.api.identity import auth
from agent.api.identity import domains
from agent.api.identity import projects as identity
from agent.api.identity import roles
from agent.api.identity import unified_limits
from agent.api.image import images as image_images
from agent.api.network import floating_ips as network_fips
from agent.api.network import networks as network_networks
from agent.api.network import ports as network_ports
from agent.api.network import quotas as network_quotas
from agent.api.network import security_groups as network_secgroups
from agent.api.volume import quotas as volume_quotas
from agent.api.volume import volumes as volume_volumes

LOG = logging.getLogger(__name__)
#: a caller's own X-Request-Id is kept when it looks like ours
REQUEST_ID = re.compile(r'^req-[0-9a-f-]{36}$')


class RequestId:
    """ASGI middleware: each request's id (the caller's X-Request-Id when
    it looks like ours, else a new one) in ``request.state.request_id``
    and in the answer's X-Request-Id and X-OpenStack-Request-Id; one log
    line per answer. Plain ASGI, not Starlette's BaseHTTPMiddleware: the
    body passes straight through (an image upload or download streams
    at the server's pace, not through a second task's queue)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope['type'] != 'http':
            return await self.app(scope, receive, send)
        given = dict(scope['headers']).get(b'x-request-id', b'').decode(
            'latin-1')
        rid = given if REQUEST_ID.match(given) else 'req-%s' % uuid.uuid4()
        scope.setdefault('state', {})['request_id'] = rid
        start = time.monotonic()

        async def send_with_id(message):
            if message['type'] == 'http.response.start':
                message['headers'] = [
                    *message.get('headers', ()),
                    (b'x-request-id', rid.encode()),
                    (b'x-openstack-request-id', rid.encode())]
                LOG.info('%s %s %s %.1fms [%s]', scope['method'],
                         scope['path'], message['status'],
                         (time.monotonic() - start) * 1e3, rid)
            await send(message)
        await self.app(scope, receive, send_with_id)


def create_app():
    app = FastAPI(
        title='hvagent API', version='1.0',
        description='The OpenStack APIs of an hvagent cloud: Identity v3 '
                    '(/v3), Compute v2.1 (/compute/v2.1), Image v2 '
                    '(/image/v2), Network v2 (/network/v2.0) and Block '
                    'Storage v3 (/volume/v3). Every request but POST '
                    '/v3/auth/tokens and version discovery needs an '
                    'X-Auth-Token header; every answer carries '
                    'X-OpenStack-Request-Id (and X-Request-Id); errors are '
                    '{"error": {"code", "title", "message"}}.')
    errors.install(app)
    # inside RequestId (added after, so outer): a 413 has its request id
    app.add_middleware(limits.BodyLimit)
    app.add_middleware(RequestId)

    app.include_router(volume_quotas.limits_router)
    for module in (versions, auth, identity, domains, roles, unified_limits,
                   services,
                   compute_servers, server_actions, remote_consoles,
                   server_metadata,
                   compute_migrations, compute_flavors,
                   compute_keypairs, compute_hypervisors, compute_quotas,
                   volume_attachments, compute_interfaces, image_images,
                   volume_volumes, volume_quotas, network_networks, network_secgroups,
                   network_ports, network_quotas, network_fips,
                   compute_actions):
        app.include_router(module.router)
    app.include_router(image_images.info_router)
    return app
