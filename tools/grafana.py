"""The Grafana dashboards of etc/grafana, written from the panel lists here.

    python -m tools.grafana            # rewrite etc/grafana/*.json
    python -m tools.grafana --check    # exit 1 if they are not current

Every query is over a metric hvagent serves (docs/monitoring.md, "Metrics"); the
datasource is the ``${DS_PROMETHEUS}`` import input, so Grafana asks for a
Prometheus data source on import. tests/functional/test_dashboards.py runs
every expression against a real Prometheus scraping the real services.
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / 'etc' / 'grafana'
DS = {'type': 'prometheus', 'uid': '${DS_PROMETHEUS}'}
RATE = '$__rate_interval'
COMPUTE = 'service="hvagent-compute"'


def _panel(kind, title, exprs, unit, description, width=12, height=8,
           **extra):
    targets = [{'datasource': DS, 'expr': expr, 'legendFormat': legend,
                'refId': chr(ord('A') + i)}
               for i, (expr, legend) in enumerate(exprs)]
    panel = {'type': kind, 'title': title, 'description': description,
             'datasource': DS, 'targets': targets,
             'gridPos': {'w': width, 'h': height},
             'fieldConfig': {'defaults': {'unit': unit}, 'overrides': []},
             'options': {}}
    panel.update(extra)
    return panel


def stat(title, expr, unit, description, width=4, legend=''):
    return _panel('stat', title, [(expr, legend)], unit, description,
                  width=width, height=4)


def graph(title, exprs, unit, description, width=12):
    return _panel('timeseries', title, exprs, unit, description, width=width)


def row(title):
    return {'type': 'row', 'title': title, 'collapsed': False,
            'gridPos': {'w': 24, 'h': 1}, 'panels': []}


def quantiles(metric, by, selector=''):
    sel = '{%s}' % selector if selector else ''
    return [('histogram_quantile(%s, sum by (le, %s) (rate(%s_bucket%s[%s])))'
             % (q, by, metric, sel, RATE), 'p%s {{%s}}' % (q[2:], by))
            for q in ('0.5', '0.95')]


def fleet_panels():
    return [
        row('Services'),
        stat('Compute hosts up', 'sum(hvagent_service_up{binary='
             '"hvagent-compute"})', 'none', 'Compute services whose '
             'heartbeat is younger than service_down_time (conductor, from '
             'the services table).'),
        stat('Compute hosts down', 'count(hvagent_service_up{binary='
             '"hvagent-compute"} == 0) or vector(0)', 'none', 'Compute '
             'services with a heartbeat older than service_down_time.'),
        stat('Disabled services', 'sum(hvagent_service_disabled)', 'none',
             'Services an operator disabled (hvctl service disable).'),
        stat('Database up', 'min(hvagent_database_up)', 'bool_yes_no',
             'Whether the conductor could read its database at the last '
             'scrape.'),
        stat('Hypervisors down', 'count(hvagent_hypervisor_up == 0) or '
             'vector(0)', 'none', 'Compute hosts whose virt driver did not '
             'answer the last scrape (libvirt connection down).'),
        stat('Metrics targets down', 'count(up{job=~"hvagent.*"} == 0) or '
             'vector(0)', 'none', 'hvagent /metrics endpoints Prometheus '
             'could not scrape.'),
        graph('Heartbeat age', [('max by (host, binary) '
              '(hvagent_service_heartbeat_age_seconds)', '{{binary}} '
              '{{host}}')], 's', 'Seconds since each service\'s last '
              'heartbeat; a service is down past service_down_time (60 s by '
              'default).'),
        graph('Resource report age', [('max by (instance) '
              '(hvagent_resource_report_age_seconds)', '{{instance}}')], 's',
              'Seconds since each compute agent\'s last successful resource '
              'report (every report_interval, 10 s by default).'),
        row('Instances'),
        graph('Instances by state', [('max by (vm_state) '
              '(hvagent_instances)', '{{vm_state}}')], 'none', 'Instances '
              'in the database by vm_state (active, building, error...), as '
              'the conductor counts them; max over conductors.'),
        graph('Guests by power state', [('sum by (state) '
              '(hvagent_domain_state)', '{{state}}')], 'none', 'Guests the '
              'hypervisors hold, by power state, over all compute hosts.'),
        graph('Guests per host', [('sum by (instance) (hvagent_domains)',
              '{{instance}}')], 'none', 'Guests each hypervisor holds for '
              'hvagent.'),
        graph('Builds in flight', [('sum by (instance) '
              '(hvagent_builds_in_flight)', '{{instance}}')], 'none',
              'Instance builds running now per compute host (each holds '
              'one of [compute] max_concurrent_builds).'),
        graph('Operations per second', [('sum by (operation, result) (rate('
              'hvagent_operation_duration_seconds_count[%s]))' % RATE,
              '{{operation}} {{result}}')], 'ops', 'Instance operations '
              'finished, by operation and result, over all hosts.'),
        graph('Operation duration', quantiles(
              'hvagent_operation_duration_seconds', 'operation'), 's',
              'Median and 95th percentile of instance operation times '
              '(conductor start to finish on the host).', width=24),
        row('Scheduling'),
        graph('Placements and no valid host', [
              ('sum(rate(hvagent_scheduler_placements_total[%s]))' % RATE,
               'placed'),
              ('sum(rate(hvagent_scheduler_no_valid_host_total[%s]))' % RATE,
               'no valid host')], 'reqps', 'Instances placed, and requests '
              'no host could take (the instance ends in error).'),
        graph('Scheduling time', quantiles(
              'hvagent_scheduler_duration_seconds', 'result'), 's',
              'Filter, weigh and claim time per request, by result.'),
        graph('RPC errors', [('sum by (job, method, result) (rate('
              'hvagent_rpc_messages_total{result!="success"}[%s]))' % RATE,
              '{{job}} {{method}} {{result}}')], 'reqps', 'RPC messages '
              'the endpoints answered with an error, refused (invalid) or '
              'failed on (exception).', width=24),
    ]


def host_panels():
    h = 'instance="$host"'
    guest = 'sum by (name, uuid) (rate(%s{' + h + '}[' + RATE + ']))'
    return [
        row('Host'),
        stat('Hypervisor up', 'max(hvagent_hypervisor_up{%s})' % h,
             'bool_yes_no', 'Whether the virt driver answered the last '
             'scrape (libvirt: the connection is up).'),
        stat('Guests', 'sum(hvagent_domains{%s})' % h, 'none',
             'Guests the hypervisor holds for hvagent.'),
        stat('Builds in flight', 'sum(hvagent_builds_in_flight{%s})' % h,
             'none', 'Instance builds running now.'),
        stat('Resource report age', 'max(hvagent_resource_report_age_'
             'seconds{%s})' % h, 's', 'Seconds since the last successful '
             'resource report.'),
        stat('Instances disk free', 'min(hvagent_host_instances_filesystem_'
             'free_bytes{%s} / hvagent_host_instances_filesystem_size_bytes'
             '{%s})' % (h, h), 'percentunit', 'Free share of the file '
             'system holding the instances path.'),
        stat('Memory available', 'min(hvagent_host_memory_available_bytes'
             '{%s} / hvagent_host_memory_total_bytes{%s})' % (h, h),
             'percentunit', 'Memory available for new work without '
             'swapping.'),
        graph('CPU', [('sum by (mode) (rate(hvagent_host_cpu_seconds_total{'
              '%s, mode!="idle"}[%s]))' % (h, RATE), '{{mode}}')], 'none',
              'CPUs busy, by mode (1 = one CPU fully used).'),
        graph('Load', [('hvagent_host_load%d{%s}' % (m, h), '%d min' % m)
                       for m in (1, 5, 15)], 'none', 'Load averages.'),
        graph('Memory', [
              ('hvagent_host_memory_total_bytes{%s}' % h, 'total'),
              ('hvagent_host_memory_available_bytes{%s}' % h, 'available')],
              'bytes', 'Host physical memory and what is available.'),
        graph('Instances file system', [
              ('hvagent_host_instances_filesystem_size_bytes{%s}' % h,
               'size {{path}}'),
              ('hvagent_host_instances_filesystem_free_bytes{%s}' % h,
               'free {{path}}')], 'bytes', 'The file system holding the '
              'instances path.'),
        graph('Host network', [
              ('rate(hvagent_host_network_receive_bytes_total{%s}[%s])'
               % (h, RATE), 'rx {{device}}'),
              ('rate(hvagent_host_network_transmit_bytes_total{%s}[%s])'
               % (h, RATE), 'tx {{device}}')], 'Bps',
              'Bytes per second per host interface.'),
        graph('Operation duration', quantiles(
              'hvagent_operation_duration_seconds', 'operation', h), 's',
              'Median and 95th percentile of instance operations on this '
              'host.'),
        row('Guests'),
        graph('Guest CPU', [(guest % 'hvagent_domain_info_cpu_time_seconds_'
              'total', '{{name}}')], 'none', 'CPUs each guest uses (vCPUs '
              'and emulator; 1 = one host CPU).'),
        graph('Guest memory', [('sum by (name, uuid) (hvagent_domain_info_'
              'memory_usage_bytes{%s})' % h, '{{name}}')], 'bytes',
              'Current (balloon) memory of each guest.'),
        graph('Guest disk read', [(guest % 'hvagent_domain_block_stats_read_'
              'bytes_total', '{{name}}')], 'Bps', 'Bytes per second read '
              'from each guest\'s disks.'),
        graph('Guest disk write', [(guest % 'hvagent_domain_block_stats_'
              'write_bytes_total', '{{name}}')], 'Bps', 'Bytes per second '
              'written to each guest\'s disks.'),
        graph('Guest network receive', [(guest % 'hvagent_domain_interface_'
              'stats_receive_bytes_total', '{{name}}')], 'Bps',
              'Bytes per second each guest received.'),
        graph('Guest network transmit', [(guest % 'hvagent_domain_'
              'interface_stats_transmit_bytes_total', '{{name}}')], 'Bps',
              'Bytes per second each guest sent.'),
    ]


def _layout(panels):
    """Ids and grid positions: panels flow left to right, rows full
    width."""
    x = y = line = 0
    for i, p in enumerate(panels, 1):
        p['id'] = i
        pos = p['gridPos']
        if p['type'] == 'row' or x + pos['w'] > 24:
            x, y = 0, y + line
            line = 0
        pos['x'], pos['y'] = x, y
        x += pos['w']
        line = max(line, pos['h'])
        if p['type'] == 'row':
            x, y, line = 0, y + pos['h'], 0
    return panels


def dashboard(uid, title, description, panels, variables=()):
    return {
        '__inputs': [{'name': 'DS_PROMETHEUS', 'label': 'Prometheus',
                      'description': 'The Prometheus scraping hvagent',
                      'type': 'datasource', 'pluginId': 'prometheus',
                      'pluginName': 'Prometheus'}],
        '__requires': [{'type': 'datasource', 'id': 'prometheus',
                        'name': 'Prometheus', 'version': '1.0.0'}],
        'uid': uid, 'title': title, 'description': description,
        'tags': ['hvagent'], 'timezone': 'utc', 'editable': True,
        'refresh': '30s', 'schemaVersion': 38, 'version': 1,
        'time': {'from': 'now-6h', 'to': 'now'},
        'templating': {'list': list(variables)},
        'annotations': {'list': []},
        'panels': _layout(panels),
    }


HOST_VARIABLE = {
    'name': 'host', 'label': 'Compute host', 'type': 'query',
    'datasource': DS, 'refresh': 2, 'sort': 1, 'multi': False,
    'includeAll': False,
    'definition': 'label_values(hvagent_build_info{%s}, instance)' % COMPUTE,
    'query': {'query': 'label_values(hvagent_build_info{%s}, instance)'
              % COMPUTE, 'refId': 'host'},
}


def dashboards():
    """{file name: dashboard}."""
    return {
        'hvagent-fleet.json': dashboard(
            'hvagent-fleet', 'hvagent fleet', 'Services, instances, '
            'builds, operations and scheduling over every hvagent host.',
            fleet_panels()),
        'hvagent-host.json': dashboard(
            'hvagent-host', 'hvagent compute host', 'One compute host: '
            'CPU, memory, disk, network and its guests.', host_panels(),
            [HOST_VARIABLE]),
    }


def render(board):
    return json.dumps(board, indent=2, sort_keys=True) + '\n'


def main(argv):
    check = argv == ['--check']
    stale = []
    for name, board in dashboards().items():
        path = OUT / name
        text = render(board)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print('etc/grafana is not current (%s): run python -m tools.grafana'
              % ', '.join(stale))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
