"""Prometheus metrics of the hvagent services.

Each service builds its own registry (``registry.new``: process, platform
and GC collectors, ``hvagent_build_info``) and serves it with
``server.MetricsServer``; what it registers there depends on the service:

  * ``host``: the compute host from psutil, read at scrape time;
  * ``guests``: the driver's bulk guest statistics, read at scrape time;
  * ``compute``: the agent's own figures (operations, builds in flight,
    resource-report age);
  * ``controller``: placements and scheduling time (scheduler), service
    up/down per host from the database (conductor);
  * ``registry.RPC_MESSAGES``: every RPC message an endpoint handled, by
    method and result, counted in ``agent.rpc.expects``.

Collectors that read something at scrape time go through
``registry.Guarded``: a failure is logged and the scrape goes on with what
could be read, so ``/metrics`` always answers.
"""
