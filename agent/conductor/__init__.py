"""hvagent-conductor: the only service that writes the database."""
