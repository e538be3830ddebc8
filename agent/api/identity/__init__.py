"""The OpenStack Identity API v3 (keystone's URLs and bodies) under
``/v3``: auth.py (tokens, catalog), projects.py (projects, users),
roles.py (roles, grants, role assignments)."""
