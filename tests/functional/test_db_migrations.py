"""The alembic migrations against SQLite, MariaDB and PostgreSQL.

The db_url and empty_db_url fixtures come from tests/fixtures/databases.py
(a plugin of tests/conftest.py).
"""
import datetime
import subprocess
import sys
import threading
import time

import sqlalchemy as sa
from alembic import autogenerate
from alembic.runtime import migration as alembic_migration

from agent.db import migration
from agent.db import models
from agent.db import session

HEAD = '0021'
FLAVORS = {'m1.tiny': (1, 512, 1), 'm1.small': (1, 2048, 20),
           'm1.medium': (2, 4096, 40), 'm1.large': (4, 8192, 80),
           'm1.xlarge': (8, 16384, 160)}
NOW = datetime.datetime(2026, 12, 4)
ROLES = {'admin', 'itsec', 'project_manager', 'netadmin', 'developer'}


def _tables(url):
    return set(sa.inspect(session.get_engine(url)).get_table_names())


def _schema_diff(url):
    """Autogenerate's diff of the database against the models: tables,
    columns, types, nullability, indexes, unique and foreign keys (not
    alembic_version). Nothing is filtered out: no backend needed it."""
    with session.get_engine(url).connect() as conn:
        context = alembic_migration.MigrationContext.configure(
            conn, opts={'compare_type': True})
        return autogenerate.compare_metadata(context, models.Base.metadata)


def test_upgrade_is_idempotent(db_url):
    assert migration.current(db_url) == HEAD
    migration.upgrade(db_url)
    assert migration.current(db_url) == HEAD
    assert _tables(db_url) == set(models.Base.metadata.tables) | {
        'alembic_version'}


def test_schema_matches_models(db_url):
    assert _schema_diff(db_url) == []


def test_standard_flavors_and_roles_seeded(db_url):
    with session.session_scope(session.get_engine(db_url)) as s:
        flavors = s.scalars(sa.select(models.Flavor)).all()
        roles = s.scalars(sa.select(models.Role.name)).all()
    assert {f.name: (f.vcpus, f.memory_mb, f.root_gb)
            for f in flavors} == FLAVORS
    assert all(f.is_public is True and f.ephemeral_gb == 0
               and f.created_at is not None for f in flavors)
    assert sorted(roles) == sorted(ROLES)


def test_downgrade_to_base_then_upgrade_again(db_url):
    migration.downgrade(db_url, 'base')
    assert migration.current(db_url) is None
    assert _tables(db_url) <= {'alembic_version'}
    migration.upgrade(db_url)
    assert migration.current(db_url) == HEAD
    assert _schema_diff(db_url) == []


def test_0010_gives_users_the_project_they_were_made_in(db_url):
    """Existing users' default project: the project of their first role
    assignment, not the first by name they have a role in."""
    migration.downgrade(db_url, '0009')
    engine = session.get_engine(db_url)
    with engine.begin() as conn:
        role = conn.scalar(sa.text("SELECT id FROM roles "
                                   "WHERE name = 'developer'"))
        for pid, name in (('pz', 'zz-home'), ('pa', 'aa-other')):
            conn.execute(sa.text(
                "INSERT INTO projects (id, name, enabled, created_at) "
                "VALUES (:id, :name, :e, :t)"), {'id': pid, 'name': name,
                                                  'e': True, 't': NOW})
        for uid in ('u1', 'u2'):
            conn.execute(sa.text(
                "INSERT INTO users (id, name, enabled, created_at) VALUES "
                "(:id, :id, :e, :t)"), {'id': uid, 'e': True, 't': NOW})
        for uid, pid in (('u1', 'pz'), ('u1', 'pa')):
            conn.execute(sa.text(
                "INSERT INTO role_assignments (user_id, project_id, "
                "role_id) VALUES (:u, :p, :r)"), {'u': uid, 'p': pid,
                                                  'r': role})
    migration.upgrade(db_url)
    with engine.begin() as conn:
        got = dict(conn.execute(sa.text(
            "SELECT id, default_project_id FROM users WHERE id IN "
            "('u1', 'u2')")).all())
        conn.execute(sa.text("DELETE FROM role_assignments"))
        conn.execute(sa.text("DELETE FROM users WHERE id IN ('u1', 'u2')"))
        conn.execute(sa.text("DELETE FROM projects WHERE id IN "
                             "('pz', 'pa')"))
    assert got == {'u1': 'pz', 'u2': None}


def test_0011_shares_existing_networks_and_secures_ports(db_url):
    """Networks made before 0011 (admins made them all, every project
    booted on them) stay usable by every project; new ones are not
    shared; every existing port gets anti-spoofing."""
    migration.downgrade(db_url, '0010')    # just before 0011
    engine = session.get_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO networks (uuid, name, project_id, network_type, "
            "external, created_at) VALUES ('n-old', 'old', 'admin', 'flat', "
            "false, CURRENT_TIMESTAMP)"))
    migration.upgrade(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO networks (uuid, name, project_id, network_type, "
            "external, created_at) VALUES ('n-new', 'new', 'p', 'flat', "
            "false, CURRENT_TIMESTAMP)"))
        shared = dict(conn.execute(sa.text(
            'SELECT name, shared FROM networks')).all())
        conn.execute(sa.text("DELETE FROM networks"))
    assert {k: bool(v) for k, v in shared.items()} == {'old': True,
                                                       'new': False}


def test_current_of_empty_database_is_none(empty_db_url):
    assert migration.current(empty_db_url) is None


def _fresh_sqlite(tmp_path):
    return 'sqlite:///%s' % (tmp_path / 'fresh.sqlite')


def test_concurrent_upgrade_from_threads(tmp_path):
    url = _fresh_sqlite(tmp_path)
    errors = []

    def run():
        try:
            migration.upgrade(url)
        except Exception as e:  # reported below, in the test's thread
            errors.append(e)
    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert migration.current(url) == HEAD
    assert _schema_diff(url) == []


def test_concurrent_upgrade_from_processes(tmp_path):
    """Each process sleeps until the same moment, then migrates."""
    url = _fresh_sqlite(tmp_path)
    code = ('import sys, time; from agent.db import migration; '
            'time.sleep(max(0, float(sys.argv[1]) - time.time())); '
            'migration.upgrade(%r)' % url)
    start = str(time.time() + 3)
    procs = [subprocess.Popen([sys.executable, '-c', code, start],
                              stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    results = [(p.wait(60), p.stderr.read()) for p in procs]
    assert [rc for rc, _ in results] == [0] * 3, results
    assert migration.current(url) == HEAD
    with session.session_scope(session.get_engine(url)) as s:
        assert s.scalar(sa.select(sa.func.count(models.Role.id))) == 5
