"""The server in this process, its loop turned by hand: for faults that can only be injected."""

from __future__ import annotations

import json
import logging
import select
import socket
import time

import pytest

from selchat.config import ServerConfig
from selchat.events import Chat
from selchat.server import ChatServer
from tests.helpers import chat_lines, wait_for


class Loop:
    def __init__(self, **config: object) -> None:
        self.server = ChatServer(ServerConfig(host="127.0.0.1", port=0, **config))  # type: ignore[arg-type]
        self.address = self.server.listen()
        self.socks: list[socket.socket] = []
        self._tick()

    def _tick(self) -> None:
        # keep select() from sleeping long while a test waits on something
        self.server.reactor.call_later(0.01, self._tick)

    def client(self, name: str) -> socket.socket:
        sock = socket.create_connection(self.address)
        sock.setblocking(False)
        self.socks.append(sock)
        sock.sendall(json.dumps({"type": "join", "username": name}).encode() + b"\n")
        self.read_until(sock, "welcome")
        return sock

    def read_until(self, sock: socket.socket, type_: str, timeout: float = 5.0) -> list[dict]:
        frames: list[dict] = []
        buf = b""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.server.reactor.run_once()
            try:
                chunk = sock.recv(65536)
            except BlockingIOError:
                continue
            if not chunk:
                frames.append({"type": "<closed>"})
                if type_ == "<closed>":
                    return frames
                break
            buf += chunk
            while b"\n" in buf:
                line, _, buf = buf.partition(b"\n")
                frames.append(json.loads(line))
                if frames[-1]["type"] == type_:
                    return frames
        raise AssertionError(f"no {type_}: {frames}")

    def close(self) -> None:
        for sock in self.socks:
            sock.close()
        self.server.reactor.close_all()


@pytest.fixture
def loop():
    lp = Loop()
    yield lp
    lp.close()


def test_a_bug_closes_only_that_connection(loop: Loop, caplog: pytest.LogCaptureFixture) -> None:
    hub = loop.server.hub
    original = hub._handlers[Chat]

    def buggy(session, command, now):  # type: ignore[no-untyped-def]
        if command.message == "boom":
            raise RuntimeError("injected bug")
        return original(session, command, now)

    hub._handlers[Chat] = buggy
    a = loop.client("a")
    b = loop.client("b")
    loop.read_until(a, "user_joined")
    with caplog.at_level(logging.ERROR):
        b.sendall(b'{"type":"chat","message":"boom"}\n')
        frames = loop.read_until(a, "user_left")
    assert frames[-1]["username"] == "b" and frames[-1]["reason"] == "internal error"
    assert loop.read_until(b, "<closed>")[-1]["type"] == "<closed>"
    assert "injected bug" in caplog.text and "Traceback" in caplog.text
    a.sendall(b'{"type":"ping","id":1}\n')
    assert loop.read_until(a, "pong")[-1]["id"] == 1


def test_batched_turn_gives_senders_only_the_others_frames(loop: Loop) -> None:
    a, b, c = loop.client("a"), loop.client("b"), loop.client("c")
    loop.read_until(a, "user_joined")
    # three senders' frames reach the server before one loop turn handles them all
    for sock, name in ((a, "a"), (b, "b"), (c, "c")):
        sock.sendall(chat_lines(name, 3))
    # wait until all three writes have reached the server, so one select() reports them together
    server_socks = [conn.sock for conn in loop.server.reactor.conns.values()]
    wait_for(lambda: len(select.select(server_socks, [], [], 0.01)[0]) == 3, what="three readable")
    got = {name: [] for name in "abc"}
    end = time.monotonic() + 5
    while any(len(v) < 6 for v in got.values()) and time.monotonic() < end:
        loop.server.reactor.run_once()
        for sock, name in ((a, "a"), (b, "b"), (c, "c")):
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            got[name] += [json.loads(line)["message"] for line in data.splitlines() if b'"chat"' in line]
    assert sorted(got["a"]) == ["b0", "b1", "b2", "c0", "c1", "c2"]
    assert sorted(got["b"]) == ["a0", "a1", "a2", "c0", "c1", "c2"]
    assert sorted(got["c"]) == ["a0", "a1", "a2", "b0", "b1", "b2"]
    for frames in got.values():
        for sender in "abc":
            mine = [m for m in frames if m[0] == sender]
            assert mine == sorted(mine)


def _frames(sock: socket.socket, count: int) -> list[tuple]:
    """The first ``count`` frames the socket receives (type, username, message), waiting for them."""
    buf = b""
    end = time.monotonic() + 5
    while buf.count(b"\n") < count and time.monotonic() < end:
        select.select([sock], [], [], 0.1)
        try:
            buf += sock.recv(1 << 20)
        except BlockingIOError:
            continue
    frames = [json.loads(line) for line in buf.splitlines()]
    return [(f["type"], f.get("username"), f.get("message")) for f in frames]


def test_a_turn_of_chats_and_joins_is_one_batch_and_newcomers_get_only_what_followed(loop: Loop) -> None:
    a, b = loop.client("a"), loop.client("b")
    loop.read_until(a, "user_joined")
    c_sock = socket.create_connection(loop.address)
    d_sock = socket.create_connection(loop.address)
    for sock in (c_sock, d_sock):
        sock.setblocking(False)
        loop.socks.append(sock)
    wait_for(lambda: (loop.server.reactor.run_once(), len(loop.server.reactor.conns) == 4)[1], what="accepted")
    conns = sorted(loop.server.reactor.conns.values(), key=lambda c: c.id)
    ca, cb, cc, cd = conns
    flushes = []
    fanout = loop.server.fanout
    real_flush = fanout.flush

    def counting_flush() -> None:
        if fanout.roster is not None:
            flushes.append(len(fanout.events))
        real_flush()

    fanout.flush = counting_flush  # type: ignore[method-assign]
    # one loop turn, as the reactor would hand it over: chats and joins interleaved
    server = loop.server
    server.connections.on_data(ca, b'{"type":"chat","message":"1"}\n')
    server.connections.on_data(cc, b'{"type":"join","username":"c"}\n')
    server.connections.on_data(cb, b'{"type":"chat","message":"2"}\n')
    server.connections.on_data(cd, b'{"type":"join","username":"d"}\n')
    server.connections.on_data(ca, b'{"type":"chat","message":"3"}\n')
    server.connections.on_data(cc, b'{"type":"chat","message":"4"}\n')
    server.reactor.before_sleep()
    assert flushes == [6]  # the welcomes did not split the batch
    chat, joined = "chat", "user_joined"
    assert _frames(a, 4) == [(joined, "c", "c joined the chat"), (chat, "b", "2"), (joined, "d", "d joined the chat"),
                         (chat, "c", "4")]
    assert _frames(b, 5) == [(chat, "a", "1"), (joined, "c", "c joined the chat"), (joined, "d", "d joined the chat"),
                         (chat, "a", "3"), (chat, "c", "4")]
    got_c = _frames(c_sock, 4)
    assert got_c[0][0] == "welcome" and got_c[1:] == [(chat, "b", "2"), (joined, "d", "d joined the chat"),
                                                      (chat, "a", "3")]
    got_d = _frames(d_sock, 3)
    assert got_d[0][0] == "welcome" and got_d[1:] == [(chat, "a", "3"), (chat, "c", "4")]


def test_closed_connections_leave_no_timers_behind() -> None:
    """Issue 21, 13: each connection's keepalive and handshake timers are cancelled when it goes;
    before, they stayed in the heap (holding the connection) until due, --ping-interval later."""
    lp = Loop(ping_interval=600.0, connects_per_minute=0)
    try:
        reactor = lp.server.reactor
        base = reactor.pending_timers()
        for i in range(300):  # join and quit, over real sockets
            sock = lp.client(f"u{i}")
            sock.sendall(b'{"type":"quit"}\n')
            lp.read_until(sock, "<closed>")
            lp.socks.remove(sock)
            sock.close()
        assert not reactor.conns
        assert reactor.pending_timers() < base + 2 * 100  # swept, not 300 connections' worth
    finally:
        lp.close()


def test_a_person_at_nc_is_kept_alive_by_tcp_and_waits_less_when_the_server_is_nearly_full() -> None:
    """Issue 21, 2: text-mode users are never pinged (nc cannot answer), so before they were never
    dropped; and a silent socket had two minutes to name itself however full the server was."""
    lp = Loop(max_clients=10, handshake_timeout=5.0)
    try:
        reactor = lp.server.reactor
        waits = []
        for count in (1, 9):  # alone, then with the server nine-tenths full
            while len(lp.socks) < count:
                lp.socks.append(socket.create_connection(lp.address))
            wait_for(lambda n=count: reactor.run_once() is None and len(reactor.conns) == n, 5, "accepts")
            conn = max(reactor.conns.values(), key=lambda c: c.id)
            wait_for(lambda c=conn: reactor.run_once() is None and c.ctx.codec is not None, 5, "text mode")
            assert conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            assert conn.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 60
            waits.append(round(conn.ctx.handshake.when - reactor.now))
        assert waits == [120, 5]
    finally:
        lp.close()
