"""The caller's key pairs, nova's ``/os-keypairs``: import an OpenSSH
public key or generate one (the private key is in that answer only)."""
from fastapi import APIRouter
from fastapi import Depends
from fastapi import Path
from fastapi import Response

from agent.api import deps
from agent.api.compute import microversions
from agent.api.compute import schemas
from agent.api.compute import ssh_keys
from agent.api.compute import views

router = APIRouter(prefix=microversions.PREFIX + '/os-keypairs',
                   tags=['compute'],
                   dependencies=[Depends(microversions.negotiate)])
NAME = Path(min_length=1, max_length=255)


def new_keypair(caller, name, public_key):
    """Import ``public_key``, or generate a pair (None): the caller's
    new key pair, with ``private_key`` when generated."""
    caller.check('keypair:manage')
    private = None
    if public_key is None:
        private, public_key = ssh_keys.generate()
    public, fingerprint = ssh_keys.parse_public_key(public_key)
    out = deps.conductor().keypair_create(
        caller.ctxt, user_id=caller.user_id, name=name,
        public_key=public, fingerprint=fingerprint)
    return dict(out, private_key=private)


@router.post('', status_code=200)
def keypair_create(body: schemas.KeyPairCreate,
                   caller: deps.Caller = deps.CALLER):
    return {'keypair': views.keypair(new_keypair(
        caller, body.keypair.name, body.keypair.public_key), 'create')}


@router.get('')
def keypair_list(caller: deps.Caller = deps.CALLER):
    caller.check('keypair:manage')
    return {'keypairs': [{'keypair': views.keypair(k)} for k in
                         deps.conductor().keypair_list(
                             caller.ctxt, user_id=caller.user_id)]}


@router.get('/{name}')
def keypair_show(name: str = NAME, caller: deps.Caller = deps.CALLER):
    caller.check('keypair:manage')
    return {'keypair': views.keypair(deps.conductor().keypair_show(
        caller.ctxt, user_id=caller.user_id, name=name), 'show')}


@router.delete('/{name}', status_code=202)
def keypair_delete(name: str = NAME, caller: deps.Caller = deps.CALLER):
    caller.check('keypair:manage')
    deps.conductor().keypair_delete(caller.ctxt, user_id=caller.user_id,
                                    name=name)
    return Response(status_code=202)
