"""Outgoing webhooks (hooks.py): a POST for each line that calls a hook, sent by the loop itself
over the reactor's non-blocking connects (as the Redis link is), so a slow or dead URL costs the
loop a few microseconds and never holds the worker that checks passwords.

- bounded: at most QUEUE_MAX posts wait; beyond that the newest is dropped, and the log says so;
- at most IN_FLIGHT at once, each attempt given TIMEOUT seconds from connecting to the answer's end;
- a failure to connect, a timeout or a 5xx is tried again after 1, 4 and 16 s (Slack's outgoing
  webhooks retry, with back-off, likewise); a 4xx is the receiver's own answer and is not;
- the answer: a 2xx whose JSON body holds "text" is said in the room as the hook's bot, so a bot
  can answer without holding a connection (Slack's outgoing webhooks answer the same way).
"""

from __future__ import annotations

import json
import logging
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import h11

from selchat import __version__
from selchat.hub.effects import CallOut
from selchat.reactor import Conn, Reactor

log = logging.getLogger("selchat.server")

QUEUE_MAX = 1000  # posts waiting, as Redis bounds a client's output: past it, new ones are dropped
IN_FLIGHT = 8  # connections at once: a few, so one slow receiver does not hold the others
TIMEOUT = 10.0  # seconds per attempt (Slack gives an outgoing webhook's receiver 3 s to answer; we wait longer)
BACKOFF = (1.0, 4.0, 16.0)  # seconds before each retry
ANSWER_MAX = 64 * 1024  # an answer longer than this is not read for a reply

Resolve = Callable[[str, int, Callable[[Any], None]], None]
Reply = Callable[[str, str, str], None]  # (hook key, room key, text)


@dataclass(slots=True)
class Attempt:
    call: CallOut
    body: bytes
    tries: int = 0
    http: h11.Connection = field(default_factory=lambda: h11.Connection(h11.CLIENT))
    status: int = 0
    answer: bytearray = field(default_factory=bytearray)
    whole: bool = False  # the answer's end was read
    timer: Any = None


def body_of(call: CallOut) -> bytes:
    """What the receiver gets: the line, where it was said, and the word that called the hook."""
    return json.dumps({"room": call.room, "username": call.username, "text": call.text,
                       "timestamp": call.timestamp, "trigger_word": call.word}).encode()


class CallOuts:
    def __init__(self, reactor: Reactor, resolve: Resolve, reply: Reply) -> None:
        self.reactor = reactor
        self.resolve = resolve
        self.reply = reply
        self.waiting: deque[Attempt] = deque()
        self.busy = 0
        self.sent = self.failed = self.dropped = 0
        self.tls: ssl.SSLContext | None = None

    def call_out(self, call: CallOut) -> None:
        """The hub's effect: a POST to send when a connection is free."""
        if len(self.waiting) >= QUEUE_MAX:
            self.dropped += 1
            if self.dropped % 100 == 1:  # said, but a flood of them is not a flood of log lines
                log.warning("outgoing webhooks: %d posts wait; dropped the one for %s (%d so far)",
                            QUEUE_MAX, call.hook, self.dropped)
            return
        self.waiting.append(Attempt(call, body_of(call)))
        self._next()

    def _next(self) -> None:
        while self.waiting and self.busy < IN_FLIGHT:
            attempt = self.waiting.popleft()
            self.busy += 1
            self._start(attempt)

    def _start(self, attempt: Attempt) -> None:
        url = urlsplit(attempt.call.url)
        port = url.port or (443 if url.scheme == "https" else 80)
        attempt.tries += 1
        attempt.http = h11.Connection(h11.CLIENT)
        attempt.status, attempt.answer, attempt.whole = 0, bytearray(), False
        self.resolve(url.hostname or "", port, lambda address: self._resolved(attempt, address, port))

    def _resolved(self, attempt: Attempt, address: Any, port: int) -> None:
        if isinstance(address, Exception):
            self._done(attempt, f"cannot resolve its host: {address}", retry=True)
            return
        url = urlsplit(attempt.call.url)
        tls = self._tls() if url.scheme == "https" else None
        try:
            conn = self.reactor.connect(address, port, Receiver(self, attempt), tls=tls, server_name=url.hostname)
        except OSError as exc:
            self._done(attempt, f"cannot connect: {exc}", retry=True)
            return
        attempt.timer = self.reactor.call_later(TIMEOUT, self._timed_out, attempt, conn)

    def _tls(self) -> ssl.SSLContext:
        """The system's certificates, checked as any HTTPS client checks them; made once."""
        if self.tls is None:
            self.tls = ssl.create_default_context()
        return self.tls

    def _timed_out(self, attempt: Attempt, conn: Conn) -> None:
        attempt.timer = None
        if not conn.closing:
            self.reactor.abort(conn, f"no answer within {TIMEOUT:g} s")

    def request(self, attempt: Attempt) -> bytes:
        url = urlsplit(attempt.call.url)
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        head = h11.Request(method="POST", target=target, headers=[
            ("Host", url.netloc), ("Content-Type", "application/json"), ("Content-Length", str(len(attempt.body))),
            ("User-Agent", f"selchat/{__version__}"), ("Connection", "close")])
        http = attempt.http
        return (http.send(head) or b"") + (http.send(h11.Data(data=attempt.body)) or b"") + \
            (http.send(h11.EndOfMessage()) or b"")

    def finished(self, attempt: Attempt, reason: str) -> None:
        """The connection is gone: what the answer was decides a retry, or a reply."""
        if attempt.timer is not None:
            attempt.timer.cancel()
            attempt.timer = None
        status = attempt.status
        if 200 <= status < 300:
            self.sent += 1
            self._reply(attempt)
            self._done(attempt, "")
        elif 400 <= status < 500:
            self._done(attempt, f"answered {status}", retry=False)
        else:
            self._done(attempt, f"answered {status}" if status else reason, retry=True)

    def _reply(self, attempt: Attempt) -> None:
        try:
            text = json.loads(bytes(attempt.answer)).get("text") if attempt.answer.strip() else None
        except (ValueError, AttributeError):
            return  # an answer that is not a reply: nothing to say back
        if isinstance(text, str) and text.strip():
            self.reply(attempt.call.hook, attempt.call.room.lower(), text)

    def _done(self, attempt: Attempt, why: str, retry: bool = False) -> None:
        self.busy -= 1
        if why and retry and attempt.tries <= len(BACKOFF):
            delay = BACKOFF[attempt.tries - 1]
            log.info("outgoing webhook %s: %s; trying again in %g s", attempt.call.hook, why, delay)
            self.busy += 1  # its place is kept: the retry is the next thing it does
            self.reactor.call_later(delay, self._start, attempt)
        elif why:
            self.failed += 1
            log.warning("outgoing webhook %s to %s: %s; given up after %d tries", attempt.call.hook,
                        attempt.call.url, why, attempt.tries)
        self._next()


class Receiver:
    """One attempt's connection: the request on opening, the answer parsed by h11 as it comes."""

    def __init__(self, owner: CallOuts, attempt: Attempt) -> None:
        self.owner = owner
        self.attempt = attempt

    def on_open(self, conn: Conn) -> None:
        self.owner.reactor.send(conn, self.owner.request(self.attempt))

    def on_data(self, conn: Conn, data: bytes) -> None:
        attempt = self.attempt
        http = attempt.http
        try:
            http.receive_data(data)
            while (event := http.next_event()) not in (h11.NEED_DATA, h11.PAUSED):
                if type(event) is h11.Response:
                    attempt.status = event.status_code
                elif type(event) is h11.Data and len(attempt.answer) < ANSWER_MAX:
                    attempt.answer += event.data
                elif type(event) in (h11.EndOfMessage, h11.ConnectionClosed):
                    attempt.whole = True
                    if not conn.closing:
                        self.owner.reactor.close(conn, "answered")
                    return
        except h11.RemoteProtocolError as exc:
            attempt.status = 0
            self.owner.reactor.abort(conn, f"not HTTP: {exc}")

    def on_close(self, conn: Conn, reason: str) -> None:
        attempt = self.attempt
        if attempt.status and attempt.http.their_state is h11.SEND_BODY:
            self.on_data(conn, b"")  # an answer whose end is the connection's end (no length given)
        if not attempt.whole:
            attempt.status = 0  # cut off before its answer ended
        self.owner.finished(attempt, reason)

    def on_slow(self, conn: Conn) -> bytes:
        return b""

