"""The write side (Redis's networking.c output buffers): each connection's queue, one output
limit for every way of sending, and the once-a-turn write to everything with output pending.

A connection past its limit is a slow consumer (Redis's client-output-buffer-limit): what it
never read is dropped at a frame boundary, a client is told why, and it is closed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from selchat.config import pause_marks
from selchat.reactor.conn import Conn
from selchat.reactor.events import EventLoop

try:
    IOV_MAX = min(1024, os.sysconf("SC_IOV_MAX"))
except (AttributeError, ValueError, OSError):  # pragma: no cover - non-POSIX
    IOV_MAX = 16


class Output:
    """The queues of every connection, and the set of those with something to write."""

    def __init__(self, loop: EventLoop, conns: dict[int, Conn], max_output: int,
                 close: Callable[[Conn, str], None], lost: Callable[[Conn, OSError], None]) -> None:
        self.loop = loop
        self.conns = conns
        self.max_output = max_output  # a connection's limit unless it has its own (Conn.limit)
        self.pause_high, self.pause_low = pause_marks(max_output)
        self.close = close
        self.lost = lost
        self.pending: set[Conn] = set()
        self.bytes_out = 0
        self.slow_consumers = 0

    # -- queueing: every way in checks the same limit ----------------------------------------------
    def send(self, conn: Conn, data: bytes | memoryview) -> None:
        """Queue bytes for one connection; they are written before the next select()."""
        if conn.closing or not data:
            # a closing connection is no longer a target; and an empty buffer would never be
            # written away (a send of nothing sends 0), so a close would wait out its linger
            return
        conn.out.append(data)
        conn.out_bytes += len(data)
        if conn.out_bytes > (conn.limit or self.max_output):
            self.slow_consumer(conn)
        self.pending.add(conn)

    def send_many(self, ids: Iterable[int], data: bytes | memoryview, skip: Any = ()) -> None:
        """Queue the same bytes object for many connections: the hot path of a broadcast."""
        conns = self.conns
        pending = self.pending
        size = len(data)
        limit = self.max_output
        for cid in ids:
            conn = conns.get(cid)
            if conn is None or conn.closing or cid in skip:
                continue
            conn.out.append(data)
            conn.out_bytes += size
            if conn.out_bytes > (conn.limit or limit):
                self.slow_consumer(conn)
            pending.add(conn)

    def send_parts(self, conn_id: int, parts: list[memoryview]) -> None:
        conn = self.conns.get(conn_id)
        if conn is None or conn.closing:
            return
        for part in parts:
            if part:
                conn.out.append(part)
                conn.out_bytes += len(part)
        if conn.out_bytes > (conn.limit or self.max_output):
            self.slow_consumer(conn)
        self.pending.add(conn)

    def slow_consumer(self, conn: Conn) -> None:
        """Drop what the reader never read, keeping frame boundaries, and close."""
        self.slow_consumers += 1
        out = conn.out
        keep = out[0] if conn.head_partial and out else None
        out.clear()
        conn.out_bytes = 0
        if keep is not None:
            out.append(keep)
            conn.out_bytes = len(keep)
        else:
            conn.head_partial = False
        words = b"" if conn.outbound else conn.handler.on_slow(conn)  # a link of ours is just cut
        if words:  # written best effort: a client is told why, in what it speaks
            out.append(words)
            conn.out_bytes += len(words)
        self.close(conn, "slow_consumer")

    # -- writing ---------------------------------------------------------------------------------
    def write(self, conn: Conn) -> None:
        """One write of what the connection has queued; the rest waits for EVENT_WRITE."""
        out = conn.out
        if not out or conn.closed or conn.connecting or conn.handshaking:
            return
        try:
            if conn.tls is not None:
                sent = conn.tls.send(conn)
            elif len(out) == 1:
                sent = conn.sock.send(out[0])
            else:
                sent = conn.sock.sendmsg(out[:IOV_MAX])
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self.lost(conn, exc)
            return
        conn.out_bytes -= sent
        self.bytes_out += sent
        done = 0  # buffers written whole, dropped in one slice
        while sent:
            head = out[done]
            size = len(head)
            if sent >= size:
                done += 1
                sent -= size
            else:
                out[done] = memoryview(head)[sent:]
                conn.head_partial = True
                break
        else:
            conn.head_partial = False
        if done:
            del out[:done]
        if conn.paused and conn.out_bytes <= self.pause_low:
            conn.paused = False
            resume = getattr(conn.handler, "on_resume", None)
            if resume is not None:  # in the next turn, where what it sends is batched as usual
                self.loop.call_later(0, resume, conn)
        elif not conn.paused and conn.out_bytes > self.pause_high:
            conn.paused = True  # asyncio's pause_reading(): stop reading a sender we can't answer
        self.loop.update(conn)

    def flush(self) -> None:
        """Write once to every connection with output pending."""
        pending = self.pending
        if not pending:
            return
        self.pending = set()
        write = self.write
        written = 0  # added to bytes_out once, not once per connection
        for conn in pending:
            out = conn.out
            # The common case, kept lean because it runs once per recipient per turn: one
            # buffer, written whole, on a plain socket whose registration need not change.
            if len(out) == 1 and conn.tls is None and not conn.writing and not conn.paused and not conn.closed:
                data = out[0]
                try:
                    sent = conn.sock.send(data)
                except (BlockingIOError, InterruptedError):
                    sent = 0
                except OSError as exc:
                    self.lost(conn, exc)
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
                self.loop.update(conn)  # the rest waits for EVENT_WRITE
                continue
            write(conn)
        self.bytes_out += written
