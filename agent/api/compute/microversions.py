"""Compute API discovery and microversions.

hvagent serves microversion 2.1 only for now: a request for another
version (``OpenStack-API-Version: compute 2.x`` or the older
``X-OpenStack-Nova-API-Version``) is refused with 406, as nova refuses a
version outside its range, and every answer names the version it is in.
"""
from fastapi import HTTPException
from fastapi import Request
from fastapi import Response

from agent.api import service_catalog

MIN_VERSION = '2.1'
MAX_VERSION = '2.1'
UPDATED = '2013-07-23T11:33:21Z'
PREFIX = '/compute/v2.1'
HEADERS = ('OpenStack-API-Version', 'X-OpenStack-Nova-API-Version')


def version_document(request: Request) -> dict:
    base = service_catalog.base_url(request)
    return {'id': 'v2.1', 'status': 'CURRENT', 'version': MAX_VERSION,
            'min_version': MIN_VERSION, 'updated': UPDATED,
            'links': [{'rel': 'self', 'href': base + PREFIX + '/'}],
            'media-types': [{
                'base': 'application/json',
                'type': 'application/vnd.openstack.compute+json;version=2.1'
            }]}


def _parse(value: str) -> tuple[int, int]:
    major, minor = value.split('.')
    return int(major), int(minor)


def requested(request: Request) -> str:
    """The microversion a request asks for (default: the minimum)."""
    asked = request.headers.get(HEADERS[0], '')
    words = asked.split()
    if len(words) == 2 and words[0].lower() == 'compute':
        return words[1]
    return request.headers.get(HEADERS[1], MIN_VERSION) or MIN_VERSION


def negotiate(request: Request, response: Response) -> str:
    """The dependency of every compute route: the version served, in the
    answer's headers; 406 for one outside MIN..MAX, 400 for nonsense."""
    asked = requested(request).strip().lower()
    if asked == 'latest':
        asked = MAX_VERSION
    try:
        version = _parse(asked)
    except ValueError:
        raise HTTPException(400, 'Invalid microversion %r: give X.Y or '
                            'latest' % asked[:32]) from None
    if not _parse(MIN_VERSION) <= version <= _parse(MAX_VERSION):
        raise HTTPException(406, 'Version %s is not supported by the API. '
                            'Minimum is %s and maximum is %s.'
                            % (asked[:32], MIN_VERSION, MAX_VERSION))
    served = '%d.%d' % version
    response.headers[HEADERS[0]] = 'compute ' + served
    response.headers[HEADERS[1]] = served
    response.headers['Vary'] = ', '.join(HEADERS)
    return served
