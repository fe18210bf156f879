"""Gathering the answers to a labeled command (IRCv3 labeled-response) for the codec to tag.

The reactor knows nothing of labels, so the server marks where the connection's output stood
before the command, runs it, and takes back what was queued since: every answer to it, since one
thread handled it and nothing else ran. Answers that come later (a page from the worker, the next
part of a long list) are gathered the same way when they come, and the codec keeps them in one
batch. While a labeled command waits on the worker, what the connection sends next waits too, so
no other answer lands inside the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from selchat.reactor import Conn, Reactor
from selchat.server.fanout import Fanout
from selchat.wire.base import Labeled


class Labels:
    def __init__(self, reactor: Reactor, fanout: Fanout) -> None:
        self.reactor = reactor
        self.fanout = fanout
        self.running: tuple[int, Labeled] | None = None  # the connection and label being handled now

    def run(self, conn: Conn, item: Labeled, handle: Callable[[list[Any]], None]) -> None:
        """Handle a labeled line's commands, then send their answers tagged."""
        item.more = False
        self._mark(conn, item)
        outer, self.running = self.running, (conn.id, item)
        try:
            handle(item.items)
        finally:
            self.running = outer
        self._tag(conn, item)

    def asked(self, conn_id: int) -> None:
        """A request for the worker (Effects.ask): the running label waits for its answer."""
        running = self.running
        if running is not None and running[0] == conn_id:
            running[1].asks += 1

    def continued(self, conn_id: int, command: Any) -> Any:
        """The next part of an answer (a Then): under the running label, it stays under it."""
        running = self.running
        if running is None or running[0] != conn_id:
            return command
        item = running[1]
        item.more = True
        item.items = [command]
        return item

    def answering(self, conn: Conn, item: Labeled | None) -> Labeled | None:
        """A worker's answer for a connection is about to be handled: its label's, if one waits."""
        running = self.running
        if running is not None and running[0] == conn.id:  # answered at once, inside the command's own turn
            running[1].asks = max(0, running[1].asks - 1)
            return None
        if item is None or not item.asks:
            return None
        self._mark(conn, item)
        return item

    def answered(self, conn: Conn, item: Labeled) -> None:
        item.asks -= 1
        self._tag(conn, item)

    # -- the output's own bookkeeping ------------------------------------------------------------
    def _mark(self, conn: Conn, item: Labeled) -> None:
        self.fanout.flush_for(conn.id)  # what was due before it is not its answer
        item.start = len(conn.out)

    def _tag(self, conn: Conn, item: Labeled) -> None:
        if conn.closing or conn.ctx is None:
            return
        self.fanout.flush_for(conn.id)
        out = conn.out
        taken = [out.pop() for _ in range(max(0, len(out) - item.start))]
        data = b"".join(bytes(chunk) for chunk in reversed(taken))
        conn.out_bytes -= len(data)
        tagged = conn.ctx.codec.labeled(item, data, bool(item.asks or item.more))
        if tagged:
            self.reactor.send(conn, tagged)
