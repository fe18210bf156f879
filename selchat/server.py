"""The glue between the reactor and the chat core.

Per connection: a decoder, the time of its last bytes, and its handshake and keepalive timers.
Per frame: parse, ask the hub, encode each resulting frame once and hand the bytes to the reactor.
Broadcasts to one room within a loop turn are batched: their frames are joined once and the same
``bytes`` object goes to every member who sent none of them; a member who did gets zero-copy
slices of it around its own frames. Anything addressed to particular connections, and any change
of a room's membership, flushes the batch first, so every client sees frames in the order the
hub produced them.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import ssl
import sys
import time
from collections.abc import Callable
from typing import Any

from selchat.codec import LineDecoder, encode
from selchat.config import SPARE_FDS, ServerConfig
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import Join, parse
from selchat.fdlimit import raise_open_file_limit
from selchat.hub import Broadcast, Close, Effect, Hub, Send
from selchat.reactor import Conn, Reactor, Timer

log = logging.getLogger("selchat.server")

# Protocol errors logged per connection before the rest go to DEBUG (a broken client can send
# thousands; the log should not be its megaphone).
ERRORS_LOGGED = 5


class ConnState:
    __slots__ = ("decoder", "last_rx", "handshake", "keepalive", "pinged_at", "errors", "name", "fresh")

    def __init__(self, decoder: LineDecoder, now: float) -> None:
        self.decoder = decoder
        self.last_rx = now
        self.handshake: Timer | None = None
        self.keepalive: Timer | None = None
        self.pinged_at: float | None = None
        self.errors = 0
        self.name: str | None = None
        self.fresh = True  # no bytes seen yet


def error_payload(code: ErrorCode, message: str) -> bytes:
    return encode(ProtocolError(code, message).to_frame())


def server_ssl_context(cert: str, key: str) -> ssl.SSLContext:
    """TLS 1.2+ with the certificate and key given; raises OSError or ssl.SSLError if unusable."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


class ChatServer:
    def __init__(
        self,
        config: ServerConfig,
        *,
        wall_clock: Callable[[], float] = time.time,
        out: Any = None,
    ) -> None:
        self.config = config
        self.hub = Hub(config)
        self.wall_clock = wall_clock
        self.out = out if out is not None else sys.stdout
        self.reactor = Reactor(
            self,
            max_conns=config.max_clients,
            max_output=config.max_output,
            reject_payload=error_payload(
                ErrorCode.SERVER_FULL, f"server is full ({config.max_clients} clients); try later"
            ),
            slow_payload=error_payload(
                ErrorCode.SLOW_CONSUMER,
                f"you fell {config.max_output} bytes behind reading; disconnected",
            ),
            linger=config.linger,
            ssl_context=(
                server_ssl_context(config.tls_cert, config.tls_key)
                if config.tls_cert and config.tls_key
                else None
            ),
            plain_on_tls_payload=error_payload(
                ErrorCode.TLS_REQUIRED, "this server speaks TLS; connect with: selchat join --tls"
            ),
        )
        self.banned_hosts: set[str] = set()
        self.address: tuple[str, int] | None = None
        self.shutting_down = False
        self._batch_targets: tuple[int, ...] | None = None
        self._batch_frames: list[bytes] = []
        self._batch_excluded: list[tuple[int, int]] = []  # (connection id, frame index)
        self._console_buf = b""
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._signalled: list[int] = []

    # -- set-up --------------------------------------------------------------------------------
    def listen(self) -> tuple[str, int]:
        self.address = self.reactor.listen(self.config.host, self.config.port)
        return self.address

    def serve_forever(self, *, console: bool = False, signals: bool = True) -> None:
        if signals:
            self._install_signals()
        if console:
            self.reactor.add_reader(sys.stdin.fileno(), self._console_readable)
        try:
            self.reactor.run()
        finally:
            if signals:
                self._restore_signals()
            log.info("server stopped")

    def _install_signals(self) -> None:
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        # A signal wakes select() through this socket; the handler itself only records it.
        self._old_wakeup = signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        self._old_handlers = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        self.reactor.add_reader(self._wake_r, self._wake_readable)

    def _restore_signals(self) -> None:
        signal.set_wakeup_fd(self._old_wakeup)
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._signalled.append(signum)

    def _wake_readable(self) -> None:
        try:
            while self._wake_r is not None and self._wake_r.recv(512):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        while self._signalled:
            signum = self._signalled.pop()
            log.info("received %s", signal.Signals(signum).name)
            self.shutdown()

    # -- reactor callbacks ---------------------------------------------------------------------
    def on_open(self, conn: Conn) -> None:
        host = conn.peer.rsplit(":", 1)[0].strip("[]")
        if host in self.banned_hosts:
            log.info("refused %s: banned address", conn.peer)
            self.reactor.send(conn, error_payload(ErrorCode.BANNED, "you are banned from this server"))
            self.reactor.close(conn, "banned")
            return
        reactor = self.reactor
        ctx = ConnState(LineDecoder(self.config.max_frame), reactor.now)
        conn.ctx = ctx
        self.hub.connect(conn.id, self.wall_clock())
        ctx.handshake = reactor.call_later(self.config.handshake_timeout, self._handshake_expired, conn)
        ctx.keepalive = reactor.call_later(self.config.ping_interval, self._keepalive, conn)
        log.info("connect %s (%d connections)", conn.peer, len(reactor.conns))

    def on_data(self, conn: Conn, data: bytes) -> None:
        ctx: ConnState = conn.ctx
        ctx.last_rx = self.reactor.now
        if ctx.fresh:
            ctx.fresh = False
            if data[0] == 0x16 and self.reactor.ssl_context is None:
                # a TLS ClientHello on the plain port: it cannot read a plain error, so just close
                log.info("TLS client %s on a plain port", conn.peer)
                self.reactor.close(conn, "TLS on the plain port")
                return
        now = self.wall_clock()
        hub = self.hub
        for item in ctx.decoder.feed(data):
            if conn.closing:
                return  # once closing, its input is ignored
            if type(item) is not dict:
                self._error(conn, item)  # a FrameError from the decoder
                continue
            try:
                command = parse(item)
                effects = hub.handle(conn.id, command, now)
            except ProtocolError as exc:
                self._error(conn, exc)
                continue
            if type(command) is Join:
                self._joined(conn, ctx, command.username)
            self.apply(effects)

    def on_close(self, conn: Conn, reason: str) -> None:
        ctx: ConnState | None = conn.ctx
        if ctx is None:
            return
        for timer in (ctx.handshake, ctx.keepalive):
            if timer is not None:
                timer.cancel()
        self._flush_batch()  # membership is about to change
        shown = None if reason == "quit" else reason.replace("_", " ")
        self.apply(self.hub.disconnect(conn.id, self.wall_clock(), shown))
        who = f"{ctx.name} ({conn.peer})" if ctx.name else conn.peer
        log.info("%s %s: %s", "leave" if ctx.name else "disconnect", who, reason)

    def before_flush(self) -> None:
        self._flush_batch()

    # -- effects -------------------------------------------------------------------------------
    def apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            kind = type(effect)
            if kind is Broadcast:
                self._queue_broadcast(effect.targets, effect.exclude, encode(effect.frame))  # type: ignore[union-attr]
            elif kind is Send:
                self._flush_batch()
                self.reactor.send_many(effect.targets, encode(effect.frame))  # type: ignore[union-attr]
            else:
                assert isinstance(effect, Close)
                self._flush_batch()
                conn = self.reactor.conns.get(effect.conn_id)
                if conn is not None:
                    self.reactor.close(conn, effect.reason)

    def _queue_broadcast(self, targets: tuple[int, ...], exclude: int | None, payload: bytes) -> None:
        if targets is not self._batch_targets:
            self._flush_batch()
            self._batch_targets = targets
        if exclude is not None:
            self._batch_excluded.append((exclude, len(self._batch_frames)))
        self._batch_frames.append(payload)

    def _flush_batch(self) -> None:
        targets = self._batch_targets
        if targets is None:
            return
        frames = self._batch_frames
        excluded = self._batch_excluded
        self._batch_targets = None
        self._batch_frames = []
        self._batch_excluded = []
        joined = frames[0] if len(frames) == 1 else b"".join(frames)
        if not excluded:
            self.reactor.send_many(targets, joined)
            return
        own: dict[int, list[int]] = {}
        for conn_id, index in excluded:
            own.setdefault(conn_id, []).append(index)
        self.reactor.send_many(targets, joined, skip=own)
        if len(own) == 1 and len(frames) == 1:
            return  # one frame from one sender: the sender gets nothing back
        starts = [0] * (len(frames) + 1)
        offset = 0
        for i, frame in enumerate(frames):
            offset += len(frame)
            starts[i + 1] = offset
        view = memoryview(joined)
        send_parts = self.reactor.send_parts
        for conn_id, indexes in own.items():
            parts = []
            begin = 0
            for index in indexes:
                parts.append(view[begin : starts[index]])
                begin = starts[index + 1]
            parts.append(view[begin:])
            send_parts(conn_id, parts)

    def _error(self, conn: Conn, exc: ProtocolError) -> None:
        ctx: ConnState = conn.ctx
        ctx.errors += 1
        level = logging.INFO if ctx.errors <= ERRORS_LOGGED or exc.closes else logging.DEBUG
        who = f"{ctx.name} ({conn.peer})" if ctx.name else conn.peer
        log.log(level, "error %s to %s: %s", exc.code.value, who, exc.message)
        self._flush_batch()
        self.reactor.send(conn, encode(exc.to_frame()))
        if exc.closes:
            self.reactor.close(conn, exc.code.value)
            return
        if exc.code is not ErrorCode.RATE_LIMITED:  # that one has spent its token already
            try:
                self.hub.penalize(conn.id, self.wall_clock())
            except ProtocolError as flood:
                self._error(conn, flood)

    def _joined(self, conn: Conn, ctx: ConnState, name: str) -> None:
        ctx.name = name
        if ctx.handshake is not None:
            ctx.handshake.cancel()
            ctx.handshake = None
        log.info("join %s (%s)", name, conn.peer)

    # -- timers --------------------------------------------------------------------------------
    def _handshake_expired(self, conn: Conn) -> None:
        if conn.closing or conn.ctx.name is not None:
            return
        secs = self.config.handshake_timeout
        self._error(conn, ProtocolError(ErrorCode.HANDSHAKE_TIMEOUT, f"no join within {secs:g} s"))

    def _keepalive(self, conn: Conn) -> None:
        """Ping after ``ping_interval`` of silence; drop after as long again (lazy reset).

        Bytes arriving only update ``last_rx``; the timer, when it comes due, works out whether
        the client was silent, so a busy connection costs no timer work per frame.
        """
        if conn.closing:
            return
        ctx: ConnState = conn.ctx
        interval = self.config.ping_interval
        now = self.reactor.now
        silent = now - ctx.last_rx
        if silent < interval:
            when = ctx.last_rx + interval
        elif ctx.pinged_at is None or ctx.last_rx > ctx.pinged_at:
            # silent for a whole interval (again): ask whether it is still there
            ctx.pinged_at = now
            self._flush_batch()
            self.reactor.send(conn, encode({"type": "ping", "id": int(self.wall_clock())}))
            when = now + interval
        else:
            self._error(conn, ProtocolError(ErrorCode.IDLE_TIMEOUT, f"silent for {silent:.0f} s"))
            return
        ctx.keepalive = self.reactor.call_at(when, self._keepalive, conn)

    # -- operator ------------------------------------------------------------------------------
    def shutdown(self, message: str = "Server is shutting down") -> None:
        if self.shutting_down:
            return
        self.shutting_down = True
        log.info("shutting down: %d connections", len(self.reactor.conns))
        self.apply(self.hub.shutdown(self.wall_clock(), message))
        self._flush_batch()
        self.reactor.drain_and_stop(self.config.shutdown_grace)

    def announce(self, text: str) -> None:
        self.apply(self.hub.announce(text, self.wall_clock()))

    def kick(self, name: str, *, ban: bool = False) -> bool:
        conn_id = self.hub.find(name)
        if ban:
            self.hub.banned_names.add(name.casefold())
        conn = self.reactor.conns.get(conn_id) if conn_id is not None else None
        if conn is None:
            return False
        if ban:
            self.banned_hosts.add(conn.peer.rsplit(":", 1)[0].strip("[]"))
        code = ErrorCode.BANNED if ban else ErrorCode.KICKED
        text = "you were banned by the operator" if ban else "you were kicked by the operator"
        self._error(conn, ProtocolError(code, text))
        return True

    def console_line(self, line: str) -> None:
        """One line typed at the server's terminal."""
        line = line.strip()
        if not line:
            return
        if not line.startswith("/"):
            self.announce(line)
            self._print(f"announced to {len(self.hub.usernames())} users")
            return
        command, _, arg = line.partition(" ")
        arg = arg.strip()
        if command == "/users":
            names = self.hub.usernames()
            self._print(f"{len(names)} online: {', '.join(names) if names else '(nobody)'}")
        elif command in ("/kick", "/ban") and arg:
            done = self.kick(arg, ban=command == "/ban")
            verb = "banned" if command == "/ban" else "kicked"
            if done:
                self._print(f"{verb} {arg}")
            elif command == "/ban":
                self._print(f"banned the name {arg} (nobody by that name is online)")
            else:
                self._print(f"no user named {arg} is online")
        elif command == "/shutdown":
            self._print("shutting down")
            self.shutdown()
        elif command == "/help":
            self._print(CONSOLE_HELP)
        else:
            self._print(f"unknown command {command}; {CONSOLE_HELP}")

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _console_readable(self) -> None:
        try:
            data = os.read(sys.stdin.fileno(), 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.reactor.remove_reader(sys.stdin.fileno())  # Ctrl-D: the console closes, serving goes on
            return
        self._console_buf += data
        *lines, self._console_buf = self._console_buf.split(b"\n")
        for raw in lines:
            self.console_line(raw.decode("utf-8", "replace"))


CONSOLE_HELP = (
    "console: type text to announce it to everyone; /users, /kick NAME, /ban NAME, /shutdown, /help"
)


def raise_fd_limit(max_clients: int) -> str | None:
    """Raise the open-file limit to fit ``max_clients``; a warning if it cannot."""
    needed = max_clients + SPARE_FDS
    soft = raise_open_file_limit(needed)
    if soft is not None and soft < needed:
        return (
            f"open-file limit is {soft} but --max-clients {max_clients} needs about {needed}; "
            f"raise it (ulimit -n {needed}) or lower --max-clients"
        )
    return None
