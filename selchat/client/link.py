"""The client's network side: a connection (asyncio streams and the shared codec), TLS, and
the pacing of lines piped in faster than the server's rate limit."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from typing import Any

from selchat.client.words import ClientError
from selchat.codec import LineDecoder, encode

CONNECT_TIMEOUT = 10.0
# A selchat server answers `join` at once; silence this long means something else is listening.
WELCOME_TIMEOUT = 5.0
# After `quit`, how long to wait for the server's last frames and its close.
QUIT_TIMEOUT = 5.0
MAX_FRAME = 1 << 20  # what the client accepts from a server, in bytes a line



def client_ssl_context(cafile: str | None, insecure: bool) -> ssl.SSLContext:
    if insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise ClientError(f"cannot use {cafile} as a CA file: {getattr(exc, 'strerror', None) or exc}") from exc


class Link:
    """One connection to a server: frames out, frames in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: str) -> None:
        self.reader = reader
        self.writer = writer
        self.address = address
        self._decoder = LineDecoder(MAX_FRAME)
        self._ready: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, host: str, port: int, tls: ssl.SSLContext | None = None) -> Link:
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=tls, server_hostname=host if tls else None),
                CONNECT_TIMEOUT,
            )
        except ConnectionRefusedError:
            raise ClientError(f"cannot connect to {address}: connection refused; is selchat serve running there?")
        except socket.gaierror as exc:
            raise ClientError(f"cannot find host {host!r}: {exc.strerror}")
        except (asyncio.TimeoutError, TimeoutError):
            raise ClientError(f"cannot connect to {address}: no answer within {CONNECT_TIMEOUT:g} s")
        except ssl.SSLCertVerificationError as exc:
            raise ClientError(
                f"{address}: the server's TLS certificate is not trusted ({exc.verify_message}); "
                "pass its certificate with --cafile FILE, or --insecure to skip the check"
            )
        except (ssl.SSLError, ConnectionError) as exc:
            if tls is None:
                raise ClientError(f"cannot connect to {address}: {exc}")
            raise ClientError(f"{address}: TLS handshake failed; is the server started with --tls-cert?")
        except OSError as exc:
            raise ClientError(f"cannot connect to {address}: {exc.strerror or exc}")
        sock = writer.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer, address)

    async def send(self, frame: dict[str, Any]) -> None:
        try:
            self.writer.write(encode(frame))
            await self.writer.drain()
        except (ConnectionError, OSError):
            pass  # the reading side notices the loss and says so

    async def next_frame(self) -> dict[str, Any] | None:
        """The next frame, or None when the server has closed the connection."""
        while not self._ready:
            try:
                data = await self.reader.read(65536)
            except (ConnectionError, OSError, ssl.SSLError):
                data = b""
            if not data:
                return None
            for item in self._decoder.feed(data):
                if type(item) is not dict:
                    raise ClientError(f"{self.address} does not speak the selchat protocol ({item})")
                self._ready.append(item)
        return self._ready.pop(0)

    async def close(self) -> None:
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 1.0)
        except (asyncio.TimeoutError, ConnectionError, OSError, ssl.SSLError):
            pass


class Pacer:
    """Keeps a script under the server's rate limit, so piped lines are not refused.

    It paces a little below the server's bucket (90% of the rate, one token held back) because
    the server counts arrival times, not send times: a line delayed in a busy kernel or a busy
    server turn lands closer to the next one than it left, and pacing exactly at the limit would
    then lose a line to flood control now and again.
    """

    RATE_MARGIN = 0.9

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate * self.RATE_MARGIN
        self.burst = float(max(1, burst - 1))
        self.tokens = self.burst
        self.at = time.monotonic()

    async def wait(self) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            await asyncio.sleep((1 - self.tokens) / self.rate)
            self.tokens = 1.0
            self.at = time.monotonic()
        self.tokens -= 1


