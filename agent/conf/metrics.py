"""[metrics] options: the Prometheus endpoint of each hvagent service.

Off by default: a daemon opens no listening socket its operator did not ask
for, and several hvagent services (the all-in-one, the test suites, a
controller running conductor and scheduler) share hosts. Each service has
its own port so conductor and scheduler can read the same configuration
file on one controller. The address defaults to loopback: the endpoint
names instances and projects and has no authentication unless
``web_config_file`` (TLS, basic auth: docs/tls.md) asks for it, so exposing
it to the network (``bind_host = 0.0.0.0`` or a management address) is a
decision for the operator, together with a firewall rule that lets only
the Prometheus servers in.
"""
from oslo_config import cfg

group = cfg.OptGroup('metrics', title='Prometheus metrics endpoint')

opts = [
    cfg.BoolOpt(
        'enabled', default=False,
        help='Serve Prometheus metrics over HTTP at /metrics.'),
    cfg.HostAddressOpt(
        'bind_host', default='127.0.0.1',
        help='Address the metrics endpoint listens on. The endpoint shows '
             'instance names and projects and has no authentication '
             'unless web_config_file asks for it: use a management address '
             '(or 0.0.0.0 behind a firewall) to let a Prometheus server on '
             'another host scrape it.'),
    cfg.StrOpt(
        'web_config_file',
        help='Prometheus exporter-toolkit web configuration file (YAML, '
             'the format node_exporter reads with --web.config.file): '
             'tls_server_config (cert_file, key_file, client_auth_type, '
             'client_ca_file, min_version) makes the endpoint HTTPS, '
             'basic_auth_users (name: bcrypt hash) asks scrapers for a '
             'password. Read at start; an invalid file refuses it. '
             'See docs/tls.md.'),
    cfg.PortOpt(
        'compute_port', default=9180,
        help='Port of hvagent-compute\'s metrics endpoint.'),
    cfg.PortOpt(
        'conductor_port', default=9181,
        help='Port of hvagent-conductor\'s metrics endpoint.'),
    cfg.PortOpt(
        'scheduler_port', default=9182,
        help='Port of hvagent-scheduler\'s metrics endpoint.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)
