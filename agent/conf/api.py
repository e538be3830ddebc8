"""[api] options of hvagent-api (the REST front door) and [quota] defaults."""
from oslo_config import cfg

group = cfg.OptGroup('api', title='REST API options (hvagent-api)')
quota_group = cfg.OptGroup('quota', title='Default per-project quotas '
                           '(checked by the conductor at boot and create)')

opts = [
    cfg.HostAddressOpt(
        'bind_host', default='127.0.0.1',
        help='Address hvagent-api listens on.'),
    cfg.PortOpt(
        'bind_port', default=8774,
        help='TCP port hvagent-api listens on.'),
    cfg.StrOpt(
        'tls_cert_file',
        help='PEM certificate (chain) hvagent-api serves HTTPS with; with '
             'tls_key_file. Unset: plain HTTP. Checked at start (a missing '
             'or unreadable file, or a key not matching it, refuses the '
             'start); SIGHUP re-reads both without closing the listener.'),
    cfg.StrOpt(
        'tls_key_file',
        help='PEM private key of tls_cert_file (mode 0600, owned by the '
             'user hvagent-api runs as).'),
    cfg.StrOpt(
        'tls_min_version', default='TLSv1.2', choices=('TLSv1.2', 'TLSv1.3'),
        help='Oldest TLS version hvagent-api accepts.'),
    cfg.StrOpt(
        'ca_file',
        help='PEM CA bundle the compute agent trusts for hvagent-api\'s '
             'certificate when public_url is https (default: the system '
             'CAs). Verification is always on.'),
    cfg.IntOpt(
        'token_ttl', default=3600, min=60, max=7 * 86400,
        help='Seconds a token issued by POST /v3/auth/tokens stays valid.'),
    cfg.StrOpt(
        'token_key_file', default='$state_path/api_token.key',
        help='File holding the HMAC key that signs tokens (created with '
             'mode 0600 if missing). Every hvagent-api of one cloud must '
             'share it.'),
    cfg.StrOpt(
        'policy_file', default='/etc/hvagent/policy.yaml',
        help='YAML file whose rules override the built-in policy defaults '
             '(rule name: oslo.policy check string). Missing: defaults only.'),
    cfg.StrOpt(
        'image_dir', default='$state_path/image-store',
        help='Where hvagent-api keeps the bytes of uploaded images (one '
             'file per image, named by its id).'),
    cfg.StrOpt(
        'volume_dir', default='$state_path/volumes',
        help='Where hvagent-api makes file-backed volumes (sparse raw '
             'files named by id). Compute agents must see the same files '
             'at the same path, inside [libvirt] allowed_volume_dirs.'),
    cfg.StrOpt(
        'public_url',
        help='URL under which compute agents reach this API to download '
             'images (default: http://<bind_host>:<bind_port>, https:// '
             'when tls_cert_file is set). Set it alike on the compute '
             "nodes: an agent presents the conductor's image grant to "
             "this URL's scheme, host and port only. "
             'The service catalog and version documents OpenStack clients '
             'read name it too (unset: the URL each request came to).'),
    cfg.StrOpt(
        'region_name', default='RegionOne',
        help='Region of every endpoint in the service catalog that tokens '
             'carry (what OpenStack clients select with --os-region-name).'),
    cfg.IntOpt(
        'argon2_time_cost', default=3, min=1,
        help='argon2id passes for new password hashes (existing hashes '
             'keep the parameters they were made with). Read by '
             'hvagent-conductor, which alone hashes and checks passwords.'),
    cfg.IntOpt(
        'argon2_memory_kib', default=65536, min=8192,
        help='argon2id memory in KiB for new password hashes (RFC 9106 '
             'second recommendation: 64 MiB, 3 passes). Read by '
             'hvagent-conductor, like argon2_time_cost.'),
    cfg.IntOpt(
        'max_image_upload_bytes', default=64 * 1024 ** 3, min=1,
        help='Largest image upload (bytes): a larger Content-Length is '
             'refused with 413 before the body is read, a longer body once '
             'it passes the cap (the partial file is removed).'),
    cfg.IntOpt(
        'max_limit', default=1000, min=1,
        help='Largest page a list request may ask for with ?limit=.'),
]

#: bounded input: what one caller may make hvagent-api hold
limit_opts = [
    cfg.IntOpt(
        'max_request_body_bytes', default=1024 * 1024, min=1024,
        help='Largest request body accepted (413 beyond it, refused from '
             'Content-Length before reading, or once a chunked body '
             'passes it). Image uploads stream to disk under their own '
             'cap and are exempt.'),
    cfg.IntOpt(
        'login_failures_per_user', default=10, min=1,
        help='Failed logins (or password changes) per user name within '
             'login_failure_window before further attempts get 429 with '
             'Retry-After. Counted in each hvagent-api process memory.'),
    cfg.IntOpt(
        'login_failures_per_address', default=50, min=1,
        help='Failed logins per client address within '
             'login_failure_window before further attempts get 429 (the '
             'address is the TCP peer: behind a proxy, the proxy).'),
    cfg.IntOpt(
        'login_failure_window', default=300, min=1,
        help='Seconds a failed login counts against its user and address.'),
    cfg.IntOpt(
        'max_concurrent_logins', default=16, min=1,
        help='Logins and password changes one hvagent-api process has in '
             'flight at once (each holds a request thread while the '
             'conductor checks the password); more get 503 with '
             'Retry-After at once.'),
    cfg.IntOpt(
        'limit_concurrency', default=4096, min=16,
        help='Open connections plus requests in flight beyond which '
             'hvagent-api answers 503 (uvicorn limit_concurrency). The '
             'soft open-file limit is raised to the hard one at start; '
             'keep this below it.'),
    cfg.IntOpt(
        'request_header_timeout', default=10, min=1,
        help='Seconds a new connection may take to send a complete request '
             'head before it is closed (idle or slow half-open '
             'connections).'),
    cfg.IntOpt(
        'timeout_keep_alive', default=75, min=1,
        help='Seconds an idle keep-alive connection stays open between '
             'requests. Keep it well above the clients\' polling '
             "intervals (the openstack command's --wait polls every 5 s, "
             'openstacksdk every 2 s): a connection closed just as the '
             'client reuses it fails its request (RemoteDisconnected).'),
    cfg.IntOpt(
        'max_request_head_bytes', default=16384, min=1024,
        help='Largest request line plus headers (h11 max incomplete event '
             'size); beyond it the connection gets 400 and is closed.'),
    cfg.IntOpt(
        'backlog', default=1024, min=16,
        help='Listen backlog of the API socket (the kernel caps it at '
             'net.core.somaxconn).'),
]

quota_opts = [
    cfg.IntOpt('instances', default=10, min=-1,
               help='Instances per project (-1: unlimited).'),
    cfg.IntOpt('cores', default=20, min=-1,
               help='vCPUs of all instances per project (-1: unlimited).'),
    cfg.IntOpt('ram', default=51200, min=-1,
               help='MB of RAM of all instances per project (-1: unlimited).'),
    cfg.IntOpt('fixed_ips', default=-1, min=-1,
               help='Fixed IPs (one per network an instance boots on) per '
                    'project (-1: unlimited).'),
    cfg.IntOpt('floating_ips', default=10, min=-1,
               help='Floating IPs allocated per project (-1: unlimited).'),
    cfg.IntOpt('security_groups', default=10, min=-1,
               help='Security groups per project (-1: unlimited).'),
    cfg.IntOpt('volumes', default=10, min=-1,
               help='Volumes per project (-1: unlimited).'),
    cfg.IntOpt('images', default=20, min=-1,
               help='Images per project, uploaded or not (-1: unlimited).'),
    cfg.IntOpt('image_megabytes', default=102400, min=-1,
               help='MiB of uploaded image data per project, checked when '
                    'an upload completes (-1: unlimited).'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts + limit_opts, group=group)
    conf.register_group(quota_group)
    conf.register_opts(quota_opts, group=quota_group)


def public_url(conf):
    """[api] public_url, or the address hvagent-api listens on."""
    scheme = 'https' if conf.api.tls_cert_file else 'http'
    return (conf.api.public_url or '%s://%s:%s' % (
        scheme, conf.api.bind_host, conf.api.bind_port)).rstrip('/')
