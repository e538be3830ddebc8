"""Every privileged call net/ makes, and nothing else: netlink through
pyroute2 (CAP_NET_ADMIN), nftables rulesets (``nft -f -``), and the DHCP
daemons the agent runs. Callers above this module never touch the kernel or
spawn root processes themselves, so this is the file to audit (and the one
a future privsep daemon would serve).

Every function takes ``netns=None``: the name of a network namespace to act
in (tests build whole "hosts" in namespaces), None for the agent's own.
"""
import os
import signal
import subprocess

from agent import exception


class NetError(exception.HVAgentError):
    msg = '%(reason)s'


# ------------------------------------------------------------- nftables
def _ns_argv(argv, netns):
    return (['ip', 'netns', 'exec', netns] + argv) if netns else argv


def nft_apply(ruleset, netns=None):
    """Load ``ruleset`` (nft syntax) as one transaction: all or nothing."""
    proc = subprocess.run(_ns_argv(['nft', '-f', '-'], netns), input=ruleset,
                          capture_output=True, text=True)
    if proc.returncode:
        raise NetError(reason='nft rejected the ruleset: %s'
                       % proc.stderr.strip())


def nft_tables(netns=None):
    """[(family, name)] of the tables that exist."""
    out = subprocess.run(_ns_argv(['nft', 'list', 'tables'], netns),
                         capture_output=True, text=True, check=True).stdout
    return [tuple(line.split()[1:3]) for line in out.splitlines()
            if line.startswith('table ')]


def nft_delete_table(family, name, netns=None):
    """Delete a table; a table that is not there is fine."""
    if (family, name) in nft_tables(netns):
        nft_apply('delete table %s %s\n' % (family, name), netns)


# ------------------------------------------------------------- daemons
def start_daemon(argv, netns=None):
    """Start a daemon that forks itself away (dnsmasq); it must write its
    own pid file. Its output is returned in the error if it fails."""
    proc = subprocess.run(_ns_argv(list(argv), netns), capture_output=True,
                          text=True)
    if proc.returncode:
        raise NetError(reason='%s failed (%d): %s' % (
            os.path.basename(argv[0]), proc.returncode,
            (proc.stderr or proc.stdout).strip()))


def signal_pid(pid, sig=signal.SIGTERM):
    """Signal a daemon we started; False if it is gone."""
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


# ------------------------------------------------------------- netlink
# (links, addresses, namespaces: see below)
