"""The clients the tests speak through, one per way in: raw JSON lines (RawClient), IRC (Irc),
a person at `nc` (Terminal), WebSocket (Ws) and plain HTTP (http, get), and the helpers for
`selchat join` in a pseudo-terminal (the `spawn` fixture is in conftest.py)."""

from __future__ import annotations

import json
import os
import socket
import ssl
import time
from typing import Any

import pexpect
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from tests.helpers import DEADLINE, ServerProcess


class RawClient:
    """A protocol v1 peer over a plain socket, as `nc` would be."""

    def __init__(
        self,
        address: tuple[str, int],
        timeout: float = DEADLINE,
        tls: ssl.SSLContext | None = None,
        server_hostname: str = "localhost",
    ) -> None:
        self.sock = socket.create_connection(address, timeout=timeout)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname=server_hostname)
        self.buf = b""
        self.closed = False

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, **frame: Any) -> None:
        self.sock.sendall(json.dumps(frame).encode() + b"\n")

    def recv(self, timeout: float = DEADLINE) -> dict[str, Any]:
        """The next frame; AssertionError if none arrives in time or the server closed."""
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no frame within {timeout}s (buffered {self.buf[:200]!r})")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                self.closed = True
                raise AssertionError(f"connection closed (buffered {self.buf[:200]!r})")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)

    def expect(self, type_: str, timeout: float = DEADLINE, **fields: Any) -> dict[str, Any]:
        """Skip frames until one of ``type_`` (with matching ``fields``) arrives."""
        end = time.monotonic() + timeout
        seen = []
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {type_} {fields} frame; saw {seen}")
            frame = self.recv(left)
            if frame.get("type") == type_ and all(frame.get(k) == v for k, v in fields.items()):
                return frame
            seen.append(frame)

    def error(self, code: str, timeout: float = DEADLINE) -> dict[str, Any]:
        return self.expect("error", timeout, code=code)

    def join(self, name: str, **extra: Any) -> dict[str, Any]:
        self.send(type="join", username=name, **extra)
        return self.expect("welcome")

    def history(self, room: str, limit: int = 20) -> list[dict[str, Any]]:
        """A page of the room's history (protocol v2): its chat frames, oldest first."""
        self.send(type="history", room=room, limit=limit)
        frames = []
        while (frame := self.recv())["type"] != "history_end":
            frames.append(frame)
        return frames

    def join_room(self, room: str) -> dict[str, Any]:
        """Into one more room (protocol v2); its room_joined."""
        self.send(type="join_room", room=room)
        return self.expect("room_joined")

    def wait_closed(self, timeout: float = DEADLINE) -> list[dict[str, Any]]:
        """Read until the server closes; returns the frames that came before."""
        frames = []
        end = time.monotonic() + timeout
        while True:
            try:
                frames.append(self.recv(max(0.01, end - time.monotonic())))
            except AssertionError:
                if self.closed:
                    return frames
                raise
            except (ConnectionResetError, BrokenPipeError):
                return frames

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Irc:
    """A raw IRC client."""

    def __init__(self, server: ServerProcess, nick: str, caps: str = "", password: str | None = None) -> None:
        self.sock = socket.create_connection(server.address, timeout=DEADLINE)
        self.buf = b""
        lines = []
        if caps:
            lines.append("CAP LS 302")
        if password:
            lines.append(f"PASS {password}")
        lines += [f"NICK {nick}", f"USER {nick} 0 * :{nick}"]
        if caps:
            lines += [f"CAP REQ :{caps}", "CAP END"]
        self.send(*lines)
        self.nick = nick

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(line + "\r\n" for line in lines).encode())

    def upto(self, needle: str) -> list[str]:
        """Every line until the first containing ``needle``, that one included."""
        seen: list[str] = []
        self.expect(needle, seen)
        return seen

    def expect(self, needle: str, seen: list[str] | None = None) -> str:
        """The first line containing ``needle``; lines before it are skipped (or kept in ``seen``)."""
        end = time.monotonic() + DEADLINE
        while True:
            while b"\n" in self.buf:
                raw, _, self.buf = self.buf.partition(b"\n")
                line = raw.decode("utf-8", "replace").rstrip("\r")
                if seen is not None:
                    seen.append(line)
                if needle in line:
                    return line
            if time.monotonic() > end:
                raise AssertionError(f"no line with {needle!r}; buffered {self.buf[-300:]!r}")
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                raise AssertionError(f"closed before {needle!r}")
            self.buf += chunk

    def close(self) -> None:
        self.sock.close()


class Terminal:
    """A person at `nc`: raw lines both ways."""

    def __init__(self, address: tuple[str, int], sock: socket.socket | None = None) -> None:
        self.sock = sock or socket.create_connection(address, timeout=DEADLINE)
        self.buf = b""

    def say(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\r\n")

    def wait(self, text: str) -> str:
        """Read until ``text`` has arrived; everything read so far."""
        end = time.monotonic() + DEADLINE
        while text.encode() not in self.buf:
            if time.monotonic() > end:
                raise AssertionError(f"no {text!r} in {self.buf[-400:]!r}")
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"closed before {text!r}: {self.buf[-400:]!r}")
            self.buf += chunk
        return self.buf.decode("utf-8", "replace")

    def close(self) -> None:
        self.sock.close()


def http(server: ServerProcess, request: bytes, tls: ssl.SSLContext | None = None) -> tuple[int, dict[str, str], bytes]:
    """Send a raw request; (status, headers, body) of the answer, read until the server closes."""
    sock = socket.create_connection(server.address, timeout=DEADLINE)
    if tls is not None:
        sock = tls.wrap_socket(sock, server_hostname="localhost")
    with sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for item in lines:
        name, _, value = item.partition(":")
        headers[name.lower()] = value.strip()
    return int(status_line.split(" ")[1]), headers, body


def get(path: str, *extra: str) -> bytes:
    return ("\r\n".join([f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *extra]) + "\r\n\r\n").encode()


class Ws:
    """A WebSocket client on wsproto."""

    def __init__(self, server: ServerProcess, origin: str | None = None, subprotocols: list[str] | None = None,
                 tls: ssl.SSLContext | None = None, rcvbuf: int | None = None) -> None:
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(DEADLINE)
        self.sock.connect(server.address)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname="localhost")
        self.ws = WSConnection(ConnectionType.CLIENT)
        host = f"127.0.0.1:{server.port}"
        headers = [(b"Origin", origin.encode())] if origin else []
        self.sock.sendall(self.ws.send(Request(host=host, target="/ws", extra_headers=headers,
                                               subprotocols=subprotocols or [])))
        self.events: list[Any] = []
        self.accepted: AcceptConnection | None = None
        self.rejected: int | None = None
        self.closed: CloseConnection | None = None
        self.pings = 0
        while self.accepted is None and self.rejected is None:
            self._read()

    def _read(self, timeout: float = DEADLINE) -> None:
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        self.ws.receive_data(data or None)
        for event in self.ws.events():
            if isinstance(event, AcceptConnection):
                self.accepted = event
            elif isinstance(event, RejectConnection):
                self.rejected = event.status_code
            elif isinstance(event, RejectData):
                pass
            elif isinstance(event, CloseConnection):
                self.closed = event
            elif isinstance(event, Ping):
                self.pings += 1  # answered at once, as a browser does
                self.sock.sendall(self.ws.send(event.response()))
            else:
                self.events.append(event)
        if not data and self.closed is None:
            raise ConnectionError("closed")

    def send(self, **frame: Any) -> None:
        self.sock.sendall(self.ws.send(Message(data=json.dumps(frame))))

    def send_text(self, text: str) -> None:
        self.sock.sendall(self.ws.send(Message(data=text)))

    def text(self, timeout: float = DEADLINE) -> str:
        end = time.monotonic() + timeout
        while not any(isinstance(e, TextMessage) for e in self.events):
            if self.closed is not None:
                raise AssertionError(f"closed: {self.closed}")
            self._read(max(0.01, end - time.monotonic()))
        i = next(i for i, e in enumerate(self.events) if isinstance(e, TextMessage))
        return self.events.pop(i).data

    def expect(self, type_: str, **fields: Any) -> dict[str, Any]:
        end = time.monotonic() + DEADLINE
        while True:
            frame = json.loads(self.text(max(0.01, end - time.monotonic())))
            if frame.get("type") == type_ and all(frame.get(k) == v for k, v in fields.items()):
                return frame

    def expect_line(self, needle: str) -> str:
        end = time.monotonic() + DEADLINE
        while True:
            line = self.text(max(0.01, end - time.monotonic()))
            if needle in line:
                return line

    def wait_closed(self) -> CloseConnection:
        end = time.monotonic() + DEADLINE
        while self.closed is None:
            if time.monotonic() > end:
                raise AssertionError("not closed")
            self._read(max(0.01, end - time.monotonic()))
        return self.closed

    def close(self) -> None:
        self.sock.close()


ENV = {**os.environ, "TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1"}
ENV.pop("NO_COLOR", None)  # the colour tests choose it themselves


def port_args(server: ServerProcess) -> list[str]:
    return ["--host", "127.0.0.1", "--port", str(server.port)]


def joined_child(spawn, server: ServerProcess, name: str, *extra: str) -> pexpect.spawn:
    child = spawn(*port_args(server), "--name", name, "--no-color", *extra)
    child.expect("type /help for commands")
    child.expect(f"{name}>")
    return child


def finished(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    assert "Traceback" not in (child.before or "")
    return child.exitstatus

