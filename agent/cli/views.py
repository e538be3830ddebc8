"""The output columns of every resource hvctl prints, declared once.

Both back ends render through these views. A back end hands over its own
items (objects from the conductor, JSON from hvagent-api); for the
resources both serve (instances, hosts) it first turns each into the
record the view reads (``Backend.adapt``). ``--json`` prints the items as
the back end got them.
"""
from agent.cli import output


def value(record, path):
    """``record``'s value at a dotted ``path``; dicts and objects alike
    (a key a dict lacks is None)."""
    for name in path.split('.'):
        if record is None:
            return None
        record = record.get(name) if isinstance(record, dict) \
            else getattr(record, name)
    return record


def key(path):
    return lambda record: value(record, path)


def safe(text):
    """``text`` with every non-printable character (an escape sequence,
    a line break, a right-to-left override) shown as ``\\uXXXX``: for
    text a compute node wrote (a migration's error), never a terminal's
    command."""
    if not isinstance(text, str):
        return text
    return ''.join(c if c.isprintable() else '\\u%04x' % ord(c)
                   for c in text)


def safe_key(path):
    return lambda record: safe(value(record, path))


def flag(path, yes, no=''):
    return lambda record: yes if value(record, path) else no


def ratio(used, total):
    """``used/total`` of a host's resource; None without its node."""
    def get(record):
        if value(record, total) is None or value(record, used) is None:
            return None
        return '%d/%d' % (value(record, used), value(record, total))
    return get


def joined(path):
    return lambda record: ', '.join(value(record, path) or ())


class Table:
    """A list view: one column per (header, getter); ``expand`` turns the
    records into the rows' records (a group into its rules)."""

    def __init__(self, kind, columns, expand=None):
        self.kind = kind
        self.headers = [header for header, _get in columns]
        self.getters = [get for _header, get in columns]
        self.expand = expand or (lambda records: records)

    def render(self, records):
        return output.table(self.headers, [
            [get(r) for get in self.getters] for r in self.expand(records)])


class Fields:
    """A one-item view: a Field/Value table."""

    def __init__(self, kind, rows):
        self.kind = kind
        self.rows = rows

    @property
    def headers(self):
        return [name for name, _get in self.rows]

    def render(self, record):
        return output.fields([(name, get(record))
                              for name, get in self.rows])


def emit(out, backend, view, items, as_json):
    """Print a back end's items through a view; exit code 0."""
    if as_json:
        out(output.dumps(items))
    elif isinstance(view, Fields):
        out(view.render(backend.adapt(view.kind, items)))
    else:
        out(view.render([backend.adapt(view.kind, i) for i in items]))
    return 0


#: an instance as both back ends adapt it (see Backend.adapt)
INSTANCE = Fields('instance', [
    ('uuid', key('uuid')), ('name', key('name')),
    ('vm_state', key('vm_state')), ('task_state', key('task_state')),
    ('power_state', key('power_state')), ('flavor', key('flavor')),
    ('host', key('host')), ('project_id', key('project_id')),
    ('image_ref', key('image_ref')), ('key_name', key('key_name')),
    ('created_at', key('created_at')), ('launched_at', key('launched_at')),
    ('networks', joined('networks')), ('volumes', joined('volumes')),
    ('metadata', lambda r: r['metadata'] or None),
    ('fault', key('fault'))])

INSTANCES = Table('instance', [
    ('UUID', key('uuid')), ('Name', key('name')),
    ('Status', key('vm_state')), ('Task', key('task_state')),
    ('Power', key('power_state')), ('Host', key('host')),
    ('Flavor', key('flavor'))])

FLAVORS = Table('flavor', [
    ('Name', key('name')), ('vCPUs', key('vcpus')),
    ('RAM (MB)', key('memory_mb')), ('Disk (GB)', key('root_gb'))])

#: a service and its host's resources (hvagent-api gives no disk and no
#: last seen: those cells stay empty through it)
HOSTS = Table('host', [
    ('Host', key('host')), ('Service', key('binary')),
    ('State', flag('up', 'up', 'down')),
    ('Status', flag('disabled', 'disabled', 'enabled')),
    ('Reason', key('disabled_reason')),
    ('vCPUs', ratio('vcpus_used', 'vcpus')),
    ('RAM MB', ratio('memory_mb_used', 'memory_mb')),
    ('Disk GB', ratio('local_gb_used', 'local_gb')),
    ('VMs', key('running_vms')), ('Last seen', key('last_seen'))])

#: a service an operator disabled or enabled (host-disable, host-enable)
SERVICE = Fields('service', [
    ('host', key('host')), ('binary', key('binary')),
    ('status', key('status')), ('disabled_reason', key('disabled_reason'))])

ACTIONS = Table('action', [
    ('Action', key('action')), ('Request', key('request_id')),
    ('User', key('user_id')), ('Start', key('start_time')),
    ('Finish', key('finish_time')), ('Result', key('result'))])

USERS = Table('user', [
    ('ID', key('id')), ('Name', key('name')), ('Enabled', key('enabled')),
    ('Default project', key('default_project_id'))])

NETWORKS = Table('network', [
    ('UUID', key('uuid')), ('Name', key('name')),
    ('Type', key('network_type')), ('Segment', key('segmentation_id')),
    ('Physical', key('physical_network')), ('CIDR', key('cidr')),
    ('Gateway', key('gateway_ip')), ('Ports', key('ports')),
    ('External', flag('external', 'yes')), ('Project', key('project_id')),
    ('Shared', flag('shared', 'yes'))])

PORTS = Table('port', [
    ('UUID', key('uuid')), ('Network', key('network.name')),
    ('Instance', key('instance_uuid')), ('MAC', key('mac_address')),
    ('IP', key('ip_address')), ('Status', key('status')),
    ('Host', key('host')),
    ('Reserved by', lambda p: p.project_id if p.reserved else ''),
    ('Port security', flag('port_security_enabled', 'on', 'OFF'))])

FLOATING_IPS = Table('floating_ip', [
    ('UUID', key('uuid')), ('Address', key('address')),
    ('Network', key('network.name')), ('Project', key('project_id')),
    ('Instance', key('instance_uuid')), ('Fixed IP', key('fixed_ip')),
    ('Host', key('host'))])


def _rules(groups):
    """(group, rule) of every rule; (group, None) of each group when no
    group has a rule."""
    return [(g, r) for g in groups for r in g.rules] or \
        [(g, None) for g in groups]


def _rule(get):
    return lambda pair: '-' if pair[1] is None else get(pair[1])


def _ports(rule):
    if not rule.port_range_min:
        return 'any'
    return '%s-%s' % (rule.port_range_min, rule.port_range_max)


SECURITY_GROUPS = Table('security_group', [
    ('Group', lambda pair: pair[0].name),
    ('Project', lambda pair: pair[0].project_id),
    ('Rule', _rule(key('uuid'))), ('Direction', _rule(key('direction'))),
    ('Protocol', _rule(lambda r: r.protocol or 'any')),
    ('Ports', _rule(_ports)),
    ('Remote', _rule(lambda r: r.remote_ip_prefix or r.remote_group or
                     'any'))], expand=_rules)


def percent(processed, total):
    """``processed`` of ``total`` in percent (None without a total)."""
    return '%d%%' % (100 * processed // total) if total else None


def _memory(record):
    """Memory copied of a move (None before the copy)."""
    return percent(value(record, 'memory_processed_bytes'),
                   value(record, 'memory_total_bytes'))


#: a move as both back ends adapt it: hvagent-api's shape (nova's server
#: migration, 2.23+)
MIGRATION = Fields('migration', [
    ('id', key('id')), ('server_uuid', key('server_uuid')),
    ('status', key('status')), ('source_compute', key('source_compute')),
    ('dest_compute', key('dest_compute')), ('memory', _memory),
    ('memory_total_bytes', key('memory_total_bytes')),
    ('memory_remaining_bytes', key('memory_remaining_bytes')),
    ('disk_total_bytes', key('disk_total_bytes')),
    ('disk_remaining_bytes', key('disk_remaining_bytes')),
    ('error', safe_key('error')), ('created_at', key('created_at')),
    ('updated_at', key('updated_at'))])

MIGRATIONS = Table('migration', [
    ('ID', key('id')), ('Server', key('server_uuid')),
    ('Status', key('status')), ('Source', key('source_compute')),
    ('Destination', key('dest_compute')), ('Memory', _memory),
    ('Created', key('created_at')), ('Error', safe_key('error'))])

#: what host-drain did to each instance (drain.Drain.summary records)
DRAIN = Table('drain', [
    ('Instance', key('uuid')), ('Name', safe_key('name')),
    ('Result', key('result')), ('Host', key('host')),
    ('Migration', key('migration')), ('Reason', safe_key('reason'))])
