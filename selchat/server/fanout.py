"""The turn's batch of broadcasts: one joined buffer a room a turn, shared by its members.

Broadcasts to one room within a loop turn are kept as events with the roster length each was
made at. On flush, the room's members are split by the wire each hears, each event is encoded
once per wire, and each wire's audience gets one joined ``bytes``: the same object for every
member who sent none of the frames, zero-copy slices around its own frames for a member who did,
and a zero-copy suffix for a member who joined during the turn. Anything addressed to a
connection that has frames in the batch flushes it first, and so does a departure from the room,
so every client sees frames in the order the hub produced them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

from selchat import outbound as ev
from selchat.reactor import Conn, Reactor

# Broadcast audiences remembered by their roster (one per room that spoke recently).
AUDIENCE_CACHE = 256


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


class Fanout:
    """Owns the turn's batch and the audiences split by wire; writes through the reactor."""

    def __init__(self, reactor: Reactor) -> None:
        self.reactor = reactor
        self.roster: Sequence[int] | None = None
        self.events: list[ev.Event] = []
        self.counts: list[int] = []  # each event's audience: the roster's first N
        self.excluded: list[tuple[int, int]] = []  # (connection id, event index)
        self._audiences: dict[int, Audience] = {}

    def forget_audiences(self) -> None:
        """A connection's wire changed (IRC's CAP REQ after joining): every split is stale."""
        self.flush()
        self._audiences.clear()

    def split(self, targets: Sequence[int]) -> list[tuple[Any, Sequence[int]]]:
        """The targets grouped by the wire each hears: one encoding per group."""
        conns = self.reactor.conns
        groups: dict[Any, list[int]] = {}
        for cid in targets:
            conn = conns.get(cid)
            # a connection with no wire yet hears nothing: one still being told apart, or a browser's
            # kept-alive connection between two of the page's files
            if conn is not None and conn.ctx is not None and conn.ctx.wire is not None:
                groups.setdefault(conn.ctx.wire, []).append(cid)
        if len(groups) == 1:
            wire, ids = next(iter(groups.items()))
            return [(wire, targets if len(ids) == len(targets) else tuple(ids))]
        return [(wire, tuple(ids)) for wire, ids in groups.items()]

    def _audience(self, roster: Sequence[int], upto: int) -> Audience:
        """A roster's split by wire, remembered by the roster's identity: the roster is appended
        to while the membership only grows and replaced otherwise (and a connection's codec is
        set before it joins any room)."""
        audience = self._audiences.get(id(roster))
        if audience is None or audience.roster is not roster:
            if len(self._audiences) >= AUDIENCE_CACHE:
                self._audiences.clear()
            audience = self._audiences[id(roster)] = Audience(roster)
        if audience.seen < upto:
            audience.grow(upto, self.reactor.conns)
        return audience

    def queue(self, targets: Sequence[int], count: int, exclude: int | tuple[int, ...] | None,
              event: ev.Event) -> None:
        if targets is not self.roster:
            self.flush()
            self.roster = targets
        if exclude is not None:
            if type(exclude) is int:
                self.excluded.append((exclude, len(self.events)))
            else:  # a sender on several devices (hub/devices.py)
                self.excluded.extend((conn_id, len(self.events)) for conn_id in exclude)  # type: ignore[union-attr]
        self.events.append(event)
        self.counts.append(count)

    def flush_for(self, conn_id: int) -> None:
        """Flush the batch before something for ``conn_id`` alone, unless the batch holds
        nothing for it: a member who joined after the batch's last broadcast (a join storm's
        welcomes then leave the batch whole)."""
        roster = self.roster
        if roster is not None and conn_id not in roster[self.counts[-1]:]:
            self.flush()

    def flush(self) -> None:
        roster = self.roster
        if roster is None:
            return
        events, counts, excluded = self.events, self.counts, self.excluded
        self.roster = None
        self.events = []
        self.counts = []
        self.excluded = []
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
        starts = offsets(frames)
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
            starts = offsets(frames)
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
            if any(parts):  # a device of the sender of every frame gets nothing back
                send_parts(conn_id, parts)


def offsets(frames: list[bytes]) -> list[int]:
    """Where each frame begins in their join, and where the last ends."""
    starts = [0] * (len(frames) + 1)
    offset = 0
    for i, frame in enumerate(frames):
        offset += len(frame)
        starts[i + 1] = offset
    return starts
