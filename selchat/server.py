"""The glue between the reactor and the chat core.

Per connection: a decoder, the time of its last bytes, and its handshake and keepalive timers.
Per frame: parse, ask the hub, encode each resulting frame once and hand the bytes to the reactor.
Broadcasts to one room within a loop turn are batched: their frames are joined once and the same
``bytes`` object goes to every member who sent none of them; a member who did gets zero-copy
slices of it around its own frames, and a member who joined during the turn a zero-copy suffix.
Anything addressed to a connection that has frames in the batch flushes the batch first, and so
does a departure from the room, so every client sees frames in the order the hub produced them.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
import ssl
import sys
import time
from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import Any

from selchat import outbound as ev
from selchat.backplane import Backplane, Displace, parse_url
from selchat.bans import Ban, BanError, describe, make_ban, parse_duration, parse_target
from selchat.codec import encode
from selchat.config import SPARE_FDS, ServerConfig
from selchat.errors import ErrorCode, ProtocolError
from selchat.fdlimit import raise_open_file_limit
from selchat.hub import Ask, Broadcast, Close, Effect, Everywhere, Fail, Hub, Presence, Relay, Send, Store
from selchat.logsink import flush_logs
from selchat.metrics import MetricsCodec, parse_address
from selchat.reactor import HANDSHAKE, SNIFF, Conn, Reactor, Timer
from selchat.records import (
    CheckLogin,
    ClaimName,
    DeleteBan,
    HashPassword,
    HistoryPage,
    ListRooms,
    LoadHistory,
    LoadOfflineDms,
    LoadTopic,
    LoginChecked,
    NameClaimed,
    OfflineDms,
    PasswordHashed,
    ReleaseName,
    Request,
    RoomsListed,
    SaveAccount,
    SaveBan,
    SaveDm,
    TopicLoaded,
)
from selchat.store import Store as Database
from selchat.store import Worker, checkpoint
from selchat.wire.irc import IrcCodec
from selchat.wire.jsonl import JSON_V1, JSON_V2, JsonCodec
from selchat.wire.sniff import HTTP, IRC, JSON, TEXT, sniff
from selchat.wire.text import TextCodec
from selchat.wire.web import Hangup, WebCodec
from selchat.wire.web import plain as web_plain

log = logging.getLogger("selchat.server")

METRICS = "metrics"  # the tag of the metrics listener's connections
REDIS_TAGS = ("redis-cmd", "redis-sub")  # the backplane's two links
# Events a room hears that the other processes' members of the room hear too (joins and leaves
# cross as Presence, also in rooms too large to announce them).
SHARED_BROADCASTS = (ev.Message, ev.TopicChanged)
# Protocol errors logged per connection before the rest go to DEBUG (a broken client can send
# thousands; the log should not be its megaphone).
ERRORS_LOGGED = 5
# Password checks waiting for the worker before new logins are refused: at ~0.2 s each this is a
# few minutes of work, and a flood of logins must not queue more than that.
MAX_QUEUED_HASHES = 1000
# Broadcast audiences remembered by their roster (one per room that spoke recently).
AUDIENCE_CACHE = 256
# A connection silent this long after connecting is a person at a plain terminal (text mode):
# programs speak first (a JSON join, an IRC CAP LS or NICK) within milliseconds.
TEXT_AFTER = 1.0
# Seconds a person in text mode has to give a name (a program has --handshake-timeout).
TEXT_HANDSHAKE = 120.0


class ConnState:
    __slots__ = ("codec", "wire", "sniffed", "last_rx", "handshake", "keepalive", "pinged_at", "errors", "name",
                 "fresh", "text_timer", "banned")

    def __init__(self, now: float) -> None:
        self.codec: Any = None  # chosen by the first bytes (wire/sniff.py)
        self.wire: Any = JSON_V1  # the encoder shared by connections that hear alike
        self.sniffed = b""  # first bytes, held until they tell the protocol
        self.last_rx = now
        self.handshake: Timer | None = None
        self.keepalive: Timer | None = None
        self.pinged_at: float | None = None
        self.errors = 0
        self.name: str | None = None
        self.fresh = True  # no bytes seen yet
        self.text_timer: Timer | None = None
        self.banned = False  # from a banned address: told so in its own protocol, then closed


def host_of(peer: str) -> str:
    return peer.rsplit(":", 1)[0].strip("[]")


def error_payload(code: ErrorCode, message: str) -> bytes:
    return encode(ProtocolError(code, message).to_frame())


def server_ssl_context(cert: str, key: str) -> ssl.SSLContext:
    """TLS 1.2+ with the certificate and key given; raises OSError or ssl.SSLError if unusable."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


class Audience:
    """A room's roster split by the wire each member hears, grown as the roster grows (it is
    only ever appended to), so a join costs one member's look-up, not a new split."""

    __slots__ = ("roster", "seen", "groups")

    def __init__(self, roster: Sequence[int]) -> None:
        self.roster = roster
        self.seen = 0  # roster positions split so far
        self.groups: dict[Any, tuple[list[int], list[int]]] = {}  # wire -> (ids, their positions)

    def grow(self, upto: int, conns: dict[int, Conn]) -> None:
        roster, groups = self.roster, self.groups
        for pos in range(self.seen, upto):
            cid = roster[pos]
            conn = conns.get(cid)
            if conn is None or conn.ctx is None:
                continue
            wire = conn.ctx.wire
            group = groups.get(wire)
            if group is None:
                group = groups[wire] = ([], [])
            group[0].append(cid)
            group[1].append(pos)
        self.seen = max(self.seen, upto)


class ChatServer:
    def __init__(
        self,
        config: ServerConfig,
        *,
        wall_clock: Callable[[], float] = time.time,
        out: Any = None,
        reload: Callable[[], ServerConfig] | None = None,
    ) -> None:
        self.config = config
        self.reload = reload  # builds the configuration anew on SIGHUP (from --config)
        self.started = 0.0  # the reactor's clock when serving began (for /stats)
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
        self.store = Database(config.db, history_max=config.history_max, replay=config.replay)
        self.hub = Hub(config, self.store.snapshot())
        self.worker: Worker | None = None
        self._commit_timer: Timer | None = None
        self.bans = self.hub.bans  # names are the hub's to check, addresses the server's
        self.bans.replace_config(_config_bans(config))
        self.address: tuple[str, int] | None = None
        self.shutting_down = False
        self._batch_roster: Sequence[int] | None = None
        self._batch_events: list[ev.Event] = []
        self._batch_counts: list[int] = []  # each event's audience: the roster's first N
        self._batch_excluded: list[tuple[int, int]] = []  # (connection id, event index)
        self._audience_cache: dict[int, Audience] = {}
        self._console_buf = b""
        self.metrics_address: tuple[str, int] | None = None
        self.backplane: Backplane | None = None
        self._remote = False  # applying another process's event: not to be published again
        self._releases: list[str] = []  # names freed this turn (released unless taken back)
        if config.redis:
            self.backplane = Backplane(parse_url(config.redis), self, history_max=config.history_max,
                                       replay=config.replay, cafile=config.redis_cafile)
            self.hub.share()
        # counters for the metrics endpoint (with the reactor's, the hub's and the store's)
        self.opened: dict[str, int] = {}
        self.joins = 0
        self.closes: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._signalled: list[int] = []

    # -- set-up --------------------------------------------------------------------------------
    def listen(self, reuse_port: bool = False) -> tuple[str, int]:
        self.address = self.reactor.listen(self.config.host, self.config.port, reuse_port=reuse_port)
        return self.address

    def listen_metrics(self) -> tuple[str, int]:
        """The metrics listener (--metrics HOST:PORT), in the same loop as the chat."""
        assert self.config.metrics
        host, port = parse_address(self.config.metrics)
        self.metrics_address = self.reactor.listen(host, port, tag=METRICS)
        shown = f"[{self.metrics_address[0]}]" if ":" in self.metrics_address[0] else self.metrics_address[0]
        log.info("metrics at http://%s:%d/metrics", shown, self.metrics_address[1])
        return self.metrics_address

    def start_worker(self) -> None:
        self.worker = Worker()
        self.reactor.add_reader(self.worker.wake_r, self.worker.run_ready)

    def prepare(self) -> None:
        """What serving needs besides the listener (the signal wake-up, the worker), made before
        the server says it is listening, so that what it holds is settled by then."""
        self._install_signals()
        self.start_worker()

    def serve_forever(self, *, console: bool = False, signals: bool = True) -> None:
        if signals and self._wake_r is None:
            self._install_signals()
        if console:
            self.reactor.add_reader(sys.stdin.fileno(), self._console_readable)
        if self.worker is None:
            self.start_worker()
        self.started = self.reactor.clock()
        self.reactor.call_later(BAN_SWEEP, self._expire_bans)
        if self.backplane is not None:
            self.backplane.start()
        try:
            self.reactor.run()
        finally:
            if signals:
                self._restore_signals()
            self.close_storage()
            log.info("server stopped")

    def close_storage(self) -> None:
        """Finish the worker's jobs, then commit everything and close the database."""
        if self.worker is not None:
            self.reactor.remove_reader(self.worker.wake_r)
            self.worker.close()
            self.worker = None
        self.store.close()

    def _install_signals(self) -> None:
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        # A signal wakes select() through this socket; the handler itself only records it.
        self._old_wakeup = signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        self._old_handlers = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
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
            if signum == signal.SIGHUP:
                self.reload_config()
            else:
                self.shutdown()

    # settings that take effect only when the server starts: a reload keeps the running value
    RESTART_ONLY = ("host", "port", "tls_cert", "tls_key", "db", "replay", "history_max", "metrics", "redis")

    def reload_config(self) -> None:
        """SIGHUP: read the configuration again (``self.reload`` builds it) and apply what can
        change while serving; say in the log what changed and what needs a restart."""
        if self.reload is None:
            log.info("no --config file to reload")
            return
        try:
            new = self.reload()
        except Exception as exc:  # a bad file: keep serving as before, and say why
            log.error("reload failed, nothing changed: %s", exc)
            return
        old = self.config
        changed, kept = [], []
        for name in ServerConfig.__dataclass_fields__:
            before, after = getattr(old, name), getattr(new, name)
            if before == after:
                continue
            if name in self.RESTART_ONLY:
                kept.append(name)
                new = dataclasses.replace(new, **{name: before})
            elif name in ("password", "motd"):
                changed.append(f"{name} changed")
            else:
                changed.append(f"{name} {before!r} -> {after!r}")
        self.config = new
        self.hub.config = new
        self.reactor.max_conns = new.max_clients
        self.reactor.max_output = new.max_output
        if new.bans != old.bans:
            self.bans.replace_config(_config_bans(new))
            self._drop_banned()
        logging.getLogger().setLevel(new.log_level.upper())
        log.info("reloaded the configuration: %s", ", ".join(changed) or "nothing changed")
        if kept:
            log.warning("%s changed in the configuration: %s after a restart", ", ".join(kept),
                        "it takes effect" if len(kept) == 1 else "they take effect")

    # -- reactor callbacks ---------------------------------------------------------------------
    def on_open(self, conn: Conn) -> None:
        if conn.tag in REDIS_TAGS:
            assert self.backplane is not None
            self.backplane.opened(conn)
            return
        host = host_of(conn.peer)
        reactor = self.reactor
        ctx = ConnState(reactor.now)
        conn.ctx = ctx
        if conn.tag == METRICS:  # a scrape: one request, one answer
            ctx.codec, ctx.wire, ctx.fresh = MetricsCodec(self.counters), None, False
            ctx.handshake = reactor.call_later(self.config.handshake_timeout, self._scrape_expired, conn)
            return
        if self.bans.address(host, self.wall_clock()):
            # refused in the protocol its first bytes speak (a JSON line if it says nothing first)
            log.info("refused %s: banned address", conn.peer)
            ctx.banned = True
            ctx.text_timer = reactor.call_later(TEXT_AFTER, self._refuse_banned, conn, JSON)
            return
        ctx.text_timer = reactor.call_later(TEXT_AFTER, self._silent, conn)
        self.hub.connect(conn.id, self.wall_clock(), host)
        ctx.handshake = reactor.call_later(self.config.handshake_timeout, self._handshake_expired, conn)
        ctx.keepalive = reactor.call_later(self.config.ping_interval, self._keepalive, conn)
        # DEBUG: the join (or the disconnect) that follows names the peer; one line a client is enough
        log.debug("connect %s (%d connections)", conn.peer, len(reactor.conns))

    def on_data(self, conn: Conn, data: bytes) -> None:
        if conn.tag is not None and conn.tag in REDIS_TAGS:
            assert self.backplane is not None
            self.backplane.data(conn, data)
            return
        ctx: ConnState = conn.ctx
        ctx.last_rx = self.reactor.now
        if ctx.fresh:
            ctx.fresh = False
            if data[0] == 0x16 and self.reactor.ssl_context is None:
                # a TLS ClientHello on the plain port: it cannot read a plain error, so just close
                log.info("TLS client %s on a plain port", conn.peer)
                self.reactor.close(conn, "TLS on the plain port")
                return
        if ctx.codec is None:
            ctx.sniffed += data
            kind = sniff(ctx.sniffed)
            if kind is None:
                return
            if ctx.banned:
                self._refuse_banned(conn, kind)
                return
            data, ctx.sniffed = ctx.sniffed, b""
            self._choose(conn, kind)
            if conn.closing:
                return
        now = self.wall_clock()
        hub = self.hub
        for item in ctx.codec.feed(data):
            if conn.closing:
                return  # once closing, its input is ignored
            kind = type(item)
            if kind is bytes:
                self._flush_for(conn.id)
                self.reactor.send(conn, item)  # the codec's own answer (help, a prompt, a page)
                continue
            if kind is Hangup:
                self._flush_for(conn.id)
                self.reactor.close(conn, item.reason)  # type: ignore[union-attr]
                return
            if isinstance(item, ProtocolError):
                self._error(conn, item)
                continue
            try:
                effects = hub.handle(conn.id, item, now)
            except ProtocolError as exc:
                self._error(conn, exc, item)
                continue
            self.apply(effects)
        if ctx.wire is not ctx.codec.wire and not conn.closing:
            # capabilities changed after joining (IRC's CAP REQ): audiences split by wire are stale
            self._flush_batch()
            ctx.wire = ctx.codec.wire
            self._audience_cache.clear()

    def _choose(self, conn: Conn, kind: str) -> None:
        """Give a connection the codec its first bytes asked for."""
        self.opened[kind] = self.opened.get(kind, 0) + 1
        ctx: ConnState = conn.ctx
        if ctx.text_timer is not None:
            ctx.text_timer.cancel()
            ctx.text_timer = None
        if kind == JSON:
            ctx.codec = JsonCodec(self.config.max_frame)
        elif kind == IRC:
            ctx.codec = IrcCodec(self.config.max_frame, self.config.irc_name)
        elif kind == TEXT:
            ctx.codec = TextCodec(self.config.max_frame, self.config.password is not None)
            self.reactor.send(conn, ctx.codec.greeting())
            if ctx.handshake is not None:  # a person types slower than a program
                ctx.handshake.cancel()
                ctx.handshake = self.reactor.call_later(
                    max(self.config.handshake_timeout, TEXT_HANDSHAKE), self._handshake_expired, conn)
        else:  # HTTP: the page, or a WebSocket
            ctx.codec = WebCodec(self.config.max_frame, self.config.irc_name, frozenset(self.config.allow_origins))
            ctx.wire = None  # in no room until it upgrades and joins
            return
        ctx.wire = ctx.codec.wire
        log.debug("%s speaks %s", conn.peer, kind)

    def _scrape_expired(self, conn: Conn) -> None:
        """A metrics request that never finished: HTTP's 408, as the page's listener answers."""
        if conn.closing:
            return
        self.reactor.send(conn, web_plain(408, "no whole request in time"))
        self.reactor.close(conn, "handshake_timeout")

    def _refuse_banned(self, conn: Conn, kind: str) -> None:
        ctx: ConnState = conn.ctx
        ctx.text_timer = None
        if conn.closing:
            return
        text = "you are banned from this server"
        payload = {
            IRC: f"ERROR :Closing link: {text}\r\n".encode(),
            TEXT: f"! {text}\r\n".encode(),
            HTTP: web_plain(403, text),
        }.get(kind) or error_payload(ErrorCode.BANNED, text)
        self.reactor.send(conn, payload)
        self.reactor.close(conn, "banned")

    def _silent(self, conn: Conn) -> None:
        """Nothing for a second: a person at a plain terminal, waiting to be greeted."""
        ctx: ConnState = conn.ctx
        ctx.text_timer = None
        if conn.closing or ctx.codec is not None or ctx.sniffed:
            return
        if conn.tls in (SNIFF, HANDSHAKE):  # silence before TLS is up is the handshake timeout's
            ctx.text_timer = self.reactor.call_later(TEXT_AFTER, self._silent, conn)
            return
        self._choose(conn, TEXT)

    def on_close(self, conn: Conn, reason: str) -> None:
        if conn.tag in REDIS_TAGS:
            assert self.backplane is not None
            self.backplane.closed(conn, reason)
            return
        self.closes[reason] = self.closes.get(reason, 0) + 1
        ctx: ConnState | None = conn.ctx
        if ctx is None or conn.tag == METRICS:
            if ctx is not None and ctx.handshake is not None:
                ctx.handshake.cancel()
            return
        for timer in (ctx.handshake, ctx.keepalive, ctx.text_timer):
            if timer is not None:
                timer.cancel()
        self._flush_batch()  # membership is about to change
        shown = None if reason == "quit" else reason.replace("_", " ")
        self.apply(self.hub.disconnect(conn.id, self.wall_clock(), shown))
        who = f"{ctx.name} ({conn.peer})" if ctx.name else conn.peer
        log.info("%s %s: %s", "leave" if ctx.name else "disconnect", who, reason)

    def before_flush(self) -> None:
        self._flush_batch()
        if self.backplane is not None:
            self.backplane.flush()  # the turn's events for the other nodes, one publication a room
        if self._releases:
            self._release_names()
        self._commit()
        flush_logs()  # the turn's log lines, in one write

    def _commit(self) -> None:
        store = self.store
        if not store.pending:
            return
        try:
            due = store.commit_due()
        except Exception:
            log.exception("committing to %s failed; those writes are lost", store.path)
            return
        if due is not None:
            if self._commit_timer is None:
                self._commit_timer = self.reactor.call_at(due - store.clock() + self.reactor.now, self._commit_later)
        elif self.worker is not None and store.checkpoint_wanted():
            self.worker.submit(checkpoint(store.path), self._checkpointed)

    def _commit_later(self) -> None:
        self._commit_timer = None
        self._commit()

    def _checkpointed(self, result: object) -> None:
        if isinstance(result, Exception):
            log.warning("checkpoint of %s failed: %s", self.store.path, result)
    # -- effects -------------------------------------------------------------------------------
    def apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            kind = type(effect)
            if kind is Broadcast:
                b: Broadcast = effect  # type: ignore[assignment]
                self._queue_broadcast(b.targets, b.count, b.exclude, b.event)
                if self.backplane is not None and not self._remote and type(b.event) in SHARED_BROADCASTS:
                    self.backplane.publish(b.event)
            elif kind is Store:
                write = effect.write  # type: ignore[union-attr]
                if (self.backplane is not None and type(write) is SaveDm and not write.delivered
                        and self.backplane.keep_dm(write.recipient_key, write.dm)):
                    continue  # for the account's next login on any process (here, while Redis is away)
                self.store.write(write)
                if self.backplane is not None and type(write) is SaveAccount:
                    self.backplane.share_account(write.key, write.name, write.hash, write.created)
            elif kind is Send:
                targets = effect.targets  # type: ignore[union-attr]
                if len(targets) == 1:
                    self._flush_for(targets[0])
                else:
                    self._flush_batch()
                self._send(targets, effect.event)  # type: ignore[union-attr]
            elif kind is Ask:
                self._ask(effect.request)  # type: ignore[union-attr]  # what it delivers comes back here
            elif kind is Presence:
                p: Presence = effect  # type: ignore[assignment]
                if self.backplane is not None:
                    self.backplane.presence(p.room_key, p.event, p.local)
            elif kind is Relay:
                if self.backplane is not None:
                    self.backplane.relay(effect.node, effect.event)  # type: ignore[union-attr]
            elif kind is Everywhere:
                if self.backplane is not None:
                    self.backplane.everywhere(effect.event)  # type: ignore[union-attr]
            elif kind is Fail:
                conn = self.reactor.conns.get(effect.conn_id)  # type: ignore[union-attr]
                if conn is not None and not conn.closing:
                    self._error(conn, effect.error)  # type: ignore[union-attr]
            else:
                assert isinstance(effect, Close)
                self._flush_for(effect.conn_id)
                conn = self.reactor.conns.get(effect.conn_id)
                if conn is not None:
                    self.reactor.close(conn, effect.reason)

    def _send(self, targets: tuple[int, ...], event: ev.Event) -> None:
        conns = self.reactor.conns
        if type(event) is ev.Welcome:
            self._welcomed(targets[0])
        if len(targets) == 1:
            conn = conns.get(targets[0])
            if conn is not None and conn.ctx is not None and conn.ctx.codec is not None:
                payload = conn.ctx.codec.encode(event)
                if payload is not None:
                    self.reactor.send(conn, payload)
            return
        for wire, audience in self._split(targets):
            payload = wire.encode(event)
            if payload is not None:
                self.reactor.send_many(audience, payload)
        if type(event) is ev.NickChanged:
            for cid in targets:  # codecs that keep their own name learn it
                conn = conns.get(cid)
                saw = getattr(conn.ctx.codec, "saw", None) if conn is not None and conn.ctx is not None else None
                if saw is not None:
                    saw(event)

    def _split(self, targets: Sequence[int]) -> list[tuple[Any, Sequence[int]]]:
        """The targets grouped by the codec each speaks: one encoding per group."""
        conns = self.reactor.conns
        groups: dict[Any, list[int]] = {}
        for cid in targets:
            conn = conns.get(cid)
            if conn is not None and conn.ctx is not None:
                groups.setdefault(conn.ctx.wire, []).append(cid)
        if len(groups) == 1:
            wire = next(iter(groups))
            return [(wire, targets)]
        return [(wire, tuple(ids)) for wire, ids in groups.items()]

    def _audience(self, roster: Sequence[int], upto: int) -> Audience:
        """A roster's split by wire, remembered by the roster's identity: the roster is appended
        to while the membership only grows and replaced otherwise (and a connection's codec is
        set before it joins any room)."""
        audience = self._audience_cache.get(id(roster))
        if audience is None or audience.roster is not roster:
            if len(self._audience_cache) >= AUDIENCE_CACHE:
                self._audience_cache.clear()
            audience = self._audience_cache[id(roster)] = Audience(roster)
        if audience.seen < upto:
            audience.grow(upto, self.reactor.conns)
        return audience

    def _queue_broadcast(self, targets: Sequence[int], count: int, exclude: int | None, event: ev.Event) -> None:
        if targets is not self._batch_roster:
            self._flush_batch()
            self._batch_roster = targets
        if exclude is not None:
            self._batch_excluded.append((exclude, len(self._batch_events)))
        self._batch_events.append(event)
        self._batch_counts.append(count)

    def _flush_for(self, conn_id: int) -> None:
        """Flush the batch before something for ``conn_id`` alone, unless the batch holds
        nothing for it: a member who joined after the batch's last broadcast (a join storm's
        welcomes then leave the batch whole)."""
        roster = self._batch_roster
        if roster is not None and conn_id not in roster[self._batch_counts[-1]:]:
            self._flush_batch()

    def _flush_batch(self) -> None:
        roster = self._batch_roster
        if roster is None:
            return
        events, counts, excluded = self._batch_events, self._batch_counts, self._batch_excluded
        self._batch_roster = None
        self._batch_events = []
        self._batch_counts = []
        self._batch_excluded = []
        last = counts[-1]
        growing = counts[0] != last
        for wire, (ids, positions) in self._audience(roster, last).groups.items():
            encode_event = wire.encode
            frames = [encode_event(e) or b"" for e in events]
            if growing:
                self._deliver_growing(ids, positions, counts, frames, excluded, wire)
                continue
            n = bisect_left(positions, last)
            self._deliver(ids if n == len(ids) else ids[:n], frames, excluded, wire)

    def _deliver(self, audience: Sequence[int], frames: list[bytes], excluded: list[tuple[int, int]],
                 wire: Any) -> None:
        """One joined buffer for the audience; a member who sent some of the frames gets
        zero-copy slices of it around its own."""
        joined = frames[0] if len(frames) == 1 else b"".join(frames)
        if not joined:
            return
        if not excluded:
            self.reactor.send_many(audience, joined)
            return
        own = self._own(excluded, wire)
        self.reactor.send_many(audience, joined, skip=own)
        if len(own) == 1 and len(frames) == 1:
            return  # one frame from one sender: the sender gets nothing back
        self._send_own(own, {}, joined, frames)

    def _deliver_growing(self, ids: list[int], positions: list[int], counts: list[int], frames: list[bytes],
                         excluded: list[tuple[int, int]], wire: Any) -> None:
        """The batch of a turn in which the room grew: event k reached the roster's first
        ``counts[k]``, so a member who joined between events k-1 and k gets the frames from k
        on, one zero-copy suffix of the joined buffer shared by everyone who joined there."""
        joined = b"".join(frames)
        if not joined:
            return
        own = self._own(excluded, wire) if excluded else {}
        starts = _offsets(frames)
        view = memoryview(joined)
        send_many = self.reactor.send_many
        first_event: dict[int, int] = {}  # newcomers with frames of their own: where theirs begin
        done = 0
        for k, count in enumerate(counts):
            n = bisect_left(positions, count, done)
            if n == done:
                continue
            segment = ids[done:n]
            if k == 0:
                send_many(segment, joined, skip=own)
            else:
                if starts[k] < len(joined):
                    send_many(segment, view[starts[k]:], skip=own)
                if own:
                    for cid in segment:
                        if cid in own:
                            first_event[cid] = k
            done = n
        if own:
            self._send_own(own, first_event, joined, frames, starts)

    def _own(self, excluded: list[tuple[int, int]], wire: Any) -> dict[int, list[int]]:
        """The senders among this wire's audience, with the indexes of the frames they sent."""
        conns = self.reactor.conns
        own: dict[int, list[int]] = {}
        for conn_id, index in excluded:
            conn = conns.get(conn_id)
            if conn is not None and conn.ctx is not None and conn.ctx.wire is wire:
                own.setdefault(conn_id, []).append(index)
        return own

    def _send_own(self, own: dict[int, list[int]], first_event: dict[int, int], joined: bytes,
                  frames: list[bytes], starts: list[int] | None = None) -> None:
        """Each sender's share: the frames from where it came in, around its own."""
        if starts is None:
            starts = _offsets(frames)
        view = memoryview(joined)
        send_parts = self.reactor.send_parts
        for conn_id, indexes in own.items():
            first = first_event.get(conn_id, 0)
            parts = []
            begin = starts[first]
            for index in indexes:
                if index < first:
                    continue
                parts.append(view[begin : starts[index]])
                begin = starts[index + 1]
            parts.append(view[begin:])
            send_parts(conn_id, parts)

    # -- requests: reads inline, slow work in the worker ---------------------------------------
    def _ask(self, request: Request) -> None:
        kind = type(request)
        if kind is LoadHistory:
            r: LoadHistory = request  # type: ignore[assignment]
            if self.backplane is not None:
                self._shared_history(r)
                return
            messages, more = self.store.history(r.room_key, r.room, r.before, r.limit, r.after, r.oldest, r.around)
            self._complete(r.conn_id, HistoryPage(r.room_key, tuple(messages), more, r.tag))
        elif kind is LoadOfflineDms:
            o: LoadOfflineDms = request  # type: ignore[assignment]
            here = self.store.offline_dms(o.account_key)

            def offline(kept: list[ev.DirectMessage]) -> None:
                dms = sorted(here + kept, key=lambda dm: dm.timestamp)
                self._complete(o.conn_id, OfflineDms(tuple(dms)))
            if self.backplane is None or not self.backplane.take_dms(o.account_key, offline):
                offline([])
        elif kind is CheckLogin:
            self._check_login(request)  # type: ignore[arg-type]
        elif kind is HashPassword:
            self._hash_password(request)  # type: ignore[arg-type]
        elif kind is ClaimName:
            c: ClaimName = request  # type: ignore[assignment]
            if self.backplane is None:
                self._complete(c.conn_id, NameClaimed(c.name_key, True))
                return
            self.backplane.claim(c.name_key, lambda ok: self._complete(c.conn_id, NameClaimed(c.name_key, ok)),
                                 c.displace)
        elif kind is LoadTopic:
            t: LoadTopic = request  # type: ignore[assignment]

            def loaded(name: str | None, topic: Any, failed: bool) -> None:
                self._complete(t.conn_id, TopicLoaded(t.room, name, topic, failed))
            if self.backplane is None or not self.backplane.load_topic(t.room_key, loaded):
                loaded(None, None, True)
        elif kind is ListRooms:
            conn_id = request.conn_id  # type: ignore[union-attr]

            def listed(rooms: tuple[ev.RoomInfo, ...] | None) -> None:
                self._complete(conn_id, RoomsListed(rooms))
            if self.backplane is None or not self.backplane.list_rooms(listed):
                listed(None)
        elif kind is ReleaseName:
            self._releases.append(request.name_key)  # type: ignore[union-attr]

    def _shared_history(self, r: LoadHistory) -> None:
        """A page of a shared room's history, which is Redis's (--redis)."""
        def done(messages: list[ev.Message], more: bool) -> None:
            self._complete(r.conn_id, HistoryPage(r.room_key, tuple(messages), more, r.tag))

        assert self.backplane is not None
        if not self.backplane.history(r.room_key, r.before, r.limit, r.after, r.oldest, r.around, done):
            self._complete_error(r.conn_id, ProtocolError(
                ErrorCode.HISTORY_UNAVAILABLE, "history is kept in Redis, and the link to it is down; try again soon"))

    def _complete(self, conn_id: int, result: object) -> None:
        self.apply(self.hub.complete(conn_id, result, self.wall_clock()))  # type: ignore[arg-type]

    def _busy(self, conn_id: int) -> bool:
        if self.worker is not None and self.worker.queued < MAX_QUEUED_HASHES:
            return False
        self._complete_error(conn_id, ProtocolError(
            ErrorCode.TOO_MANY_LOGINS, "the server is busy checking other logins; try again in a minute"))
        return True

    def _complete_error(self, conn_id: int, error: ProtocolError) -> None:
        self.apply([Fail(conn_id, error)])

    def _check_login(self, request: CheckLogin) -> None:
        from selchat.passwords import verify_password

        if self._busy(request.conn_id):
            self.apply(self.hub.complete(request.conn_id, LoginChecked(request.account_key, False, None),
                                         self.wall_clock()))
            return
        found = self.store.account(request.account_key)
        name, stored = found if found else (None, None)
        password = request.password

        def done(ok: object) -> None:
            if isinstance(ok, Exception):
                log.error("checking a password failed: %s", ok)
                ok = False
            self._complete(request.conn_id, LoginChecked(request.account_key, ok is True, name))

        assert self.worker is not None
        self.worker.submit(lambda: verify_password(stored, password), done)

    def _hash_password(self, request: HashPassword) -> None:
        from selchat.passwords import hash_password

        assert self.worker is not None
        password = request.password

        def done(hashed: object) -> None:
            if isinstance(hashed, Exception):
                log.error("hashing a password failed: %s", hashed)
                return
            self._complete(request.conn_id, PasswordHashed(request.account_key, request.name, str(hashed)))

        self.worker.submit(lambda: hash_password(password), done)

    def _error(self, conn: Conn, exc: ProtocolError, command: Any = None) -> None:
        ctx: ConnState = conn.ctx
        ctx.errors += 1
        self.errors[exc.code.value] = self.errors.get(exc.code.value, 0) + 1
        level = logging.INFO if ctx.errors <= ERRORS_LOGGED or exc.closes else logging.DEBUG
        who = f"{ctx.name} ({conn.peer})" if ctx.name else conn.peer
        log.log(level, "error %s to %s: %s", exc.code.value, who, exc.message)
        self._flush_for(conn.id)
        self.reactor.send(conn, ctx.codec.error(exc, command) if ctx.codec is not None else JSON_V1.error(exc))
        if exc.closes:
            self.reactor.close(conn, exc.code.value)
            return
        if exc.code is not ErrorCode.RATE_LIMITED:  # that one has spent its token already
            try:
                self.hub.penalize(conn.id, self.wall_clock())
            except ProtocolError as flood:
                self._error(conn, flood)

    def _welcomed(self, conn_id: int) -> None:
        """A connection has joined: its codec is now the version it asked for."""
        conn = self.reactor.conns.get(conn_id)
        if conn is None or conn.ctx is None:
            return
        ctx: ConnState = conn.ctx
        self.joins += 1
        ctx.name = self.hub.name_of(conn_id)
        if isinstance(ctx.codec, (JsonCodec, WebCodec)):  # their wire depends on the version joined
            ctx.codec.joined(self.hub.version_of(conn_id))
        ctx.wire = ctx.codec.wire
        if ctx.handshake is not None:
            ctx.handshake.cancel()
            ctx.handshake = None
        codec_name = type(ctx.codec).__name__.removesuffix("Codec").lower()
        how = {JSON_V1: "", JSON_V2: " v2"}.get(ctx.wire, f" ({codec_name})")
        log.info("join %s (%s)%s", ctx.name, conn.peer, how)

    # -- other processes (--redis): what the backplane asks and tells -------------------------
    def _release_names(self) -> None:
        releases, self._releases = self._releases, []
        for key in releases:
            if self.backplane is not None and self.hub.find(key) is None:  # not taken back meanwhile
                self.backplane.release(key)

    def resolve(self, host: str, port: int, done: Callable[[Any], None]) -> None:
        """``done(address)`` (or ``done(OSError)``) on the loop: a literal address at once, a name
        in the worker, since the resolver may take seconds and the loop must not wait for it."""
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        except OSError:
            pass
        else:
            done(host)
            return

        def lookup() -> str:
            addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4]
            return str(addr[0])
        if self.worker is None:
            try:
                done(lookup())
            except OSError as exc:
                done(exc)
            return
        self.worker.submit(lookup, done)

    def local_rooms(self) -> list[str]:
        return self.hub.local_rooms()

    def local_presence(self) -> list[tuple[str, str]]:
        return self.hub.local_presence()

    def local_names(self) -> list[str]:
        return self.hub.local_names()

    def has_local_members(self, key: str) -> bool:
        return self.hub.has_local_members(key)

    def remote_nodes(self) -> set[str]:
        return self.hub.remote_nodes()

    def local_accounts(self) -> list[tuple[str, str, str, float]]:
        return self.store.accounts()

    def remote_accounts(self, accounts: list[tuple[str, str, str, float]]) -> None:
        """Accounts made on other processes: kept in this one's database too, so logins work here."""
        for key, name, hashed, created in accounts:
            if self.store.account(key) is None:
                self.store.write(SaveAccount(key, name, hashed, created))
            self.hub.learn_account(key, name)

    def remote_members(self, key: str, name: str, members: list[tuple[str, str]]) -> None:
        self.hub.remote_members(key, name, members)

    def remote_events(self, node: str, events: list[ev.Event]) -> None:
        """Another node's turn of events (one room's, or a private message): into this turn's batch."""
        self._remote = True
        now = self.wall_clock()
        hub = self.hub
        try:
            for event in events:
                kind = type(event)
                if kind is ev.DirectMessage:
                    self.apply(hub.remote_dm(event))  # type: ignore[arg-type]
                elif kind is ev.NickChanged or kind is ev.AwayChanged:
                    self.apply(hub.remote_user(event))  # type: ignore[arg-type]
                elif kind is Displace:
                    self.apply(hub.displace(event.account, now))  # type: ignore[attr-defined]
                else:
                    self.apply(hub.remote(node, event, now))
        finally:
            self._remote = False

    def node_gone(self, node: str) -> None:
        self._remote = True
        try:
            self.apply(self.hub.node_gone(node, self.wall_clock()))
        finally:
            self._remote = False

    def room_synced(self, key: str, recent: list[ev.Message], total: int,
                    topic: tuple[str, str | None, float | None] | None, own_after: list[ev.Message]) -> None:
        self.apply(self.hub.synced(key, recent, total, topic, own_after))

    def room_unsynced(self, key: str) -> None:
        self.hub.unsynced(key)

    def link_changed(self, up: bool) -> None:
        """Tell everyone here when the rooms are cut off from the other servers, and when whole again."""
        self.apply(self.hub.link(up))
        text = ("the other servers are back: the rooms are whole again" if up else
                "lost the link to the other servers (Redis): you are chatting with this server's users only "
                "until it is back")
        self.announce(text)

    # -- timers --------------------------------------------------------------------------------
    def _handshake_expired(self, conn: Conn) -> None:
        if conn.closing or conn.ctx.name is not None:
            return
        if self.hub.logging_in(conn.id):
            # the wait is the worker's, not the client's: look again later
            conn.ctx.handshake = self.reactor.call_later(self.config.handshake_timeout, self._handshake_expired, conn)
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
            payload = ctx.codec.ping(int(self.wall_clock())) if ctx.codec is not None else None
            if payload is None:  # a person at nc is not pinged, and not dropped for silence
                ctx.keepalive = self.reactor.call_at(now + interval, self._keepalive, conn)
                return
            ctx.pinged_at = now
            self._flush_for(conn.id)
            self.reactor.send(conn, payload)
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
        if self.backplane is not None:
            self.backplane.stop()  # the others notice this node's key lapse, as for any node that goes
        self.reactor.drain_and_stop(self.config.shutdown_grace)

    def announce(self, text: str) -> None:
        self.apply(self.hub.announce(text, self.wall_clock()))

    def kick(self, name: str, *, ban: bool = False) -> bool:
        """Drop the user ``name``; with ``ban``, for good, with their address (as /ban NAME does)."""
        conn_id = self.hub.find(name)
        conn = self.reactor.conns.get(conn_id) if conn_id is not None else None
        if ban:
            self.ban(name)
            if conn is not None:
                self.ban(host_of(conn.peer), drop=False)
        if conn is None or conn.closing:
            return False
        if not ban:
            self._error(conn, ProtocolError(ErrorCode.KICKED, "you were kicked by the operator"))
        return True

    def ban(self, target: str, duration: str | None = None, reason: str = "", *, drop: bool = True) -> Ban:
        """Ban a name or an address (ADDRESS/PREFIX), kept in the database; whoever it matches
        is dropped now (with ``drop``). ``BanError`` if the target or the duration is not one."""
        ban = make_ban(target, self.wall_clock(), duration, reason)
        self.bans.add(ban)
        self.store.write(SaveBan(ban))
        if drop:
            self._drop_banned()
        log.info("banned %s %s%s", "address" if ban.is_address else "name", ban.shown,
                 f" until {time.strftime('%Y-%m-%d %H:%M', time.localtime(ban.until))}" if ban.until else "")
        return ban

    def unban(self, target: str) -> Ban | None:
        ban = self.bans.remove(target)
        if ban is not None:
            self.store.write(DeleteBan(ban.target))
            log.info("lifted the ban on %s", ban.shown)
        return ban

    def _drop_banned(self) -> None:
        """Close every connection that a ban now in force matches, by name or by address."""
        now = self.wall_clock()
        for conn in list(self.reactor.conns.values()):
            ctx: ConnState | None = conn.ctx
            if conn.closing or ctx is None or ctx.banned:
                continue
            name = self.hub.name_of(conn.id)
            if (name is not None and self.bans.name(name, now)) or self.bans.address(host_of(conn.peer), now):
                self._error(conn, ProtocolError(ErrorCode.BANNED, "you were banned by the operator"))

    def _expire_bans(self) -> None:
        """Forget, in the database too, the bans whose time is up (a lookup ignores them already)."""
        for ban in self.bans.expired(self.wall_clock()):
            if not ban.from_config:
                self.store.write(DeleteBan(ban.target))
                log.info("the ban on %s has ended", ban.shown)
        self.reactor.call_later(BAN_SWEEP, self._expire_bans)

    def console_line(self, line: str) -> None:
        """One line typed at the server's terminal."""
        line = line.strip()
        if not line:
            return
        if not line.startswith("/"):
            self.announce(line)
            self._print(f"announced to {len(self.hub.online())} users")
            return
        command, _, arg = line.partition(" ")
        arg = arg.strip()
        if command == "/users":
            names = self.hub.online()
            self._print(f"{len(names)} online: {', '.join(names) if names else '(nobody)'}")
        elif command == "/kick" and arg:
            if self.kick(arg):
                self._print(f"kicked {arg}")
            else:
                self._print(f"no user named {arg} is online")
        elif command == "/ban" and arg:
            self._console_ban(arg)
        elif command == "/unban" and arg:
            try:
                lifted = self.unban(arg)
            except BanError as exc:
                self._print(str(exc))
                return
            self._print(f"lifted the ban on {lifted.shown}" if lifted else f"{arg} is not banned")
        elif command == "/bans":
            now = self.wall_clock()
            bans = self.bans.active(now)
            self._print(f"{len(bans)} ban{'s' if len(bans) != 1 else ''}" + "".join(
                f"\n  {describe(b, now)}" + (" [config]" if b.from_config else "") for b in bans))
        elif command == "/stats":
            self._print(self.stats())
        elif command == "/shutdown":
            self._print("shutting down")
            self.shutdown()
        elif command == "/help":
            self._print(CONSOLE_HELP)
        else:
            self._print(f"unknown command {command}; {CONSOLE_HELP}")

    def _console_ban(self, arg: str) -> None:
        """/ban TARGET [DURATION] [REASON]: a name (and, if online, their address) or an address."""
        target, _, rest = arg.partition(" ")
        first, _, more = rest.strip().partition(" ")
        duration = None
        if first:
            try:
                parse_duration(first)
                duration, rest = first, more
            except BanError:
                pass
        try:
            parse_target(target)
            online = self.hub.find(target)
            conn = self.reactor.conns.get(online) if online is not None else None
            ban = self.ban(target, duration, rest.strip())
            extra = ""
            if conn is not None and not ban.is_address:
                # their address too, for new connections (others already there from it stay)
                also = self.ban(host_of(conn.peer), duration, rest.strip(), drop=False)
                extra = f" and the address {also.shown}"
        except BanError as exc:
            self._print(str(exc))
            return
        span = f" for {duration}" if duration else ""
        if ban.is_address or conn is not None:
            self._print(f"banned {ban.shown}{extra}{span}")
        else:
            self._print(f"banned the name {ban.shown}{span} (nobody by that name is online)")

    def _connections_by_kind(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for conn in self.reactor.conns.values():
            codec = conn.ctx.codec if conn.ctx is not None else None
            if conn.tag == METRICS:
                kind = "metrics"
            elif isinstance(codec, WebCodec):
                kind = "websocket" if codec.ws is not None else "http"
            else:
                kind = {JsonCodec: "json", IrcCodec: "irc", TextCodec: "text"}.get(type(codec), "undecided")
            kinds[kind] = kinds.get(kind, 0) + 1
        return kinds

    def counters(self) -> dict[str, Any]:
        """Everything the metrics endpoint shows, read now (nothing is counted twice for it)."""
        reactor, hub = self.reactor, self.hub
        return {
            "connections": self._connections_by_kind(), "opened": dict(self.opened),
            "refused_full": reactor.refused_full, "joins": self.joins, "messages": hub.messages,
            "deliveries": hub.deliveries, "bytes_in": reactor.bytes_in, "bytes_out": reactor.bytes_out,
            "closes": dict(self.closes), "errors": dict(self.errors), "slow_consumers": reactor.slow_consumers,
            "users": len(hub.online()), "rooms": len(hub.room_names()),
            "queued": sum(conn.out_bytes for conn in reactor.conns.values()),
            "turns": reactor.turns, "commits": self.store.commit_times,
            "redis_up": int(self.backplane.up) if self.backplane is not None else 0,
            "redis_published": self.backplane.published if self.backplane is not None else 0,
            "redis_received": self.backplane.received if self.backplane is not None else 0,
        }

    def stats(self) -> str:
        """What the server holds now, at a glance; computed when asked, so serving pays nothing.
        The same counters as the metrics endpoint, in one paragraph."""
        c = self.counters()
        kinds = c["connections"]
        by_kind = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
        rss = _rss_mb()
        turns = c["turns"]
        turn_count = sum(turns.counts)
        mean = f"{turns.sum / turn_count * 1e6:.0f} µs" if turn_count else "n/a"
        closes = ", ".join(f"{n} {r}" for r, n in sorted(c["closes"].items(), key=lambda kv: -kv[1])[:4]) or "none"
        return (f"connections {len(self.reactor.conns)} ({by_kind}) of {self.config.max_clients}; "
                f"users {c['users']}; rooms {c['rooms']}; "
                f"output queued {c['queued']:,} bytes; database writes pending {self.store.pending}; "
                f"up {_duration(self.reactor.clock() - self.started)}" + (f"; RSS {rss:.1f} MB" if rss else "")
                + f"\nsince start: joins {c['joins']:,}; messages {c['messages']:,}; deliveries {c['deliveries']:,}; "
                f"bytes in {c['bytes_in']:,}, out {c['bytes_out']:,}; rate-limited "
                f"{c['errors'].get('rate_limited', 0):,}; slow consumers {c['slow_consumers']:,}; "
                f"refused (full) {c['refused_full']:,}; closes: {closes}; loop turns {turn_count:,} "
                f"(mean {mean}); commits {sum(c['commits'].counts):,}")

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
    "console: type text to announce it to everyone; /users, /stats, /kick NAME, "
    "/ban NAME|ADDRESS[/PREFIX] [DURATION] [REASON], /unban NAME|ADDRESS, /bans, /shutdown, /help"
)
# How often bans whose time is up are forgotten in the database (a lookup ignores them at once).
BAN_SWEEP = 60.0


def _config_bans(config: ServerConfig) -> list[Ban]:
    now = time.time()
    return [make_ban(target, now, reason="from the configuration", from_config=True) for target in config.bans]


def _offsets(frames: list[bytes]) -> list[int]:
    """Where each frame begins in their join, and where the last ends."""
    starts = [0] * (len(frames) + 1)
    offset = 0
    for i, frame in enumerate(frames):
        offset += len(frame)
        starts[i + 1] = offset
    return starts


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _rss_mb() -> float | None:
    """The resident set size now (Linux /proc), in MB."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return None


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
