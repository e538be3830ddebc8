"""Test certificates, made per session with the ``cryptography`` package.

``Authority('test CA')`` is a self-signed CA; ``ca.issue(dir, name)``
writes ``name.pem`` and ``name.key`` (mode 0600) for 127.0.0.1 and
localhost (a server certificate, usable as a client certificate too) and
returns a ``Pair`` with its paths and serial. The session fixture
``tls_pki`` gives a test CA, a server pair, a client pair and a second,
"wrong" CA that signed nothing the servers present.
"""
import collections
import datetime
import ipaddress
import os
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.oid import NameOID

Pair = collections.namedtuple('Pair', 'cert key serial')
PKI = collections.namedtuple('PKI', 'dir ca server client wrong_ca')


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(path, data, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, 'wb') as f:
        f.write(data)


class Authority:
    def __init__(self, cn, directory):
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self.name = _name(cn)
        self.cert = (
            x509.CertificateBuilder().subject_name(self.name)
            .issuer_name(self.name).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                           critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False), critical=True)
            .sign(self.key, hashes.SHA256()))
        self.path = os.path.join(directory, cn.replace(' ', '-') + '.pem')
        _write(self.path, self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, directory, name, cn='localhost'):
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder().subject_name(_name(cn))
            .issuer_name(self.name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName('localhost'),
                x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([
                ExtendedKeyUsageOID.SERVER_AUTH,
                ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256()))
        pair = Pair(os.path.join(directory, name + '.pem'),
                    os.path.join(directory, name + '.key'),
                    cert.serial_number)
        _write(pair.cert, cert.public_bytes(serialization.Encoding.PEM))
        _write(pair.key, key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()), 0o600)
        return pair


def served_serial(host, port, ca_file):
    """The serial number of the certificate ``host:port`` presents now
    (a fresh handshake), verified against ``ca_file``."""
    pem = ssl.get_server_certificate((host, port), ca_certs=ca_file,
                                     timeout=10)
    return x509.load_pem_x509_certificate(pem.encode()).serial_number


@pytest.fixture(scope='session')
def tls_pki(tmp_path_factory):
    d = tmp_path_factory.mktemp('pki')
    ca = Authority('hvtest CA', d)
    return PKI(str(d), ca, ca.issue(d, 'server'), ca.issue(d, 'client'),
               Authority('hvtest wrong CA', d))
