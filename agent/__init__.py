"""hvagent: the services (compute agent, conductor, scheduler) and what they share."""
import warnings

# oslo.service picks its backend once per process: we run on native threads
# (the threading executor), never eventlet. Some oslo modules still import
# eventlet for feature detection; that import only warns.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

from oslo_service import backend as _backend  # noqa: E402

if _backend.get_backend_type() is None:
    _backend.init_backend(_backend.BackendType.THREADING)
