"""A connection's TLS as one transport object (Redis's TLS ``ConnectionType``), instead of
states spread over the loop: the first byte sniffed on a TLS listener, the non-blocking
handshake either side, and writes of OpenSSL's records."""

from __future__ import annotations

import logging
import socket
import ssl

from selchat.reactor.conn import Conn
from selchat.reactor.events import EventLoop

log = logging.getLogger("selchat.reactor")

# A TLS listener sniffs the first byte, as Redis tells inline from multibulk commands: a TLS
# ClientHello starts with 0x16 (handshake record); anything else is a plain-text client on the
# TLS port, which gets one readable error line instead of silence.
TLS_RECORD = 0x16
# SSLSocket has no sendmsg(): queued buffers are joined into chunks of at most this size (the
# largest TLS record is 16 KiB, so this is a few records a write).
TLS_CHUNK = 256 * 1024

# what a step of the handshake came to
WAITING, OPEN, PLAIN_TEXT, PEER_CLOSED, FAILED = range(5)


class Tls:
    """TLS on one connection: ``step`` until ``OPEN``, then ``send``."""

    __slots__ = ("context", "server_side", "server_name", "sniffing", "want_read", "pinned", "why")

    def __init__(self, context: ssl.SSLContext, *, server_side: bool, server_name: str | None = None) -> None:
        self.context = context
        self.server_side = server_side
        self.server_name = server_name  # what the server's certificate must name (client side)
        self.sniffing = server_side  # a listener's connection may not speak TLS at all
        self.want_read = True  # what the handshake waits for
        self.pinned = False  # SSL_write must be retried with the same buffer
        self.why = ""  # the handshake's failure, for the log and the close reason

    def start(self, conn: Conn, loop: EventLoop) -> None:
        """Wrap the socket; the caller then steps the handshake."""
        loop.unregister(conn)  # wrapping detaches the plain socket the selector knows
        conn.sock = self.context.wrap_socket(conn.sock, server_side=self.server_side,
                                             server_hostname=self.server_name, do_handshake_on_connect=False)
        conn.handshaking = True

    def step(self, conn: Conn, loop: EventLoop) -> int:
        """Advance without blocking. OSError from the sniffing peek is the caller's (a lost peer)."""
        if self.sniffing:
            try:
                first = conn.sock.recv(1, socket.MSG_PEEK)
            except (BlockingIOError, InterruptedError):
                return WAITING
            if not first:
                return PEER_CLOSED
            if first[0] != TLS_RECORD:
                log.info("plain-text client %s on the TLS port", conn.peer)
                return PLAIN_TEXT
            self.sniffing = False
            self.start(conn, loop)
        try:
            conn.sock.do_handshake()  # type: ignore[attr-defined]
        except ssl.SSLWantReadError:
            self.want_read = True
            return WAITING
        except ssl.SSLWantWriteError:
            self.want_read = False
            return WAITING
        except (ssl.SSLError, OSError) as exc:
            why = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or exc
            log.info("TLS handshake with %s failed: %s", conn.peer, why)
            self.why = str(why)
            return FAILED
        return OPEN

    def send(self, conn: Conn) -> int:
        """One write of the queue's head, joined into a chunk unless OpenSSL pinned a buffer."""
        out = conn.out
        if len(out) > 1 and not self.pinned:
            count = size = 0
            while count < len(out) and size < TLS_CHUNK:
                size += len(out[count])
                count += 1
            out[:count] = [b"".join(out[:count])]
        try:
            sent = conn.sock.send(out[0])
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
            self.pinned = True  # OpenSSL wants this same buffer again
            return 0
        self.pinned = False
        return sent
