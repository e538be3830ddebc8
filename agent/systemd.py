"""A small sd_notify: tells systemd we are READY, our STATUS, and STOPPING.

Does nothing when not started by systemd (no NOTIFY_SOCKET).
"""
import os
import socket


def notify(**fields):
    """notify(READY=1, STATUS='...') -> True if a message was sent."""
    address = os.environ.get('NOTIFY_SOCKET')
    if not address:
        return False
    if address.startswith('@'):
        address = '\0' + address[1:]
    message = '\n'.join('%s=%s' % kv for kv in fields.items()).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(message, address)
    return True
