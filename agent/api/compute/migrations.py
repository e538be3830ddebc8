"""Moves of instances between hosts, admins only, in nova's shapes: a
server's migrations (2.23+: list, show, abort, force complete) and
os-migrations (every move, filtered). The live migration itself is the
server action ``os-migrateLive`` (compute/server_actions.py). Anyone else gets
403 before any lookup."""
import uuid

from fastapi import APIRouter
from fastapi import Depends
from fastapi import Query

from agent import exception
from agent.api import action_schemas
from agent.api import deps
from agent.api.compute import instances
from agent.api.compute import microversions

router = APIRouter(prefix=microversions.PREFIX, tags=['compute'],
                   dependencies=[Depends(microversions.negotiate)])
BASE = '/servers/{server_id}/migrations'


def _server(caller, server_id, rule):
    caller.check(rule)
    return instances.fetch(caller, server_id, rule)


def _of_server(inst, mig):
    """``mig`` if it moves ``inst``; another server's is not found here."""
    if mig.instance_uuid != inst.uuid:
        raise exception.MigrationNotFound(migration=mig.uuid)
    return {'migration': action_schemas.Migration.of(mig)}


@router.get(BASE, response_model=action_schemas.Migrations)
def server_migrations(server_id: uuid.UUID,
                      caller: deps.Caller = deps.CALLER):
    """The server's moves, newest first (nova lists only those in
    progress; here the finished ones follow, with their status)."""
    inst = _server(caller, server_id, 'migration:list')
    return {'migrations': [action_schemas.Migration.of(m) for m in
                           deps.conductor().migration_list(
                               caller.ctxt, ref=inst.uuid)]}


@router.get(BASE + '/{migration_id}', response_model=action_schemas.MigrationOut)
def server_migration(server_id: uuid.UUID, migration_id: uuid.UUID,
                     caller: deps.Caller = deps.CALLER):
    inst = _server(caller, server_id, 'migration:show')
    return _of_server(inst, deps.conductor().migration_show(
        caller.ctxt, migration_uuid=str(migration_id)))


@router.delete(BASE + '/{migration_id}', status_code=202,
               response_model=action_schemas.MigrationOut)
def abort(server_id: uuid.UUID, migration_id: uuid.UUID,
          caller: deps.Caller = deps.CALLER):
    """Cancel the move in progress: the guest stays on (or goes back to)
    its source; 404 unless this server's move is in progress."""
    inst = _server(caller, server_id, 'migration:abort')
    return _of_server(inst, deps.conductor().migration_abort(
        caller.ctxt, ref=inst.uuid, migration_uuid=str(migration_id)))


@router.post(BASE + '/{migration_id}/action', status_code=202,
             response_model=action_schemas.MigrationOut)
def force_complete(server_id: uuid.UUID, migration_id: uuid.UUID,
                   body: action_schemas.ForceComplete,
                   caller: deps.Caller = deps.CALLER):
    """``{"force_complete": null}``: pause the guest so its copy ends
    (the destination resumes it); 409 unless it is copying."""
    inst = _server(caller, server_id, 'migration:force_complete')
    return _of_server(inst, deps.conductor().migration_force_complete(
        caller.ctxt, ref=inst.uuid, migration_uuid=str(migration_id)))


@router.get('/os-migrations', response_model=action_schemas.OsMigrations)
def os_migrations(caller: deps.Caller = deps.CALLER,
                  host: str | None = Query(None, min_length=1,
                                           max_length=255,
                                           description='as source or '
                                           'destination'),
                  status: action_schemas.MigrationStatus | None = Query(None),
                  instance_uuid: uuid.UUID | None = Query(None),
                  limit: int = Query(100, ge=1, le=1000)):
    """Every move, newest first: of one instance, touching one host, in
    one status if asked."""
    caller.check('migration:list')
    return {'migrations': [action_schemas.OsMigration.of(m) for m in
                           deps.conductor().migration_list(
                               caller.ctxt, ref=instance_uuid and
                               str(instance_uuid), host=host,
                               status=status, limit=limit)]}


@router.get('/os-migrations/{migration_id}',
            response_model=action_schemas.OsMigrationOut)
def os_migration(migration_id: uuid.UUID, caller: deps.Caller = deps.CALLER):
    """One move by its id (hvagent: nova has no such call)."""
    caller.check('migration:show')
    return {'migration': action_schemas.OsMigration.of(
        deps.conductor().migration_show(caller.ctxt,
                                        migration_uuid=str(migration_id)))}
