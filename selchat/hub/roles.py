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
from selchat.events import Invite, Kick, RegisterRoom, SetMode
from selchat.hub.devices import each, everywhere
from selchat.hub.effects import Effect, Fail, Send, Store
from selchat.hub.masks import LISTS
from selchat.hub.sharing import Sharing
from selchat.hub.state import LOBBY_KEY, Room, Session, State, one_line, room_key
from selchat.records import SaveRoom
from selchat.roomrules import FLAG_ATTRS, rules_of, speech_checked

# the modes a room has, by letter: Room's attributes; k and l carry a value (the key, the limit)
FLAGS = FLAG_ATTRS
VALUES = {"k": "join_key", "l": "limit"}
KEY_MAX = 23  # characters in a room's key (ergo's and InspIRCd's limit)
ROLES = {"o": "ops", "v": "voiced"}
SERVICE = "ChanServ"  # who gives a registered room's roles (IRC clients know the name)


class RoleManager:
    def __init__(self, state: State, sharing: Sharing) -> None:
        self.state = state
        self.sharing = sharing

    # -- what the rooms' other rules ask ---------------------------------------------------------
    @staticmethod
    def entered(room: Room, session: Session, was_empty: bool) -> str | None:
        """The first one into an empty room runs it (the lobby excepted; a registered room is
        run by its founder and the accounts they named); a new room is +t. The role a
        registered room gives this account as it comes in, if any."""
        name = session.name
        assert name is not None
        key = name.casefold()
        granted = "o" if room.founder is not None and session.account == room.founder else (
            room.account_roles.get(session.account) if session.account else None)
        if granted is not None:
            (room.ops if granted == "o" else room.voiced)[key] = name
        elif was_empty and room.key != LOBBY_KEY and room.founder is None:
            room.ops[key] = name
            if not room.synced:  # shared, and not yet heard from Redis: others may be in it already
                room.provisional = key
            if not room.total:  # a room new, not one with history that emptied: its defaults
                room.topic_locked = True
        return granted

    @staticmethod
    def may_enter(room: Room, session: Session, key: str | None) -> None:
        """+b always; +i, +k and +l for one coming into a room others are in; an invitation is used up."""
        name = session.name
        assert name is not None
        masks = room.masks
        if masks and masks.banned(name, session.account, session.address, session.user):
            raise ProtocolError(ErrorCode.BANNED_FROM_ROOM, f"you are banned from {room.name} (+b)")
        if not room.members and not room.remote:
            return  # nobody there: the one coming in runs it
        invited = name.casefold() in room.invited
        if room.invite_only and not invited and not (masks and masks.invite_excepted(
                name, session.account, session.address, session.user)):
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
    def may_speak(room: Room, session: Session) -> None:
        """+m, and mutes (``m:`` bans): operators and voiced members speak all the same."""
        name = session.name
        assert name is not None
        key = name.casefold()
        if key in room.ops or key in room.voiced:
            return
        if room.moderated:
            raise ProtocolError(ErrorCode.MODERATED, f"{room.name} is moderated: only its operators and those"
                                " they voice speak there")
        if room.masks.muted(name, session.account, session.address, session.user):
            raise ProtocolError(ErrorCode.MODERATED, f"you are muted in {room.name}")

    def from_outside(self, session: Session, name: str | None) -> Room:
        """A message to a room one is not in: only where it is -n, and not from one banned."""
        room = self.state.rooms.get(room_key(name)) if name is not None else None
        if room is None or room.no_outside or not room.lasting:
            return self.state.my_room(session, name)  # the usual refusal
        assert session.name is not None
        if room.masks and room.masks.banned(session.name, session.account, session.address, session.user):
            raise ProtocolError(ErrorCode.BANNED_FROM_ROOM, f"you are banned from {room.name} (+b)")
        if room.checks_speech:
            self.may_speak(room, session)
        return room


    # -- the commands ----------------------------------------------------------------------------
    def _operated(self, session: Session, name: str) -> Room:
        if room_key(name) not in self.state.rooms:
            raise ProtocolError(ErrorCode.NO_SUCH_ROOM, f"there is no room {name[:40]}")
        room = self.state.my_room(session, name)
        assert session.name is not None
        if session.name.casefold() not in room.ops:
            raise ProtocolError(ErrorCode.NOT_OPERATOR, f"you are not an operator of {room.name}")
        return room

    def _member(self, room: Room, name: str, remote: bool = False) -> tuple[int, str]:
        """A member's connection and name; with ``remote``, one on another process too (-1)."""
        key = name.casefold()
        conn_id = self.state.names.get(key)
        if remote and conn_id is None and key in room.remote:
            return -1, room.remote[key][0]
        if conn_id is None:
            raise ProtocolError(ErrorCode.NO_SUCH_USER, f"no user named {name[:40]!r} is online", (name[:40],))
        member = room.members.get(conn_id)
        if member is None:
            raise ProtocolError(ErrorCode.NOT_A_MEMBER, f"{name[:40]} is not in {room.name}", (name[:40],))
        return conn_id, member

    def kick(self, session: Session, cmd: Kick, now: float) -> list[Effect]:
        room = self._operated(session, cmd.room)
        target, name = self._member(room, cmd.username, remote=True)
        self.state.spend_token(session, now)
        assert session.name is not None
        reason = one_line(cmd.reason or "")[:AWAY_MAX] or None
        if target == -1:  # on another process (--redis): that process puts them out, and every one hears it
            node = room.remote[name.casefold()][1]
            return self.sharing.relay(node, ev.Kicked(room.name, name, session.name, reason, now))
        return self.kicked_here(room, target, name, session.name, reason, now)

    def kicked_here(self, room: Room, target: int, name: str, by: str, reason: str | None,
                    now: float) -> list[Effect]:
        """A member of this process put out: everyone here hears it, the one put out too (its
        codec leaves the room on hearing it), and the other processes through its departure."""
        out = self.state.sessions[target]
        devices = everywhere(out)  # the person, on every device
        effects: list[Effect] = [room.broadcast(ev.Kicked(room.name, name, by, reason, now)),
                                 *each(devices, ev.RoomLeft(room.name, reason, kicked_by=by))]
        for conn_id in devices:
            room.remove(conn_id)
            device = self.state.sessions.get(conn_id)
            if device is not None:
                device.rooms.pop(room.key, None)
        if room.also:  # out on every process (hub/twins.py)
            room.also.pop(name.casefold(), None)
        effects.extend(self.sharing.left(room, ev.UserLeft(name, room.name, now, reason, parted=True, kicked_by=by)))
        self.state.maybe_drop(room)
        return effects

    def set_mode(self, session: Session, cmd: SetMode, now: float) -> list[Effect]:
        if not cmd.changes:  # a question, also about a room one is not in (IRC's MODE #room): what is on
            return [Send((session.conn_id,), self._modes_of(self._existing(cmd.room), session, now))]
        asked = [letter for on, letter, value in cmd.changes if letter in LISTS and on and value is None]
        if asked:  # +b alone: the list, to anyone who may see the room
            room = self._existing(cmd.room)
            return [Send((session.conn_id,), ev.MaskList(room.name, letter, tuple(room.masks.entries(letter))))
                    for letter in dict.fromkeys(asked)]
        room = self._operated(session, cmd.room)
        self.state.spend_token(session, now)
        assert session.name is not None
        made: list[tuple[bool, str, str | None]] = []
        refused: ProtocolError | None = None
        for change in cmd.changes:
            try:
                done = self._change(room, *change, session.name, now)
            except ProtocolError as exc:  # the changes before it stand, and are told
                refused = exc
                break
            if done is not None:
                made.append(done)
        speech_checked(room)
        self._accounts_roles(room, made)
        effects: list[Effect] = [room.broadcast(ev.ModeChanged(room.name, session.name, tuple(made), now)),
                                 *self.kept(room)] \
            if made else []  # nothing changed (already so): nothing to tell
        if refused is not None:
            if not made:
                raise refused
            effects.append(Fail(session.conn_id, refused))
        return effects

    def _accounts_roles(self, room: Room, made: list[tuple[bool, str, str | None]]) -> None:
        """In a registered room a role given to a member logged in to an account is the account's:
        it comes back at each join, after restarts too."""
        if room.founder is None:
            return []
        for on, letter, who in made:
            if letter not in ROLES or who is None:
                continue
            conn_id = self.state.names.get(who.casefold())
            account = self.state.sessions[conn_id].account if conn_id is not None else None
            if account is None or account == room.founder:
                continue
            held = room.account_roles.get(account)
            if on and (letter == "o" or held != "o"):
                room.account_roles[account] = letter
            elif not on and held == letter:
                del room.account_roles[account]

    def kept(self, room: Room) -> list[Effect]:
        """A room's rules written down (roomrules.py): the lobby has none to keep."""
        if room.key == LOBBY_KEY:
            return []
        effects: list[Effect] = [] if room.stored else [Store(SaveRoom(room.key, room.name))]
        room.stored = True
        effects.append(Store(rules_of(room)))
        return effects

    def register_room(self, session: Session, cmd: RegisterRoom, now: float) -> list[Effect]:
        """An operator logged in to an account registers the room: its founder from now on, and
        its modes, bans and the roles it names kept across restarts (ChanServ REGISTER)."""
        room = self._operated(session, cmd.room)
        if session.account is None:
            raise ProtocolError(ErrorCode.ACCOUNT_REQUIRED, f"log in to an account to register {room.name}")
        if room.founder is not None:
            founder = self.state.accounts.get(room.founder, room.founder)
            raise ProtocolError(ErrorCode.ROOM_REGISTERED, f"{room.name} is registered already (to {founder})")
        self.state.spend_token(session, now)
        room.founder = session.account
        assert session.name is not None
        account = self.state.account_name(session) or session.name
        return [Send((session.conn_id,), ev.RoomRegistered(room.name, account)), *self.kept(room)]

    def _existing(self, name: str) -> Room:
        room = self.state.rooms.get(room_key(name))
        if room is None or not room.lasting:
            raise ProtocolError(ErrorCode.NO_SUCH_ROOM, f"there is no room {name[:40]}")
        return room

    @staticmethod
    def _modes_of(room: Room, session: Session, now: float) -> ev.ModeChanged:
        on: list[tuple[bool, str, str | None]] = [(True, letter, None) for letter, attr in FLAGS.items()
                                                  if getattr(room, attr)]
        inside = session.conn_id in room.members  # the key is for those inside
        if room.join_key is not None:
            on.append((True, "k", room.join_key if inside else "*"))
        if room.limit:
            on.append((True, "l", str(room.limit)))
        return ev.ModeChanged(room.name, None, tuple(on), now, room.created or None)

    def _change(self, room: Room, on: bool, letter: str, who: str | None, by: str,
                now: float) -> tuple[bool, str, str | None] | None:
        """Make one change; it, as made (the member's own name), or None if it was so already."""
        if letter in LISTS:
            if who is None:
                return None  # a question among changes: asked alone, it is answered above
            kept = room.masks.add(letter, who, by, now) if on else room.masks.remove(letter, who)
            return None if kept is None else (on, letter, kept)
        if letter in FLAGS:
            if getattr(room, FLAGS[letter]) == on:
                return None
            setattr(room, FLAGS[letter], on)
            return (on, letter, None)
        if letter in VALUES:
            return self._value(room, on, letter, who)
        if letter not in ROLES:
            raise ProtocolError(ErrorCode.UNKNOWN_MODE, f"{letter[:10]!r} is not a mode here: m, n, t, s, i, k,"
                                " l, b, e, I, o and v are")
        if who is None:
            raise ProtocolError(ErrorCode.BAD_FRAME, f"+{letter} names a member")
        _, name = self._member(room, who, remote=True)  # a role crosses processes (mirror.Heard.modes)
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
                raise ProtocolError(ErrorCode.BAD_MODE_VALUE, f"a room's key is 1 to {KEY_MAX} characters, no spaces",
                                    ("k", "*"))  # never the key itself: it may hold spaces
            room.join_key = value
            return (True, "k", value)
        if not value or not value.isdigit() or not 0 < int(value) <= 1_000_000:
            raise ProtocolError(ErrorCode.BAD_MODE_VALUE, "+l takes a number of members", ("l", value or "*"))
        room.limit = int(value)
        return (True, "l", str(room.limit))

    def invite(self, session: Session, cmd: Invite, now: float) -> list[Effect]:
        """Into a room one is in (an operator's, when it is +i): the invited one comes in once."""
        if not cmd.room and not cmd.username:
            assert session.name is not None
            key = session.name.casefold()
            rooms = tuple(sorted(r.name for r in self.state.rooms.values() if key in r.invited))
            return [Send((session.conn_id,), ev.Invitations(rooms))]
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
            raise ProtocolError(ErrorCode.USER_IN_ROOM, f"{name} is in {room.name} already", (name,))
        self.state.spend_token(session, now)
        room.invited.add(name.casefold())
        told = ev.Invited(room.name, name, session.name, now, self.state.account_name(session))
        # the room hears it too (IRC: with invite-notify)
        return [Send((target,), told), Send((session.conn_id,), told), room.broadcast(told, session.conn_id)]
