"""hvctl's host commands, written once for both back ends (``b``: a
bus_backend.Backend or an api_backend.Backend): the services and their
hosts' resources, and an operator's disable (no new instance there) and
enable."""
from agent.cli import views


def host_list(b, args, out):
    return views.emit(out, b, views.HOSTS, b.hosts(), args.json)


def host_disable(b, args, out):
    return views.emit(out, b, views.SERVICE, b.service_update(
        args.host, args.binary, True, args.reason), args.json)


def host_enable(b, args, out):
    return views.emit(out, b, views.SERVICE, b.service_update(
        args.host, args.binary, False), args.json)
