"""The OpenStack Image API v2 (glance's URLs, bodies and status codes)
under ``/image/v2``: images created, uploaded, listed, shown, downloaded
and deleted by the ``openstack`` client and openstacksdk, unmodified.

  images.py   the routes and glance's shape of an image
  records.py  what is done with images whatever the route: find one the
              caller may see, create, store the bytes, page, remove

"""
