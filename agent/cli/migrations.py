"""hvctl's live-migration commands, written once for both back ends
(``b``: a bus_backend.Backend or an api_backend.Backend): start a move,
list and show moves, abort one or force it to complete (admins). Draining
a whole host is drain.py."""
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
