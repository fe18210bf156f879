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
from selchat.events import Invite, Kick, SetMode
from selchat.hub.effects import Effect, Send
from selchat.hub.state import LOBBY_KEY, Room, Session, State, one_line, room_key

# the modes a room has, by letter: Room's attributes; k and l carry a value (the key, the limit)
FLAGS = {"m": "moderated", "t": "topic_locked", "s": "secret", "i": "invite_only"}
VALUES = {"k": "join_key", "l": "limit"}
KEY_MAX = 23  # characters in a room's key (ergo's and InspIRCd's limit)
ROLES = {"o": "ops", "v": "voiced"}


class RoleManager:
    def __init__(self, state: State) -> None:
        self.state = state

    # -- what the rooms' other rules ask ---------------------------------------------------------
    @staticmethod
    def entered(room: Room, name: str, was_empty: bool) -> None:
        """The first one into an empty room runs it (the lobby excepted); a new room is +t."""
        if was_empty and room.key != LOBBY_KEY:
            room.ops[name.casefold()] = name
            if not room.total:  # a room new, not one with history that emptied: its defaults
                room.topic_locked = True

    @staticmethod
    def may_enter(room: Room, name: str, key: str | None) -> None:
        """+i, +k and +l, for one coming into a room others are in; an invitation is used up."""
        if not room.members and not room.remote:
            return  # nobody there: the one coming in runs it
        invited = name.casefold() in room.invited
        if room.invite_only and not invited:
            raise ProtocolError(ErrorCode.INVITE_ONLY, f"{room.name} lets in only those invited (+i)")
        if room.join_key is not None and key != room.join_key and not invited:
            raise ProtocolError(ErrorCode.BAD_ROOM_KEY, f"{room.name} needs its key (+k)")
        if room.limit and room.size() >= room.limit and not invited:
            raise ProtocolError(ErrorCode.ROOM_LIMIT, f"{room.name} holds at most {room.limit} members (+l)")
        room.invited.discard(name.casefold())

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
            on = [(True, letter, None) for letter, attr in FLAGS.items() if getattr(room, attr)]
            inside = session.conn_id in room.members  # the key is for those inside
            if room.join_key is not None:
                on.append((True, "k", room.join_key if inside else "*"))
            if room.limit:
                on.append((True, "l", str(room.limit)))
            return [Send((session.conn_id,), ev.ModeChanged(room.name, None, tuple(on), now))]
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
        if letter in VALUES:
            return self._value(room, on, letter, who)
        if letter not in ROLES:
            raise ProtocolError(ErrorCode.UNKNOWN_MODE, f"{letter[:10]!r} is not a mode here: m, t, s, i, k, l,"
                                " o and v are")
        if who is None:
            raise ProtocolError(ErrorCode.BAD_FRAME, f"+{letter} names a member")
        _, name = self._member(room, who)
        holders: dict[str, str] = getattr(room, ROLES[letter])
        if (name.casefold() in holders) == on:
            return None
        if on:
            holders[name.casefold()] = name
        else:
            del holders[name.casefold()]
        return (on, letter, name)

    @staticmethod
    def _value(room: Room, on: bool, letter: str, value: str | None) -> tuple[bool, str, str | None] | None:
        """+k WORD, +l NUMBER; -k and -l take them away."""
        if not on:
            if (room.join_key if letter == "k" else room.limit) in (None, 0):
                return None
            if letter == "k":
                room.join_key = None
            else:
                room.limit = 0
            return (False, letter, None)
        if letter == "k":
            if not value or len(value) > KEY_MAX or not value.isprintable() or " " in value or "," in value:
                raise ProtocolError(ErrorCode.BAD_FRAME, f"a room's key is 1 to {KEY_MAX} characters, no spaces")
            room.join_key = value
            return (True, "k", value)
        if not value or not value.isdigit() or not 0 < int(value) <= 1_000_000:
            raise ProtocolError(ErrorCode.BAD_FRAME, "+l takes a number of members")
        room.limit = int(value)
        return (True, "l", str(room.limit))

    def invite(self, session: Session, cmd: Invite, now: float) -> list[Effect]:
        """Into a room one is in (an operator's, when it is +i): the invited one comes in once."""
        room = self.state.my_room(session, cmd.room)
        assert session.name is not None
        if room.invite_only and session.name.casefold() not in room.ops:
            raise ProtocolError(ErrorCode.NOT_OPERATOR, f"only operators of {room.name} invite (+i)")
        target = self.state.names.get(cmd.username.casefold())
        if target is None:
            raise ProtocolError(ErrorCode.NO_SUCH_USER, f"no user named {cmd.username[:40]!r} is online")
        name = self.state.sessions[target].name
        assert name is not None
        if target in room.members:
            raise ProtocolError(ErrorCode.ALREADY_JOINED, f"{name} is in {room.name} already")
        self.state.spend_token(session, now)
        room.invited.add(name.casefold())
        told = ev.Invited(room.name, name, session.name, now)
        return [Send((target,), told), Send((session.conn_id,), told)]
