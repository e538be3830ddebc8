"""The OpenStack Compute API v2.1 (nova's URLs, bodies and status codes)
under ``/compute/v2.1``, so the ``openstack`` client and openstacksdk
drive servers, flavors and key pairs unmodified.

  microversions.py  discovery documents and the OpenStack-API-Version
                    header (2.1 only so far)
  schemas.py        request bodies (nova's shapes)
  views.py          nova's shapes of servers, flavors and key pairs
  instances.py      what is done with an instance whatever the route
  servers.py        servers: create, list, detail, show, delete
  server_actions.py POST /servers/{id}/action: lifecycle, console
                    output, security groups, moves
  remote_consoles.py interactive consoles: URLs with console tokens
  server_metadata.py a server's metadata
  migrations.py     a server's migrations and os-migrations
  flavors.py, keypairs.py (ssh_keys.py), hypervisors.py, services.py,
  quotas.py, instance_actions.py, volume_attachments.py: the rest

Every call goes to the conductor with the caller's context and the
policy rules of agent.api.policy.
"""
