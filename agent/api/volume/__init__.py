"""The OpenStack Block Storage API v3 (cinder's URLs and bodies) under
``/volume/v3/{project_id}``: volumes created, listed, shown and deleted
by the ``openstack`` client and openstacksdk, unmodified; their status
follows attachments (``available``, ``in-use``), which are made through
the Compute API (``os-volume_attachments``).

  volumes.py   the routes, cinder's shape of a volume, discovery
  records.py   the volumes themselves (sparse raw files), attachments

"""
