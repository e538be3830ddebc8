"""Interactive consoles (nova's os-remote-consoles): a URL with a fresh
console token that hvagent-console-proxy opens once.

* ``POST /servers/{id}/remote-consoles`` with ``{"remote_console":
  {"protocol": "serial"|"vnc", "type": "serial"|"novnc"}}`` answers
  ``{"remote_console": {"protocol", "type", "url"}}`` (nova 2.6's shape);
* the older actions ``{"os-getSerialConsole": {"type": "serial"}}`` and
  ``{"os-getVNCConsole": {"type": "novnc"}}`` (server_actions.py) answer
  ``{"console": {"type", "url"}}`` (what ``openstack console url show``
  reads at 2.1).

The caller needs ``server:remote_console`` on the instance (whoever may
start and stop it: typing into its console is as much control); another
project's server is 404. The conductor checks the instance is active and
asks its host where the console is (agent.conductor.consoles).
"""
import uuid
from typing import Literal

from fastapi import APIRouter
from fastapi import Depends

from agent import exception
from agent.api import deps
from agent.api.compute import instances
from agent.api.compute import microversions
from agent.api.schemas import Strict
from agent.console import urls

router = APIRouter(prefix=microversions.PREFIX + '/servers',
                   tags=['compute'],
                   dependencies=[Depends(microversions.negotiate)])
#: the console types of each protocol (nova's pairs we serve)
TYPES = {'serial': 'serial', 'vnc': 'novnc'}


class SerialConsole(Strict):
    type: Literal['serial']


class VNCConsole(Strict):
    type: Literal['novnc']


class RemoteConsoleSpec(Strict):
    protocol: Literal['serial', 'vnc']
    type: Literal['serial', 'novnc']


class RemoteConsoleBody(Strict):
    remote_console: RemoteConsoleSpec


def url(caller, server_id, protocol: str) -> str:
    """A console URL of the server's ``protocol`` console, for a caller
    allowed ``server:remote_console`` on it."""
    inst = instances.fetch(caller, server_id, 'server:remote_console')
    out = deps.conductor().console_token_create(
        caller.ctxt, instance_uuid=inst.uuid, protocol=protocol)
    return urls.console_url(protocol, out['token'])


def action(caller, server_id, key, args):
    """os-getSerialConsole / os-getVNCConsole (server_actions.ACTIONS)."""
    protocol = 'serial' if key == 'os-getSerialConsole' else 'vnc'
    return {'console': {'type': args.type,
                        'url': url(caller, server_id, protocol)}}


@router.post('/{server_id}/remote-consoles')
def remote_console_create(server_id: uuid.UUID, body: RemoteConsoleBody,
                          caller: deps.Caller = deps.CALLER):
    spec = body.remote_console
    if TYPES[spec.protocol] != spec.type:
        raise exception.InvalidRPCPayload(
            'console type %s is not one of protocol %s (%s)' % (
                spec.type, spec.protocol, TYPES[spec.protocol]))
    return {'remote_console': {
        'protocol': spec.protocol, 'type': spec.type,
        'url': url(caller, server_id, spec.protocol)}}
