"""The structure of the Grafana dashboards in etc/grafana.

They are current (``python -m tools.grafana --check``), import anywhere
(the ``${DS_PROMETHEUS}`` input on every panel and target), every panel
has a unique id, a place on the 24-column grid and PromQL targets, and
the host dashboard's queries all select its ``host`` variable. Whether
the queries are right is tests/functional/test_dashboards.py's job.
"""
import json

import pytest

from tools import grafana

BOARDS = sorted(grafana.OUT.glob('*.json'))
DS = '${DS_PROMETHEUS}'


def load(path):
    return json.loads(path.read_text())


def test_dashboards_are_current(capsys):
    assert [p.name for p in BOARDS] == sorted(grafana.dashboards())
    assert grafana.main(['--check']) == 0, capsys.readouterr().out


def test_a_stale_dashboard_is_reported(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(grafana, 'OUT', tmp_path)
    assert grafana.main([]) == 0
    (tmp_path / 'hvagent-host.json').write_text('{}\n')
    assert grafana.main(['--check']) == 1
    assert capsys.readouterr().out == (
        'etc/grafana is not current (hvagent-host.json): run python -m '
        'tools.grafana\n')


@pytest.mark.parametrize('path', BOARDS, ids=lambda p: p.name)
def test_structure(path):
    board = load(path)
    assert [i['name'] for i in board['__inputs']] == ['DS_PROMETHEUS']
    assert board['uid'] and board['title']
    panels = board['panels']
    ids = [p['id'] for p in panels]
    assert len(ids) == len(set(ids)), 'duplicate panel ids'
    queries = [p for p in panels if p['type'] != 'row']
    assert queries
    for p in panels:
        pos = p['gridPos']
        assert pos['x'] >= 0 and pos['x'] + pos['w'] <= 24, p['title']
    for p in queries:
        assert p['datasource'] == {'type': 'prometheus', 'uid': DS}, p
        assert p['title'] and p['description'], p
        assert p['targets'], p['title']
        refs = [t['refId'] for t in p['targets']]
        assert len(refs) == len(set(refs)), p['title']
        for t in p['targets']:
            assert t['datasource']['uid'] == DS, p['title']
            assert t['expr'].strip(), p['title']
    # panels do not overlap
    cells = set()
    for p in panels:
        pos = p['gridPos']
        mine = {(x, y) for x in range(pos['x'], pos['x'] + pos['w'])
                for y in range(pos['y'], pos['y'] + pos['h'])}
        assert not cells & mine, p['title']
        cells |= mine


def test_host_dashboard_selects_its_host():
    board = load(grafana.OUT / 'hvagent-host.json')
    [var] = board['templating']['list']
    assert var['name'] == 'host' and var['datasource']['uid'] == DS
    assert 'hvagent_build_info' in var['query']['query']
    for p in board['panels']:
        for t in p.get('targets', []):
            assert 'instance="$host"' in t['expr'], (p['title'], t['expr'])
