"""libvirtd for the functional tests: started if need be, restarted on demand.

The machines these tests run on have no systemd as PID 1, so nothing starts
libvirtd for us: ``require_libvirtd()`` starts ``virtlogd -d`` (QEMU writes
its log through it) and ``libvirtd -d`` when ``virsh`` gets no answer, and
skips, saying why, when that is impossible. ``restart_libvirtd()`` is the
restart an operator or a package upgrade does under a running agent: guests
keep running (libvirtd leaves QEMU processes alone on SIGTERM) and clients
lose their connection.

"Answering" is always judged by ``virsh version`` in a subprocess, never by a
libvirt connection in the test process, so the check leaves no connection or
event registration behind in the process under test.
"""
import os
import shutil
import signal
import subprocess
import time

import pytest

URI = 'qemu:///system'
PID_FILE = '/run/libvirtd.pid'
START_TIMEOUT = 60


def _virsh_answers():
    try:
        r = subprocess.run(['virsh', '-c', URI, 'version'],
                           capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return False, 'virsh -c %s version timed out' % URI
    return r.returncode == 0, (r.stderr or r.stdout).strip()


def _wait_for_answer(timeout=START_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        ok, out = _virsh_answers()
        if ok or time.monotonic() >= deadline:
            return ok, out
        time.sleep(0.5)


def _running(name):
    return subprocess.run(['pgrep', '-x', name],
                          capture_output=True).returncode == 0


def _start():
    """Start virtlogd (if not running) and libvirtd; None or why not."""
    if not _running('virtlogd'):
        subprocess.run(['virtlogd', '-d'], check=False, timeout=30)
    r = subprocess.run(['libvirtd', '-d'], capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        return 'libvirtd -d failed (%d): %s' % (r.returncode,
                                                r.stderr.strip())
    ok, out = _wait_for_answer()
    return None if ok else 'libvirtd started but %s answers: %s' % (URI, out)


def require_libvirtd():
    """Make sure libvirtd answers on qemu:///system, or skip the test."""
    for tool, package in (('virsh', 'libvirt-clients'),
                          ('libvirtd', 'libvirt-daemon-system'),
                          ('virtlogd', 'libvirt-daemon-system'),
                          ('qemu-system-x86_64', 'qemu-system-x86')):
        if not shutil.which(tool):
            pytest.skip('%s not installed (package %s)' % (tool, package))
    ok, out = _virsh_answers()
    if ok:
        return
    if os.geteuid() != 0:
        pytest.skip('libvirtd not answering (%s) and only root may start '
                    'it' % out)
    why = _start()
    if why:
        pytest.skip(why)


def _pid_alive(pid):
    """True while ``pid`` exists and is not a zombie (with no init reaping
    orphans here, an exited daemon may linger as one)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (FileNotFoundError, ProcessLookupError):
        return False


def stop_libvirtd(timeout=START_TIMEOUT):
    """SIGTERM libvirtd (pid file, else pgrep) and wait until it is gone."""
    try:
        with open(PID_FILE) as f:
            pids = [int(f.read().strip())]
    except (FileNotFoundError, ValueError):
        out = subprocess.run(['pgrep', '-x', 'libvirtd'], capture_output=True,
                             text=True).stdout
        pids = [int(p) for p in out.split()]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while any(_pid_alive(p) for p in pids):
        if time.monotonic() >= deadline:
            raise RuntimeError('libvirtd %s did not exit within %ss'
                               % (pids, timeout))
        time.sleep(0.1)


def start_libvirtd():
    """Start libvirtd and return once virsh answers."""
    why = _start()
    if why:
        raise RuntimeError('libvirtd did not come back: %s' % why)


def restart_libvirtd(timeout=START_TIMEOUT):
    """SIGTERM libvirtd, wait until it is gone, start it, wait for virsh."""
    stop_libvirtd(timeout)
    start_libvirtd()
