"""The conductor's database: models, migrations and the query API.

Only the conductor and the scheduler import this package; the compute agent
never opens the database.
"""
