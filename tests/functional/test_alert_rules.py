"""etc/prometheus/hvagent-alerts.yml, checked and unit-tested by promtool.

``promtool check rules`` validates the file; ``promtool test rules`` runs
alerts/hvagent-alerts-test.yml, where every alert must fire on a lasting
fault and stay silent before its for:, on a blip and after recovery. The
test file itself must cover every alert both ways.
"""
import pathlib
import subprocess

import pytest
import yaml

from tests.functional import prometheus

pytestmark = pytest.mark.functional

ROOT = pathlib.Path(__file__).resolve().parents[2]
RULES = ROOT / 'etc' / 'prometheus' / 'hvagent-alerts.yml'
TESTS = pathlib.Path(__file__).parent / 'alerts' / 'hvagent-alerts-test.yml'


def promtool(*args, cwd=None):
    r = subprocess.run([prometheus.require('promtool'), *args], cwd=cwd,
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def alerts():
    return {rule['alert']: rule
            for group in yaml.safe_load(RULES.read_text())['groups']
            for rule in group['rules']}


def test_rules_pass_promtool_check():
    code, out = promtool('check', 'rules', str(RULES))
    assert code == 0, out
    assert 'SUCCESS: %d rules found' % len(alerts()) in out, out


def test_rules_unit_tests_pass():
    code, out = promtool('test', 'rules', TESTS.name, cwd=TESTS.parent)
    assert code == 0, out
    assert 'SUCCESS' in out, out


def test_every_alert_is_tested_firing_and_silent():
    firing, silent = set(), set()
    for case in yaml.safe_load(TESTS.read_text())['tests']:
        for check in case['alert_rule_test']:
            (firing if check['exp_alerts'] else silent).add(
                check['alertname'])
    names = set(alerts())
    assert names - firing == set(), 'never tested firing'
    assert names - silent == set(), 'never tested silent'


def test_every_alert_has_for_severity_and_annotations():
    for name, rule in alerts().items():
        assert rule.get('for'), name
        assert rule['labels']['severity'] in ('warning', 'critical'), name
        assert set(rule['annotations']) == {'summary', 'description'}, name


def test_a_wrong_expectation_fails(tmp_path):
    """promtool test rules really compares: the same file with one alert
    expected silent where it fires must fail."""
    doc = yaml.safe_load(TESTS.read_text())
    doc['rule_files'] = [str(RULES)]
    check = next(c for case in doc['tests'] for c in case['alert_rule_test']
                 if c['exp_alerts'])
    check['exp_alerts'] = []
    broken = tmp_path / 'broken-test.yml'
    broken.write_text(yaml.safe_dump(doc))
    code, out = promtool('test', 'rules', str(broken))
    assert code != 0, out
    assert check['alertname'] in out, out
