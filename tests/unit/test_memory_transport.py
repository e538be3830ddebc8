"""The in-process transport: a message wakes its consumer, an empty poll
neither spins nor returns early, a zero timeout does not block."""
import socket
import threading
import time

import kombu
import pytest

from agent.rpc import memory_transport

memory_transport.install()


@pytest.fixture
def consumer():
    """A kombu connection consuming one fresh queue; yields (connection,
    publish, received)."""
    name = 'test-%s' % time.monotonic_ns()
    queue = kombu.Queue(name, kombu.Exchange(name, 'direct'), routing_key=name)
    received = []
    with kombu.Connection('memory://') as conn:
        consumer = conn.Consumer(queue, callbacks=[
            lambda body, message: (received.append(body), message.ack())])
        consumer.consume()

        def publish(body):
            with kombu.Connection('memory://') as other:
                other.Producer().publish(body, exchange=queue.exchange,
                                         routing_key=name, declare=[queue])
        yield conn, publish, received
        consumer.cancel()


def test_message_published_meanwhile_wakes_the_waiting_consumer(consumer):
    conn, publish, received = consumer
    timer = threading.Timer(0.05, publish, args=({'n': 1},))
    start = time.monotonic()
    timer.start()
    conn.drain_events(timeout=20)
    timer.join()
    assert received == [{'n': 1}]
    # woken by the publish: a lost wakeup would sleep out the 20 s
    assert time.monotonic() - start < 10


def test_queued_message_is_delivered_even_with_a_zero_timeout(consumer):
    conn, publish, received = consumer
    publish({'n': 2})
    conn.drain_events(timeout=0)
    assert received == [{'n': 2}]


def test_empty_short_poll_waits_at_least_min_wait_without_spinning(consumer):
    """oslo.messaging polls with 1 ms after each message; here that wait is
    stretched, and spent asleep (CPU far below the wall time)."""
    conn, _publish, received = consumer
    wall, cpu = time.monotonic(), time.thread_time()
    with pytest.raises(socket.timeout):
        conn.drain_events(timeout=0.001)
    wall, cpu = time.monotonic() - wall, time.thread_time() - cpu
    assert wall >= memory_transport.MIN_WAIT
    assert cpu < wall / 2
    assert received == []


def test_zero_timeout_on_an_empty_queue_does_not_block(consumer):
    conn, _publish, _received = consumer
    wall = time.monotonic()
    with pytest.raises(socket.timeout):
        conn.drain_events(timeout=0)
    assert time.monotonic() - wall < memory_transport.MIN_WAIT
