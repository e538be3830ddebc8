"""Request and response bodies. The same models validate requests and
describe them in /openapi.json. Strings are bounded as the conductor's
``@expects`` bounds them, so what passes here passes there."""
import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field

from agent.objects import fields as object_fields

Name = Field(min_length=1, max_length=255, pattern=r'^[^\x00-\x1f\x7f]+$')


class Strict(BaseModel):
    model_config = ConfigDict(extra='forbid')


# ---------------------------------------------------------------- quotas


class QuotaUpdate(Strict):
    instances: int | None = Field(None, ge=-1, le=2**31 - 1)
    cores: int | None = Field(None, ge=-1, le=2**31 - 1)
    ram: int | None = Field(None, ge=-1, le=2**31 - 1)
    fixed_ips: int | None = Field(None, ge=-1, le=2**31 - 1)
    floating_ips: int | None = Field(None, ge=-1, le=2**31 - 1)
    security_groups: int | None = Field(None, ge=-1, le=2**31 - 1)
    volumes: int | None = Field(None, ge=-1, le=2**31 - 1)
    images: int | None = Field(None, ge=-1, le=2**31 - 1)
    image_megabytes: int | None = Field(None, ge=-1, le=2**31 - 1)


# ---------------------------------- services (nova's os-services, < 2.53)
class ServiceRef(Strict):
    host: str = Name
    binary: str = Field(min_length=1, max_length=64,
                        description='hvagent-compute: only compute '
                        'services can be disabled')


class ServiceDisable(ServiceRef):
    disabled_reason: Annotated[str, Field(
        min_length=1, max_length=255), AfterValidator(
        object_fields.printable)]


class Service(BaseModel):
    id: int | None
    binary: str
    host: str
    zone: str = Field(description="a compute service's availability "
                      "zone ('nova' when its host names none); 'internal' "
                      'for the controllers')
    status: Literal['enabled', 'disabled']
    state: Literal['up', 'down']
    updated_at: datetime.datetime | None
    disabled_reason: str | None
    # (forced_down came with compute 2.11; this API serves 2.1)


class Services(BaseModel):
    services: list[Service]


class ServiceStatus(BaseModel):
    host: str
    binary: str
    status: Literal['enabled', 'disabled']
    disabled_reason: str | None = None


class ServiceStatusOut(BaseModel):
    service: ServiceStatus
