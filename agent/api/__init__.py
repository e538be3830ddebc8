"""hvagent-api: the REST front door, the OpenStack APIs the usual
clients speak (Identity v3, Compute v2.1, Image v2, Network v2, Block
Storage v3), with hvagent's roles, quotas and isolation.

Framework: FastAPI on uvicorn. The request and response bodies are pydantic
models, and FastAPI builds ``/openapi.json`` from the very models that
validate each request, so the published description cannot drift from
what the service accepts; a body that does not fit is refused with a 400
before any handler runs. Both are widely used, actively maintained, and
need no eventlet. Handlers are plain ``def`` functions: FastAPI runs them
in its thread pool, where blocking oslo.messaging calls are fine.

The API never opens the database (house rule): every read and write is an
RPC call to the conductor, carrying a RequestContext with the request id,
the caller's user and project. Layout:

  app.py          the application: request ids, the routers
  errors.py       every error as {"error": {"code", "message"}}
  tokens.py       HMAC-signed expiring tokens; argon2id passwords
  deps.py         per-request authentication and policy checks
  policy.py       the role rules (defaults in code, policy.yaml overrides)
  schemas.py      shared body models (Strict, Name, quotas, services)
  paging.py       limit + marker
  image_store.py  image bytes on this host; the URL agents fetch
  versions.py     version discovery of every service
  identity/       Identity v3 (/v3): tokens, projects, users, roles
  compute/        Compute v2.1 (/compute/v2.1): servers and their actions
  image/          Image v2 (/image/v2)
  network/        Network v2 (/network/v2.0)
  volume/         Block Storage v3 (/volume/v3/{project_id})
  main.py         the console script (serve, --bootstrap)
"""
