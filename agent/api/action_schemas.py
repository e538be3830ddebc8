"""Bodies of the server actions (nova's ``POST /servers/{id}/action``:
the power and lifecycle actions, os-migrateLive, resize, migrate,
confirmResize, revertResize) and of the migrations they start (hvagent's
``/v1/migrations`` and nova's os-migrations). The rest:
agent.api.schemas."""
import datetime
import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator
from pydantic import BaseModel
from pydantic import Discriminator
from pydantic import Field
from pydantic import StrictBool
from pydantic import Tag

from agent.api.schemas import Strict
from agent.objects import actions as user_actions
from agent.objects import fields as object_fields
from agent.objects import states


class Action(Strict):
    action: Literal[user_actions.IN_BODY]


class LiveMigrate(Strict):
    host: Annotated[str, Field(min_length=1, max_length=255),
                    AfterValidator(object_fields.printable)] | None = Field(
        None, description='the destination (null: the scheduler picks; '
        'either way every filter checks it)')
    block_migration: StrictBool | Literal['auto'] = Field(
        'auto', description="copy the root disk too (auto: unless the "
        "destination shares the instances directory)")


class LiveMigrateAction(Strict):
    """nova's os-migrateLive (admins; 2.25+ body)."""
    os_migrate_live: LiveMigrate = Field(alias='os-migrateLive')


class FlavorRef(Strict):
    flavorRef: Annotated[str, Field(min_length=1, max_length=255),
                         AfterValidator(object_fields.printable)] = Field(
        description='the new flavor: its name or its id')


class ResizeAction(Strict):
    """nova's resize (the instance's project): to another host with
    another flavor; it then waits for confirmResize or revertResize."""
    resize: FlavorRef


class ColdMigrate(Strict):
    host: Annotated[str, Field(min_length=1, max_length=255),
                    AfterValidator(object_fields.printable)] | None = Field(
        None, description='the destination (null: the scheduler picks)')


class MigrateAction(Strict):
    """nova's migrate (admins): a resize to the same flavor; ``null`` or
    ``{"host": ...}`` (2.56+)."""
    migrate: ColdMigrate | None


class ConfirmResizeAction(Strict):
    confirm_resize: None = Field(alias='confirmResize')


class RevertResizeAction(Strict):
    revert_resize: None = Field(alias='revertResize')


#: the server actions whose body is one key, by that key
_KEYED = {'os-migrateLive': 'live', 'resize': 'resize', 'migrate': 'migrate',
          'confirmResize': 'confirm', 'revertResize': 'revert'}
_KEYED_MODELS = ((LiveMigrateAction, 'live'), (ResizeAction, 'resize'),
                 (MigrateAction, 'migrate'),
                 (ConfirmResizeAction, 'confirm'),
                 (RevertResizeAction, 'revert'))


def _action_form(body):
    if isinstance(body, dict):
        return next((_KEYED[k] for k in body if k in _KEYED), 'action')
    return next((tag for cls, tag in _KEYED_MODELS if isinstance(body, cls)),
                'action')


#: POST /servers/{id}/action: {"action": NAME}, {"os-migrateLive": ...},
#: {"resize": {"flavorRef"}}, {"migrate": null}, {"confirmResize": null},
#: {"revertResize": null}
ServerAction = Annotated[
    Annotated[Action, Tag('action')] |
    Annotated[LiveMigrateAction, Tag('live')] |
    Annotated[ResizeAction, Tag('resize')] |
    Annotated[MigrateAction, Tag('migrate')] |
    Annotated[ConfirmResizeAction, Tag('confirm')] |
    Annotated[RevertResizeAction, Tag('revert')],
    Discriminator(_action_form)]


class ForceComplete(Strict):
    """nova's body of a forced completion."""
    force_complete: None


MigrationStatus = Literal[states.MIGRATION_STATUSES]


class Migration(BaseModel):
    """A move (nova's server migration, 2.23+; id is its uuid here)."""
    id: uuid.UUID
    server_uuid: uuid.UUID
    migration_type: str
    source_compute: str
    dest_compute: str | None
    status: MigrationStatus
    memory_total_bytes: int
    memory_processed_bytes: int
    memory_remaining_bytes: int
    disk_total_bytes: int
    disk_processed_bytes: int
    disk_remaining_bytes: int
    error: str | None = Field(description='why it failed or was '
                              'cancelled (hvagent)')
    created_at: datetime.datetime | None
    updated_at: datetime.datetime | None

    @classmethod
    def of(cls, mig, **extra):
        """The view of a Migration wire object."""
        return cls(id=mig.uuid, server_uuid=mig.instance_uuid, **extra, **{
            name: getattr(mig, name) for name in (
                'migration_type', 'source_compute', 'dest_compute',
                'status', 'error', 'created_at', 'updated_at')}, **{
            '%s_%s_bytes' % (what, part): getattr(mig, '%s_%s' % (
                what, part)) for what in ('memory', 'disk')
            for part in ('total', 'processed', 'remaining')})


class MigrationOut(BaseModel):
    migration: Migration


class Migrations(BaseModel):
    migrations: list[Migration]


class OsMigration(Migration):
    """A move as nova's os-migrations lists it (instance_uuid too)."""
    instance_uuid: uuid.UUID

    @classmethod
    def of(cls, mig):
        return super().of(mig, instance_uuid=mig.instance_uuid)


class OsMigrationOut(BaseModel):
    migration: OsMigration


class OsMigrations(BaseModel):
    migrations: list[OsMigration]
