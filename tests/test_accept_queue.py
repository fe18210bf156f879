"""Accepting in a join storm: a turn takes another batch only while the kernel's accept queue is
filling, since a full queue drops a connect and its client retries a second later."""

from __future__ import annotations

import socket
import sys
from typing import Any

import pytest

from selchat.reactor import listeners
from selchat.reactor.listeners import Listeners, accept_queue

pytestmark = [pytest.mark.timeout(20),
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="TCP_INFO of a listener is Linux's")]


class Loop:
    """The two calls Listeners makes of its loop."""

    stop_at = None

    def add_reader(self, sock: Any, callback: Any) -> None:
        pass

    def remove_reader(self, sock: Any) -> None:
        pass


def storm(monkeypatch: pytest.MonkeyPatch, waiting: int, backlog: int = 16) -> tuple[int, int]:
    """(accepted in one turn, left in the queue) with ``waiting`` connects queued and batches of 4."""
    monkeypatch.setattr(listeners, "ACCEPTS_PER_TURN", 4)
    accepted: list[socket.socket] = []
    gate = Listeners(Loop(), lambda sock, addr, listener: accepted.append(sock))  # type: ignore[arg-type]
    host, port = gate.listen("127.0.0.1", 0, None, backlog=backlog)  # type: ignore[arg-type]
    clients = [socket.create_connection((host, port)) for _ in range(waiting)]
    try:
        gate.accept(gate.all[0])
        return len(accepted), accept_queue(gate.all[0].sock)[0]
    finally:
        for sock in accepted + clients:
            sock.close()
        gate.close()


def test_a_listener_tells_its_queue_and_its_size() -> None:
    server = socket.create_server(("127.0.0.1", 0), backlog=32)
    clients = [socket.create_connection(server.getsockname()) for _ in range(5)]
    try:
        assert accept_queue(server) == (5, 32)
        server.accept()[0].close()
        assert accept_queue(server) == (4, 32)
    finally:
        for sock in [*clients, server]:
            sock.close()


def test_a_quiet_queue_gets_one_batch_a_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    # 4 of 16 waiting is a quarter of the queue: the rest waits for the next turn
    assert storm(monkeypatch, 8) == (4, 4)


def test_a_filling_queue_gets_batches_until_it_is_a_quarter_full(monkeypatch: pytest.MonkeyPatch) -> None:
    assert storm(monkeypatch, 14) == (12, 2)


def test_a_turn_never_accepts_more_than_the_queue_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    # a backlog of 8 and 9 waiting (the kernel queues one more than the backlog): two batches at most
    accepted, left = storm(monkeypatch, 9, backlog=8)
    assert accepted == 8 and left == 1


def test_a_short_queue_is_emptied(monkeypatch: pytest.MonkeyPatch) -> None:
    assert storm(monkeypatch, 3) == (3, 0)
