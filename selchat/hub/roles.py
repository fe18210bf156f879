"""Who runs a room (issue 23): its operators and voiced members, and its modes. As on IRC, the
first person into a room nobody is in becomes its operator; a new room's topic is locked (+t, as
on most servers): only operators set it. Operators give and take roles, moderate the room (+m:
only operators and voiced members speak) and put members out (KICK). #lobby belongs to nobody:
no operator, topic open, as before.

Roles are a member's, by name: they go when the member leaves, and follow a change of name.
"""

from __future__ import annotations

from selchat import outbound as ev
from selchat.config import AWAY_MAX
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import Kick, SetMode
from selchat.hub.effects import Effect, Send
from selchat.hub.state import LOBBY_KEY, Room, Session, State, one_line, room_key

FLAGS = {"m": "moderated", "t": "topic_locked"}  # the modes a room has, by letter: Room's attributes
ROLES = {"o": "ops", "v": "voiced"}


class RoleManager:
    def __init__(self, state: State) -> None:
        self.state = state

    # -- what the rooms' other rules ask ---------------------------------------------------------
    @staticmethod
    def entered(room: Room, name: str, was_empty: bool) -> None:
        """The first one into an empty room runs it (the lobby excepted); a new room is +t."""
        if was_empty and room.key != LOBBY_KEY:
            room.ops.add(name.casefold())
            if not room.total:  # a room new, not one with history that emptied: its defaults
                room.topic_locked = True

    @staticmethod
    def may_set_topic(room: Room, name: str) -> None:
        if room.topic_locked and name.casefold() not in room.ops:
            raise ProtocolError(ErrorCode.NOT_OPERATOR, f"only operators of {room.name} set its topic (+t)")

    @staticmethod
    def may_speak(room: Room, name: str) -> None:
        key = name.casefold()
        if key not in room.ops and key not in room.voiced:
            raise ProtocolError(ErrorCode.MODERATED, f"{room.name} is moderated: only its operators and those"
                                " they voice speak there")

    # -- the commands ----------------------------------------------------------------------------
    def _operated(self, session: Session, name: str) -> Room:
        room = self.state.my_room(session, name)
        assert session.name is not None
        if session.name.casefold() not in room.ops:
            raise ProtocolError(ErrorCode.NOT_OPERATOR, f"you are not an operator of {room.name}")
        return room

    @staticmethod
    def _member(room: Room, name: str) -> tuple[int, str]:
        key = name.casefold()
        for conn_id, member in room.members.items():
            if member.casefold() == key:
                return conn_id, member
        raise ProtocolError(ErrorCode.NOT_A_MEMBER, f"{name[:40]} is not in {room.name}")

    def kick(self, session: Session, cmd: Kick, now: float) -> list[Effect]:
        room = self._operated(session, cmd.room)
        target, name = self._member(room, cmd.username)
        self.state.spend_token(session, now)
        assert session.name is not None
        reason = one_line(cmd.reason or "")[:AWAY_MAX] or None
        # everyone hears it, the one put out too (its codec leaves the room on hearing it)
        effects: list[Effect] = [room.broadcast(ev.Kicked(room.name, name, session.name, reason, now)),
                                 Send((target,), ev.RoomLeft(room.name, reason, kicked_by=session.name))]
        room.remove(target)
        out = self.state.sessions[target]
        del out.rooms[room.key]
        self.state.maybe_drop(room)
        return effects

    def set_mode(self, session: Session, cmd: SetMode, now: float) -> list[Effect]:
        if not cmd.changes:  # a question, also about a room one is not in (IRC's MODE #room): what is on
            room = self.state.rooms.get(room_key(cmd.room))
            if room is None or not room.lasting:
                raise ProtocolError(ErrorCode.NO_SUCH_ROOM, f"there is no room {cmd.room[:40]}")
            on = tuple((True, letter, None) for letter, attr in FLAGS.items() if getattr(room, attr))
            return [Send((session.conn_id,), ev.ModeChanged(room.name, None, on, now))]
        room = self._operated(session, cmd.room)
        self.state.spend_token(session, now)
        made = [done for change in cmd.changes if (done := self._change(room, *change)) is not None]
        if not made:
            return []  # nothing changed (already so): nothing to tell
        assert session.name is not None
        return [room.broadcast(ev.ModeChanged(room.name, session.name, tuple(made), now))]

    def _change(self, room: Room, on: bool, letter: str, who: str | None) -> tuple[bool, str, str | None] | None:
        """Make one change; it, as made (the member's own name), or None if it was so already."""
        if letter in FLAGS:
            if getattr(room, FLAGS[letter]) == on:
                return None
            setattr(room, FLAGS[letter], on)
            return (on, letter, None)
        if letter not in ROLES:
            raise ProtocolError(ErrorCode.UNKNOWN_MODE, f"{letter[:10]!r} is not a mode here: m, t, o and v are")
        if who is None:
            raise ProtocolError(ErrorCode.BAD_FRAME, f"+{letter} names a member")
        _, name = self._member(room, who)
        holders: set[str] = getattr(room, ROLES[letter])
        if (name.casefold() in holders) == on:
            return None
        (holders.add if on else holders.discard)(name.casefold())
        return (on, letter, name)
