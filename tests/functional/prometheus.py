"""The Prometheus ecosystem's own tools for the metrics tests.

``promtool check metrics`` lints an exposition (names, units, types, help);
``PrometheusServer`` runs a real Prometheus (Debian package ``prometheus``)
on loopback with a 1 s scrape interval and answers PromQL queries through
its HTTP API. Both skip the test, saying why, when the binary is missing.
"""
import json
import os
import shutil
import socket
import subprocess
import urllib.parse
import urllib.request

import pytest

from tests.fixtures.waiting import wait_until

PACKAGE = 'prometheus (Debian; tools/services-up installs it)'


def require(tool):
    path = shutil.which(tool)
    if path is None:
        pytest.skip('%s not installed (package %s)' % (tool, PACKAGE))
    return path


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def scrape(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        assert r.status == 200, (url, r.status)
        assert r.headers['Content-Type'].startswith('text/plain')
        return r.read()


def promtool_check(text):
    """(exit status, everything promtool printed) for an exposition."""
    r = subprocess.run([require('promtool'), 'check', 'metrics'], input=text,
                       capture_output=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).decode()


class PrometheusServer:
    """A Prometheus scraping ``targets`` ({job: 'host:port'}) every second,
    with its TSDB and log under ``workdir``; ``jobs`` ({job: YAML lines})
    adds to a job's scrape config (scheme, tls_config, basic_auth...)."""

    def __init__(self, workdir, targets, jobs=None):
        self.binary = require('prometheus')
        self.workdir = workdir
        self.port = free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        jobs = ''.join(
            "  - job_name: %s\n    static_configs:\n"
            "      - targets: ['%s']\n%s" % (job, target, ''.join(
                '    %s\n' % line for line in
                (jobs or {}).get(job, '').splitlines()))
            for job, target in targets.items())
        self.config = os.path.join(workdir, 'prometheus.yml')
        with open(self.config, 'w') as f:
            f.write('global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n'
                    '  evaluation_interval: 1s\nscrape_configs:\n' + jobs)
        self.proc = None

    def __enter__(self):
        self.log = open(os.path.join(self.workdir, 'prometheus.log'), 'w')
        self.proc = subprocess.Popen(
            [self.binary, '--config.file=' + self.config,
             '--storage.tsdb.path=' + os.path.join(self.workdir, 'tsdb'),
             '--web.listen-address=127.0.0.1:%d' % self.port],
            stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def output(self):
        with open(os.path.join(self.workdir, 'prometheus.log')) as f:
            return f.read()

    def _wait_ready(self, timeout=60):
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError('prometheus exited %s:\n%s'
                                   % (self.proc.returncode, self.output()))
            try:
                with urllib.request.urlopen(self.url + '/-/ready',
                                            timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False
        wait_until(ready, timeout, interval=0.2, message=lambda:
                   'prometheus not ready:\n' + self.output())

    def query(self, promql):
        """The instant vector of ``promql``: [(labels, float value)]."""
        url = '%s/api/v1/query?%s' % (
            self.url, urllib.parse.urlencode({'query': promql}))
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        assert body['status'] == 'success', body
        return [(s['metric'], float(s['value'][1]))
                for s in body['data']['result']]

    def wait_for(self, promql, predicate, timeout=60):
        """Query until ``predicate(result)``; return the result."""
        def satisfied():
            result = self.query(promql)
            return [result] if predicate(result) else None
        return wait_until(satisfied, timeout, interval=0.5, message=lambda:
                          '%s never satisfied the test (last: %r); '
                          'targets: %s' % (promql, self.query(promql),
                                           self.targets()))[0]

    def targets(self):
        with urllib.request.urlopen(self.url + '/api/v1/targets',
                                    timeout=10) as r:
            return [(t['labels'].get('job'), t['health'], t['lastError'])
                    for t in json.load(r)['data']['activeTargets']]
