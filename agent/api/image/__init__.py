"""The OpenStack Image API v2 (glance's URLs, bodies and status codes)
under ``/image/v2``: images created, uploaded, listed, shown, downloaded
and deleted by the ``openstack`` client and openstacksdk, unmodified.

  images.py   the routes and glance's shape of an image

The bytes and every rule are hvagent-api's own images
(agent.api.routes.images, agent.api.image_store): same store, same
policy, same quota.
"""
