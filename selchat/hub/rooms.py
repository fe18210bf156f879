"""Rooms: entering and leaving them, their topics, who is in them, and the list of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from selchat import outbound as ev
from selchat.config import AWAY_MAX, TOPIC_MAX
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import JoinRoom, LeaveRoom, Rooms, Topic, Users
from selchat.hub.effects import Broadcast, Effect, Fail, Send
from selchat.hub.sharing import Sharing
from selchat.hub.state import LOBBY_KEY, ROOM_RE, Room, Session, State, one_line, room_key
from selchat.records import RoomsListed, TopicLoaded


class RoomManager:
    def __init__(self, state: State, sharing: Sharing) -> None:
        self.state = state
        self.sharing = sharing

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
        room = state.room(key, cmd.room)
        assert session.name is not None
        room.add(session.conn_id, session.name)
        session.rooms[key] = room
        effects = self.sharing.entered(room, session.name, now)
        effects.extend(self.replay_or_wait(session, room, joining=True))
        if not room.quiet(state.config.quiet_above):
            effects.append(room.broadcast(ev.UserJoined(session.name, room.name, now), session.conn_id))
        return effects

    def leave_room(self, session: Session, cmd: LeaveRoom, now: float) -> list[Effect]:
        room = self.state.my_room(session, cmd.room)
        assert session.name is not None
        quiet = room.quiet(self.state.config.quiet_above)
        room.remove(session.conn_id)
        del session.rooms[room.key]
        reason = one_line(cmd.message or "")[:AWAY_MAX] or None
        effects: list[Effect] = [Send((session.conn_id,), ev.RoomLeft(room.name, reason))]
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
            if quiet:  # a large room hears of no one leaving
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
    def room_joined(self, room: Room, name: str | None) -> ev.RoomJoined:
        if room.quiet(self.state.config.quiet_above) and name is not None:
            return ev.RoomJoined(room.name, room.topic, (name,), room.topic_by, room.topic_at, room.size())
        return ev.RoomJoined(room.name, room.topic, tuple(room.names()), room.topic_by, room.topic_at)

    def replay(self, session: Session, room: Room, recent: Sequence[ev.Message] | None = None) -> list[Effect]:
        page = tuple(replace(m, history=True) for m in (room.recent if recent is None else recent))
        return [Send((session.conn_id,), ev.HistoryBatch(room.name, page, room.total > len(page)))]

    def replay_or_wait(self, session: Session, room: Room, joining: bool = False) -> list[Effect]:
        """The replay (after room_joined when ``joining``), or, in a shared room this process has
        yet to catch up with, a place in line for them."""
        if not self.sharing.waits(room):
            if joining:
                return [Send((session.conn_id,), self.room_joined(room, session.name)), *self.replay(session, room)]
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
                    effects.append(Send((conn_id,), self.room_joined(room, session.name)))
                effects.extend(self.replay(session, room, recent))
        return effects

    # -- the list of rooms, and who is in one ------------------------------------------------------
    def rooms(self, session: Session, cmd: Rooms, now: float) -> list[Effect]:
        asked = self.sharing.list_rooms(session)
        return asked if asked is not None else self._rooms_here(session)

    def _rooms_here(self, session: Session) -> list[Effect]:
        """The rooms as this process knows them."""
        rooms = sorted((r for r in self.state.rooms.values() if r.lasting), key=lambda r: r.key)
        listing = tuple(ev.RoomInfo(r.name, r.size(), r.topic) for r in rooms)
        return [Send((session.conn_id,), ev.RoomList(listing))]

    def rooms_listed(self, session: Session, result: RoomsListed, now: float) -> list[Effect]:
        if result.rooms is None:
            return self._rooms_here(session)
        rooms = {room_key(r.room): r for r in result.rooms if ROOM_RE.fullmatch(r.room)}
        lobby = self.state.lobby
        rooms.setdefault(LOBBY_KEY, ev.RoomInfo(lobby.name, lobby.size(), lobby.topic))
        return [Send((session.conn_id,), ev.RoomList(tuple(rooms[k] for k in sorted(rooms))))]

    def users(self, session: Session, cmd: Users, now: float) -> list[Effect]:
        state = self.state
        if cmd.room is None:
            room: Room | None = state.lobby
        else:
            room = state.rooms.get(room_key(cmd.room))
            if room is None or not room.lasting:
                raise ProtocolError(ErrorCode.NO_SUCH_ROOM, f"there is no room {cmd.room}")
        assert room is not None
        sessions = state.sessions
        away = [(name, sessions[cid].away) for cid, name in room.members.items() if sessions[cid].away is not None]
        away.extend(self.sharing.away_in(room))
        away.sort(key=lambda pair: pair[0].casefold())
        info: tuple[tuple[str, str], ...] = ()
        if cmd.detail:
            info = tuple((sessions[cid].user, sessions[cid].realname)
                         for cid in sorted(room.members, key=lambda c: room.members[c].casefold()))
        listing = ev.UserList(room.name, tuple(room.names()), tuple(away), cmd.tag, room.topic, info)  # type: ignore[arg-type]
        return [Send((session.conn_id,), listing)]

    # -- topics ------------------------------------------------------------------------------------
    def topic(self, session: Session, cmd: Topic, now: float) -> list[Effect]:
        if cmd.topic is None:  # a question, also about a room one is not in
            key = room_key(cmd.room)
            asked = self.sharing.topic_question(session, key, self.state.rooms.get(key), cmd.room)
            return asked if asked is not None else self._topic_here(session, cmd.room)
        room = self.state.my_room(session, cmd.room)
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
