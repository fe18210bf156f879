"""Connecting and joining one worker's clients, each welcome timed from its own connect."""

from __future__ import annotations

import base64
import errno
import json
import os
import selectors
import socket
import time
from array import array
from typing import Any

from selchat.bench.spec import (
    CONNECT_READS_EVERY,
    JOIN_TIMEOUT,
    RECV_SIZE,
    WS_MESSAGE_END,
    BenchError,
    Markers,
    Spec,
    _ran_out,
    room_of,
    speaks_irc,
    speaks_redis,
    speaks_ws,
    ws_frame,
)


def _connect_all(spec: Spec, first: int,
                 count: int) -> tuple[list[socket.socket], list[bytes], list[Markers], dict[str, Any]]:
    return Joining(spec, first, count).run()


class Joining:
    """One worker's clients being connected and joined, each welcome timed from its own connect."""

    def __init__(self, spec: Spec, first: int, count: int) -> None:
        self.spec, self.first, self.count = spec, first, count
        self.socks: list[socket.socket] = []
        self.markers = [Markers.irc() if speaks_irc(spec, first + n) else
                        Markers.redis() if speaks_redis(spec, first + n) else Markers() for n in range(count)]
        self.upgrading: set[int] = set()  # WebSocket clients waiting for 101 Switching Protocols
        self.limits: dict[str, Any] = {}  # the flood control the server's welcome announces
        self.connected_at: list[float] = []
        self.welcomed_at = [0.0] * count
        self.tails = [b""] * count
        self.waiting: set[int] = set()
        self.connecting: set[int] = set()  # connects under way: their hello waits for EVENT_WRITE
        self.addresses: dict[int, tuple[int, Any]] = {}  # port -> (family, address)
        self.sel = selectors.DefaultSelector()

    def run(self) -> tuple[list[socket.socket], list[bytes], list[Markers], dict[str, Any]]:
        first, count = self.first, self.count
        try:
            for i in range(first, first + count):
                if self.socks and (i - first) % CONNECT_READS_EVERY == 0:
                    self.read_ready(0)  # welcomes are read as they come, so each is timed from its own connect
                self.dial(i)
            deadline = time.monotonic() + JOIN_TIMEOUT
            while self.waiting:
                if time.monotonic() > deadline:
                    raise BenchError(f"{len(self.waiting)} clients got no welcome within {JOIN_TIMEOUT:g} s")
                self.read_ready(1.0)
            self.sel.close()
            waits = (w - c for w, c in zip(self.welcomed_at, self.connected_at, strict=True))
            timing = {"connected_at": self.connected_at[0] if self.connected_at else 0.0,
                      "welcomed_at": max(self.welcomed_at, default=0.0), "waits": array("d", waits).tobytes()}
            return self.socks, self.tails, self.markers, {**self.limits, "timing": timing}
        except BaseException:
            self.sel.close()
            for sock in self.socks:
                sock.close()
            raise

    def dial(self, i: int) -> None:
        """Start connecting client ``i`` without waiting: a connect the server's full accept queue
        dropped is retried by the kernel a second later, and a blocking connect would leave every
        other client's welcome unread for that second."""
        spec, n = self.spec, i - self.first
        address = self.address_of(spec.port_of(i))
        self.connected_at.append(time.monotonic())
        try:
            sock = socket.socket(address[0], socket.SOCK_STREAM)
        except OSError as exc:  # out of descriptors, most likely
            self.refused(i, exc)
        sock.setblocking(False)
        self.socks.append(sock)
        code = sock.connect_ex(address[1])
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            self.refused(i, OSError(code, os.strerror(code)))
        self.waiting.add(n)
        if code == 0:
            self.sel.register(sock, selectors.EVENT_READ, n)
            self.greet(i)
        else:
            self.sel.register(sock, selectors.EVENT_WRITE, n)
            self.connecting.add(n)

    def address_of(self, port: int) -> tuple[int, Any]:
        """The family and address of the server on ``port``, looked up once."""
        found = self.addresses.get(port)
        if found is None:
            try:
                family, _, _, _, addr = socket.getaddrinfo(self.spec.host, port, type=socket.SOCK_STREAM)[0]
            except OSError as exc:
                raise BenchError(f"cannot find {self.spec.host}: {exc}")
            found = self.addresses[port] = (family, addr)
        return found

    def refused(self, i: int, exc: OSError) -> None:
        if exc.errno == errno.ECONNREFUSED:
            raise BenchError(f"cannot connect to {self.spec.host}:{self.spec.port_of(i)}: connection refused")
        raise BenchError(_ran_out(self.spec, i, self.first, exc))

    def connected(self, n: int) -> None:
        """Client ``n``'s connect finished: say hello, or say why it failed."""
        sock = self.socks[n]
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self.refused(self.first + n, OSError(code, os.strerror(code)))
        self.connecting.discard(n)
        self.sel.modify(sock, selectors.EVENT_READ, n)
        self.greet(self.first + n)

    def greet(self, i: int) -> None:
        """Send what joins client ``i`` in its protocol (a few hundred bytes: one send takes them)."""
        spec, n = self.spec, i - self.first
        sock = self.socks[n]
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        room = room_of(spec, i)
        if speaks_ws(spec, i):
            key = base64.b64encode(os.urandom(16)).decode()
            hello = (f"GET /ws HTTP/1.1\r\nHost: {spec.host}:{spec.port}\r\nUpgrade: websocket\r\n"
                     f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n").encode()
            self.upgrading.add(n)
        elif speaks_redis(spec, i):  # RESP3, so that a subscriber may PUBLISH on the same connection
            hello = f"HELLO 3\r\nSUBSCRIBE {(room or 'lobby').lstrip('#')}\r\n".encode()
        elif speaks_irc(spec, i):
            # IRC users start in no channel: the lobby is joined like any room
            hello = f"NICK bench{i}\r\nUSER b 0 * :bench\r\nJOIN {room or '#lobby'}\r\n".encode()
        else:
            join: dict[str, Any] = {"type": "join", "username": f"bench{i}"}
            if room:
                join["version"] = 2
            hello = json.dumps(join).encode() + b"\n"
            if room:
                hello += json.dumps({"type": "join_room", "room": room}).encode() + b"\n"
        try:
            sock.sendall(hello)
        except OSError as exc:
            raise BenchError(f"client {i} lost its connection while joining: {exc}")

    def read_ready(self, timeout: float) -> None:
        ready = self.sel.select(timeout)
        received = time.monotonic()
        for key, _ in ready:
            if key.data in self.connecting:
                self.connected(key.data)
            else:
                self.on_ready(key.data, received)

    def joined(self, n: int, received: float) -> None:
        self.waiting.discard(n)
        self.welcomed_at[n] = received

    def on_ready(self, n: int, received: float) -> None:
        i = self.first + n
        try:
            data = self.socks[n].recv(RECV_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            raise BenchError(f"client {i} lost its connection while joining: {exc}")
        if not data:
            raise BenchError(f"the server closed client {i}'s connection while it joined")
        data = self.tails[n] + data
        if n in self.upgrading:
            data = self.upgraded(n, data)
            if data is None:
                return
        if speaks_ws(self.spec, i):
            cut = data.rfind(WS_MESSAGE_END) + 1
            self.tails[n] = data[cut:]
            if n in self.waiting:
                self.ws_answer(n, data[:cut], received)
            return
        cut = data.rfind(b"\n") + 1
        self.tails[n] = data[cut:]
        if n not in self.waiting:
            return
        if speaks_redis(self.spec, i):
            if b"subscribe\r\n" in data[:cut]:
                self.joined(n, received)
            elif data.startswith(b"-"):
                raise BenchError(f"client {i} could not subscribe: {data[:200]!r}")
        elif speaks_irc(self.spec, i):
            self.irc_answer(n, data[:cut], received)
        else:
            self.json_answer(n, data[:cut], received)

    def upgraded(self, n: int, data: bytes) -> bytes | None:
        """The 101 to a WebSocket client: it joins; what follows the head is returned."""
        i = self.first + n
        head_end = data.find(b"\r\n\r\n")
        if head_end < 0:
            self.tails[n] = data
            return None
        if not data.startswith(b"HTTP/1.1 101 "):
            raise BenchError(f"client {i}: no WebSocket at /ws: {data[:head_end][:200]!r}")
        self.upgrading.discard(n)
        room = room_of(self.spec, i)
        join = {"type": "join", "username": f"bench{i}", "version": 2}
        self.socks[n].sendall(ws_frame(json.dumps(join).encode())
                              + (ws_frame(json.dumps({"type": "join_room", "room": room}).encode()) if room else b""))
        return data[head_end + 4:]

    def ws_answer(self, n: int, whole: bytes, received: float) -> None:
        done = b'"type":"room_joined"' if room_of(self.spec, self.first + n) else b'"type":"welcome"'
        if done in whole:
            self.joined(n, received)
        elif b'"type":"error"' in whole:
            raise BenchError(f"client {self.first + n} could not join over WebSocket: {whole[-200:]!r}")

    def irc_answer(self, n: int, whole: bytes, received: float) -> None:
        i = self.first + n
        done = f" 366 bench{i} {room_of(self.spec, i) or '#lobby'} "
        if done.encode() in whole:
            self.joined(n, received)
        elif b" 433 " in whole or b"ERROR :" in whole:
            raise BenchError(f"client {i} could not join over IRC: {whole[-200:]!r}")

    def json_answer(self, n: int, whole: bytes, received: float) -> None:
        for line in whole.splitlines():
            frame = json.loads(line)
            kind = frame.get("type")
            if kind == "welcome":
                self.markers[n] = Markers.from_line(line)
                self.limits["rate_limit"] = frame.get("rate_limit")
                self.limits["burst"] = frame.get("burst")
                if not self.spec.rooms:
                    self.joined(n, received)
                    return
            if kind == "room_joined":
                self.joined(n, received)
                return
            if kind == "error":
                code = frame.get("code")
                if code == "server_full":
                    where = f"{self.spec.host}:{self.spec.port}"
                    raise BenchError(f"the server at {where} is full: {frame.get('message')}")
                raise BenchError(f"client {self.first + n} could not join: {code}: {frame.get('message')}")


