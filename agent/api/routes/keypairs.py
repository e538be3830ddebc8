"""The caller's key pairs: import an OpenSSH public key, or generate an
Ed25519 pair whose private key is in that one answer and stored nowhere."""
import base64
import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi import APIRouter
from fastapi import Depends
from fastapi import Path
from fastapi import Response

from agent import exception
from agent.api import deps
from agent.api import paging
from agent.api import schemas

router = APIRouter(prefix='/v1/keypairs', tags=['keypairs'])
NAME = Path(min_length=1, max_length=255)


def parse_public_key(text):
    """The normalised OpenSSH public key and its SHA256 fingerprint;
    anything else is refused with a clear message."""
    try:
        key = serialization.load_ssh_public_key(text.strip().encode())
    except (ValueError, TypeError, UnicodeError) as e:
        raise exception.InvalidRPCPayload(
            'public_key is not an OpenSSH public key: %s' % e) from None
    raw = key.public_bytes(serialization.Encoding.OpenSSH,
                           serialization.PublicFormat.OpenSSH)
    blob = base64.b64decode(raw.split()[1])
    digest = base64.b64encode(hashlib.sha256(blob).digest()).rstrip(b'=')
    return raw.decode(), 'SHA256:' + digest.decode()


def generate():
    """A new Ed25519 pair: (OpenSSH private key, public key)."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH,
        serialization.PublicFormat.OpenSSH).decode()
    return private, public


def new_keypair(caller, name, public_key):
    """Import ``public_key``, or generate a pair (None): the caller's
    new key pair, with ``private_key`` when generated."""
    caller.check('keypair:manage')
    private = None
    if public_key is None:
        private, public_key = generate()
    public, fingerprint = parse_public_key(public_key)
    out = deps.conductor().keypair_create(
        caller.ctxt, user_id=caller.user_id, name=name,
        public_key=public, fingerprint=fingerprint)
    return dict(out, private_key=private)


@router.post('', status_code=201, response_model=schemas.KeyPairOut)
def create(body: schemas.KeyPairIn, caller: deps.Caller = deps.CALLER):
    return {'keypair': new_keypair(caller, body.name, body.public_key)}


@router.get('', response_model=schemas.KeyPairs)
def index(caller: deps.Caller = deps.CALLER,
          limit: int = Depends(paging.limit_param),
          marker: str | None = Depends(paging.marker_param)):
    caller.check('keypair:manage')
    items = deps.conductor().keypair_list(caller.ctxt,
                                          user_id=caller.user_id)
    items, nxt = paging.page(items, limit, marker, lambda k: k['name'])
    return {'keypairs': items, 'next_marker': nxt}


@router.get('/{name}', response_model=schemas.KeyPairOut)
def show(name: str = NAME, caller: deps.Caller = deps.CALLER):
    caller.check('keypair:manage')
    return {'keypair': deps.conductor().keypair_show(
        caller.ctxt, user_id=caller.user_id, name=name)}


@router.delete('/{name}', status_code=204)
def delete(name: str = NAME, caller: deps.Caller = deps.CALLER):
    remove_keypair(caller, name)
    return Response(status_code=204)


def remove_keypair(caller, name):
    caller.check('keypair:manage')
    deps.conductor().keypair_delete(caller.ctxt, user_id=caller.user_id,
                                    name=name)
