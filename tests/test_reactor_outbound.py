"""The reactor's outbound connections (the Redis link): a non-blocking connect, its failure,
and an output limit of its own with no client error line written into it."""

from __future__ import annotations

import socket
from typing import Any

from selchat.reactor import Conn, Reactor
from tests.helpers import wait_for


class Handler:
    def __init__(self) -> None:
        self.opened: list[Conn] = []
        self.closed: list[str] = []

    def on_open(self, conn: Conn) -> None:
        self.opened.append(conn)

    def on_data(self, conn: Conn, data: bytes) -> None:
        pass

    def on_close(self, conn: Conn, reason: str) -> None:
        self.closed.append(reason)

    def on_slow(self, conn: Conn) -> bytes:
        return b'{"type":"error"}\n'

    def before_flush(self) -> None:
        pass


def _reactor(handler: Any) -> Reactor:
    reactor = Reactor(max_conns=10, max_output=1024)

    def tick() -> None:  # keeps select() from sleeping while a test waits on a condition
        reactor.call_later(0.01, tick)

    tick()
    return reactor


def test_a_refused_connect_is_a_close_with_the_reason() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nobody listens there once this closes
    handler = Handler()
    reactor = _reactor(handler)
    try:
        reactor.connect("127.0.0.1", port, handler)
        wait_for(lambda: (reactor.run_once(), bool(handler.closed))[1], what="the connect to fail")
        assert handler.closed == ["connect failed: Connection refused"] and not handler.opened
    finally:
        reactor.close_all()


def test_an_outbound_link_has_its_own_limit_and_is_cut_without_a_client_error() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # never accepted, never read: the link's output can only pile up
    handler = Handler()
    reactor = _reactor(handler)
    try:
        conn = reactor.connect("127.0.0.1", listener.getsockname()[1], handler, limit=4096)
        wait_for(lambda: (reactor.run_once(), bool(handler.opened))[1], what="the link to open")
        reactor.send(conn, b"x" * 3000)  # over a client's 1 KiB, under the link's own 4 KiB
        assert not conn.closing
        reactor.send(conn, b"y" * 2000)
        assert conn.closing and conn.close_reason == "slow_consumer"
        assert all(b"error" not in bytes(part) for part in conn.out)  # no JSON line into the link
    finally:
        reactor.close_all()
        listener.close()


def test_an_empty_send_queues_nothing_so_a_close_does_not_wait_for_it() -> None:
    """A codec's empty answer (a history page of nothing, say) once sat in the queue for good:
    a send of nothing sends 0 bytes, so the close after /quit waited out the whole linger."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    handler = Handler()
    reactor = _reactor(handler)
    try:
        conn = reactor.connect("127.0.0.1", listener.getsockname()[1], handler)
        wait_for(lambda: (reactor.run_once(), bool(handler.opened))[1], what="the link to open")
        reactor.send(conn, b"")
        assert not conn.out and conn.out_bytes == 0
        reactor.close(conn, "quit")
        reactor.run_once()
        assert conn.closed and handler.closed == ["quit"]  # at once, not after the linger
    finally:
        reactor.close_all()
        listener.close()
