"""Rooms: entering and leaving them, their topics, who is in them, and the list of them."""

from __future__ import annotations

import bisect
import fnmatch
from collections.abc import Sequence
from dataclasses import replace

from selchat import outbound as ev
from selchat.config import AWAY_MAX, TOPIC_MAX
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import JoinRoom, LeaveRoom, Rooms, Topic, Users
from selchat.hub.budget import answer_budget, fitting, members_part, messages_fitting, room_bytes
from selchat.hub.devices import each, everywhere, siblings
from selchat.hub.effects import Broadcast, Effect, Fail, Send, Then
from selchat.hub.queries import who_extra
from selchat.hub.reads import ReadManager
from selchat.hub.roles import SERVICE, RoleManager
from selchat.hub.shares import here_too, still_elsewhere
from selchat.hub.sharing import Sharing
from selchat.hub.state import LOBBY_KEY, ROOM_RE, Room, Session, State, one_line, room_key
from selchat.hub.throttle import RoomCreations
from selchat.records import RoomsListed, TopicLoaded


def listed(room: ev.RoomInfo, filters: tuple[str, ...]) -> bool:
    """Whether a room passes every filter of a LIST (IRC's ELIST=MNU): a name mask, one it must
    not match (!), more (>N) or fewer (<N) members."""
    for word in filters:
        if word[:1] in "<>" and word[1:].isdigit():
            if (room.users <= int(word[1:])) if word[0] == ">" else (room.users >= int(word[1:])):
                return False
        elif word.startswith("!"):
            if fnmatch.fnmatchcase(room.room.casefold(), word[1:].casefold()):
                return False
        elif not fnmatch.fnmatchcase(room.room.casefold(), word.casefold()):
            return False
    return True


class RoomManager:
    def __init__(self, state: State, sharing: Sharing, reads: ReadManager) -> None:
        self.state = state
        self.sharing = sharing
        self.reads = reads
        self.creations = RoomCreations()

    # -- entering and leaving ----------------------------------------------------------------------
    def join_room(self, session: Session, cmd: JoinRoom, now: float) -> list[Effect]:
        state = self.state
        key = room_key(cmd.room)
        state.spend_token(session, now)
        room = session.rooms.get(key)
        if room is not None:  # already in it: the same answer again, and no one else hears
            return self.replay_or_wait(session, room, joining=True)
        if len(session.rooms) >= state.config.max_rooms:
            raise ProtocolError(
                ErrorCode.TOO_MANY_ROOMS, f"you are in {len(session.rooms)} rooms, the most allowed; leave one first"
            )
        if key not in state.rooms:
            self._may_make(session, now)
        room = state.room(key, cmd.room, now)
        assert session.name is not None
        RoleManager.may_enter(room, session, cmd.key)
        return self._enter(session, room, now, RoleManager.entered(room, session, room.size() == 0))

    def join_here(self, session: Session, name: str, now: float) -> list[Effect]:
        """The person joined the room on a device of theirs on another process (hub/twins.py):
        here too, on every device, without the checks that process made."""
        key = room_key(name)
        if key in session.rooms:
            return []
        return self._enter(session, self.state.room(key, name, now), now, None)

    def _enter(self, session: Session, room: Room, now: float, granted: str | None) -> list[Effect]:
        state = self.state
        assert session.name is not None
        room.add(session.conn_id, session.name)
        session.rooms[room.key] = room
        known = bool(room.remote) and here_too(room, session.name.casefold())  # in it on another process
        effects = self.sharing.entered(room, session.name, now)
        effects.extend(self.replay_or_wait(session, room, joining=True))
        if not known and not room.quiet(state.config.quiet_above):
            effects.append(room.broadcast(ev.UserJoined(session.name, room.name, now, state.account_name(session),
                                                        session.realname), session.conn_id))
            if session.away is not None:  # away-notify: one who comes in away is said to be away
                effects.append(room.broadcast(ev.AwayChanged(session.name, session.away), session.conn_id))
        for device in siblings(self.state, session):  # after the broadcasts, which others hear alone
            room.add(device.conn_id, session.name, again=True)
            device.rooms[room.key] = room
            effects.extend(self.replay_or_wait(device, room, joining=True))
        if granted is not None:  # a registered room's role for this account, given as it comes in
            effects.append(room.broadcast(ev.ModeChanged(room.name, SERVICE, ((True, granted, session.name),), now)))
        return effects

    def _may_make(self, session: Session, now: float) -> None:
        """A new room: within the server's cap and the maker's own (issue 21, item 1)."""
        config = self.state.config
        if 0 < config.max_rooms_total <= len(self.state.rooms):
            raise ProtocolError(ErrorCode.ROOMS_FULL, f"this server holds {len(self.state.rooms)} rooms, the most"
                                " it allows; join one that exists")
        key = self.creations.key(session.account, session.address)
        self.creations.check(key, config.new_rooms_per_user, now)
        self.creations.made(key, now)

    def leave_room(self, session: Session, cmd: LeaveRoom, now: float) -> list[Effect]:
        return self.leave_here(session, self.state.my_room(session, cmd.room), cmd.message, now)

    def leave_here(self, session: Session, room: Room, message: str | None, now: float) -> list[Effect]:
        """Every device of the person leaves the room (also when one on another process did)."""
        assert session.name is not None
        quiet = room.quiet(self.state.config.quiet_above)
        for device in (*siblings(self.state, session), session):  # every device leaves it
            room.remove(device.conn_id)
            device.rooms.pop(room.key, None)
        if room.also:  # and the person's other processes follow (hub/twins.py)
            room.also.pop(session.name.casefold(), None)
        reason = one_line(message or "")[:AWAY_MAX] or None
        effects: list[Effect] = each(everywhere(session), ev.RoomLeft(room.name, reason))
        left = ev.UserLeft(session.name, room.name, now, reason, parted=True)
        effects.extend(self.sharing.left(room, left))
        if not quiet:
            effects.append(room.broadcast(left))
        self.state.maybe_drop(room)
        return effects

    def leave_all(self, session: Session, now: float, reason: str | None) -> list[Effect]:
        """A session has gone: each of its rooms hears it left, each member once per codec that
        speaks of quits rather than of rooms (``again`` marks the repeats for such codecs)."""
        assert session.name is not None
        conn_id = session.conn_id
        effects: list[Effect] = []
        told: set[int] = set()
        for room in session.rooms.values():
            quiet = room.quiet(self.state.config.quiet_above)
            room.remove(conn_id)
            left = ev.UserLeft(session.name, room.name, now, reason)
            effects.extend(self.sharing.left(room, left))
            elsewhere = bool(room.also) and still_elsewhere(room, session.name.casefold(), session.name)
            if quiet or elsewhere:  # a large room hears of no one leaving, nor of one still in it elsewhere
                self.state.maybe_drop(room)
                continue
            targets: Sequence[int] = room.roster
            again: tuple[int, ...] = ()
            if told:
                again = tuple(t for t in targets if t in told)
                if again:
                    targets = tuple(t for t in targets if t not in told)
                    effects.append(Broadcast(again, len(again), replace(left, again=True)))
            if targets or not again:
                effects.append(Broadcast(targets, len(targets), left))
            told.update(room.roster)
            self.state.maybe_drop(room)
        session.rooms = {}
        return effects

    # -- what a newcomer is told -------------------------------------------------------------------
    def room_joined(self, room: Room, session: Session) -> list[Effect]:
        """room_joined with the joiner's read marker, and the count of what is unread after it."""
        name, read = session.name, self.reads.marker(session, room.key)
        if room.quiet(self.state.config.quiet_above) and name is not None:
            joined = ev.RoomJoined(room.name, room.topic, (name,), room.topic_by, room.topic_at, room.size(),
                                   room.roles(), room.secret, read)
        else:
            joined = ev.RoomJoined(room.name, room.topic, tuple(room.names()), room.topic_by, room.topic_at, None,
                                   room.roles(), room.secret, read)
        return [Send((session.conn_id,), joined), *self.reads.count_rooms(session, [room])]

    def replay(self, session: Session, room: Room, recent: Sequence[ev.Message] | None = None) -> list[Effect]:
        tail = tuple(room.recent if recent is None else recent)
        fit = messages_fitting(tail, answer_budget(self.state.config.max_output), newest=True)
        page = tuple(replace(m, history=True) for m in tail[len(tail) - fit:])
        return [Send((session.conn_id,), ev.HistoryBatch(room.name, page, room.total > len(page)))]

    def replay_or_wait(self, session: Session, room: Room, joining: bool = False) -> list[Effect]:
        """The replay (after room_joined when ``joining``), or, in a shared room this process has
        yet to catch up with, a place in line for them."""
        if not self.sharing.waits(room):
            if joining:
                return [*self.room_joined(room, session), *self.replay(session, room)]
            return self.replay(session, room)
        room.awaiting.append((session.conn_id, joining))
        return []

    def let_in(self, room: Room, recent: Sequence[ev.Message] | None = None) -> list[Effect]:
        """The waiting newcomers' room_joined (now with the room's topic and everyone in it) and
        replay."""
        waiting, room.awaiting = room.awaiting, []
        effects: list[Effect] = []
        for conn_id, joining in waiting:
            session = self.state.sessions.get(conn_id)
            if session is not None and session.rooms.get(room.key) is room:
                if joining:
                    effects.extend(self.room_joined(room, session))
                effects.extend(self.replay(session, room, recent))
        return effects

    # -- the list of rooms, and who is in one ------------------------------------------------------
    def rooms(self, session: Session, cmd: Rooms, now: float) -> list[Effect]:
        if cmd.after is not None:
            room_key(cmd.after)  # a name, or bad_room_name
        asked = self.sharing.list_rooms(session, cmd)
        return asked if asked is not None else self._page(session, cmd, self._rooms_here(session))

    def _rooms_here(self, session: Session | None = None) -> dict[str, ev.RoomInfo]:
        """The rooms as this process knows them, by key; a secret one (+s) only to its members."""
        return {r.key: ev.RoomInfo(r.name, r.size(), r.topic) for r in self.state.rooms.values()
                if r.lasting and (not r.secret or (session is not None and session.conn_id in r.members))}

    def _page(self, session: Session, cmd: Rooms, rooms: dict[str, ev.RoomInfo]) -> list[Effect]:
        """The rooms after ``cmd.after`` by name, as many as the asker's limit and one answer
        hold (budget.py); for a streamed list, the next part once this one has been read."""
        if cmd.filters:
            rooms = {key: r for key, r in rooms.items() if listed(r, cmd.filters)}
        keys = sorted(rooms)
        start = 0 if cmd.after is None else bisect.bisect_right(keys, room_key(cmd.after))
        rest = [rooms[k] for k in keys[start:]]
        wanted = rest[:cmd.limit] if cmd.limit else rest
        page = wanted[:fitting(wanted, room_bytes, answer_budget(self.state.config.max_output))]
        more = len(page) < len(rest)
        effects: list[Effect] = [Send((session.conn_id,), ev.RoomList(tuple(page), more, cmd.after is None))]
        if more and cmd.stream:
            effects.append(Then(session.conn_id, Rooms(page[-1].room, cmd.limit, True, cmd.filters)))
        return effects

    def rooms_listed(self, session: Session, result: RoomsListed, now: float) -> list[Effect]:
        asked = result.asked if isinstance(result.asked, Rooms) else Rooms()
        if result.rooms is None:
            return self._page(session, asked, self._rooms_here(session))
        rooms = {room_key(r.room): r for r in result.rooms if ROOM_RE.fullmatch(r.room)}
        lobby = self.state.lobby
        rooms.setdefault(LOBBY_KEY, ev.RoomInfo(lobby.name, lobby.size(), lobby.topic))
        return self._page(session, asked, rooms)

    def users(self, session: Session, cmd: Users, now: float) -> list[Effect]:
        """Who is in a room, cut to one answer (a 10,000-member room's NAMES or WHO is about a
        megabyte); for IRC and text mode the next part follows once this one is read."""
        state = self.state
        if cmd.room is None:
            room: Room | None = state.lobby
        else:
            room = state.rooms.get(room_key(cmd.room))
            if room is None or not room.lasting:
                raise ProtocolError(ErrorCode.NO_SUCH_ROOM, f"there is no room {cmd.room}")
        assert room is not None
        sessions = state.sessions
        away = {name: sessions[cid].away for cid, name in room.members.items() if sessions[cid].away is not None}
        away.update(self.sharing.away_in(room))
        info = ({name: (sessions[cid].user, sessions[cid].realname) for cid, name in room.members.items()}
                if cmd.detail else None)
        part, more = members_part(room.names(), cmd.after, away, info, state.config.max_output)  # type: ignore[arg-type]
        listing = ev.UserList(room.name, part, tuple((n, away[n]) for n in part if n in away), cmd.tag,  # type: ignore[misc]
                              room.topic, tuple(info.get(n, (n, n)) for n in part) if info is not None else (),
                              more, cmd.after is None, room.roles(), room.secret,
                              tuple({n: 0 for cid, n in room.members.items() if sessions[cid].oper}),
                              self._extra(room, part, session, now) if cmd.detail else (),
                              tuple({n: 0 for cid, n in room.members.items() if sessions[cid].bot}))
        effects: list[Effect] = [Send((session.conn_id,), listing)]
        if more and cmd.stream:
            effects.append(Then(session.conn_id, replace(cmd, after=part[-1])))
        return effects

    def _extra(self, room: Room, part: tuple[str, ...], asker: Session, now: float) -> tuple[tuple[str, str, int], ...]:
        """WHO's account, address and idle time of each member of the part (others' processes: none)."""
        sessions, ids = self.state.sessions, {name: cid for cid, name in room.members.items()}
        return tuple(who_extra(self.state, sessions[ids[n]], asker, now) if n in ids else ("", "", 0) for n in part)

    # -- topics ------------------------------------------------------------------------------------
    def topic(self, session: Session, cmd: Topic, now: float) -> list[Effect]:
        if cmd.topic is None:  # a question, also about a room one is not in
            key = room_key(cmd.room)
            asked = self.sharing.topic_question(session, key, self.state.rooms.get(key), cmd.room)
            return asked if asked is not None else self._topic_here(session, cmd.room)
        room = self.state.my_room(session, cmd.room)
        assert session.name is not None
        RoleManager.may_set_topic(room, session.name)
        topic = one_line(cmd.topic)
        if len(topic) > TOPIC_MAX:
            raise ProtocolError(ErrorCode.TOPIC_TOO_LONG, f"topic is {len(topic)} characters; the limit is {TOPIC_MAX}")
        self.state.spend_token(session, now)
        assert session.name is not None
        room.topic, room.topic_by, room.topic_at = topic, session.name, now
        changed = room.broadcast(ev.TopicChanged(room.name, topic, session.name, now))
        return [*self.sharing.topic_kept(room, topic, session.name, now), changed]

    def _topic_here(self, session: Session, name: str) -> list[Effect]:
        """A room's topic as this process knows it."""
        found = self.state.rooms.get(room_key(name))
        if found is None or not found.lasting:
            raise ProtocolError(ErrorCode.NO_SUCH_ROOM, f"there is no room {name}")
        return [Send((session.conn_id,), ev.TopicIs(found.name, found.topic, found.topic_by, found.topic_at))]

    def topic_loaded(self, session: Session, result: TopicLoaded, now: float) -> list[Effect]:
        if result.failed:
            try:
                return self._topic_here(session, result.room)
            except ProtocolError as exc:  # an answer that came back: the error is an effect, not raised
                return [Fail(session.conn_id, exc)]
        if result.name is None and result.topic is None:
            return [Fail(session.conn_id, ProtocolError(ErrorCode.NO_SUCH_ROOM, f"there is no room {result.room}"))]
        text, by, at = result.topic or ("", None, None)
        return [Send((session.conn_id,), ev.TopicIs(result.name or result.room, text, by, at))]
