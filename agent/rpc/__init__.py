"""The message bus as every service uses it (oslo.messaging over RabbitMQ).

* ``transport`` - the process's transports and oslo RPC clients on them;
* ``serializer`` - wire objects, the context and its signature;
* ``checks`` - ``@expects``: an endpoint's arguments checked before it runs;
* ``dispatch`` - the server side: each message's shape and signer checked;
* ``servers`` - ``get_server``: an RPC server with that dispatcher;
* ``clients`` - the base of each service's client (its ``rpcapi`` module:
  agent.compute.rpcapi, agent.conductor.rpcapi, agent.scheduler.rpcapi),
  with the ``[upgrade_levels]`` version cap;
* ``server_state`` - in-flight messages, the readiness probe, the queue
  consumed;
* ``link`` - ``BusLink``: a service reachable over the bus, end to end;
* ``outage`` - broker outages: quiet logs, undeliverable casts retried;
* ``memory_transport`` - the in-process ``kombu+memory`` broker (one-node
  demo, tests).

Who may sign what is agent.security.bus_auth; TLS to the broker, agent.security.bus_tls.
"""
