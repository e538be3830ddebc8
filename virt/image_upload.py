"""A snapshot's bytes to hvagent-api: ``PUT /image/v2/images/<id>/file``
with the conductor's upload grant (agent.security.image_grants), which
covers that one image and goes to that one URL only.

The file's sha256 goes with it (``?checksum=``): hvagent-api hashes what
it receives and keeps nothing unless the two agree, so an upload cut
short or mangled on the way never becomes an image. A refusal (the quota,
the image deleted meanwhile, an expired grant) is raised as SnapshotFailed
with hvagent-api's own message, which the instance's fault then shows.
"""
import hashlib
import http.client
import json
import os
import urllib.parse

from agent import exception
from agent.security import image_grants
from agent.security import tls

CHUNK_SIZE = 1 << 20
#: hvagent-api's Image v2 path of an image's data
FILE_PATH = '/image/v2/images/%s/file'


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        while chunk := f.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def _connection(api_url: str, ca_file: str | None,
                timeout: float) -> http.client.HTTPConnection:
    url = urllib.parse.urlsplit(api_url)
    if url.scheme == 'https':
        return http.client.HTTPSConnection(
            url.hostname, url.port, timeout=timeout,
            context=tls.client_context(ca_file), blocksize=CHUNK_SIZE)
    if url.scheme != 'http' or not url.hostname:
        raise exception.VirtDriverError(
            reason='the image service URL %r is not http(s)' % api_url)
    return http.client.HTTPConnection(url.hostname, url.port,
                                      timeout=timeout, blocksize=CHUNK_SIZE)


def _message(body: bytes) -> str | None:
    try:
        return str(json.loads(body)['error']['message'])[:300]
    except (ValueError, KeyError, TypeError):
        return None


def upload(api_url: str, ca_file: str | None, instance_uuid: str,
           image_id: str, grant: str, path: str,
           timeout: float = 60) -> str:
    """Upload ``path`` as the data of image ``image_id``; its sha256.
    ``timeout``: for the connection and each read and write."""
    checksum = sha256_of(path)
    target = urllib.parse.urlsplit(api_url).path.rstrip('/') + \
        FILE_PATH % urllib.parse.quote(image_id) + '?checksum=' + checksum
    conn = _connection(api_url, ca_file, timeout)
    try:
        with open(path, 'rb') as f:
            conn.request('PUT', target, body=f, headers={
                'Content-Type': 'application/octet-stream',
                'Content-Length': str(os.fstat(f.fileno()).st_size),
                image_grants.UPLOAD_HEADER: grant})
        resp = conn.getresponse()
        body = resp.read(65536)
    except (OSError, http.client.HTTPException) as e:
        raise exception.SnapshotFailed(
            instance=instance_uuid, reason='the upload to the image '
            'service failed: %s' % (tls.describe(e) or e)) from None
    finally:
        conn.close()
    if resp.status != 204:
        raise exception.SnapshotFailed(
            instance=instance_uuid, reason='the image service refused the '
            'upload (HTTP %s): %s' % (resp.status, _message(body) or
                                      resp.reason))
    return checksum
