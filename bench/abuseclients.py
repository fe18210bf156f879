"""Blocking clients for `make abuse`, each from a source address of its own in 127.0.0.0/8 (Linux
routes the whole block to loopback), so one abuse's per-address limits never touch another's, nor
the well-behaved clients on 127.0.0.1. Every wait has a deadline; a broken promise is ``Failed``."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

DEADLINE = 15.0


class Failed(AssertionError):
    """The server did not do what the abuse's fix promises."""


class Line:
    """A line-framed connection: bytes out, lines in, nothing parsed."""

    def __init__(self, address: tuple[str, int], source: str, rcvbuf: int | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind((source, 0))
        self.sock.settimeout(DEADLINE)
        self.sock.connect(address)
        self.buf = b""
        self.closed = False

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _chunk(self, end: float, size: int, late: str) -> bytes:
        """What arrives before ``end`` (b"" once the server has closed); Failed(``late``) after it."""
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise Failed(late)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(size)
            except TimeoutError:
                continue
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.closed = True
            return chunk

    def line(self, timeout: float = DEADLINE) -> bytes:
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            chunk = self._chunk(end, 65536, f"nothing within {timeout:g} s (buffered {self.buf[:120]!r})")
            if not chunk:
                raise Failed(f"the server closed the connection (buffered {self.buf[:120]!r})")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r")

    def until_closed(self, timeout: float = DEADLINE) -> bytes:
        """Everything up to the server's close, which must come within ``timeout``."""
        data, self.buf = self.buf, b""
        end = time.monotonic() + timeout
        while chunk := self._chunk(end, 1 << 20, "the server did not close the connection"):
            data += chunk
        return data

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Json(Line):
    def frame(self, **fields: Any) -> None:
        self.send(json.dumps(fields).encode() + b"\n")

    def recv(self, timeout: float = DEADLINE) -> dict[str, Any]:
        return json.loads(self.line(timeout))

    def expect(self, kind: str, timeout: float = DEADLINE, **fields: Any) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while True:
            frame = self.recv(max(0.01, end - time.monotonic()))
            if frame.get("type") == kind and all(frame.get(k) == v for k, v in fields.items()):
                return frame

    def error(self, timeout: float = DEADLINE) -> dict[str, Any]:
        return self.expect("error", timeout)

    def join(self, name: str, **extra: Any) -> dict[str, Any]:
        self.frame(type="join", username=name, version=2, **extra)
        frame = self.recv()
        while frame.get("type") not in ("welcome", "error"):
            frame = self.recv()
        return frame


class Irc(Line):
    def __init__(self, address: tuple[str, int], source: str, nick: str | None = None, **kw: Any) -> None:
        super().__init__(address, source, **kw)
        if nick:
            self.say(f"NICK {nick}", f"USER {nick} 0 * :{nick}")
            self.expect(" 001 ")

    def say(self, *lines: str) -> None:
        self.send("".join(line + "\r\n" for line in lines).encode())

    def text(self, timeout: float = DEADLINE) -> str:
        line = self.line(timeout).decode("utf-8", "replace")
        if line.startswith("PING"):
            self.say("PONG" + line[4:])
        return line

    def expect(self, needle: str, timeout: float = DEADLINE) -> str:
        end = time.monotonic() + timeout
        while needle not in (line := self.text(max(0.01, end - time.monotonic()))):
            pass
        return line

    def upto(self, needle: str, timeout: float = DEADLINE) -> list[str]:
        seen: list[str] = []
        end = time.monotonic() + timeout
        while not seen or needle not in seen[-1]:
            seen.append(self.text(max(0.01, end - time.monotonic())))
        return seen


def read_all(sock: socket.socket, timeout: float = DEADLINE) -> bytes:
    data = b""
    sock.settimeout(timeout)
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data
