"""[api] public_url's default follows the API's scheme."""
import types

from agent.conf import api


def conf(**kw):
    values = dict(public_url=None, bind_host='10.0.0.5', bind_port=8774,
                  tls_cert_file=None)
    values.update(kw)
    return types.SimpleNamespace(api=types.SimpleNamespace(**values))


def test_public_url_default_is_https_with_a_certificate():
    assert api.public_url(conf()) == 'http://10.0.0.5:8774'
    assert api.public_url(conf(tls_cert_file='/etc/hvagent/api.pem')) == \
        'https://10.0.0.5:8774'
    assert api.public_url(conf(public_url='https://api.example/',
                               tls_cert_file=None)) == 'https://api.example'
