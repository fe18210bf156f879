"""One connection as the loop keeps it, and what a connection's owner implements (``Handler``)."""

from __future__ import annotations

import errno
import socket
from typing import TYPE_CHECKING, Any, Protocol

from selchat.config import RECV_SIZE

if TYPE_CHECKING:
    from selchat.reactor.tls import Tls

# pyftpdlib's _ERRNOS_DISCONNECTED: a peer that went away is a normal event, not a bug.
DISCONNECTED = frozenset(
    {
        errno.ECONNRESET,
        errno.ENOTCONN,
        errno.ESHUTDOWN,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.EBADF,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETRESET,
        errno.ENETUNREACH,
    }
)


class Handler(Protocol):
    """What owns a kind of connection (the chat's clients, a metrics scrape, a Redis link): each
    listener and each outbound connection brings its own, as Redis gives each client its
    ``ConnectionType`` and read handler."""

    def on_open(self, conn: Conn) -> None: ...
    def on_data(self, conn: Conn, data: bytes) -> None: ...
    def on_close(self, conn: Conn, reason: str) -> None: ...
    def on_slow(self, conn: Conn) -> bytes:
        """The last words to a client dropped for reading too slowly, in its own protocol."""
        ...

    # A handler may also have ``on_resume(conn)``: its reading, paused by ``Reactor.pause`` or by
    # output past the high-water mark, goes on (asyncio's resume_reading).


class Conn:
    """One socket and what the loop keeps for it: its output queue, its state, its handler."""

    __slots__ = (
        "id",
        "sock",
        "peer",
        "handler",
        "out",
        "out_bytes",
        "head_partial",
        "reading",
        "writing",
        "paused",
        "registered",
        "closing",
        "close_reason",
        "closed",
        "tls",
        "handshaking",
        "ctx",
        "connecting",
        "limit",
        "outbound",
    )

    def __init__(self, conn_id: int, sock: socket.socket, peer: str, handler: Handler) -> None:
        self.id = conn_id
        self.sock = sock
        self.peer = peer
        self.handler = handler
        # a list, not a deque: an empty deque holds a 624-byte block, 6 MB for 10,000 idle clients
        self.out: list[bytes | memoryview] = []
        self.out_bytes = 0  # running count, never sum(map(len, out))
        self.head_partial = False  # out[0] is the rest of a partly written buffer
        self.reading = True
        self.writing = False
        self.paused = False  # reading paused until our own output drains
        self.registered = False
        self.closing = False
        self.close_reason = ""
        self.closed = False
        self.tls: Tls | None = None  # its TLS transport (None: plain TCP)
        self.handshaking = False  # TLS sniffing or handshake under way: no application bytes yet
        self.ctx: Any = None  # the handler's per-connection state
        self.connecting = False  # an outbound connect() not finished yet
        self.limit = 0  # its own output limit (0: the reactor's max_output)
        self.outbound = False  # made by connect(): a link of ours, not a client

    def __repr__(self) -> str:
        return f"<Conn {self.id} {self.peer}{' closing' if self.closing else ''}>"


def format_peer(addr: Any) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host = addr[0]
        return f"[{host}]:{addr[1]}" if ":" in host else f"{host}:{addr[1]}"
    return str(addr)


def close_quietly(sock: socket.socket) -> None:
    """Close after reading what the peer already sent: closing with unread input makes the
    kernel send a reset, which can destroy the error line written just before it."""
    try:
        for _ in range(4):
            if not sock.recv(RECV_SIZE):
                break
    except OSError:  # includes BlockingIOError and ssl.SSLWantReadError
        pass
    try:
        sock.close()
    except OSError:
        pass


def keep_alive(conn: Conn, idle: float) -> None:
    """TCP keepalive on a connection its owner cannot ping: after ``idle`` seconds of silence
    the kernel probes, and a peer that is gone is found within three more probes."""
    sock = conn.sock
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_KEEPIDLE"):  # Linux; macOS has only SO_KEEPALIVE's defaults
            seconds = max(1, int(idle))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, seconds)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, max(1, seconds // 3))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
    except OSError:
        pass  # not TCP (a socketpair in a test): nothing to keep alive
