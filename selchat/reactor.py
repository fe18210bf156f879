"""The event loop: sockets, the selector, per-connection output queues, deferred closes, timers.

It knows bytes and connections, never chat or JSON. One loop turn: ``select()``; read once from
each readable connection and hand the bytes to the handler; run due timers; then, before the next
``select()`` (Redis's ``beforeSleep``), let the handler flush what it batched, finish the closes
that were asked for during the turn, and write once to every connection with pending output.
``EVENT_WRITE`` is registered only for what a write leaves over.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import logging
import os
import selectors
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from selchat.config import READ_PAUSE_HIGH, READ_PAUSE_LOW, RECV_SIZE
from selchat.counters import TURN_BUCKETS, Histogram

log = logging.getLogger("selchat.reactor")

EVENT_READ = selectors.EVENT_READ
EVENT_WRITE = selectors.EVENT_WRITE

try:
    IOV_MAX = min(1024, __import__("os").sysconf("SC_IOV_MAX"))
except (AttributeError, ValueError, OSError):  # pragma: no cover - non-POSIX
    IOV_MAX = 16

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
# accept() failures that mean "out of descriptors or memory": pause accepting instead of spinning.
ACCEPT_EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
ACCEPT_PAUSE = 0.5
ACCEPTS_PER_TURN = 256

# TLS states of a connection. A TLS listener sniffs the first byte, as Redis tells inline from
# multibulk commands: a TLS ClientHello starts with 0x16 (handshake record); anything else is a
# plain-text client on the TLS port, which gets one readable error line instead of silence.
PLAIN, SNIFF, HANDSHAKE, TLS = 0, 1, 2, 3
TLS_RECORD = 0x16
# SSLSocket has no sendmsg(): queued buffers are joined into chunks of at most this size (the
# largest TLS record is 16 KiB, so this is a few records a write).
TLS_CHUNK = 256 * 1024


class Handler(Protocol):
    def on_open(self, conn: Conn) -> None: ...
    def on_data(self, conn: Conn, data: bytes) -> None: ...
    def on_close(self, conn: Conn, reason: str) -> None: ...
    def before_flush(self) -> None: ...


class Timer:
    """A scheduled call; ``cancel()`` is lazy (the heap entry is skipped when it comes due)."""

    __slots__ = ("when", "seq", "fn", "args", "cancelled")

    def __init__(self, when: float, seq: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when = when
        self.seq = seq
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: Timer) -> bool:
        return (self.when, self.seq) < (other.when, other.seq)


class Conn:
    """One accepted socket and what the loop keeps for it."""

    __slots__ = (
        "id",
        "sock",
        "peer",
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
        "tls_want",
        "tls_pinned",
        "ctx",
        "tag",
        "connecting",
        "limit",
        "outbound",
        "tls_client",
    )

    def __init__(self, conn_id: int, sock: socket.socket, peer: str) -> None:
        self.id = conn_id
        self.sock = sock
        self.peer = peer
        self.out: deque[bytes | memoryview] = deque()
        self.out_bytes = 0  # running count, never sum(map(len, out))
        self.head_partial = False  # out[0] is the rest of a partly written buffer
        self.reading = True
        self.writing = False
        self.paused = False  # reading paused until our own output drains
        self.registered = False
        self.closing = False
        self.close_reason = ""
        self.closed = False
        self.tls = PLAIN
        self.tls_want = EVENT_READ  # what the TLS handshake waits for
        self.tls_pinned = False  # SSL_write must be retried with the same buffer
        self.ctx: Any = None  # the handler's per-connection state
        self.tag: str | None = None  # the listener's tag (None: the chat port), or an outbound link's
        self.connecting = False  # an outbound connect() not finished yet
        self.limit: int | None = None  # its own output limit (None: the reactor's max_output)
        self.outbound = False  # made by connect(): a link of ours, not a client
        self.tls_client: tuple[ssl.SSLContext, str] | None = None  # connect()'s TLS: (context, server name)

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


class Reactor:
    def __init__(
        self,
        handler: Handler,
        *,
        max_conns: int,
        max_output: int,
        reject_payload: bytes = b"",
        slow_payload: bytes = b"",
        linger: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        ssl_context: ssl.SSLContext | None = None,
        plain_on_tls_payload: bytes = b"",
    ) -> None:
        self.handler = handler
        self.max_conns = max_conns
        self.max_output = max_output
        self.reject_payload = reject_payload  # written to a connection over max_conns
        self.slow_payload = slow_payload  # written (best effort) to a dropped slow consumer
        self.linger = linger
        self.clock = clock
        self.ssl_context = ssl_context
        self.plain_on_tls_payload = plain_on_tls_payload
        self.now = clock()
        self.sel = selectors.DefaultSelector()
        self.conns: dict[int, Conn] = {}
        self._ids = itertools.count(1)
        self._listeners: list[socket.socket] = []
        self._tags: dict[socket.socket, str | None] = {}
        # counters for the metrics endpoint: bumped once per syscall or turn, read when scraped
        self.bytes_in = 0
        self.bytes_out = 0
        self.refused_full = 0
        self.slow_consumers = 0
        self.turns = Histogram(TURN_BUCKETS)
        self._accept_paused = False
        self._pending: set[Conn] = set()
        self._closing: list[Conn] = []
        self._lingering: dict[Conn, float] = {}
        self._timers: list[Timer] = []
        self._seq = itertools.count()
        self._stop_at: float | None = None

    # -- set-up --------------------------------------------------------------------------------
    def listen(self, host: str, port: int, backlog: int = socket.SOMAXCONN, *,
               tag: str | None = None, reuse_port: bool = False) -> tuple[str, int]:
        """Bind and listen; returns the bound (host, port). Raises OSError as bind() does.
        Connections from a tagged listener carry its tag and are not counted against
        ``max_conns`` (the metrics port stays reachable when the chat is full)."""
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, type_, proto, _, addr = infos[0]
        sock = socket.socket(family, type_, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:  # several processes on one port (serve --workers): the kernel spreads connections
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(addr)
            sock.listen(backlog)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._listeners.append(sock)
        self._tags[sock] = tag
        self.sel.register(sock, EVENT_READ, self._accept)
        bound = sock.getsockname()
        return bound[0], bound[1]

    def connect(self, host: str, port: int, tag: str, limit: int | None = None,
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
        conn = Conn(next(self._ids), sock, format_peer(addr))
        conn.tag = tag
        conn.connecting = True
        conn.outbound = True
        conn.limit = limit
        conn.tls_client = (tls, server_name or host) if tls is not None else None
        self.conns[conn.id] = conn
        err = sock.connect_ex(addr)
        if err not in (0, errno.EINPROGRESS, errno.EAGAIN):
            self.close(conn, f"connect failed: {os.strerror(err)}")
            return conn
        self._update(conn)
        return conn

    def _connected(self, conn: Conn) -> None:
        err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            conn.connecting = False
            self.abort(conn, f"connect failed: {os.strerror(err)}")
            return
        conn.connecting = False
        if conn.tls_client is not None:
            context, server_name = conn.tls_client
            if conn.registered:
                self.sel.unregister(conn.sock)
                conn.registered = False
            try:
                conn.sock = context.wrap_socket(conn.sock, server_side=False, server_hostname=server_name,
                                                do_handshake_on_connect=False)
            except (ssl.SSLError, OSError, ValueError) as exc:
                self.abort(conn, f"TLS failed: {exc}")
                return
            conn.tls = HANDSHAKE
            self._tls_step(conn)  # the ClientHello goes now; on_open once the handshake is done
            return
        self._update(conn)
        self._opened(conn)

    def _opened(self, conn: Conn) -> None:
        try:
            self.handler.on_open(conn)
        except Exception:
            log.exception("opening %s failed", conn.peer)
            self.abort(conn, "internal error")

    def add_reader(self, fileobj: Any, callback: Callable[[], None]) -> None:
        self.sel.register(fileobj, EVENT_READ, callback)

    def remove_reader(self, fileobj: Any) -> None:
        try:
            self.sel.unregister(fileobj)
        except (KeyError, ValueError):
            pass

    # -- timers --------------------------------------------------------------------------------
    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        return self.call_at(self.now + delay, fn, *args)

    def call_at(self, when: float, fn: Callable[..., Any], *args: Any) -> Timer:
        timer = Timer(when, next(self._seq), fn, args)
        heapq.heappush(self._timers, timer)
        return timer

    def _run_timers(self) -> None:
        timers = self._timers
        now = self.now
        while timers and timers[0].when <= now:
            timer = heapq.heappop(timers)
            if timer.cancelled:
                continue
            try:
                timer.fn(*timer.args)
            except Exception:
                log.exception("timer %r failed", timer.fn)

    def _timeout(self) -> float | None:
        timers = self._timers
        while timers and timers[0].cancelled:
            heapq.heappop(timers)
        deadline = timers[0].when if timers else None
        if self._stop_at is not None:
            deadline = self._stop_at if deadline is None else min(deadline, self._stop_at)
        if deadline is None:
            return None
        return max(0.0, deadline - self.clock())

    # -- output --------------------------------------------------------------------------------
    def send(self, conn: Conn, data: bytes | memoryview) -> None:
        """Queue bytes for one connection; they are written before the next select()."""
        if conn.closing:
            return  # a closing connection is no longer a target
        conn.out.append(data)
        conn.out_bytes += len(data)
        if conn.out_bytes > (conn.limit or self.max_output):
            self._slow_consumer(conn)
        self._pending.add(conn)

    def send_many(self, ids: Iterable[int], data: bytes | memoryview, skip: Any = ()) -> None:
        """Queue the same bytes object for many connections: the hot path of a broadcast."""
        conns = self.conns
        pending = self._pending
        size = len(data)
        limit = self.max_output
        for cid in ids:
            conn = conns.get(cid)
            if conn is None or conn.closing or cid in skip:
                continue
            conn.out.append(data)
            conn.out_bytes += size
            if conn.out_bytes > limit:
                self._slow_consumer(conn)
            pending.add(conn)

    def send_parts(self, conn_id: int, parts: list[memoryview]) -> None:
        conn = self.conns.get(conn_id)
        if conn is None or conn.closing:
            return
        for part in parts:
            if part:
                conn.out.append(part)
                conn.out_bytes += len(part)
        if conn.out_bytes > self.max_output:
            self._slow_consumer(conn)
        self._pending.add(conn)

    def _slow_consumer(self, conn: Conn) -> None:
        """Redis's hard output limit: drop what the reader never read, keep frame boundaries."""
        self.slow_consumers += 1
        out = conn.out
        keep = out.popleft() if conn.head_partial and out else None
        out.clear()
        conn.out_bytes = 0
        if keep is not None:
            out.append(keep)
            conn.out_bytes = len(keep)
        else:
            conn.head_partial = False
        if self.slow_payload and not conn.outbound:  # a client is told why; a link of ours is just cut
            out.append(self.slow_payload)
            conn.out_bytes += len(self.slow_payload)
        self.close(conn, "slow_consumer")

    def _write(self, conn: Conn) -> None:
        out = conn.out
        if not out or conn.closed or conn.connecting or conn.tls in (SNIFF, HANDSHAKE):
            return
        try:
            if conn.tls:
                sent = self._send_tls(conn)
            elif len(out) == 1:
                sent = conn.sock.send(out[0])
            else:
                sent = conn.sock.sendmsg(list(itertools.islice(out, IOV_MAX)))
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self._lost(conn, exc)
            return
        conn.out_bytes -= sent
        self.bytes_out += sent
        while sent:
            head = out[0]
            size = len(head)
            if sent >= size:
                out.popleft()
                sent -= size
            else:
                out[0] = memoryview(head)[sent:]
                conn.head_partial = True
                break
        else:
            conn.head_partial = False
        if conn.paused and conn.out_bytes <= READ_PAUSE_LOW:
            conn.paused = False
        elif not conn.paused and conn.out_bytes > READ_PAUSE_HIGH:
            conn.paused = True  # asyncio's pause_reading(): stop reading a sender we can't answer
        self._update(conn)

    def _send_tls(self, conn: Conn) -> int:
        out = conn.out
        if len(out) > 1 and not conn.tls_pinned:
            parts = []
            size = 0
            while out and size < TLS_CHUNK:
                part = out.popleft()
                parts.append(part)
                size += len(part)
            out.appendleft(b"".join(parts))
        try:
            sent = conn.sock.send(out[0])
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
            conn.tls_pinned = True  # OpenSSL wants this same buffer again
            return 0
        conn.tls_pinned = False
        return sent

    def _flush(self) -> None:
        pending = self._pending
        if not pending:
            return
        self._pending = set()
        write = self._write
        written = 0  # added to bytes_out once, not once per connection
        for conn in pending:
            out = conn.out
            # The common case, kept lean because it runs once per recipient per turn: one
            # buffer, written whole, on a plain socket whose registration need not change.
            if len(out) == 1 and not conn.tls and not conn.writing and not conn.paused and not conn.closed:
                data = out[0]
                try:
                    sent = conn.sock.send(data)
                except (BlockingIOError, InterruptedError):
                    sent = 0
                except OSError as exc:
                    self._lost(conn, exc)
                    continue
                written += sent
                if sent == len(data):
                    out.clear()
                    conn.out_bytes = 0
                    conn.head_partial = False
                    continue
                conn.out_bytes -= sent
                if sent:
                    out[0] = memoryview(data)[sent:]
                    conn.head_partial = True
                self._update(conn)  # the rest waits for EVENT_WRITE
                continue
            write(conn)
        self.bytes_out += written

    def _update(self, conn: Conn) -> None:
        """Bring the selector registration in line with what the connection wants now."""
        if conn.closed:
            return
        if conn.tls in (SNIFF, HANDSHAKE):
            want_read = conn.tls_want == EVENT_READ
            want_write = not want_read
        elif conn.connecting:
            want_read, want_write = False, True  # a non-blocking connect is done when writable
        else:
            want_read = not conn.closing and not conn.paused
            want_write = bool(conn.out)
        if conn.registered and want_read == conn.reading and want_write == conn.writing:
            return
        events = (EVENT_READ if want_read else 0) | (EVENT_WRITE if want_write else 0)
        if not events:
            if conn.registered:
                self.sel.unregister(conn.sock)
                conn.registered = False
        elif conn.registered:
            self.sel.modify(conn.sock, events, conn)
        else:
            self.sel.register(conn.sock, events, conn)
            conn.registered = True
        conn.reading = want_read
        conn.writing = want_write

    # -- closing -------------------------------------------------------------------------------
    def close(self, conn: Conn, reason: str) -> None:
        """Close after this turn, once queued output is written (Redis's freeClientAsync)."""
        if conn.closing:
            return
        if conn.tls in (SNIFF, HANDSHAKE):
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
                try:
                    self.handler.on_close(conn, conn.close_reason)
                except Exception:
                    log.exception("closing %s failed", conn.peer)
                if conn.out and not conn.closed:
                    deadline = self.now + self.linger
                    if self._stop_at is not None:
                        deadline = min(deadline, self._stop_at)
                    self._lingering[conn] = deadline
                    self._pending.add(conn)
                    self.call_at(deadline, self._reap_lingering)
                else:
                    self._finish(conn)
            self.handler.before_flush()

    def _finish(self, conn: Conn) -> None:
        if conn.closed:
            return
        conn.closed = True
        self._lingering.pop(conn, None)
        self._pending.discard(conn)
        if conn.registered:
            try:
                self.sel.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
        conn.registered = False
        close_quietly(conn.sock)
        self.conns.pop(conn.id, None)

    def _reap_lingering(self) -> None:
        if not self._lingering:
            return
        now = self.now
        for conn, deadline in list(self._lingering.items()):
            if not conn.out or now >= deadline:
                self._finish(conn)

    # -- input ---------------------------------------------------------------------------------
    def _accept(self) -> None:
        for lsock in self._listeners:
            for _ in range(ACCEPTS_PER_TURN):
                try:
                    sock, addr = lsock.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as exc:
                    if exc.errno in ACCEPT_EXHAUSTED:
                        log.error("accept failed (%s); pausing accepts for %.1fs", exc, ACCEPT_PAUSE)
                        self._pause_accepting(ACCEPT_PAUSE)
                        return
                    if exc.errno in DISCONNECTED or exc.errno == errno.EPROTO:
                        continue
                    raise
                self._admit(sock, addr, self._tags.get(lsock))

    def _admit(self, sock: socket.socket, addr: Any, tag: str | None = None) -> None:
        peer = format_peer(addr)
        sock.setblocking(False)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            # Without it small frames wait on Nagle's algorithm (asyncio sets it on every transport).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tag is None and len(self.conns) >= self.max_conns:
            self.refused_full += 1
            log.info("refused %s: server full (%d connections)", peer, len(self.conns))
            try:
                sock.send(self.reject_payload)
            except OSError:
                pass
            close_quietly(sock)
            return
        conn = Conn(next(self._ids), sock, peer)
        conn.tag = tag
        if self.ssl_context is not None and tag is None:
            conn.tls = SNIFF
        self.conns[conn.id] = conn
        self.sel.register(sock, EVENT_READ, conn)
        conn.registered = True
        try:
            self.handler.on_open(conn)
        except Exception:
            log.exception("opening %s failed", peer)
            self.abort(conn, "internal error")

    def _pause_accepting(self, delay: float) -> None:
        if self._accept_paused:
            return
        self._accept_paused = True
        for lsock in self._listeners:
            self.sel.unregister(lsock)
        self.call_later(delay, self._resume_accepting)

    def _resume_accepting(self) -> None:
        if not self._accept_paused or self._stop_at is not None:
            return
        self._accept_paused = False
        for lsock in self._listeners:
            self.sel.register(lsock, EVENT_READ, self._accept)

    def stop_accepting(self) -> None:
        for lsock in self._listeners:
            if not self._accept_paused:
                self.sel.unregister(lsock)
            lsock.close()
        self._listeners = []
        self._accept_paused = True

    def _read(self, conn: Conn) -> None:
        try:
            data = conn.sock.recv(RECV_SIZE)
            if conn.tls:
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
            self.handler.on_data(conn, data)
        except Exception:
            # A bug while handling one connection closes that connection only.
            log.exception("error while handling %s; closing it", conn.peer)
            self.abort(conn, "internal error")

    def _tls_step(self, conn: Conn) -> None:
        """Advance a TLS connection's sniffing or handshake without blocking."""
        if conn.tls == SNIFF:
            try:
                first = conn.sock.recv(1, socket.MSG_PEEK)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._lost(conn, exc)
                return
            if not first:
                self.close(conn, "connection closed by peer")
                return
            if first[0] != TLS_RECORD:
                log.info("plain-text client %s on the TLS port", conn.peer)
                conn.tls = PLAIN
                self.send(conn, self.plain_on_tls_payload)
                self.close(conn, "plain text on the TLS port")
                return
            assert self.ssl_context is not None
            self.sel.unregister(conn.sock)
            conn.registered = False
            conn.sock = self.ssl_context.wrap_socket(
                conn.sock, server_side=True, do_handshake_on_connect=False
            )
            conn.tls = HANDSHAKE
        try:
            conn.sock.do_handshake()  # type: ignore[attr-defined]
        except ssl.SSLWantReadError:
            conn.tls_want = EVENT_READ
        except ssl.SSLWantWriteError:
            conn.tls_want = EVENT_WRITE
        except (ssl.SSLError, OSError) as exc:
            why = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or exc
            log.info("TLS handshake with %s failed: %s", conn.peer, why)
            conn.tls = PLAIN
            self.abort(conn, f"TLS handshake failed: {why}" if conn.outbound else "TLS handshake failed")
        else:
            conn.tls = TLS
            if conn.outbound:
                self._opened(conn)  # a link of ours is up once its server's certificate holds
            if conn.out:
                self._pending.add(conn)
        self._update(conn)

    # -- the loop ------------------------------------------------------------------------------
    def before_sleep(self) -> None:
        self.handler.before_flush()
        self._process_closing()
        self._flush()
        self._reap_lingering()

    def run_once(self) -> None:
        self.before_sleep()
        self.poll()

    def poll(self) -> None:
        """One select() and the work it reports, then the timers that came due."""
        events = self.sel.select(self._timeout())
        self.now = self.clock()
        pending = self._pending
        for key, mask in events:
            target = key.data
            if type(target) is Conn:
                if target.connecting:
                    if not target.closing:
                        self._connected(target)
                    continue
                if target.tls in (SNIFF, HANDSHAKE):
                    if not target.closing:
                        self._tls_step(target)
                    continue
                if mask & EVENT_READ and not target.closing:
                    self._read(target)
                if mask & EVENT_WRITE:
                    pending.add(target)
            else:
                target()
        self._run_timers()

    def run(self) -> None:
        """Run until, after ``drain_and_stop()``, every connection is gone or the grace is over."""
        turns = self.turns
        self.now = self.clock()
        while True:
            self.before_sleep()
            turns.observe(self.clock() - self.now)  # the turn's work: from select()'s return to here
            if self._stop_at is not None and (not self.conns or self.clock() >= self._stop_at):
                break
            self.poll()
        self.before_sleep()
        self.close_all()

    def drain_and_stop(self, grace: float) -> None:
        """Stop accepting, close every connection once its output is written, give up after ``grace``."""
        self.stop_accepting()
        self._stop_at = self.now + grace
        for conn in list(self.conns.values()):
            self.close(conn, "server shutdown")

    def close_all(self) -> None:
        for conn in list(self.conns.values()):
            if not conn.closing:
                conn.closing = True
                conn.close_reason = "server shutdown"
                try:
                    self.handler.on_close(conn, conn.close_reason)
                except Exception:
                    log.exception("closing %s failed", conn.peer)
            self._finish(conn)
        for lsock in self._listeners:
            lsock.close()
        self._listeners = []
        self.sel.close()
