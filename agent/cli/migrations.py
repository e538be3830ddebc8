"""hvctl's migration commands, written once for both back ends
(``b``: a bus_backend.Backend or an api_backend.Backend): start a live
move, list and show moves, abort one or force it to complete (admins);
resize (the instance's owner), cold-migrate (admins), confirm or revert
a resize. Draining a whole host is drain.py."""
from agent.cli import views


def _emit(b, args, out, migration):
    return views.emit(out, b, views.MIGRATION, migration, args.json)


def live_migrate(b, args, out):
    return _emit(b, args, out, b.live_migrate(
        b.resolve(args.ref), args.host, args.block_migration))


def migration_list(b, args, out):
    ref = b.resolve(args.server) if args.server else None
    return views.emit(out, b, views.MIGRATIONS, b.migrations(
        ref, args.host, args.status), args.json)


def migration_show(b, args, out):
    return _emit(b, args, out, b.migration(args.migration))


def migration_abort(b, args, out):
    return _emit(b, args, out, b.migration_abort(b.resolve(args.ref),
                                                 args.migration))


def migration_force_complete(b, args, out):
    return _emit(b, args, out, b.migration_force_complete(
        b.resolve(args.ref), args.migration))


def resize(b, args, out):
    return _emit(b, args, out, b.resize(b.resolve(args.ref), args.flavor))


def migrate(b, args, out):
    return _emit(b, args, out, b.migrate(b.resolve(args.ref), args.host))


def resize_confirm(b, args, out):
    return _emit(b, args, out, b.resize_confirm(b.resolve(args.ref)))


def resize_revert(b, args, out):
    return _emit(b, args, out, b.resize_revert(b.resolve(args.ref)))
