"""Compute nodes' periodic resource reports, read from their own queue in
batches.

Through the conductor's RPC server each report costs a message's full
journey: oslo's poll thread, an executor thread, the dispatcher, an ack
sent back through the poll thread, one report at a time (~1.1 ms of the
conductor's CPU per report measured, messaging alone; issue 19 asks for
< 0.5 ms in all). Compute agents cast their periodic reports (conductor
1.16) to ``conductor_reports`` instead, and this reader takes what has
come within ``GAP`` seconds (at most ``BATCH``), checks each message as
the RPC server would (its shape, its signature, then the endpoint's own
``compute_node_update`` with its argument checks and host confinement),
writes the batch in one transaction (report_batcher) and only then acks
it: a conductor killed mid-batch loses no report, the broker hands the
unacked ones to another conductor.

A message that fails a check is refused in one log line and acked (sent
again it would fail again); a report the database could not take is
dropped with report_batcher's warning (the next one, ``report_interval``
later, replaces it).
"""
import logging
import time
import types

import oslo_messaging as messaging

from agent import context as context_mod
from agent import exception
from agent.conductor.topics_rpcapi import REPORT_TOPIC
from agent.rpc import dispatch
from agent.rpc import serializer
from agent.rpc import transport
from agent.security import bus_auth

LOG = logging.getLogger(__name__)

#: how long a batch gathers after its first message, and its size cap
GAP = 0.05
BATCH = 500
#: how long one wait for a first message lasts (stop() ends it sooner)
IDLE_WAIT = 1.0
#: the newest version of a report message this reader takes
VERSION = '1.16'
METHOD = 'compute_node_update'


class ReportQueue:
    """Reads ``conductor_reports`` for ``manager`` (the conductor's
    AgentManager: its compute_node_update and its ReportBatcher). Run
    ``read_batch`` in a loop (service.Periodic with interval 0); ``cancel``
    ends the current wait, ``close`` drops the connection."""

    def __init__(self, manager):
        self.manager = manager
        self.trust = dispatch.Trust(
            bus_auth.keyring(), bus_auth.AGENTS,
            messaging.Target(topic=REPORT_TOPIC))
        self.serializer = serializer.Serializer()
        self._conn = None
        self._batch = []
        self._stopping = False

    def _connection(self):
        if self._conn is None:
            self._conn = transport.listen_connection(REPORT_TOPIC,
                                                     self._collect)
        return self._conn

    def read_batch(self):
        """Wait up to IDLE_WAIT for a report, gather more for GAP seconds,
        handle them, write them, ack them."""
        try:
            self._read_batch()
        except Exception:
            LOG.exception('Reading resource reports failed; again in %ss',
                          IDLE_WAIT)
            time.sleep(IDLE_WAIT)

    def _read_batch(self):
        conn = self._connection()
        if not self._wait(conn, IDLE_WAIT):
            return
        deadline = time.monotonic() + GAP
        while len(self._batch) < BATCH and not self._stopping:
            left = deadline - time.monotonic()
            if left <= 0 or not self._wait(conn, left):
                break
        batch, self._batch = self._batch, []
        for message in batch:
            self._handle(message)
        self.manager.reports.flush()
        transport.ack_all(batch)

    def _collect(self, message):
        self._batch.append(message)

    def _wait(self, conn, timeout):
        """Whether a message came within ``timeout``."""
        if self._stopping:
            return False
        before = len(self._batch)
        try:
            conn.consume(timeout=timeout)
        except transport.LISTEN_TIMEOUT:
            pass
        return len(self._batch) > before

    def _handle(self, message):
        """Check one report as the RPC server would, then queue it."""
        wire = dict(message)
        ctxt = {key[len('_context_'):]: wire.pop(key)
                for key in [k for k in wire if str(k).startswith('_context_')]}
        incoming = types.SimpleNamespace(ctxt=ctxt, message=wire)
        try:
            dispatch.check_message(wire, None, _is_report)
            unknown = set(wire.get('args', {})) - set(
                self.manager.compute_node_update.rpc_schema)
            if unknown:
                raise exception.InvalidRPCPayload(
                    'resource report with unknown argument(s) %s'
                    % ', '.join(sorted(unknown)))
            if not _readable(wire.get('version', '1.0')):
                raise exception.InvalidRPCPayload(
                    'resource report at version %s: this conductor reads '
                    'up to %s' % (wire.get('version'), VERSION))
            self.trust.check(incoming)
            rctxt = self.serializer.deserialize_context(incoming.ctxt)
            args = {k: self.serializer.deserialize_entity(rctxt, v)
                    for k, v in wire.get('args', {}).items()}
            self.manager.compute_node_update(rctxt, **args)
        except (exception.InvalidRPCPayload, exception.BusNotTrusted) as e:
            LOG.error('Rejected resource report: %s', e)
        except messaging.ExpectedException as e:   # the endpoint refused it
            if not isinstance(e.exc_info[1], exception.InvalidRPCPayload):
                # (checks.expects logged its own refusal, in one line)
                LOG.error('Rejected resource report from %s: %s',
                          incoming.ctxt.get(context_mod.PRINCIPAL),
                          e.exc_info[1])
        except Exception:   # not the sender's fault: its next one may pass
            LOG.exception('Resource report not recorded')

    def cancel(self):
        """End the current wait; no batch starts after this."""
        self._stopping = True
        if self._conn is not None:
            self._conn.stop_consuming()

    def close(self):
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _is_report(method, namespace):
    return method == METHOD and namespace is None


def _readable(version: str) -> bool:
    """A 1.x version up to VERSION (check_message made it "X.Y")."""
    major, minor = version.split('.')[:2]
    return major == '1' and int(minor) <= int(VERSION.split('.')[1])
