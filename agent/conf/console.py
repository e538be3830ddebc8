"""[console] options: the guests' interactive consoles (serial over TCP,
VNC) on compute hosts, the console tokens the conductor hands out, and
the console proxy (hvagent-console-proxy) the tokens open."""
from oslo_config import cfg

group = cfg.OptGroup('console', title='Interactive console options')

opts = [
    # ---------------------------------------------------- compute hosts
    cfg.BoolOpt(
        'serial_enabled', default=True,
        help='Give new guests a serial port a person can type into, through '
             'the console proxy (a TCP server of QEMU on [console] listen, '
             'one port of serial_port_range each; the console log is still '
             'written). False keeps the pty-only serial port (console log '
             'only).'),
    cfg.StrOpt(
        'serial_port_range', default='10000:20000',
        regex=r'^\d{1,5}:\d{1,5}$',
        help='Ports (first:last) the guests\' serial TCP servers take on '
             'this host; a free one is drawn at random per guest.'),
    cfg.BoolOpt(
        'vnc_enabled', default=True,
        help='Give new guests a graphical display reachable over VNC '
             'through the console proxy (libvirt picks its port).'),
    cfg.HostAddressOpt(
        'listen', default='127.0.0.1',
        help='The address the guests\' serial and VNC servers listen on. '
             'They carry no authentication of their own: only the console '
             'proxy may reach this address (the default, loopback, suits a '
             'proxy on the same host; otherwise a management network that '
             'guests and tenants cannot reach; see docs/console.md).'),
    cfg.HostAddressOpt(
        'proxyclient_address',
        help='The address the console proxy connects to for this host\'s '
             'guests (default: [console] listen).'),
    # ---------------------------------------------------- the conductor
    cfg.IntOpt(
        'token_ttl', default=600, min=5, max=86400,
        help='Seconds a console token stays valid if unused; each token '
             'opens one session, once.'),
    # ---------------------------------------------------- the proxy
    cfg.HostAddressOpt(
        'proxy_host', default='127.0.0.1',
        help='Address hvagent-console-proxy listens on.'),
    cfg.PortOpt(
        'proxy_port', default=6083,
        help='Port hvagent-console-proxy listens on (pages and WebSockets).'),
    cfg.StrOpt(
        'proxy_cert_file',
        help='TLS certificate (PEM) of the proxy: it then serves https and '
             'wss only.'),
    cfg.StrOpt('proxy_key_file', help='The private key of proxy_cert_file.'),
    cfg.ListOpt(
        'allowed_origins', default=[],
        help='Origins (scheme://host[:port]) whose pages may open console '
             'WebSockets, besides the proxy\'s own pages. A browser request '
             'from any other origin is refused (cross-site WebSocket '
             'hijacking).'),
    cfg.URIOpt(
        'serial_base_url', default='ws://127.0.0.1:6083/',
        help='The URL users get for a serial console (nova\'s '
             '[serial_console] base_url); "?token=..." is appended. The '
             'browser page is the same address with path /serial.html.'),
    cfg.URIOpt(
        'novnc_base_url', default='http://127.0.0.1:6083/vnc.html',
        help='The URL users get for a VNC console (nova\'s [vnc] '
             'novncproxy_base_url); "?token=..." is appended.'),
    cfg.IntOpt(
        'proxy_max_sessions', default=1000, min=1,
        help='Sessions one proxy process holds at once; more are refused.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
