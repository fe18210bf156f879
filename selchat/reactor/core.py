"""The reactor: connections over the event loop. It knows bytes and connections, never chat.

One loop turn: ``select()``; read once from each readable connection and hand the bytes to its
handler; run due timers; then, before the next ``select()`` (Redis's ``beforeSleep``), run the
owner's ``before_flush`` (what it batched this turn), finish the closes asked for during the
turn, write once to every connection with pending output, then the owner's ``after_flush``
(work nobody waits for, such as a commit, done after the turn's messages are on their way).
``EVENT_WRITE`` is registered only for what a write leaves over.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any

from selchat.config import RECV_SIZE
from selchat.counters import TURN_BUCKETS, Histogram
from selchat.reactor import tls as tls_steps
from selchat.reactor.conn import DISCONNECTED, Conn, Handler, close_quietly, format_peer
from selchat.reactor.events import EVENT_READ, EVENT_WRITE, EventLoop
from selchat.reactor.listeners import Listener, Listeners
from selchat.reactor.output import Output
from selchat.reactor.tls import Tls

log = logging.getLogger("selchat.reactor")


def nothing() -> None:
    pass


class Reactor(EventLoop):
    """Connections, their handlers and their lives: accepted or dialled, read, closed."""

    def __init__(self, *, max_conns: int, max_output: int, before_flush: Callable[[], None] = nothing,
                 after_flush: Callable[[], None] = nothing, reject_payload: bytes = b"", linger: float = 2.0,
                 clock: Callable[[], float] = time.monotonic, plain_on_tls_payload: bytes = b"") -> None:
        super().__init__(clock)
        self.max_conns = max_conns  # the client limit (CLIENT_COUNT): counted listeners only
        self.before_flush, self.after_flush = before_flush, after_flush  # the owner's hooks around the writes
        self.reject_payload = reject_payload  # written to a connection over max_conns
        self.plain_on_tls_payload = plain_on_tls_payload  # to a plain-text client on a TLS listener
        self.linger = linger
        self.conns: dict[int, Conn] = {}
        self._ids = itertools.count(1)
        self.listeners = Listeners(self, self._admit)
        self.output = Output(self, self.conns, max_output, self.close, self._lost)
        # the hot paths, without a hop
        self.send, self.send_many, self.send_parts = self.output.send, self.output.send_many, self.output.send_parts
        self.bytes_in = 0
        self.refused_full = 0
        self.turns = Histogram(TURN_BUCKETS)
        self._closing: list[Conn] = []
        self._lingering: dict[Conn, float] = {}

    # -- connections in ------------------------------------------------------------------------
    def listen(self, host: str, port: int, handler: Handler, *, counted: bool = True,
               tls: ssl.SSLContext | None = None, reuse_port: bool = False) -> tuple[str, int]:
        """Bind and listen for ``handler``'s connections. An uncounted listener's connections do
        not count against ``max_conns`` (the metrics port stays reachable when the chat is full)."""
        return self.listeners.listen(host, port, handler, counted=counted, tls=tls, reuse_port=reuse_port)

    def _admit(self, sock: socket.socket, addr: Any, listener: Listener) -> None:
        peer = format_peer(addr)
        sock.setblocking(False)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            # Without it small frames wait on Nagle's algorithm (asyncio sets it on every transport).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if listener.counted and len(self.conns) >= self.max_conns:
            self.refused_full += 1
            log.info("refused %s: server full (%d connections)", peer, len(self.conns))
            try:
                sock.send(self.reject_payload)
            except OSError:
                pass
            close_quietly(sock)
            return
        conn = Conn(next(self._ids), sock, peer, listener.handler)
        if listener.tls is not None:
            conn.tls = Tls(listener.tls, server_side=True)
            conn.handshaking = True
        self.conns[conn.id] = conn
        self.sel.register(sock, EVENT_READ, conn)
        conn.registered = True
        self._opened(conn)

    def connect(self, host: str, port: int, handler: Handler, *, limit: int = 0,
                tls: ssl.SSLContext | None = None, server_name: str | None = None) -> Conn:
        """An outbound connection (the Redis link): a non-blocking connect whose outcome is the
        handler's ``on_open`` (up) or ``on_close`` (failed, with the reason). ``host`` is a
        literal address (a name is resolved here, which may block: resolve it off the loop
        first). OSError if no socket can be made. With ``tls``, the handshake (checking the
        certificate against ``server_name``, or else ``host``) runs in the loop like a
        client's; what ``on_open`` sends waits for it, and a failed one closes the connection."""
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, type_, proto, _, addr = infos[0]
        sock = socket.socket(family, type_, proto)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Conn(next(self._ids), sock, format_peer(addr), handler)
        conn.connecting = True
        conn.outbound = True
        conn.limit = limit
        if tls is not None:
            conn.tls = Tls(tls, server_side=False, server_name=server_name or host)
        self.conns[conn.id] = conn
        err = sock.connect_ex(addr)
        if err not in (0, errno.EINPROGRESS, errno.EAGAIN):
            self.close(conn, f"connect failed: {os.strerror(err)}")
            return conn
        self.update(conn)
        return conn

    def _connected(self, conn: Conn) -> None:
        conn.connecting = False
        err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.abort(conn, f"connect failed: {os.strerror(err)}")
            return
        if conn.tls is None:
            self.update(conn)
            self._opened(conn)
            return
        try:
            conn.tls.start(conn, self)
        except (ssl.SSLError, OSError, ValueError) as exc:
            self.abort(conn, f"TLS failed: {exc}")
            return
        self._handshake(conn)  # the ClientHello goes now; on_open once the handshake is done

    def _opened(self, conn: Conn) -> None:
        try:
            conn.handler.on_open(conn)
        except Exception:
            self.bugs.exception(log, "opening %s failed", conn.peer)
            self.abort(conn, "internal error")

    def _handshake(self, conn: Conn) -> None:
        """A step of a TLS connection's sniffing or handshake, and what it came to."""
        try:
            outcome = conn.tls.step(conn, self)  # type: ignore[union-attr]
        except OSError as exc:
            self._lost(conn, exc)
            return
        if outcome == tls_steps.PEER_CLOSED:
            self.close(conn, "connection closed by peer")
        elif outcome == tls_steps.PLAIN_TEXT:
            conn.tls, conn.handshaking = None, False
            self.send(conn, self.plain_on_tls_payload)
            self.close(conn, "plain text on the TLS port")
        elif outcome == tls_steps.FAILED:
            why = conn.tls.why  # type: ignore[union-attr]
            conn.tls, conn.handshaking = None, False
            self.abort(conn, f"TLS handshake failed: {why}" if conn.outbound else "TLS handshake failed")
        elif outcome == tls_steps.OPEN:
            conn.handshaking = False
            if conn.outbound:
                self._opened(conn)  # a link of ours is up once its server's certificate holds
            if conn.out:
                self.output.pending.add(conn)
        self.update(conn)

    def _read(self, conn: Conn) -> None:
        try:
            data = conn.sock.recv(RECV_SIZE)
            if conn.tls is not None:
                # OpenSSL may hold decrypted bytes that select() cannot see: take them now.
                while conn.sock.pending():  # type: ignore[attr-defined]
                    data += conn.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except OSError as exc:
            self._lost(conn, exc)
            return
        if not data:
            self.close(conn, "connection closed by peer")
            return
        self.bytes_in += len(data)
        try:
            conn.handler.on_data(conn, data)
        except Exception:
            # A bug while handling one connection closes that connection only.
            self.bugs.exception(log, "error while handling %s; closing it", conn.peer)
            self.abort(conn, "internal error")

    def pause(self, conn: Conn) -> None:
        """Stop reading ``conn`` until its output drains (then its handler's ``on_resume``) or ``resume``."""
        if not conn.paused and not conn.closing:
            conn.paused = True
            self.update(conn)

    def resume(self, conn: Conn) -> None:  # after a pause not for its output (the server's own wait)
        if conn.paused and not conn.closing:
            conn.paused = False
            self.update(conn)

    # -- closing -------------------------------------------------------------------------------
    def close(self, conn: Conn, reason: str) -> None:
        """Close after this turn, once queued output is written (Redis's freeClientAsync)."""
        if conn.closing:
            return
        if conn.handshaking:
            conn.out.clear()  # no plain text into a TLS stream that never started
            conn.out_bytes = 0
        conn.closing = True
        conn.close_reason = reason
        self._closing.append(conn)

    def abort(self, conn: Conn, reason: str) -> None:
        """Close after this turn and drop whatever is queued."""
        conn.out.clear()
        conn.out_bytes = 0
        self.close(conn, reason)

    def _lost(self, conn: Conn, exc: OSError) -> None:
        if exc.errno not in DISCONNECTED:
            log.warning("connection %s failed: %s", conn.peer, exc)
        reason = "connection lost" if exc.errno in DISCONNECTED else f"socket error: {exc.strerror}"
        if conn.closing:
            self._finish(conn)
        else:
            self.abort(conn, reason)

    def _process_closing(self) -> None:
        # on_close may broadcast and so push other connections over their limit: loop until quiet.
        while self._closing:
            batch = self._closing
            self._closing = []
            for conn in batch:
                self._tell_closed(conn)
                if conn.out and not conn.closed:
                    deadline = self.now + self.linger
                    if self.stop_at is not None:
                        deadline = min(deadline, self.stop_at)
                    self._lingering[conn] = deadline
                    self.output.pending.add(conn)
                    self.call_at(deadline, self._reap_lingering)
                else:
                    self._finish(conn)
            self.before_flush()

    def _tell_closed(self, conn: Conn) -> None:
        try:
            conn.handler.on_close(conn, conn.close_reason)
        except Exception:
            self.bugs.exception(log, "closing %s failed", conn.peer)

    def _finish(self, conn: Conn) -> None:
        if conn.closed:
            return
        conn.closed = True
        self._lingering.pop(conn, None)
        self.output.pending.discard(conn)
        self.unregister(conn)
        close_quietly(conn.sock)
        self.conns.pop(conn.id, None)

    def _reap_lingering(self) -> None:
        if not self._lingering:
            return
        now = self.now
        for conn, deadline in list(self._lingering.items()):
            if not conn.out or now >= deadline:
                self._finish(conn)

    # -- the loop ------------------------------------------------------------------------------
    def before_sleep(self) -> None:
        self.before_flush()
        self._process_closing()
        self.output.flush()
        self.after_flush()
        self._reap_lingering()

    def run_once(self) -> None:
        self.before_sleep()
        self.poll()

    def poll(self) -> None:
        """One select() and the work it reports, then the timers that came due."""
        pending = self.output.pending
        for key, mask in self.select():
            target = key.data
            if type(target) is Conn:
                if target.connecting:
                    if not target.closing:
                        self._connected(target)
                    continue
                if target.handshaking:
                    if not target.closing:
                        self._handshake(target)
                    continue
                if mask & EVENT_READ and not target.closing:
                    self._read(target)
                if mask & EVENT_WRITE:
                    pending.add(target)
            else:
                target()
        self.run_timers()

    def run(self) -> None:
        """Run until, after ``drain_and_stop()``, every connection is gone or the grace is over."""
        turns = self.turns
        self.now = self.clock()
        while True:
            self.before_sleep()
            turns.observe(self.clock() - self.now)  # the turn's work: from select()'s return to here
            if self.stop_at is not None and (not self.conns or self.clock() >= self.stop_at):
                break
            self.poll()
        self.before_sleep()
        self.close_all()

    def stop_accepting(self) -> None:
        self.listeners.close()

    def drain_and_stop(self, grace: float) -> None:
        """Stop accepting, close every connection once its output is written, give up after ``grace``."""
        self.stop_accepting()
        self.stop_at = self.now + grace
        for conn in list(self.conns.values()):
            self.close(conn, "server shutdown")

    def close_all(self) -> None:
        for conn in list(self.conns.values()):
            if not conn.closing:
                conn.closing = True
                conn.close_reason = "server shutdown"
                self._tell_closed(conn)
            self._finish(conn)
        self.listeners.close()
        self.sel.close()
