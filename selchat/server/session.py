"""Each chat connection's life: the codec its first bytes choose, feeding it, its timers
(handshake, keepalive, the silence that means a person at ``nc``), its errors and its end.

The codecs all show one face (wire/base.py), so nothing here asks what a connection speaks:
a refusal, an error and a ping are each the codec's to phrase.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from selchat.bans import BanList
from selchat.config import ServerConfig, pause_marks
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import Authenticate, Join, Oper, Register
from selchat.hub import Hub
from selchat.reactor import Conn, Reactor, Timer
from selchat.reactor.conn import keep_alive
from selchat.server.addresses import AddressGate
from selchat.server.fanout import Fanout
from selchat.server.labels import Labels
from selchat.server.stats import Tally
from selchat.server.timers import Timers
from selchat.wire.base import Codec, Labeled
from selchat.wire.irc import IrcCodec
from selchat.wire.jsonl import JSON_V1, JSON_V2, JsonCodec
from selchat.wire.sniff import HTTP, IRC, JSON, TEXT, sniff
from selchat.wire.text import TextCodec
from selchat.wire.web import Hangup, WebCodec

if TYPE_CHECKING:
    from selchat.server.effects import Effects

log = logging.getLogger("selchat.server")

# Protocol errors logged per connection before the rest go to DEBUG (a broken client can send
# thousands; the log should not be its megaphone).
ERRORS_LOGGED = 5
# A connection silent this long after connecting is a person at a plain terminal (text mode):
# programs speak first (a JSON join, an IRC CAP LS or NICK) within milliseconds.
TEXT_AFTER = 1.0
# Commands that may send a password to the worker: what follows them waits for the verdict.
CHECKED = frozenset({Join, Authenticate, Oper, Register})
# how a connection that was lost (not quit, refused or put out) is closed: an account lingers (--linger)
LOST = frozenset({"connection closed by peer", "connection lost", "idle_timeout", "WebSocket closed"})


class ConnState:
    __slots__ = ("codec", "wire", "sniffed", "last_rx", "handshake", "keepalive", "pinged_at", "errors", "name",
                 "fresh", "text_timer", "refused", "address", "held", "waiting",
                 "label")

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
        # refused at the door (a banned address, too many from one): told so in its own protocol
        self.refused: ProtocolError | None = None
        self.address: str | None = None  # the address group it counts against (addresses.py)
        self.held: list[Any] = []  # commands waiting until its answers are read (_handle)
        self.waiting = False  # a login is being checked: what it sent after waits for the answer
        self.label: Labeled | None = None  # a labeled command waiting on the worker (server/labels.py)


def host_of(peer: str) -> str:
    return peer.rsplit(":", 1)[0].strip("[]")


class Connections:
    """The chat port's connections, from accept to close."""

    def __init__(self, reactor: Reactor, hub: Hub, config: ServerConfig, fanout: Fanout, bans: BanList,
                 wall_clock: Callable[[], float], tally: Tally) -> None:
        self.reactor = reactor
        self.hub = hub
        self.config = config
        self.pause_high = pause_marks(config.max_output)[0]
        self.fanout = fanout
        self.bans = bans
        self.wall_clock = wall_clock
        self.tally = tally
        self.gate = AddressGate()  # connections per address (--max-per-address)
        self.timers = Timers(reactor, hub, config, fanout, wall_clock, self.error)
        self.labels = Labels(reactor, fanout)
        self.effects: Effects  # wired by the server: the effects of what a connection sends
        self.codecs: dict[str, Callable[[], Codec]] = {
            JSON: lambda: JsonCodec(self.config.max_frame),
            IRC: lambda: IrcCodec(self.config.max_frame, self.config.irc_name, self.config.max_message),
            TEXT: lambda: TextCodec(self.config.max_frame, self.config.password is not None),
            HTTP: lambda: WebCodec(self.config.max_frame, self.config.irc_name,
                                   frozenset(self.config.allow_origins), self.config.max_message),
        }

    # -- opening -----------------------------------------------------------------------------------
    def on_open(self, conn: Conn) -> None:
        host = host_of(conn.peer)
        reactor = self.reactor
        ctx = conn.ctx = ConnState(reactor.now)
        config = self.config
        if self.bans.address(host, self.wall_clock()):
            log.info("refused %s: banned address", conn.peer)
            ctx.refused = ProtocolError(ErrorCode.BANNED, "you are banned from this server")
        else:
            ctx.address, ctx.refused = self.gate.admit(host, reactor.now, config.max_per_address,
                                                       config.connects_per_minute)
            if ctx.refused is not None:  # DEBUG: a script opening thousands would fill the log
                log.debug("refused %s: %s", conn.peer, ctx.refused.message)
        if ctx.refused is not None:
            # refused in the protocol its first bytes speak (a JSON line if it says nothing first)
            ctx.text_timer = reactor.call_later(TEXT_AFTER, self._refuse, conn, JSON)
            return
        ctx.text_timer = reactor.call_later(TEXT_AFTER, self._silent, conn)
        self.hub.connect(conn.id, self.wall_clock(), host)
        ctx.handshake = reactor.call_later(self.config.handshake_timeout, self.timers.handshake_expired, conn)
        ctx.keepalive = reactor.call_later(self.config.ping_interval, self.timers.keepalive, conn)
        # DEBUG: the join (or the disconnect) that follows names the peer; one line a client is enough
        log.debug("connect %s (%d connections)", conn.peer, len(reactor.conns))

    def _choose(self, conn: Conn, kind: str) -> None:
        """Give a connection the codec its first bytes asked for."""
        self.tally.opened[kind] = self.tally.opened.get(kind, 0) + 1
        ctx: ConnState = conn.ctx
        if ctx.text_timer is not None:
            ctx.text_timer.cancel()
            ctx.text_timer = None
        codec = ctx.codec = self.codecs[kind]()
        ctx.wire = codec.wire  # None for HTTP: in no room until it upgrades and joins
        if kind == TEXT:
            self.reactor.send(conn, codec.greeting())  # type: ignore[attr-defined]
            # a person is never pinged (nc cannot answer): TCP's keepalive finds one who is gone
            keep_alive(conn, self.config.ping_interval)
            if ctx.handshake is not None:  # a person types slower than a program
                ctx.handshake.cancel()
                ctx.handshake = self.reactor.call_later(self.timers.name_wait(), self.timers.handshake_expired, conn)
        log.debug("%s speaks %s", conn.peer, kind)

    def _refuse(self, conn: Conn, kind: str) -> None:
        ctx: ConnState = conn.ctx
        ctx.text_timer = None
        if conn.closing or ctx.refused is None:
            return
        self.reactor.send(conn, self.codecs[kind]().refuse(ctx.refused))
        self.reactor.close(conn, ctx.refused.code.value)

    def _silent(self, conn: Conn) -> None:
        """Nothing for a second: a person at a plain terminal, waiting to be greeted."""
        ctx: ConnState = conn.ctx
        ctx.text_timer = None
        if conn.closing or ctx.codec is not None or ctx.sniffed:
            return
        if conn.handshaking:  # silence before TLS is up is the handshake timeout's
            ctx.text_timer = self.reactor.call_later(TEXT_AFTER, self._silent, conn)
            return
        self._choose(conn, TEXT)

    # -- reading -----------------------------------------------------------------------------------
    def on_data(self, conn: Conn, data: bytes) -> None:
        ctx: ConnState = conn.ctx
        ctx.last_rx = self.reactor.now
        if ctx.fresh:
            ctx.fresh = False
            if data[0] == 0x16 and conn.tls is None:
                # a TLS ClientHello on the plain port: it cannot read a plain error, so just close
                log.info("TLS client %s on a plain port", conn.peer)
                self.reactor.close(conn, "TLS on the plain port")
                return
        if ctx.codec is None:
            ctx.sniffed += data
            kind = sniff(ctx.sniffed)
            if kind is None:
                return
            if ctx.refused is not None:
                self._refuse(conn, kind)
                return
            data, ctx.sniffed = ctx.sniffed, b""
            self._choose(conn, kind)
            if conn.closing:
                return
        self.feed(conn, ctx, data)

    def feed(self, conn: Conn, ctx: ConnState, data: bytes) -> None:
        """What the connection's codec makes of its bytes, each item to where it goes."""
        items = ctx.codec.feed(data)
        if ctx.held or ctx.waiting:  # still waiting for its answers to be read, or for its login
            ctx.held.extend(items)
            if ctx.waiting:  # read again only once the verdict is in (answered)
                self.reactor.pause(conn)
            return
        self._handle(conn, ctx, items)

    def on_resume(self, conn: Conn) -> None:
        """Its answers were read: the commands held since go on."""
        ctx: ConnState | None = conn.ctx
        if ctx is not None and ctx.held and not ctx.waiting and not conn.closing:
            items, ctx.held = ctx.held, []
            self._handle(conn, ctx, items)

    def answering(self, conn_id: int) -> Labeled | None:
        """A request of the hub's is about to come back: the label it answers, if any."""
        conn = self.reactor.conns.get(conn_id)
        if conn is None or conn.ctx is None:
            return None
        return self.labels.answering(conn, conn.ctx.label)

    def answered(self, conn_id: int, label: Labeled | None = None) -> None:
        """A request of the hub's came back: if the connection waited for it (its login, a
        labeled command), what it sent behind it goes on, in order (OPER then PING answers 381
        before PONG, as irctest expects)."""
        conn = self.reactor.conns.get(conn_id)
        if conn is None or conn.ctx is None:
            return
        ctx: ConnState = conn.ctx
        if label is not None:
            self.labels.answered(conn, label)
            if not label.asks:
                ctx.label = None
        if not ctx.waiting or self.hub.logging_in(conn_id) or ctx.label is not None:
            return
        ctx.waiting = False
        if conn.out_bytes > self.pause_high:
            return  # paused for its output too: reading and the held commands go on as it drains
        self.reactor.resume(conn)
        if ctx.held:
            self.reactor.call_later(0, self.on_resume, conn)

    def then(self, conn_id: int, command: Any) -> None:
        """The next part of an answer, once the part before has been read (hub/effects.Then)."""
        conn = self.reactor.conns.get(conn_id)
        if conn is None or conn.closing or conn.ctx is None:
            return
        conn.ctx.held.insert(0, self.labels.continued(conn_id, command))
        if conn.out_bytes > self.pause_high:
            self.reactor.pause(conn)
        else:
            self.reactor.call_later(0, self.on_resume, conn)

    def _handle(self, conn: Conn, ctx: ConnState, items: list[Any], pausing: bool = True) -> None:
        """Each command in turn; once the answers waiting for this connection pass the
        high-water mark, the rest wait until it has read them (issue 21, item 1): a client that
        asks for pages of history, lists and WHOs without reading them is paused, never dropped,
        and one answer is bounded (hub/budget.py), so its own questions never take it past
        --max-output."""
        now = self.wall_clock()
        hub, apply = self.hub, self.effects.apply
        for index, item in enumerate(items):
            if conn.closing:
                return  # once closing, its input is ignored
            if conn.out_bytes > self.pause_high and pausing:
                ctx.held = items[index:]
                self.reactor.pause(conn)
                return
            kind = type(item)
            if kind is bytes:
                self.fanout.flush_for(conn.id)
                self.reactor.send(conn, item)  # the codec's own answer (help, a prompt, a page)
                continue
            if kind is Hangup:
                self.fanout.flush_for(conn.id)
                self.reactor.close(conn, item.reason)
                return
            if isinstance(item, ProtocolError):
                self.error(conn, item)
                continue
            if kind is Labeled:  # one line's commands, their answers tagged with its label
                self.labels.run(conn, item, lambda inner: self._handle(conn, ctx, inner, False))
                if item.asks:
                    ctx.label = item
                    self._wait(conn, ctx, items[index + 1:])
                    return
                if ctx.held or ctx.waiting:
                    ctx.held.extend(items[index + 1:])
                    return
                continue
            try:
                effects = hub.handle(conn.id, item, now)
            except ProtocolError as exc:
                self.error(conn, exc, item)
                continue
            apply(effects)
            if ctx.held:  # an answer goes on in parts (Then): the rest of the input waits behind it
                ctx.held.extend(items[index + 1:])
                return
            if kind in CHECKED and hub.logging_in(conn.id):  # its password is in the worker (answered)
                self._wait(conn, ctx, items[index + 1:])
                return
        if ctx.wire is not ctx.codec.wire and not conn.closing:
            # capabilities changed after joining (IRC's CAP REQ): audiences split by wire are stale
            self.fanout.forget_audiences()
            ctx.wire = ctx.codec.wire

    def _wait(self, conn: Conn, ctx: ConnState, rest: list[Any]) -> None:
        """The connection waits on the worker: the rest of its input is held, and nothing more is
        read meanwhile, so what waits stays small (``answered`` lets it go on)."""
        ctx.waiting = True
        ctx.held.extend(rest)
        self.reactor.pause(conn)

    # -- answers -----------------------------------------------------------------------------------
    def error(self, conn: Conn, exc: ProtocolError, command: Any = None) -> None:
        ctx: ConnState = conn.ctx
        ctx.errors += 1
        errors = self.tally.errors
        errors[exc.code.value] = errors.get(exc.code.value, 0) + 1
        level = logging.INFO if ctx.errors <= ERRORS_LOGGED or exc.closes else logging.DEBUG
        who = f"{ctx.name} ({conn.peer})" if ctx.name else conn.peer
        log.log(level, "error %s to %s: %s", exc.code.value, who, exc.message)
        self.fanout.flush_for(conn.id)
        self.reactor.send(conn, ctx.codec.error(exc, command) if ctx.codec is not None else JSON_V1.error(exc))
        if exc.closes:
            self.reactor.close(conn, exc.code.value)
            return
        if exc.code is not ErrorCode.RATE_LIMITED:  # that one has spent its token already
            try:
                self.hub.penalize(conn.id, self.wall_clock())
            except ProtocolError as flood:
                self.error(conn, flood)

    def fail(self, conn_id: int, exc: ProtocolError) -> None:
        """An error that arose outside the connection's own input (``Fail``)."""
        conn = self.reactor.conns.get(conn_id)
        if conn is not None and not conn.closing:
            self.error(conn, exc)

    def welcomed(self, conn_id: int) -> None:
        """A connection has joined: its codec is now the version it asked for."""
        conn = self.reactor.conns.get(conn_id)
        if conn is None or conn.ctx is None:
            return
        ctx: ConnState = conn.ctx
        self.tally.joins += 1
        ctx.name = self.hub.name_of(conn_id)
        ctx.codec.welcomed()  # a JSON wire depends on the version joined
        ctx.wire = ctx.codec.wire
        if ctx.handshake is not None:
            ctx.handshake.cancel()
            ctx.handshake = None
        how = {JSON_V1: "", JSON_V2: " v2"}.get(ctx.wire, f" ({ctx.codec.kind})")
        log.info("join %s (%s)%s", ctx.name, conn.peer, how)

    # -- closing -----------------------------------------------------------------------------------
    def on_slow(self, conn: Conn) -> bytes:
        """Why a slow consumer is dropped, in the words of what it speaks: IRC's ERROR, a text
        line, a WebSocket close, a JSON error (issue 21, item 7)."""
        limit = conn.limit or self.config.max_output
        exc = ProtocolError(ErrorCode.SLOW_CONSUMER, f"you fell {limit} bytes behind reading; disconnected")
        codec = conn.ctx.codec if conn.ctx is not None else None
        return codec.refuse(exc) if codec is not None else JSON_V1.error(exc)

    def on_close(self, conn: Conn, reason: str) -> None:
        self.tally.closes[reason] = self.tally.closes.get(reason, 0) + 1
        ctx: ConnState | None = conn.ctx
        if ctx is None:
            return
        for timer in (ctx.handshake, ctx.keepalive, ctx.text_timer):
            if timer is not None:
                timer.cancel()
        if ctx.address is not None:
            self.gate.release(ctx.address)
        self.fanout.flush()  # membership is about to change
        ctx.name = self.hub.name_of(conn.id) or ctx.name  # the name it has now, after any /nick
        shown = None if reason == "quit" else reason.replace("_", " ")
        lost = reason in LOST or reason.startswith("socket error")  # not a quit, a kick or a refusal
        self.effects.apply(self.hub.disconnect(conn.id, self.wall_clock(), shown, lost))
        if self.hub.lingering(conn.id):  # an account's last connection: it stays a while (--linger)
            self.reactor.call_later(self.config.linger, lambda gone=conn.id: self.effects.apply(
                self.hub.linger_over(gone, self.wall_clock())))
        who = f"{ctx.name} ({conn.peer})" if ctx.name else conn.peer
        log.info("%s %s: %s", "leave" if ctx.name else "disconnect", who, reason)
