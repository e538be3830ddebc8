"""Tokens and passwords: signature, expiry, tampering, key file."""
import os
import stat

import pytest

from agent import exception
from agent.api import tokens
from agent.security import sealed

KEY = b'k' * 32


def test_round_trip():
    token, payload = tokens.issue(KEY, 'u1', 'p1', ttl=60, now=1000)
    assert payload['exp'] == 1060 and payload['iat'] == 1000
    assert tokens.verify(KEY, token, now=1059) == payload
    _, payload = tokens.issue(KEY, 'u1', 'p1', ttl=60, now=1000,
                              issued_at=999)
    assert payload['iat'] == 999


def test_token_without_issued_at_counts_as_issued_at_zero():
    """A token signed before issued-at existed: any password change
    since kills it."""
    body = sealed._b64(b'{"exp": 2000, "id": "t", "project_id": "p", '
                       b'"user_id": "u"}')
    token = body + '.' + sealed._mac(KEY, body)
    assert tokens.verify(KEY, token, now=1000)['iat'] == 0


@pytest.mark.parametrize('iat', ['"1"', '-1', 'true', '1.5'])
def test_bad_issued_at_refused(iat):
    body = sealed._b64(('{"exp": 2000, "iat": %s, "id": "t", "project_id": '
                        '"p", "user_id": "u"}' % iat).encode())
    with pytest.raises(exception.NotAuthenticated, match='malformed'):
        tokens.verify(KEY, body + '.' + sealed._mac(KEY, body), now=1000)


@pytest.mark.parametrize('now, reason', [(1060, 'expired'),
                                         (2000, 'expired')])
def test_expired(now, reason):
    token, _ = tokens.issue(KEY, 'u1', 'p1', ttl=60, now=1000)
    with pytest.raises(exception.NotAuthenticated, match=reason):
        tokens.verify(KEY, token, now=now)


def test_other_key_and_tampering_refused():
    token, _ = tokens.issue(KEY, 'u1', 'p1', ttl=60)
    with pytest.raises(exception.NotAuthenticated, match='not signed'):
        tokens.verify(b'x' * 32, token)
    body, sig = token.split('.')
    forged = sealed._b64(sealed._unb64(body).replace(b'u1', b'u2'))
    with pytest.raises(exception.NotAuthenticated):
        tokens.verify(KEY, forged + '.' + sig)


@pytest.mark.parametrize('junk', ['', '.', 'abc', 'a.b', '\u00e9.\u00e9',
                                  'x' * 5000])
def test_junk_refused(junk):
    with pytest.raises(exception.NotAuthenticated):
        tokens.verify(KEY, junk)


def test_signed_but_malformed_payload_refused():
    body = sealed._b64(b'{"exp": "soon"}')
    with pytest.raises(exception.NotAuthenticated, match='malformed'):
        tokens.verify(KEY, body + '.' + sealed._mac(KEY, body))


def test_key_file_created_private_and_reused(tmp_path):
    path = str(tmp_path / 'sub' / 'key')
    key = tokens.load_key(path)
    assert len(key) == tokens.KEY_BYTES
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert tokens.load_key(path) == key


def test_short_key_refused(tmp_path):
    (tmp_path / 'key').write_bytes(b'short')
    with pytest.raises(exception.HVAgentError, match='shorter'):
        tokens.load_key(str(tmp_path / 'key'))
