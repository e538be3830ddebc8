"""The console proxy's cost: keystroke round trips through
hvagent-console-proxy against a direct connection to the same serial
port, in the same run, and how many sessions one proxy process holds.

    python -m tools.bench.console_rtt [--keys 2000] [--sessions 100,500,1000]
                                      [--seconds 10] [--profile]

1. Keystroke round trip: a key sent, its echo received. The test guest
   (tools/build-test-image) runs under QEMU (TCG) with its serial port a
   TCP server, as the libvirt driver makes it, and its shell echoes what
   is typed. ``direct``: a TCP client on that port; ``proxy``: a
   WebSocket client through the proxy (its own process, as in
   production). Rounds alternate direct and proxy (QEMU's serial server
   takes one client at a time) so drift hits both; the guest's status
   line each second lands in some of either. The same against a plain
   TCP echo server (no guest: the proxy's own cost alone).
2. Sessions: N WebSocket sessions at once through one proxy process to N
   echo servers (one process), each typing a key about every second (at
   random moments, as people do) for
   ``--seconds``; printed: the round trip's p50/p99, the proxy's CPU and
   memory, and sessions that failed. ``--profile`` prints where the
   proxy's time goes at the largest N (cProfile, top functions).

The token check is the conductor's in production (one RPC per session,
not per key): here a stub answers it, so the figures are the relay's.
Printed with the date and the machine.
"""
import argparse
import asyncio
import cProfile
import datetime
import os
import platform
import pstats
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import psutil
from websockets.asyncio.client import connect as aconnect
from websockets.asyncio.server import serve

from agent.console import proxy
from agent.console.client import ConsoleClient
from tests.fixtures import guest_image

PROMPT = b'hvagent-test-guest# '
TOKEN = 'benchtoken-port-%05d'      # a stub token naming its backend's port


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ------------------------------------------------------- child processes
def serve_proxy(port, profile_to=None):
    """The proxy (child process), its token check a stub: token
    ``TOKEN % p`` opens 127.0.0.1:p."""
    _raise_nofile()

    def check(token, consume):
        return {'instance_uuid': token, 'instance_name': 'bench',
                'project_id': 'bench', 'protocol': 'serial',
                'address': '127.0.0.1', 'port': int(token[16:]),
                'expires_at': '2099-01-01T00:00:00Z'}

    async def main():
        server = proxy.ConsoleProxy(proxy.Settings(
            port=port, max_sessions=100000), check)
        await server.start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM,
                                                      stop.set)
        print('ready', flush=True)
        await stop.wait()
        await server.stop()

    profiler = cProfile.Profile() if profile_to else None
    if profiler:
        profiler.enable()
    asyncio.run(main())
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile_to)


def serve_echo(count):
    """``count`` echo servers (child process) on ports of the kernel's
    choosing, printed on the ready line."""
    _raise_nofile()

    async def echo(reader, writer):
        writer.get_extra_info('socket').setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := await reader.read(4096):
            writer.write(data)
            await writer.drain()
        writer.close()

    async def ws_echo(ws):
        async for message in ws:
            await ws.send(message)

    async def main():
        servers = [await asyncio.start_server(echo, '127.0.0.1', 0)
                   for _ in range(count)]
        # and a WebSocket echo server: the client's and the framing's
        # share of a round trip, without the proxy
        ws_server = await serve(ws_echo, '127.0.0.1', 0, compression=None)
        print('ready', ','.join(str(srv.sockets[0].getsockname()[1])
                                for srv in servers),
              ws_server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def child(*args):
    """A child process of this module's ``--child`` modes, once ready;
    and what its ready line said after 'ready'."""
    proc = subprocess.Popen([sys.executable, '-m', 'tools.bench.console_rtt',
                             '--child', *map(str, args)],
                            stdout=subprocess.PIPE, text=True)
    word, _, said = proc.stdout.readline().strip().partition(' ')
    assert word == 'ready', 'the %s child did not start' % args[0]
    return proc, said


def end(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)


# ------------------------------------------------- keystroke round trips
def start_guest(port):
    img = guest_image.ensure_image()
    proc = subprocess.Popen([
        'qemu-system-x86_64', '-machine', 'pc,accel=tcg', '-m', '128',
        '-nodefaults', '-no-user-config', '-display', 'none',
        '-kernel', img['kernel'], '-initrd', img['ramdisk'],
        '-append', 'console=ttyS0 quiet',
        '-serial', 'tcp:127.0.0.1:%d,server=on,wait=off' % port],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(('127.0.0.1', port), 1) as s:
                s.settimeout(1)
                s.sendall(b'\r')
                seen = b''
                while PROMPT not in seen:
                    seen += s.recv(4096)
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit('the test guest showed no shell prompt in 60 s')


def _keystrokes(send, recv, keys, shell):
    """Round trips (s) of ``keys`` keys: 'x' then a backspace, each timed
    until its echo came back (``recv()``: the next bytes). An echo server
    echoes each key as itself; a ``shell``'s line editor answers a
    backspace with its own erase sequence, whose first bytes count (and
    whatever was left over is dropped)."""
    times, rng, buf = [], random.Random(keys), bytearray()
    for i in range(keys):
        key = b'x' if i % 2 == 0 else b'\x7f'
        echo = None if shell and key == b'\x7f' else key
        # a pause as between a person's keys, at random: sent right after
        # an echo, keys would keep one phase to the guest's timer tick,
        # and a path a little slower could cross a tick on every key
        time.sleep(rng.uniform(0, 0.01))
        t0 = time.perf_counter()
        send(key)
        if echo is None:
            recv()
            buf.clear()
        else:
            while echo not in buf:
                buf.extend(recv())
            del buf[:buf.index(echo) + len(echo)]
        times.append(time.perf_counter() - t0)
    return times


def direct(port, keys, shell):
    with socket.create_connection(('127.0.0.1', port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _keystrokes(s.sendall, lambda: s.recv(4096), keys, shell)


def via_proxy(proxy_port, port, keys, shell):
    return via_websocket('ws://127.0.0.1:%d/?token=%s' % (
        proxy_port, TOKEN % port), keys, shell)


def via_websocket(url, keys, shell):
    # hvctl's client: one thread, no reader thread handing frames over,
    # so a round trip costs what the raw TCP client's does plus the
    # framing, and the comparison with ``direct`` is the proxy's
    with ConsoleClient(url) as ws:
        return _keystrokes(ws.send, ws.recv, keys, shell)


def round_trips(proxy_port, port, keys, shell, rounds=4):
    found = {'direct': [], 'proxy': []}
    for _ in range(rounds):
        found['direct'] += direct(port, keys // rounds, shell)
        time.sleep(0.2)             # QEMU notices the close
        found['proxy'] += via_proxy(proxy_port, port, keys // rounds, shell)
        time.sleep(0.2)
    return found


def _ms(values, q):
    return statistics.quantiles(values, n=100)[q - 1] * 1e3 if q != 50 \
        else statistics.median(values) * 1e3


def print_rtt(what, found):
    d, p = found['direct'], found['proxy']
    print('%-22s direct p50 %.3f ms p99 %.3f ms | proxy p50 %.3f ms p99 '
          '%.3f ms | added p50 %.3f ms, ratio %.2f' % (
              what, _ms(d, 50), _ms(d, 99), _ms(p, 50), _ms(p, 99),
              _ms(p, 50) - _ms(d, 50), _ms(p, 50) / _ms(d, 50)))


# -------------------------------------------------------------- sessions
async def _session(proxy_port, port, seconds, rtts, failures):
    try:
        async with aconnect('ws://127.0.0.1:%d/?token=%s' % (
                proxy_port, TOKEN % port), compression=None,
                open_timeout=60) as ws:
            # everyone connected; then each types at its own moments
            await asyncio.sleep(1 + random.random())
            end_at = time.monotonic() + seconds
            while time.monotonic() < end_at:
                t0 = time.perf_counter()
                await ws.send(b'k')
                await ws.recv()
                rtts.append(time.perf_counter() - t0)
                await asyncio.sleep(0.5 + random.random())
    except Exception as e:          # counted and shown, not fatal
        failures.append(repr(e))


async def _sessions(proxy_port, ports, seconds):
    rtts, failures = [], []
    await asyncio.gather(*(_session(proxy_port, p, seconds, rtts, failures)
                           for p in ports))
    return rtts, failures


def sessions(n, seconds, profile):
    echo, said = child('echo', n)
    ports = [int(p) for p in said.split()[0].split(',')]
    proxy_port = _free_port()
    prof = tempfile.mktemp(suffix='.prof') if profile else None
    server, _ = child('proxy', proxy_port, *([prof] if prof else []))
    try:
        ps = psutil.Process(server.pid)
        cpu0 = ps.cpu_times()
        t0 = time.monotonic()
        rtts, failures = asyncio.run(_sessions(proxy_port, ports, seconds))
        wall = time.monotonic() - t0
        cpu1, rss = ps.cpu_times(), ps.memory_info().rss
    finally:
        end(server)
        end(echo)
    cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / wall
    print('%5d sessions: %6d keys, p50 %.2f ms p99 %.2f ms, proxy CPU '
          '%.0f%% of a core, RSS %.0f MiB (%.1f KiB a session), %d failed%s'
          % (n, len(rtts), _ms(rtts, 50), _ms(rtts, 99), cpu * 100,
             rss / 2 ** 20, rss / n / 1024, len(failures),
             (' (first: %s)' % failures[0]) if failures else ''))
    if prof:
        print('where the proxy\'s time goes (%d sessions, by own time):' % n)
        stats = pstats.Stats(prof)
        stats.sort_stats('tottime').print_stats(12)
        os.unlink(prof)


def keystrokes(keys):
    """Part 1 (the module docstring), printed."""
    proxy_port = _free_port()
    (server, _), (echo, said) = child('proxy', proxy_port), child('echo', 1)
    echo_port, ws_port = map(int, said.split())
    try:
        found = round_trips(proxy_port, echo_port, keys, False)
        print_rtt('echo server (no guest)', found)
        ws = via_websocket('ws://127.0.0.1:%d/' % ws_port, keys, False)
        print('%-22s a WebSocket echo server: p50 %.3f ms (the client and '
              'the framing); the proxy\'s relay: +%.3f ms at p50' % (
                  '', _ms(ws, 50), _ms(found['proxy'], 50) - _ms(ws, 50)))
        guest_port = _free_port()
        guest = start_guest(guest_port)
        try:
            print_rtt('QEMU guest serial',
                      round_trips(proxy_port, guest_port, keys, True))
        finally:
            guest.kill()
            guest.wait()
    finally:
        end(server)
        end(echo)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--keys', type=int, default=2000,
                   help='keystrokes per path (0: skip part 1)')
    p.add_argument('--sessions', default='100,500,1000')
    p.add_argument('--seconds', type=int, default=10)
    p.add_argument('--profile', action='store_true')
    p.add_argument('--child', nargs='+', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        if kind == 'proxy':
            return serve_proxy(int(rest[0]), rest[1] if rest[1:] else None)
        return serve_echo(int(rest[0]))
    _raise_nofile()
    print('console_rtt: %s, %s, %d CPUs, Python %s' % (
        datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC'),
        platform.node(), os.cpu_count(), platform.python_version()))
    if args.keys:
        keystrokes(args.keys)
    levels = [int(x) for x in args.sessions.split(',') if x]
    for n in levels:
        sessions(n, args.seconds, args.profile and n == max(levels))
    return 0


if __name__ == '__main__':
    sys.exit(main())
