"""Version discovery as the OpenStack clients do it: ``GET /`` lists the
Identity API versions (300 Multiple Choices, as keystone answers) and
``GET /v3`` describes v3. No token needed."""
from fastapi import APIRouter
from fastapi import Request
from fastapi.responses import JSONResponse

from agent.api import auth_schemas
from agent.api import service_catalog

router = APIRouter(tags=['versions'])


def _version(request):
    return service_catalog.identity_version(
        service_catalog.base_url(str(request.base_url)))


@router.get('/', status_code=300, response_model=auth_schemas.Versions,
            response_model_by_alias=True)
def versions(request: Request):
    return JSONResponse({'versions': {'values': [_version(request)]}},
                        status_code=300)


@router.get('/v3', response_model=auth_schemas.VersionOut,
            response_model_by_alias=True)
@router.get('/v3/', include_in_schema=False)
def identity_v3(request: Request):
    return {'version': _version(request)}
