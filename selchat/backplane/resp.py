"""A RESP client that knows nothing of chat: where Redis is (``redis://`` URLs), commands as
bytes, and ``RespLink``, one connection to Redis over the reactor.

A link dials without blocking (a host name is resolved off the loop), says AUTH and SELECT
before anything else, keeps the callbacks of its commands in a FIFO (Redis answers in order),
and when it is lost fails what was waiting and dials again with back-off. A subscriber link's
replies are pushes: ``feed`` returns them to its owner. Its replies are parsed by
``hiredis.Reader`` (sans-I/O).
"""

from __future__ import annotations

import logging
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from selchat.reactor import Conn, Handler, Reactor

log = logging.getLogger("selchat.backplane")

# Reconnecting: the first retry after this, doubling up to the most (Redis clients such as
# redis-py and ioredis back off the same way).
BACKOFF_FIRST = 0.1
BACKOFF_MOST = 5.0

Reply = Any  # what hiredis gives: bytes, int, list, an exception (hiredis.ReplyError) or None
Callback = Callable[[Reply], None]
Resolve = Callable[[str, int, Callable[[Any], None]], None]


class RedisUrlError(ValueError):
    """--redis is not a URL selchat can use; the message is one line."""


@dataclass(frozen=True, slots=True)
class RedisTarget:
    host: str
    port: int
    db: int = 0
    password: str | None = None
    username: str | None = None
    tls: bool = False


def parse_url(url: str) -> RedisTarget:
    """redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], or rediss:// for TLS."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise RedisUrlError(f"{url!r} is not a redis:// or rediss:// URL (redis://127.0.0.1:6379/0)")
    try:
        port = parts.port or 6379
    except ValueError:
        raise RedisUrlError(f"{url!r} has a port that is not a number")
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise RedisUrlError(f"{url!r}: the database is a number (redis://HOST:PORT/0)")
    if not parts.hostname:
        raise RedisUrlError(f"{url!r} names no host")
    return RedisTarget(parts.hostname, port, int(path or 0), unquote(parts.password) if parts.password else None,
                       unquote(parts.username) if parts.username else None, parts.scheme == "rediss")


def tls_context(cafile: str | None = None) -> ssl.SSLContext:
    """rediss://: the server's certificate is checked, against ``cafile`` (a self-signed or
    private CA's certificate) or else the system's store, and so is its name."""
    return ssl.create_default_context(cafile=cafile)


def command(*args: str | bytes | int | float) -> bytes:
    """One RESP command (an array of bulk strings)."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def checked(what: str) -> Callback:
    """A callback for a command whose only possible news is a refusal, which is logged."""
    def check(reply: Reply) -> None:
        if isinstance(reply, Exception):
            log.error("Redis refused %s: %s", what, reply)
    return check


class RespLink:
    """One connection to Redis: dialled, greeted, fed, and dialled again when lost.

    ``handler`` is what the reactor gives the connection's events to (the link's owner, which
    hands them back here: ``opened``, ``feed``, ``closed``)."""

    def __init__(self, name: str, target: RedisTarget, reactor: Reactor, handler: Handler, resolve: Resolve, *,
                 limit: int, cafile: str | None = None, pushes: bool = False) -> None:
        import hiredis

        self._hiredis = hiredis
        self.name = name
        self.target = target
        self.reactor = reactor
        self.handler = handler
        self.resolve = resolve
        self.limit = limit  # its output limit: what may wait to be written before it counts as stalled
        self.ssl_context = tls_context(cafile) if target.tls else None
        self.pushes = pushes  # a subscriber link: replies are pushes for the owner, not answers
        self.conn: Conn | None = None  # while connected (or connecting)
        self.resolving = False  # its host is being resolved (off the loop), before connecting
        self.up = False
        self.reader = hiredis.Reader()
        self.waiting: deque[Callback | None] = deque()
        self.backoff = BACKOFF_FIRST
        self.retry_timer: Any = None
        self.stopped = False

    # -- dialling ------------------------------------------------------------------------------
    def dial(self) -> None:
        """Resolve Redis's host off the loop (a name may take the resolver seconds), then connect."""
        if self.stopped or self.conn is not None or self.resolving:
            return
        self.resolving = True
        self.resolve(self.target.host, self.target.port, self._resolved)

    def _resolved(self, address: Any) -> None:
        self.resolving = False
        if self.stopped:
            return
        try:
            if isinstance(address, Exception):
                raise address
            self.conn = self.reactor.connect(address, self.target.port, self.handler, limit=self.limit,
                                             tls=self.ssl_context, server_name=self.target.host)
        except OSError as exc:
            log.warning("cannot reach Redis at %s:%d: %s", self.target.host, self.target.port, exc)
            self._retry()

    def _retry(self) -> None:
        if self.retry_timer is not None or self.stopped:
            return
        delay, self.backoff = self.backoff, min(BACKOFF_MOST, self.backoff * 2)
        self.retry_timer = self.reactor.call_later(delay, self._redial)

    def _redial(self) -> None:
        self.retry_timer = None
        self.dial()  # (not twice: a link whose host is being resolved waits for it)

    def stop(self) -> None:
        self.stopped = True
        if self.conn is not None and not self.conn.closing:
            self.reactor.close(self.conn, "shutdown")

    # -- the connection's life -------------------------------------------------------------------
    def opened(self) -> None:
        """Up: AUTH and SELECT go first on the connection, and Redis answers them first."""
        self.up = True
        self.backoff = BACKOFF_FIRST
        target = self.target
        if target.password is not None:
            auth = ("AUTH", target.username, target.password) if target.username else ("AUTH", target.password)
            self.send(auth, checked("AUTH"))
        if target.db:
            self.send(("SELECT", target.db), checked("SELECT"))
        log.info("Redis %s link up (%s:%d)", self.name, target.host, target.port)

    def feed(self, data: bytes) -> list[Reply]:
        """Parse what arrived: answers go to their callbacks, pushes are returned (in order)."""
        reader = self.reader
        reader.feed(data)
        pushed: list[Reply] = []
        while True:
            try:
                reply = reader.gets()
            except Exception as exc:  # hiredis.ProtocolError: not Redis on the other end
                log.error("Redis %s link: %s", self.name, exc)
                if self.conn is not None:
                    self.reactor.close(self.conn, "protocol error")
                return pushed
            if reply is False:
                return pushed
            if self.pushes:
                pushed.append(reply)
            elif self.waiting:
                callback = self.waiting.popleft()
                if callback is not None:
                    callback(reply)

    def closed(self, reason: str) -> bool:
        """Lost (or never made): what waited fails, and it is dialled again. Whether it was up."""
        was_up = self.up
        self.conn = None
        self.up = False
        self.reader = self._hiredis.Reader()
        waiting, self.waiting = self.waiting, deque()
        for callback in waiting:
            if callback is not None:
                callback(ConnectionError("the link to Redis was lost"))
        if not self.stopped:
            log.warning("Redis %s link %s: %s; retrying", self.name, "lost" if was_up else "not made", reason)
            self._retry()
        return was_up

    def send(self, args: tuple[Any, ...], callback: Callback | None = None) -> bool:
        """Send one command; False (and nothing sent) while the link is down. A subscriber
        link's replies are all pushes, so its commands wait for no callback."""
        if not self.up or self.conn is None:
            return False
        if not self.pushes:
            self.waiting.append(callback)
        self.reactor.send(self.conn, command(*args))
        return True
