"""A server's metadata, nova's ``/servers/{id}/metadata``: read it all
(``{"metadata"}``) or one key (``{"meta": {key: value}}``), merge keys
in (``POST``), set one (``PUT .../{key}``), delete one (204). Readers of
the server read it; its owner (or an admin) changes it (policy
``server:metadata:set``). At most MAX_ITEMS keys, as nova's default
metadata_items quota."""
import uuid

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Path
from fastapi import Response
from pydantic import Field

from agent import exception
from agent.api import deps
from agent.api.compute import instances
from agent.api.compute import microversions
from agent.api.schemas import Strict

router = APIRouter(prefix=microversions.PREFIX + '/servers/{server_id}/metadata',
                   tags=['compute'],
                   dependencies=[Depends(microversions.negotiate)])
MAX_ITEMS = 128
KEY = Path(min_length=1, max_length=255)
Items = dict[str, str]


class Metadata(Strict):
    metadata: Items = Field(max_length=MAX_ITEMS)


class Meta(Strict):
    meta: Items = Field(min_length=1, max_length=1)


def _values(items: Items) -> Items:
    for key, value in items.items():
        if not 1 <= len(key) <= 255 or len(value) > 255:
            raise exception.InvalidRPCPayload(
                'metadata: keys are 1 to 255 characters, values at most 255')
    return items


def _set(caller, server_id, items: Items):
    """Merge ``items`` (a None value deletes its key); the metadata."""
    inst = instances.fetch(caller, server_id, 'server:metadata:set')
    if len(set(inst.metadata) | set(items)) > MAX_ITEMS:
        raise exception.InvalidRPCPayload(
            'metadata: at most %d keys per server' % MAX_ITEMS)
    metadata = inst.metadata
    for key, value in items.items():
        metadata = deps.conductor().metadata_set(
            caller.ctxt, instance_uuid=inst.uuid, key=key, value=value)
    return metadata


@router.get('')
def metadata_list(server_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    return {'metadata': instances.fetch(caller, server_id,
                                        'server:show').metadata}


@router.post('')
def metadata_merge(server_id: uuid.UUID, body: Metadata,
                   caller: deps.Caller = deps.CALLER):
    """Add or change the given keys; the others stay."""
    return {'metadata': _set(caller, server_id, _values(body.metadata))}


@router.get('/{key}')
def metadata_show(server_id: uuid.UUID, key: str = KEY,
                  caller: deps.Caller = deps.CALLER):
    metadata = instances.fetch(caller, server_id, 'server:show').metadata
    if key not in metadata:
        raise exception.NotFound('Metadata item %s was not found' % key[:64])
    return {'meta': {key: metadata[key]}}


@router.put('/{key}')
def metadata_put(server_id: uuid.UUID, body: Meta, key: str = KEY,
                 caller: deps.Caller = deps.CALLER):
    if set(body.meta) != {key}:
        raise exception.InvalidRPCPayload(
            'the body {"meta": {...}} names the key of the URL')
    _set(caller, server_id, _values(body.meta))
    return {'meta': body.meta}


@router.delete('/{key}', status_code=204)
def metadata_delete(server_id: uuid.UUID, key: str = KEY,
                    caller: deps.Caller = deps.CALLER):
    inst = instances.fetch(caller, server_id, 'server:metadata:set')
    if key not in inst.metadata:
        raise exception.NotFound('Metadata item %s was not found' % key[:64])
    deps.conductor().metadata_set(caller.ctxt, instance_uuid=inst.uuid,
                                  key=key, value=None)
    return Response(status_code=204)
