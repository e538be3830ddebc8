"""The conductor's key pair endpoint: a user's named OpenSSH public keys.

hvagent-api imports or generates the key and computes its fingerprint; the
private key of a generated pair is never stored (the API returns it once).
"""
import sqlalchemy as sa

from agent import exception
from agent.conductor import endpoint
from agent.db import models as M
from agent.objects import fields as f
from agent.rpc import checks

NAME = f.String(max_length=255)
USER = f.String(max_length=64)


def _keypair(row):
    return {'id': row.id, 'name': row.name, 'user_id': row.user_id,
            'fingerprint': row.fingerprint, 'public_key': row.public_key,
            'created_at': row.created_at.isoformat()}


def _get(s, user_id, name):
    row = s.scalar(sa.select(M.KeyPair).where(M.KeyPair.user_id == user_id,
                                              M.KeyPair.name == name))
    if row is None:
        raise exception.KeyPairNotFound(name=name)
    return row


class KeyPairManager(endpoint.Endpoint):
    @checks.expects(user_id=USER, name=NAME,
                 public_key=f.String(max_length=16384),
                 fingerprint=f.String(max_length=255))
    def keypair_create(self, ctxt, user_id, name, public_key, fingerprint):
        with self._session() as s:
            if s.scalar(sa.select(M.KeyPair.id).where(
                    M.KeyPair.user_id == user_id, M.KeyPair.name == name)):
                raise exception.Conflict(what='Key pair %s' % name)
            row = M.KeyPair(user_id=user_id, name=name,
                            public_key=public_key, fingerprint=fingerprint)
            s.add(row)
            s.flush()
            return _keypair(row)

    @checks.expects(user_id=USER)
    def keypair_list(self, ctxt, user_id):
        with self._session() as s:
            return [_keypair(r) for r in s.scalars(sa.select(M.KeyPair).where(
                M.KeyPair.user_id == user_id).order_by(M.KeyPair.name))]

    @checks.expects(user_id=USER, name=NAME)
    def keypair_show(self, ctxt, user_id, name):
        with self._session() as s:
            return _keypair(_get(s, user_id, name))

    @checks.expects(user_id=USER, name=NAME)
    def keypair_delete(self, ctxt, user_id, name):
        with self._session() as s:
            s.delete(_get(s, user_id, name))
