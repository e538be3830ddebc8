"""hvagent: the services (compute agent, conductor, scheduler, API) and what
they share.

Importing ``agent`` (or a side-effect-free base module such as
agent.exception, agent.context, agent.locks or agent.objects.states, which
virt/ and net/ use) loads nothing of oslo: it only makes sure that the
first import of oslo.messaging in this process runs on native threads.
oslo.service picks its backend once per process, when oslo_service.service
is first imported (oslo.messaging imports it) and eventlet otherwise; we
run the threading executor and never eventlet, so ``_NativeThreadsFirst``
chooses the threading backend just before that import, whichever module
makes it.
"""
import importlib.abc
import sys
import warnings


def _use_native_threads():
    # some oslo modules still import eventlet for feature detection (and
    # eventlet imports dnspython, whose DSA names warn with cryptography
    # >= 43: eight lines in each daemon's journal at every start); those
    # imports only warn
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
    warnings.filterwarnings('ignore', message='DSA is deprecated',
                            module=r'dns\.')
    from oslo_service import backend
    if backend.get_backend_type() is None:
        backend.init_backend(backend.BackendType.THREADING)


class _NativeThreadsFirst(importlib.abc.MetaPathFinder):
    """An import hook that acts once, before the first import of what
    picks oslo.service's backend, then leaves the import to the others."""

    TRIGGERS = frozenset(('oslo_service.service', 'oslo_messaging'))

    def find_spec(self, fullname, path=None, target=None):
        if fullname in self.TRIGGERS:
            sys.meta_path.remove(self)
            _use_native_threads()
        return None


if _NativeThreadsFirst.TRIGGERS & set(sys.modules):
    _use_native_threads()
elif not any(isinstance(f, _NativeThreadsFirst) for f in sys.meta_path):
    sys.meta_path.insert(0, _NativeThreadsFirst())
