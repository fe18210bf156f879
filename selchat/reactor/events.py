"""The events under the reactor (Redis's ae.c): the selector, timers, and each connection's
registration kept in line with what it waits for. Nothing here reads or writes a socket."""

from __future__ import annotations

import heapq
import itertools
import logging
import selectors
import time
from collections.abc import Callable
from typing import Any

from selchat.reactor.buglog import BugLog
from selchat.reactor.conn import Conn

log = logging.getLogger("selchat.reactor")

EVENT_READ = selectors.EVENT_READ
EVENT_WRITE = selectors.EVENT_WRITE


# asyncio's rule (base_events.py): rebuild the heap once over half of it is cancelled entries and
# there are more than this many, so a cancelled timer (a closed connection's keepalive, holding
# the connection through its arguments) never waits for its due time to be freed.
COMPACT_ABOVE = 100


class Timer:
    """A scheduled call; ``cancel()`` drops what it would have called at once and leaves the heap
    entry to be skipped when it comes due, or swept when the cancelled are most of the heap."""

    __slots__ = ("when", "seq", "fn", "args", "cancelled", "loop")

    def __init__(self, when: float, seq: int, fn: Callable[..., Any], args: tuple[Any, ...],
                 loop: EventLoop | None = None) -> None:
        self.when = when
        self.seq = seq
        self.fn: Callable[..., Any] | None = fn
        self.args = args
        self.cancelled = False
        self.loop = loop

    def cancel(self) -> None:
        if self.cancelled:
            return
        self.cancelled = True
        self.fn, self.args = None, ()  # what it held (a connection, say) is freed now
        if self.loop is not None:
            self.loop.timer_cancelled()
            self.loop = None

    def __lt__(self, other: Timer) -> bool:
        return (self.when, self.seq) < (other.when, other.seq)


class EventLoop:
    """The selector and the timers' heap; ``now`` is the clock read once a turn."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.now = clock()
        self.bugs = BugLog(clock)  # a bug input can reach is logged once a minute, not per request
        self.sel = selectors.DefaultSelector()
        self._timers: list[Timer] = []
        self._seq = itertools.count()
        self._cancelled = 0  # cancelled entries still in the heap
        self.stop_at: float | None = None  # the deadline of a drain: select() never sleeps past it

    # -- readers that are not connections (listeners, the worker's and signals' wake-ups) ----------
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
        timer = Timer(when, next(self._seq), fn, args, self)
        heapq.heappush(self._timers, timer)
        return timer

    def timer_cancelled(self) -> None:
        self._cancelled += 1
        timers = self._timers
        if self._cancelled > COMPACT_ABOVE and self._cancelled * 2 > len(timers):
            timers[:] = [t for t in timers if not t.cancelled]  # in place: run_timers may hold it
            heapq.heapify(timers)
            self._cancelled = 0

    def pending_timers(self) -> int:
        """Entries in the heap, cancelled ones included (a test's and the metrics' measure)."""
        return len(self._timers)

    def run_timers(self) -> None:
        timers = self._timers
        now = self.now
        while timers and timers[0].when <= now:
            timer = heapq.heappop(timers)
            if timer.cancelled:
                self._cancelled -= 1
                continue
            timer.loop = None  # it has run: a late cancel() has nothing to count
            try:
                timer.fn(*timer.args)  # type: ignore[misc]
            except Exception:
                self.bugs.exception(log, "timer %r failed", timer.fn)

    def timeout(self) -> float | None:
        """How long select() may sleep: until the next timer or the drain's deadline."""
        timers = self._timers
        while timers and timers[0].cancelled:
            heapq.heappop(timers)
            self._cancelled -= 1
        deadline = timers[0].when if timers else None
        if self.stop_at is not None:
            deadline = self.stop_at if deadline is None else min(deadline, self.stop_at)
        if deadline is None:
            return None
        return max(0.0, deadline - self.clock())

    def select(self) -> list[tuple[selectors.SelectorKey, int]]:
        events = self.sel.select(self.timeout())
        self.now = self.clock()
        return events

    # -- a connection's registration -------------------------------------------------------------
    def update(self, conn: Conn) -> None:
        """Bring the selector registration in line with what the connection waits for now."""
        if conn.closed:
            return
        if conn.handshaking:
            want_read = conn.tls.want_read  # type: ignore[union-attr]
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
            self.unregister(conn)
        elif conn.registered:
            self.sel.modify(conn.sock, events, conn)
        else:
            self.sel.register(conn.sock, events, conn)
            conn.registered = True
        conn.reading = want_read
        conn.writing = want_write

    def unregister(self, conn: Conn) -> None:
        if conn.registered:
            try:
                self.sel.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
            conn.registered = False
