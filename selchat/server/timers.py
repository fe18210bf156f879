"""A connection's timers: the join it owes (--handshake-timeout, two minutes for a person in
text mode) and the keepalive that pings a silent client and drops one that stays silent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from selchat.config import ServerConfig
from selchat.errors import ErrorCode, ProtocolError
from selchat.hub import Hub
from selchat.reactor import Conn, Reactor
from selchat.server.fanout import Fanout

# Seconds a person in text mode has to give a name (a program has --handshake-timeout).
TEXT_HANDSHAKE = 120.0
NEAR_FULL = 0.9  # of --max-clients: past it a silent person gets a program's wait


class Timers:
    def __init__(self, reactor: Reactor, hub: Hub, config: ServerConfig, fanout: Fanout,
                 wall_clock: Callable[[], float], error: Callable[[Conn, ProtocolError], Any]) -> None:
        self.reactor = reactor
        self.hub = hub
        self.config = config
        self.fanout = fanout
        self.wall_clock = wall_clock
        self.error = error

    def name_wait(self) -> float:
        """A person has two minutes to give a name; once the server is nine-tenths full, only as
        long as a program has (silent sockets must not hold the last places)."""
        if len(self.reactor.conns) >= NEAR_FULL * self.config.max_clients:
            return self.config.handshake_timeout
        return max(self.config.handshake_timeout, TEXT_HANDSHAKE)

    def handshake_expired(self, conn: Conn) -> None:
        if conn.closing or conn.ctx.name is not None:
            return
        if self.hub.logging_in(conn.id):
            # the wait is the worker's, not the client's: look again later
            conn.ctx.handshake = self.reactor.call_later(self.config.handshake_timeout, self.handshake_expired, conn)
            return
        secs = self.config.handshake_timeout
        self.error(conn, ProtocolError(ErrorCode.HANDSHAKE_TIMEOUT, f"no join within {secs:g} s"))

    def keepalive(self, conn: Conn) -> None:
        """Ping after ``ping_interval`` of silence; drop after as long again (lazy reset).

        Bytes arriving only update ``last_rx``; the timer, when it comes due, works out whether
        the client was silent, so a busy connection costs no timer work per frame.
        """
        if conn.closing:
            return
        ctx: Any = conn.ctx  # session.ConnState
        interval = self.config.ping_interval
        now = self.reactor.now
        silent = now - ctx.last_rx
        if silent < interval:
            when = ctx.last_rx + interval
        elif ctx.pinged_at is None or ctx.last_rx > ctx.pinged_at:
            # silent for a whole interval (again): ask whether it is still there
            payload = ctx.codec.ping(int(self.wall_clock())) if ctx.codec is not None else None
            if payload is None:  # a person at nc is not pinged, and not dropped for silence
                ctx.keepalive = self.reactor.call_at(now + interval, self.keepalive, conn)
                return
            ctx.pinged_at = now
            self.fanout.flush_for(conn.id)
            self.reactor.send(conn, payload)
            when = now + interval
        else:
            self.error(conn, ProtocolError(ErrorCode.IDLE_TIMEOUT, f"silent for {silent:.0f} s"))
            return
        ctx.keepalive = self.reactor.call_at(when, self.keepalive, conn)
