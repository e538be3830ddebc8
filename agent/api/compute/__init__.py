"""The OpenStack Compute API v2.1 (nova's URLs, bodies and status codes)
under ``/compute/v2.1``, so the ``openstack`` client and openstacksdk
drive servers, flavors and key pairs unmodified.

  microversions.py  discovery documents and the OpenStack-API-Version
                    header (2.1 only so far)
  schemas.py        request bodies (nova's shapes)
  views.py          nova's shapes of servers, flavors and key pairs
  servers.py        servers: create, list, detail, show, delete, actions
  flavors.py        flavors
  keypairs.py       os-keypairs

Every call goes to the conductor with the caller's context and the same
policy rules as the rest of hvagent-api (agent.api.policy).
"""
