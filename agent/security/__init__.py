"""Who may do what, and proof of it: the trust boundaries between tenants,
compute nodes and controllers (docs/security.md).

* ``bus_auth`` - every RPC message signed: principals, the bus secret,
  host keys, audiences;
* ``broker_perms`` - RabbitMQ permissions for each broker user, as
  rabbitmqctl commands;
* ``bus_tls`` - a TLS handshake with the broker before a process joins
  the bus;
* ``tls`` - TLS contexts for hvagent's listeners and clients;
* ``sealed`` - sealed payloads (JSON + HMAC-SHA256), as tokens and image
  grants travel;
* ``image_grants`` - what a compute agent shows hvagent-api to read one
  instance's images.
"""
