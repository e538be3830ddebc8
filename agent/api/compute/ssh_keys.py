"""OpenSSH public keys of key pairs: parse and fingerprint one, or
generate an Ed25519 pair. Pure: no I/O."""
import base64
import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from agent import exception


def parse_public_key(text: str) -> tuple[str, str]:
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


def generate() -> tuple[str, str]:
    """A new Ed25519 pair: (OpenSSH private key, public key)."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH,
        serialization.PublicFormat.OpenSSH).decode()
    return private, public
