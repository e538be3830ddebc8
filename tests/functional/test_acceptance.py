"""The operator's acceptance run, with systemd as PID 1.

The packages of this tree are installed with dpkg into a Debian bookworm
machine booted under QEMU (tools/build-acceptance-image), which talks to
this host's RabbitMQ (a vhost of its own) over QEMU's user network. Inside,
tests/functional/acceptance/guest-check plays the operator: the four units
started at once, a boot through hvctl, reload, kill -9, the watchdog, one
unit's stop, a clean stop of all, and the enabled units after a reboot.

Slow (~10 min under TCG, plus ~3 min to build the image the first time):
marked ``slow``; deselect it with ``-m "not slow"`` (docs/testing.md).
"""
import json

import pytest

from tests.fixtures import brokers as rabbit
from tests.functional import packages
from tests.functional.acceptance import machine

pytestmark = [pytest.mark.functional, pytest.mark.slow]

#: every check guest-check reports, in its order
CHECKS = ('boot', 'install', 'ready', 'smoke', 'reload', 'kill9',
          'status_while_restarting', 'watchdog', 'one_stop', 'clean_stop',
          'rebooting', 'after_reboot', 'done')
#: seconds QEMU may run: the whole run took ~10 min on a 2-core machine
RUN_TIMEOUT = 1800


@pytest.fixture(scope='module')
def acceptance_run(tmp_path_factory):
    machine.require_host()
    vhost = rabbit.VHost()
    try:
        base = machine.ensure_image()
        built = packages.build()
        debs = [built[name, 'deb'] for name in packages.NAMES]
        url = vhost.url.replace('@127.0.0.1:',
                                '@%s:' % machine.HOST_FROM_GUEST)
        guest = machine.Machine(tmp_path_factory.mktemp('acceptance'), debs,
                                {'transport_url': url})
        yield guest, guest.run(base, RUN_TIMEOUT)
    finally:
        vhost.delete()


def explain(guest, results, check):
    got = results.get(check)
    return '%s: %s\n--- crash: %s\n--- qemu: %s\n--- console tail:\n%s' % (
        check, json.dumps(got, indent=1)[-6000:],
        results.get('crash', {}).get('error'), guest.qemu_output[-1000:],
        guest.console_tail())


@pytest.mark.parametrize('check', CHECKS)
def test_acceptance(acceptance_run, check):
    guest, results = acceptance_run
    assert check in results, explain(guest, results, check)
    assert results[check]['ok'], explain(guest, results, check)
