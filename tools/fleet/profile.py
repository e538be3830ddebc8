"""Where a service's time goes: py-spy samples of a running process,
summed by the library (or hvagent package) each sample's frames are in."""
import collections
import os
import shutil
import subprocess
import sys
import time

#: a sample is charged to the first of these its stack reaches (deepest
#: first): the libraries the control plane's time goes to
BUCKETS = (
    ('sqlalchemy', 'SQLAlchemy'), ('pymysql', 'PyMySQL'),
    ('psycopg2', 'psycopg2'), ('sqlite3', 'sqlite3'),
    ('oslo_messaging', 'oslo.messaging'), ('kombu', 'kombu/amqp'),
    ('amqp', 'kombu/amqp'), ('oslo_serialization', 'serialization'),
    ('json', 'serialization'), ('oslo_config', 'oslo.config'),
    ('agent/db', 'hvagent db'), ('agent/scheduler', 'hvagent scheduler'),
    ('agent/rpc', 'hvagent rpc'), ('agent/objects', 'hvagent objects'),
    ('agent/conductor', 'hvagent conductor'),
    ('logging', 'logging'), ('threading', 'threads (waits)'),
)


class Recording:
    def __init__(self, proc, path):
        self.proc, self.path = proc, path

    def wait(self):
        self.proc.wait()
        print(summary(self.path))


def record(pid, seconds, start_at, directory, name):
    """Start py-spy on ``pid`` at ``start_at`` for ``seconds``; None (with
    a line saying why) when py-spy is not installed."""
    spy = shutil.which('py-spy') or os.path.join(
        os.path.dirname(sys.executable), 'py-spy')
    if not os.path.exists(spy):
        print('profile: py-spy not found (pip install py-spy)')
        return None
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name + '.txt')
    time.sleep(max(0.0, start_at - time.time()))
    proc = subprocess.Popen(
        [spy, 'record', '--pid', str(pid), '--duration', str(int(seconds)),
         # --gil: only the thread holding the GIL, i.e. Python's CPU
         '--rate', '200', '--format', 'raw', '--nonblocking', '--gil',
         '--output', path], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    return Recording(proc, path)


def bucket(stack: str) -> str:
    frames = stack.split(';')
    for frame in reversed(frames):      # the deepest frame that matches
        for needle, name in BUCKETS:
            if '/%s/' % needle in frame or '(%s' % needle in frame \
                    or frame.startswith(needle):
                return name
    return 'other'


def summary(path: str, top: int = 12) -> str:
    """Per bucket share of the samples of a py-spy raw (collapsed) file;
    idle threads (waiting on a lock, a socket or a condition) apart."""
    counts: collections.Counter[str] = collections.Counter()
    idle = 0
    with open(path) as f:
        for line in f:
            stack, _, n = line.rstrip().rpartition(' ')
            if not n.isdigit():
                continue
            if stack.rsplit(';', 1)[-1].startswith(('wait (threading',
                                                    '_wait_for_tstate_lock',
                                                    'select (selectors',
                                                    'poll (selectors')):
                idle += int(n)
                continue
            counts[bucket(stack)] += int(n)
    busy = sum(counts.values()) or 1
    lines = ['      profile %s: %d busy samples (%d idle), by library:'
             % (os.path.basename(path), busy, idle)]
    lines += ['        %-22s %5.1f%%' % (name, 100.0 * n / busy)
              for name, n in counts.most_common(top)]
    return '\n'.join(lines)
