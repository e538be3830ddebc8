"""Entry point for oslo-config-generator (namespace "hvagent")."""
from agent.conf import compute, conductor, database, default, scheduler


def list_opts():
    return [
        ('DEFAULT', default.opts),
        (compute.group, compute.opts),
        (conductor.group, conductor.opts),
        (database.group, database.opts),
        (scheduler.group, scheduler.opts),
    ]
