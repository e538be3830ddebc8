"""hvagent-api: the REST front door (token auth, roles, quotas).

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
  schemas.py      request/response models
  paging.py       limit + marker
  image_store.py  image bytes on this host; the URL agents fetch
  routes/         one module per resource
  main.py         the console script (serve, --bootstrap)
"""
