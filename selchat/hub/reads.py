"""Read markers: how far each person has read each room and conversation, shared by all their
devices and kept for accounts (IRCv3 draft/read-marker, which ergo keeps for always-on clients
only); and the unread counts they give, which the store computes (readmarks.py).

An account's markers live in ``State.read_marks`` (loaded at start, written as they move); a
guest's on its session, gone when it goes. A marker only moves forward: an older timestamp is
answered with the one kept.
"""

from __future__ import annotations

from selchat.answers import ReadMarker, UnreadCounts
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import MarkRead, UnreadAsk
from selchat.hub.devices import each, everywhere
from selchat.hub.effects import Ask, Effect, Send, Store
from selchat.hub.sharing import Sharing
from selchat.hub.state import Room, Session, State, check_name, room_key
from selchat.records import CountUnread, SaveReadMark, UnreadCounted

# Rooms and conversations one account keeps markers for: a person's rooms (--max-rooms, 20) and
# conversations are far fewer; the cap keeps a script from growing the table without end.
MARKS_MAX = 1000


class ReadManager:
    def __init__(self, state: State, sharing: Sharing) -> None:
        self.state = state
        self.sharing = sharing

    def marks(self, session: Session) -> dict[str, int]:
        """The session's markers: its account's (every device's), else its own."""
        if session.account is not None:
            return self.state.read_marks.setdefault(session.account, {})
        if session.marks is None:
            session.marks = {}
        return session.marks

    def marker(self, session: Session, key: str) -> float | None:
        """Where the session's reader got to in ``key`` (None: never marked), as a room's join says."""
        marks = self.state.read_marks.get(session.account) if session.account is not None else session.marks
        found = marks.get(key) if marks else None
        return None if found is None else found / 1_000_000

    def _target(self, target: str) -> tuple[str, str, bool]:
        """(key, name as shown, whether a marker on it is kept) of a room or a person."""
        state = self.state
        if target.startswith("#"):
            key = room_key(target)
            room = state.rooms.get(key)
            return key, room.name if room is not None else target, room is not None and room.lasting
        check_name(target)
        peer = state.peer_key(target)
        if peer is None:
            return target.casefold(), target, False
        return peer[0], peer[1], True

    def mark(self, session: Session, cmd: MarkRead, now: float) -> list[Effect]:
        key, shown, kept = self._target(cmd.target)
        marks = self.marks(session)
        old = marks.get(key)
        if cmd.timestamp is None:  # a question
            return [Send((session.conn_id,), ReadMarker(shown, None if old is None else old / 1_000_000))]
        self.state.spend_token(session, now)
        at = round(cmd.timestamp * 1_000_000)
        if old is not None and at <= old:  # it only moves forward: the asker hears where it is
            return [Send((session.conn_id,), ReadMarker(shown, old / 1_000_000))]
        if not kept:  # nothing to read there: said back, not kept
            return [Send((session.conn_id,), ReadMarker(shown, at / 1_000_000))]
        if old is None and len(marks) >= MARKS_MAX:
            raise ProtocolError(ErrorCode.RATE_LIMITED, f"read markers are kept for at most {MARKS_MAX} rooms"
                                " and conversations an account")
        marks[key] = at
        effects: list[Effect] = each(everywhere(session), ReadMarker(shown, at / 1_000_000))  # on every device
        if session.account is not None and not key.startswith("~"):
            effects.append(Store(SaveReadMark(session.account, key, at)))
            effects.extend(self.sharing.mark_moved(session, key, shown, at))  # and on its devices elsewhere
        return effects

    def count_rooms(self, session: Session, rooms: list[Room]) -> list[Effect]:
        """Ask for the unread counts of the rooms that have a marker (a room never marked is not
        counted: its lines are not known to be unread)."""
        marks = self.marks(session)
        marked = tuple((r.key, r.name, marks[r.key]) for r in rooms if r.key in marks)
        if not marked:
            return []
        assert session.name is not None
        return [Ask(CountUnread(session.conn_id, self.state.dm_key(session), session.name, marked))]

    def unread(self, session: Session, cmd: UnreadAsk, now: float) -> list[Effect]:
        """Counts for every room one is in, or the list of one's conversations with theirs."""
        assert session.name is not None
        me = self.state.dm_key(session)
        if cmd.conversations:
            marks = dict(self.marks(session))
            return [Ask(CountUnread(session.conn_id, me, session.name, conversations=True, marks=marks))]
        asked = self.count_rooms(session, list(session.rooms.values()))
        return asked or [Send((session.conn_id,), UnreadCounts(()))]

    def counted(self, session: Session, result: UnreadCounted, now: float) -> list[Effect]:
        return [Send((session.conn_id,), UnreadCounts(result.counts, result.conversations))]


def merge_marks(state: State, account: str, marks: tuple[tuple[str, int], ...]) -> list[Effect]:
    """Markers an account moved on other processes (read from Redis as it logs in here): each one
    further than this process knew is taken, and kept in its file for a restart."""
    mine = state.read_marks.setdefault(account, {})
    effects: list[Effect] = []
    for target, at in marks:
        old = mine.get(target)
        if (old is not None and at <= old) or (old is None and len(mine) >= MARKS_MAX):
            continue
        mine[target] = at
        effects.append(Store(SaveReadMark(account, target, at)))
    return effects
