"""Basic auth of the metrics endpoint (agent.metrics.web_config): answers,
and a checked password costs one bcrypt, not one per scrape."""
import base64
from unittest import mock

import bcrypt

from agent.metrics import web_config

HASH = bcrypt.hashpw(b'right', bcrypt.gensalt(4)).decode()


def header(user, password):
    return 'Basic ' + base64.b64encode(
        ('%s:%s' % (user, password)).encode()).decode()


def test_answers():
    web = web_config.WebConfig(users={'prom': HASH})
    assert web.authorized(header('prom', 'right'))
    assert not web.authorized(header('prom', 'wrong'))
    assert not web.authorized(header('nobody', 'right'))
    for bad in (None, '', 'Bearer x', 'Basic !!!', 'Basic ' +
                base64.b64encode(b'no-colon').decode()):
        assert not web.authorized(bad), bad
    assert web_config.WebConfig().authorized(None)     # no users: open


def test_a_checked_password_is_not_checked_again():
    web = web_config.WebConfig(users={'prom': HASH})
    with mock.patch.object(web_config.bcrypt, 'checkpw',
                           wraps=bcrypt.checkpw) as checkpw:
        assert all(web.authorized(header('prom', 'right'))
                   for _ in range(20))
        assert not any(web.authorized(header('prom', 'wrong'))
                       for _ in range(20))
        assert not any(web.authorized(header('ghost', 'x'))
                       for _ in range(5))
    assert checkpw.call_count == 3, checkpw.call_args_list


def test_the_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(web_config, 'CACHE_SIZE', 4)
    web = web_config.WebConfig(users={'prom': HASH})
    for i in range(10):
        web.authorized(header('prom', 'guess-%d' % i))
    assert len(web._cache) <= 4
    assert web.authorized(header('prom', 'right'))
