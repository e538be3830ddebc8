"""Bodies of the moves among nova's server actions (``POST
/servers/{id}/action``: os-migrateLive, resize, migrate; dispatched by
agent.api.compute.server_actions) and the views of the migrations they
start (a server's migrations and os-migrations)."""
import datetime
import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator
from pydantic import BaseModel
from pydantic import Field
from pydantic import StrictBool

from agent.api.schemas import Strict
from agent.objects import fields as object_fields
from agent.objects import states


class LiveMigrate(Strict):
    host: Annotated[str, Field(min_length=1, max_length=255),
                    AfterValidator(object_fields.printable)] | None = Field(
        None, description='the destination (null: the scheduler picks; '
        'either way every filter checks it)')
    block_migration: StrictBool | Literal['auto'] = Field(
        'auto', description="copy the root disk too (auto: unless the "
        "destination shares the instances directory)")
    disk_over_commit: StrictBool | None = Field(
        None, description="nova's before 2.25; ignored (the scheduler's "
        'filters check the disk)')


class FlavorRef(Strict):
    flavorRef: Annotated[str, Field(min_length=1, max_length=255),
                         AfterValidator(object_fields.printable)] = Field(
        description='the new flavor: its name or its id')


class Rebuild(Strict):
    imageRef: Annotated[str, Field(min_length=1, max_length=1024),
                        AfterValidator(object_fields.printable)] = Field(
        description='the image of the new root disk (its id)')


class Rescue(Strict):
    rescue_image_ref: Annotated[
        str, Field(min_length=1, max_length=1024),
        AfterValidator(object_fields.printable)] | None = Field(
        None, description='the image to boot from (its id; default: the '
        "server's own)")


class CreateImage(Strict):
    name: Annotated[str, Field(min_length=1, max_length=255),
                    AfterValidator(object_fields.printable)] = Field(
        description='the new image\'s name')
    metadata: dict[str, str] = Field(
        {}, max_length=0, description="the image's properties: none are "
        'kept yet, so none are taken (400)')


class ColdMigrate(Strict):
    host: Annotated[str, Field(min_length=1, max_length=255),
                    AfterValidator(object_fields.printable)] | None = Field(
        None, description='the destination (null: the scheduler picks)')


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
