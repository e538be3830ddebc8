"""Sealed payloads: JSON signed with HMAC-SHA256, ``<body>.<signature>``
in base64url, as tokens and image grants travel. Pure (no I/O)."""
import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from agent import exception


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def _mac(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())


def seal(key: bytes, payload: dict[str, Any]) -> str:
    body = _b64(json.dumps(payload, sort_keys=True).encode())
    return body + '.' + _mac(key, body)


def unseal(key: bytes, text: str, what: str) -> dict[str, Any]:
    """The payload of ``text`` sealed with ``key``; else NotAuthenticated
    naming ``what`` (a token, an image grant)."""
    body, sep, signature = (text or '').partition('.')
    if not sep or not hmac.compare_digest(
            _mac(key, body).encode(), signature.encode('utf-8', 'replace')):
        raise exception.NotAuthenticated(
            reason='%s is malformed or not signed by this cloud' % what)
    try:
        payload = json.loads(_unb64(body))
        if not isinstance(payload, dict):
            raise ValueError
    except (ValueError, TypeError, binascii.Error):
        raise exception.NotAuthenticated(reason='%s is malformed' % what) \
            from None
    return payload
