"""Users, names, rooms, topics, accounts and routing: commands in, effects out.

The hub never touches a socket, JSON, the disk or the wall clock: ``now`` is passed in (trio's
MockClock idea), so every rule is a unit test. It addresses connections by integer id and returns
effects for the server to carry out: events to deliver (``Send``, ``Broadcast``), connections to
close, writes to store, and requests (a history page, a password check) whose results come back
through ``complete`` like any other input. A room keeps a roster of its members' ids in joining
order: a join appends to the same list, a departure replaces it. A broadcast carries the roster
and its length at that moment, so the server can batch a turn's broadcasts to one room by the
roster's identity, across joins, and give each newcomer only the frames that came after it.
"""

from __future__ import annotations

import fnmatch
import hmac
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Union

from selchat import outbound as ev
from selchat.bans import BanList
from selchat.config import (
    AWAY_MAX,
    HISTORY_PAGE_MAX,
    LOBBY_ROOM,
    LOGIN_FAILURE_WINDOW,
    LOGIN_FAILURES_MAX,
    NAME_MAX,
    PASSWORD_MAX,
    ROOM_MAX,
    TOPIC_MAX,
    ServerConfig,
)
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import (
    V2_COMMANDS,
    Authenticate,
    Away,
    Chat,
    Command,
    Dm,
    History,
    Join,
    JoinRoom,
    LeaveRoom,
    Lusers,
    Nick,
    Ping,
    Pong,
    Quit,
    Register,
    Rooms,
    Topic,
    Users,
    Who,
    Whois,
)
from selchat.records import (
    CheckLogin,
    ClaimName,
    DmsDelivered,
    HashPassword,
    HistoryPage,
    ListRooms,
    LoadHistory,
    LoadOfflineDms,
    LoadTopic,
    LoginChecked,
    NameClaimed,
    OfflineDms,
    PasswordHashed,
    ReleaseName,
    Request,
    Result,
    RoomsListed,
    SaveAccount,
    SaveDm,
    SaveRoom,
    SaveTopic,
    Snapshot,
    TopicLoaded,
    Write,
)

_NAME_RE = re.compile(rf"[A-Za-z0-9_.\-]{{1,{NAME_MAX}}}")
_ROOM_RE = re.compile(rf"#[A-Za-z0-9_.\-]{{1,{ROOM_MAX}}}")
LOBBY_KEY = LOBBY_ROOM


@dataclass(slots=True)
class Send:
    """Deliver ``event`` to each connection in ``targets``, in order with earlier effects."""

    targets: tuple[int, ...]
    event: ev.Event


@dataclass(slots=True)
class Broadcast:
    """Deliver ``event`` to the first ``count`` ids of ``targets`` (a room's roster, which may
    grow after this effect is made), except ``exclude``."""

    targets: Sequence[int]
    count: int
    event: ev.Event
    exclude: int | None = None

    @property
    def audience(self) -> Sequence[int]:
        return self.targets[: self.count]


@dataclass(slots=True)
class Close:
    """Close a connection once its queued output is written."""

    conn_id: int
    reason: str


@dataclass(slots=True)
class Fail:
    """Tell a connection about an error that arose outside its own input (a login that failed
    in the worker, a session replaced by a login elsewhere)."""

    conn_id: int
    error: ProtocolError


@dataclass(slots=True)
class Store:
    """Keep this in the database; writes of one loop turn are committed together."""

    write: Write


@dataclass(slots=True)
class Ask:
    """A read or slow work; its result comes back through ``Hub.complete``."""

    request: Request


@dataclass(slots=True)
class Presence:
    """Several processes (``--redis``): someone entered or left a room (``event`` is the
    ``UserJoined`` or ``UserLeft``), also in a room too large to announce it; ``local`` when it
    is one of this process's users, whose news the other processes need."""

    room_key: str
    event: ev.UserJoined | ev.UserLeft
    local: bool = True


@dataclass(slots=True)
class Relay:
    """Several processes: a private message for a user on another node."""

    node: str
    event: ev.DirectMessage


@dataclass(slots=True)
class Everywhere:
    """Several processes: news of a user for every other process (a rename, an away message),
    which each tells its users who share a room with that user."""

    event: ev.NickChanged | ev.AwayChanged


Effect = Union[Send, Broadcast, Close, Fail, Store, Ask, Presence, Relay, Everywhere]


class Room:
    __slots__ = ("key", "name", "members", "remote", "_roster", "topic", "topic_by", "topic_at", "recent", "total",
                 "stored", "synced", "awaiting")

    def __init__(self, key: str, name: str, replay: int) -> None:
        self.key = key
        self.name = name
        self.members: dict[int, str] = {}
        self.remote: dict[str, tuple[str, str]] = {}  # other processes' members: key -> (name, node)
        self._roster: list[int] | None = []
        self.topic = ""
        self.topic_by: str | None = None
        self.topic_at: float | None = None
        self.recent: deque[ev.Message] = deque(maxlen=replay)  # replayed on join, no disk read
        self.total = 0  # messages stored, as far as this process knows
        self.stored = False  # the room has a row in the database
        # with --redis: the room's recent history and topic are Redis's, as read when this
        # process last subscribed to it; until they are, newcomers wait here for their replay
        self.synced = True
        self.awaiting: list[tuple[int, bool]] = []  # (connection, whether it waits for room_joined too)

    @property
    def roster(self) -> list[int]:
        """The members' ids in joining order. Appended to in place while nobody leaves (so a
        turn's batch of broadcasts survives a join storm); a new list once someone has left."""
        roster = self._roster
        if roster is None:
            roster = self._roster = list(self.members)  # a dict keeps joining order
        return roster

    def broadcast(self, event: ev.Event, exclude: int | None = None) -> Broadcast:
        roster = self.roster
        return Broadcast(roster, len(roster), event, exclude)

    def add(self, conn_id: int, name: str) -> None:
        if conn_id in self.members:
            self.members[conn_id] = name
            return
        self.members[conn_id] = name
        if self._roster is not None:
            self._roster.append(conn_id)

    def remove(self, conn_id: int) -> None:
        if self.members.pop(conn_id, None) is not None:
            self._roster = None

    def names(self) -> list[str]:
        names = list(self.members.values())
        if self.remote:
            names.extend(name for name, _ in self.remote.values())
        return sorted(names, key=str.casefold)

    def size(self) -> int:
        return len(self.members) + len(self.remote)

    def quiet(self, above: int) -> bool:
        """Too large for joins and leaves to be announced (config.quiet_above)."""
        return 0 < above < self.size()

    @property
    def lasting(self) -> bool:
        """A room exists while it has members or stored history (or a topic)."""
        return bool(self.members) or bool(self.remote) or self.total > 0 or bool(self.topic) or self.key == LOBBY_KEY


class Session:
    __slots__ = ("conn_id", "address", "name", "version", "rooms", "tokens", "refill_at", "strikes", "away",
                 "account", "logging_in", "quit_message", "spoke_at", "authed", "user", "realname", "claiming")

    def __init__(self, conn_id: int, address: str, burst: float, now: float) -> None:
        self.conn_id = conn_id
        self.address = address
        self.name: str | None = None
        self.version = 1
        self.rooms: dict[str, Room] = {}  # key -> room, in the order joined
        self.tokens = burst
        self.refill_at = now
        self.strikes = 0
        self.away: str | None = None
        self.account: str | None = None  # the account's key, once logged in or registered
        self.logging_in: Join | Authenticate | None = None  # waiting on a password check
        self.authed: str | None = None  # the account an Authenticate logged in to, before the join
        self.user = ""
        self.realname = ""
        self.quit_message: str | None = None
        self.spoke_at = now
        # (name key, a guest?, the admission) while its name is claimed in Redis
        self.claiming: tuple[str, bool, Callable[[], list[Effect]]] | None = None


def valid_name(name: str) -> bool:
    return _NAME_RE.fullmatch(name) is not None


def room_key(name: str) -> str:
    """A room's identity: ``#Dev`` and ``#dev`` are one room. Raises ``bad_room_name``."""
    if _ROOM_RE.fullmatch(name) is None:
        raise ProtocolError(
            ErrorCode.BAD_ROOM_NAME,
            f"room names are # and 1-{ROOM_MAX} ASCII letters, digits, '_', '-' or '.'",
        )
    return name.lower()


class Hub:
    def __init__(self, config: ServerConfig | None = None, snapshot: Snapshot | None = None) -> None:
        self.config = config or ServerConfig()
        self._sessions: dict[int, Session] = {}
        self._names: dict[str, int] = {}  # casefolded name -> connection id
        self._rooms: dict[str, Room] = {}
        self._accounts: dict[str, str] = {}  # key -> the name it was registered as
        self._account_sessions: dict[str, int] = {}  # key -> the connection logged in to it
        self._registering: set[str] = set()
        self._login_failures: dict[str, deque[float]] = {}
        self._last_stamp = 0
        self._peak = 0  # most users online at once
        self.shared = False  # several processes share rooms (--redis): claims, presence, remote events
        self.linked = False
        self._remote_away: dict[str, str] = {}  # other processes' users who are away: key -> message
        self.messages = 0  # chat messages accepted (for the metrics endpoint)
        self.deliveries = 0  # and the recipients they were addressed to
        self.bans = BanList(snapshot.bans if snapshot is not None else ())  # names here, addresses in the server
        lobby = self._room(LOBBY_KEY, LOBBY_ROOM)
        lobby.stored = False
        if snapshot is not None:
            self._load(snapshot)
        self._lobby = lobby
        self._handlers: dict[type, Callable[[Session, Any, float], list[Effect]]] = {
            Join: self._join,
            Chat: self._chat,
            Dm: self._dm,
            Users: self._users,
            Ping: self._ping,
            Pong: self._pong,
            Quit: self._quit,
            JoinRoom: self._join_room,
            LeaveRoom: self._leave_room,
            Rooms: self._rooms_list,
            History: self._history,
            Topic: self._topic,
            Nick: self._nick,
            Away: self._away,
            Register: self._register,
            Whois: self._whois,
            Lusers: self._lusers,
            Authenticate: self._authenticate,
            Who: self._who,
        }
        self._results: dict[type, Callable[[Session, Any, float], list[Effect]]] = {
            HistoryPage: self._history_page,
            LoginChecked: self._login_checked,
            PasswordHashed: self._password_hashed,
            OfflineDms: self._offline_dms,
            NameClaimed: self._name_claimed,
            RoomsListed: self._rooms_listed,
            TopicLoaded: self._topic_loaded,
        }

    def _room(self, key: str, name: str) -> Room:
        room = self._rooms.get(key)
        if room is None:
            room = self._rooms[key] = Room(key, name, self.config.replay)
            room.synced = not self.shared
        return room

    def share(self) -> None:
        """Share rooms with other processes (--redis): history, topics and names are Redis's."""
        self.shared = True
        self.linked = True  # the link to Redis is up, or being made (newcomers wait for rooms' tails)
        for room in self._rooms.values():
            room.synced = False

    def _load(self, snapshot: Snapshot) -> None:
        for state in snapshot.rooms:
            room = self._room(state.key, state.name if state.key != LOBBY_KEY else LOBBY_ROOM)
            room.topic = state.topic
            room.topic_by = state.topic_by
            room.topic_at = state.topic_at
            room.total = state.total
            room.stored = True
            room.recent.extend(state.recent)
        self._accounts.update(snapshot.accounts)
        self._last_stamp = round(snapshot.last_timestamp * 1_000_000)

    # -- queries -------------------------------------------------------------------------------
    def usernames(self, room: str = LOBBY_KEY) -> list[str]:
        found = self._rooms.get(room.lower())
        return found.names() if found else []

    def online(self) -> list[str]:
        """Everyone joined, in any room or none (IRC users may be in none)."""
        return sorted((s.name for s in self._sessions.values() if s.name is not None), key=str.casefold)

    def name_of(self, conn_id: int) -> str | None:
        session = self._sessions.get(conn_id)
        return session.name if session else None

    def find(self, name: str) -> int | None:
        return self._names.get(name.casefold())

    def connections(self) -> tuple[int, ...]:
        return tuple(self._sessions)

    def version_of(self, conn_id: int) -> int:
        session = self._sessions.get(conn_id)
        return session.version if session else 1

    def logging_in(self, conn_id: int) -> bool:
        """Waiting on the server (a password check, or a name claim in Redis), not on the client."""
        session = self._sessions.get(conn_id)
        return session is not None and (session.logging_in is not None or session.claiming is not None)

    def room_names(self) -> list[str]:
        return sorted((r.name for r in self._rooms.values() if r.lasting), key=str.casefold)

    def is_account(self, name: str) -> bool:
        return name.casefold() in self._accounts

    # -- connection life -----------------------------------------------------------------------
    def connect(self, conn_id: int, now: float = 0.0, address: str = "") -> None:
        self._sessions[conn_id] = Session(conn_id, address, float(self.config.burst), now)

    def disconnect(self, conn_id: int, now: float, reason: str | None = None) -> list[Effect]:
        """Forget a connection; tell its rooms it left (``reason`` says why, when not a quit)."""
        session = self._sessions.pop(conn_id, None)
        if session is None or session.name is None:
            return []
        return self._forget(session, now, reason or session.quit_message)

    def _forget(self, session: Session, now: float, reason: str | None) -> list[Effect]:
        assert session.name is not None
        conn_id = session.conn_id
        del self._names[session.name.casefold()]
        if session.account is not None and self._account_sessions.get(session.account) == conn_id:
            del self._account_sessions[session.account]
        effects: list[Effect] = []
        if self.shared:
            effects.append(Ask(ReleaseName(session.name.casefold())))
        told: set[int] = set()
        for room in session.rooms.values():
            quiet = room.quiet(self.config.quiet_above)
            room.remove(conn_id)
            if self.shared:
                effects.append(Presence(room.key, ev.UserLeft(session.name, room.name, now, reason)))
            if quiet:  # a large room hears of no one leaving
                self._maybe_drop(room)
                continue
            targets: Sequence[int] = room.roster
            left = ev.UserLeft(session.name, room.name, now, reason)
            again: tuple[int, ...] = ()
            if told:  # a codec that speaks of quits, not of leaving rooms (IRC), says it once
                again = tuple(t for t in targets if t in told)
                if again:
                    targets = tuple(t for t in targets if t not in told)
                    effects.append(Broadcast(again, len(again), replace(left, again=True)))
            if targets or not again:
                effects.append(Broadcast(targets, len(targets), left))
            told.update(room.roster)
            self._maybe_drop(room)
        session.rooms = {}
        return effects

    def _maybe_drop(self, room: Room) -> None:
        if not room.lasting:
            del self._rooms[room.key]

    def handle(self, conn_id: int, command: Command, now: float) -> list[Effect]:
        """Effects of one command; raises ``ProtocolError`` for the sender alone."""
        session = self._sessions[conn_id]
        kind = type(command)
        if session.name is None and kind not in (Join, Ping, Pong, Quit, Authenticate):
            if session.logging_in is not None:
                raise ProtocolError(ErrorCode.NOT_JOINED, "wait for the answer to your login")
            raise ProtocolError(ErrorCode.NOT_JOINED, 'send {"type":"join","username":...} first')
        if kind in V2_COMMANDS and session.version < 2:
            raise ProtocolError(
                ErrorCode.UNKNOWN_TYPE,
                'that frame type is protocol v2: join with "version":2 to use it',
            )
        return self._handlers[kind](session, command, now)

    def complete(self, conn_id: int, result: Result, now: float) -> list[Effect]:
        """Effects of a request's result; nothing if the connection has gone meanwhile."""
        session = self._sessions.get(conn_id)
        if session is None:
            if type(result) is PasswordHashed:  # the account was asked for: keep it all the same
                return self._password_hashed(None, result, now)
            return []
        return self._results[type(result)](session, result, now)

    # -- other processes (--redis) --------------------------------------------------------------
    def remote(self, node: str, event: ev.Event, now: float) -> list[Effect]:
        """An event from another process's users, for this process's members of its room."""
        room = self._rooms.get(room_key(event.room))  # type: ignore[union-attr]
        if room is None:
            return []
        kind = type(event)
        if kind is ev.Message:  # kept in Redis's stream by the process it came from
            m: ev.Message = event  # type: ignore[assignment]
            room.recent.append(m)
            room.total += 1
            return [room.broadcast(m)] if room.members else []
        if kind is ev.UserJoined:
            j: ev.UserJoined = event  # type: ignore[assignment]
            room.remote[j.username.casefold()] = (j.username, node)
        elif kind is ev.UserLeft:
            gone: ev.UserLeft = event  # type: ignore[assignment]
            if room.remote.pop(gone.username.casefold(), None) is None:
                return []
            if self._remote_away and self._remote_user(gone.username.casefold()) is None:
                self._remote_away.pop(gone.username.casefold(), None)
            event = replace(gone, again=False)
        elif kind is ev.TopicChanged:
            t: ev.TopicChanged = event  # type: ignore[assignment]
            room.topic, room.topic_by, room.topic_at = t.topic, t.by, t.timestamp
            return [room.broadcast(event)] if room.members else []
        if not room.members or room.quiet(self.config.quiet_above):
            return []
        return [room.broadcast(event)]

    def synced(self, key: str, recent: list[ev.Message], total: int,
               topic: tuple[str, str | None, float | None] | None, own_after: list[ev.Message]) -> list[Effect]:
        """A room's tail and topic as Redis has them, read once this process subscribed to it
        (``own_after``: this process's messages since the read): the newcomers' replays."""
        room = self._rooms.get(key)
        if room is None:
            return []
        room.recent.clear()
        room.recent.extend(recent)
        room.recent.extend(own_after)  # the newcomers were in the room for these: not replayed
        room.total = total
        if topic is not None:
            room.topic, room.topic_by, room.topic_at = topic
        room.synced = True
        return self._let_in(room, recent)

    def _let_in(self, room: Room, recent: Sequence[ev.Message] | None = None) -> list[Effect]:
        """The waiting newcomers' room_joined (now with the room's topic and everyone in it) and
        replay."""
        waiting, room.awaiting = room.awaiting, []
        effects: list[Effect] = []
        for conn_id, joining in waiting:
            session = self._sessions.get(conn_id)
            if session is not None and session.rooms.get(room.key) is room:
                if joining:
                    effects.append(Send((conn_id,), self._room_joined(room, session.name)))
                effects.extend(self._replay(session, room, recent))
        return effects

    def unsynced(self, key: str) -> None:
        """This process is (again) catching up with a room, or no longer hears it."""
        room = self._rooms.get(key)
        if room is not None:
            room.synced = False

    def link(self, up: bool) -> list[Effect]:
        """The link to Redis came or went: while it is away, newcomers get what this process has."""
        self.linked = up
        effects: list[Effect] = []
        if not up:
            for room in self._rooms.values():
                if room.awaiting:
                    effects.extend(self._let_in(room))
        return effects

    def learn_account(self, key: str, name: str) -> None:
        """An account registered on another process: its name is the account's here too."""
        self._accounts.setdefault(key, name)

    def _remote_user(self, key: str) -> tuple[str, str] | None:
        for room in self._rooms.values():
            found = room.remote.get(key)
            if found is not None:
                return found
        return None

    def remote_user(self, event: ev.NickChanged | ev.AwayChanged) -> list[Effect]:
        """Another process's user renamed or went away (or came back): told to the users here
        who share a room with them."""
        old = event.old.casefold() if type(event) is ev.NickChanged else event.username.casefold()  # type: ignore[union-attr]
        sharers: dict[int, None] = {}
        in_lobby = False
        for room in self._rooms.values():
            found = room.remote.get(old)
            if found is None:
                continue
            if type(event) is ev.NickChanged:
                del room.remote[old]
                room.remote[event.new.casefold()] = (event.new, found[1])
            in_lobby = in_lobby or room.key == LOBBY_KEY
            sharers.update(dict.fromkeys(room.members))
        if type(event) is ev.NickChanged:
            away = self._remote_away.pop(old, None)
            if away is not None:
                self._remote_away[event.new.casefold()] = away
            event = replace(event, room=LOBBY_ROOM if in_lobby else None)
        elif event.message:  # type: ignore[union-attr]
            self._remote_away[old] = event.message  # type: ignore[union-attr]
        else:
            self._remote_away.pop(old, None)
        return [Send(tuple(sharers), event)] if sharers else []

    def remote_dm(self, dm: ev.DirectMessage) -> list[Effect]:
        """A private message relayed from another node to a user here (who may have left since:
        then, if it is an account's, it waits for the account's next login like any other)."""
        key = dm.to.casefold()
        target = self._names.get(key)
        if target is None:
            target = self._account_sessions.get(key)
        if target is None:
            if key in self._accounts:
                return [Store(SaveDm(dm.sender.casefold(), key, replace(dm, offline=True), delivered=False))]
            return []
        recipient = self._sessions[target]
        return [Send((target,), replace(dm, away=recipient.away))]

    def remote_members(self, key: str, name: str, members: list[tuple[str, str]]) -> None:
        """Who else is in a room, as the other processes registered them (read on subscribing)."""
        room = self._room(key, name)
        for member, node in members:
            room.remote[member.casefold()] = (member, node)

    def local_rooms(self) -> list[str]:
        return [key for key, room in self._rooms.items() if room.members]

    def local_presence(self) -> list[tuple[str, str]]:
        return [(key, name) for key, room in self._rooms.items() for name in room.members.values()]

    def local_names(self) -> list[str]:
        return list(self._names)

    def has_local_members(self, key: str) -> bool:
        room = self._rooms.get(key)
        return room is not None and bool(room.members)

    def remote_nodes(self) -> set[str]:
        return {node for room in self._rooms.values() for _, node in room.remote.values()}

    def node_gone(self, node: str, now: float) -> list[Effect]:
        """A process stopped answering (killed, or cut off): its users have left."""
        effects: list[Effect] = []
        for room in list(self._rooms.values()):
            lost = [key for key, (_, where) in room.remote.items() if where == node]
            quiet = room.quiet(self.config.quiet_above)
            for key in lost:
                name, _ = room.remote.pop(key)
                self._remote_away.pop(key, None)
                left = ev.UserLeft(name, room.name, now, "server lost")
                effects.append(Presence(room.key, left, local=False))  # out of the room's shared list too
                if room.members and not quiet:
                    effects.append(room.broadcast(left))
        return effects

    # -- operator ------------------------------------------------------------------------------
    def announce(self, text: str, now: float) -> list[Effect]:
        everyone = tuple(cid for cid, s in self._sessions.items() if s.name is not None)
        return [Send(everyone, ev.Announcement(text, now))] if everyone else []

    def shutdown(self, now: float, message: str = "Server is shutting down") -> list[Effect]:
        return [Send(tuple(self._sessions), ev.Shutdown(message, now))]

    # -- rules shared by commands --------------------------------------------------------------
    def _stamp(self, now: float) -> float:
        """A timestamp no message has had: unique and increasing, bursts included, as IRCv3
        chathistory servers ensure, so that paging by timestamp never skips or repeats."""
        stamp = int(now * 1_000_000)
        if stamp <= self._last_stamp:
            stamp = self._last_stamp + 1
        self._last_stamp = stamp
        return stamp / 1_000_000

    def _spend_token(self, session: Session, now: float) -> None:
        """Token bucket: ``rate_limit`` messages a second, ``burst`` at once."""
        rate = self.config.rate_limit
        if rate <= 0:
            return
        elapsed = now - session.refill_at
        if elapsed > 0:
            session.tokens = min(float(self.config.burst), session.tokens + elapsed * rate)
        session.refill_at = now
        if session.tokens >= 1.0:
            session.tokens -= 1.0
            session.strikes = 0
            return
        session.strikes += 1
        if session.strikes >= self.config.flood_strikes:
            raise ProtocolError(ErrorCode.FLOODING, "disconnected for flooding")
        raise ProtocolError(
            ErrorCode.RATE_LIMITED,
            f"slow down: at most {rate:g} messages a second (bursts of {self.config.burst});"
            " that message was not delivered",
        )

    def penalize(self, conn_id: int, now: float) -> None:
        """A protocol error costs a token like a message does, so a client that sends nothing but
        garbage is bounded by the same bucket, and dropped for flooding like a chat flooder."""
        session = self._sessions.get(conn_id)
        if session is None:
            return
        try:
            self._spend_token(session, now)
        except ProtocolError as exc:
            if exc.code is ErrorCode.FLOODING:
                raise  # otherwise only the strike counts: the error itself is the reply

    def _message(self, text: str) -> str:
        if len(text) > self.config.max_message:
            raise ProtocolError(
                ErrorCode.MESSAGE_TOO_LONG,
                f"message is {len(text)} characters; the limit is {self.config.max_message}",
            )
        if not text or text.isspace():
            raise ProtocolError(ErrorCode.EMPTY_MESSAGE, "message is empty")
        return text

    def _check_name(self, name: str) -> str:
        if not valid_name(name):
            raise ProtocolError(
                ErrorCode.INVALID_USERNAME,
                f"usernames are 1-{NAME_MAX} ASCII letters, digits, '_', '-' or '.'",
            )
        return name.casefold()

    def _my_room(self, session: Session, name: str | None) -> Room:
        """The room a command names (the lobby when it names none), which the sender must be in."""
        key = LOBBY_KEY if name is None else room_key(name)
        room = session.rooms.get(key)
        if room is None:
            raise ProtocolError(ErrorCode.NOT_IN_ROOM, f"you are not in {name or LOBBY_ROOM}; join it first")
        return room

    def _sharers(self, session: Session) -> tuple[int, ...]:
        """Everyone who shares a room with ``session``, and the session itself."""
        seen = {session.conn_id: None}
        for room in session.rooms.values():
            seen.update(dict.fromkeys(room.members))
        return tuple(seen)

    def _replay(self, session: Session, room: Room, recent: Sequence[ev.Message] | None = None) -> list[Effect]:
        page = tuple(replace(m, history=True) for m in (room.recent if recent is None else recent))
        return [Send((session.conn_id,), ev.HistoryBatch(room.name, page, room.total > len(page)))]

    def _replay_or_wait(self, session: Session, room: Room, joining: bool = False) -> list[Effect]:
        """The replay (after room_joined when ``joining``), or, in a shared room this process has
        yet to catch up with, a place in line for them."""
        if room.synced or not self.linked:
            if joining:
                return [Send((session.conn_id,), self._room_joined(room, session.name)), *self._replay(session, room)]
            return self._replay(session, room)
        room.awaiting.append((session.conn_id, joining))
        return []

    # -- joining -------------------------------------------------------------------------------
    def _join(self, session: Session, cmd: Join, now: float) -> list[Effect]:
        if session.name is not None:
            raise ProtocolError(ErrorCode.ALREADY_JOINED, f"already joined as {session.name}")
        if session.logging_in is not None or session.claiming is not None:
            raise ProtocolError(ErrorCode.ALREADY_JOINED, "a login is already being checked")
        expected = self.config.password
        if expected is not None and not hmac.compare_digest(
            (cmd.password or "").encode("utf-8", "surrogatepass"),
            expected.encode("utf-8", "surrogatepass"),
        ):
            raise ProtocolError(ErrorCode.BAD_PASSWORD, "wrong or missing password")
        if session.authed is not None:  # logged in already (SASL): this join is the account's
            account = session.authed
            if self.bans.name(account, now):
                raise ProtocolError(ErrorCode.BANNED, f"{self._accounts[account]} is banned from this server")
            key = self._check_name(cmd.username)
            if key != account:  # another nick, as IRC allows: one that is nobody else's
                if self.bans.name(key, now):
                    raise ProtocolError(ErrorCode.BANNED, f"{cmd.username} is banned from this server")
                if key in self._accounts or key in self._registering:
                    raise ProtocolError(ErrorCode.NAME_REGISTERED, f"{cmd.username} is another registered account")
                if key in self._names:
                    raise ProtocolError(ErrorCode.USERNAME_TAKEN, f"{cmd.username} is taken; choose another name")
                return self._claimed(session, key, False,
                                     lambda: self._admit_account(session, account, cmd, now, cmd.username))
            return self._claimed(session, account, False, lambda: self._admit_account(session, account, cmd, now))
        key = self._check_name(cmd.username)
        if self.bans.name(key, now):
            raise ProtocolError(ErrorCode.BANNED, f"{cmd.username} is banned from this server")
        if cmd.login is not None:
            self._check_throttle(session, now)
            session.logging_in = cmd
            return [Ask(CheckLogin(session.conn_id, key, cmd.login))]
        if self.config.require_account:
            raise ProtocolError(
                ErrorCode.ACCOUNT_REQUIRED, 'this server admits accounts only: join with "login":PASSWORD'
            )
        if key in self._accounts or key in self._registering:
            raise ProtocolError(
                ErrorCode.NAME_REGISTERED,
                f'{cmd.username} is a registered account; join with "login":PASSWORD, or choose another name',
            )
        if key in self._names:
            raise ProtocolError(ErrorCode.USERNAME_TAKEN, f"{cmd.username} is taken; choose another name")
        return self._claimed(session, key, True, lambda: self._admit(session, cmd.username, cmd, None, now))

    def _claimed(self, session: Session, key: str, guest: bool, admit: Callable[[], list[Effect]]) -> list[Effect]:
        """With several processes, a name is claimed in Redis before it is admitted here (an
        atomic claim, never check-then-set); ``admit`` runs when the claim comes back."""
        if not self.shared:
            return admit()
        session.claiming = (key, guest, admit)
        return [Ask(ClaimName(session.conn_id, key, displace=not guest))]

    def _name_claimed(self, session: Session, result: NameClaimed, now: float) -> list[Effect]:
        pending = session.claiming
        if pending is None or pending[0] != result.name_key:
            return []
        session.claiming = None
        key, guest, admit = pending
        holder = self._names.get(key)
        if not result.ok or (guest and holder is not None and holder != session.conn_id):
            where = "on another server" if not result.ok else "here"
            return [Fail(session.conn_id, ProtocolError(
                ErrorCode.USERNAME_TAKEN, f"that name is taken {where}; choose another name"))]
        return admit()

    def _check_throttle(self, session: Session, now: float) -> None:
        failures = self._login_failures.get(session.address)
        if not failures:
            return
        while failures and failures[0] <= now - LOGIN_FAILURE_WINDOW:
            failures.popleft()
        if len(failures) >= LOGIN_FAILURES_MAX:
            wait = failures[0] + LOGIN_FAILURE_WINDOW - now
            raise ProtocolError(
                ErrorCode.TOO_MANY_LOGINS,
                f"{LOGIN_FAILURES_MAX} wrong logins from your address in a minute; try again in {wait:.0f} s",
            )
        if not failures:
            del self._login_failures[session.address]

    def _authenticate(self, session: Session, cmd: Authenticate, now: float) -> list[Effect]:
        if session.account is not None or session.authed is not None:
            raise ProtocolError(ErrorCode.ALREADY_JOINED, "you are logged in already")
        if session.logging_in is not None:
            raise ProtocolError(ErrorCode.ALREADY_JOINED, "a login is already being checked")
        self._check_throttle(session, now)
        if not valid_name(cmd.account):  # no such account could exist: no need to ask the store
            self._login_failures.setdefault(session.address, deque()).append(now)
            raise ProtocolError(ErrorCode.BAD_LOGIN, f"wrong account name or password for {cmd.account[:NAME_MAX]}")
        session.logging_in = cmd
        return [Ask(CheckLogin(session.conn_id, cmd.account.casefold(), cmd.password))]

    def _login_checked(self, session: Session, result: LoginChecked, now: float) -> list[Effect]:
        cmd = session.logging_in
        if cmd is None:
            return []
        session.logging_in = None
        if not result.ok or result.name is None:
            failures = self._login_failures.setdefault(session.address, deque())
            failures.append(now)
            name = cmd.account if type(cmd) is Authenticate else cmd.username
            return [Fail(session.conn_id, ProtocolError(
                ErrorCode.BAD_LOGIN, f"wrong account name or password for {name}"))]
        key = result.account_key
        self._accounts[key] = result.name
        if type(cmd) is Authenticate:
            if session.name is None:
                session.authed = key  # the join that follows is the account's
                return [Send((session.conn_id,), ev.LoggedIn(result.name))]
            return self._log_in_late(session, key, result.name, now)
        return self._claimed(session, key, False, lambda: self._admit_account(session, key, cmd, now))

    def _replace_session(self, old: int | None, session: Session, name: str, now: float) -> list[Effect]:
        """The account's owner is back (often from a connection the server has not yet seen die):
        the new login replaces the old session ``old``, as IRC's GHOST does."""
        if old is None or old == session.conn_id:
            return []
        previous = self._sessions.pop(old)
        effects = self._forget(previous, now, "logged in elsewhere")
        effects.append(Fail(old, ProtocolError(
            ErrorCode.LOGGED_IN_ELSEWHERE, f"{name} logged in from another connection")))
        return effects

    def displace(self, key: str, now: float) -> list[Effect]:
        """Another process admitted a login to the account ``key``: its session here ends, as a
        second login on one process replaces the first."""
        conn_id = self._account_sessions.get(key)
        if conn_id is None:
            conn_id = self._names.get(key)
        session = self._sessions.get(conn_id) if conn_id is not None else None
        if session is None or session.name is None:
            return []
        name = session.name
        del self._sessions[session.conn_id]
        effects = self._forget(session, now, "logged in elsewhere")
        effects.append(Fail(session.conn_id, ProtocolError(
            ErrorCode.LOGGED_IN_ELSEWHERE, f"{name} logged in on another server")))
        return effects

    def _log_in_late(self, session: Session, key: str, name: str, now: float) -> list[Effect]:
        """A joined guest proves an account's password (SASL after registration): the session
        keeps its name and becomes the account's, replacing any other session of it."""
        effects = self._replace_session(self._account_sessions.get(key), session, name, now)
        session.account = key
        self._account_sessions[key] = session.conn_id
        effects.append(Send((session.conn_id,), ev.LoggedIn(name)))
        effects.append(Ask(LoadOfflineDms(session.conn_id, key)))
        return effects

    def _admit_account(self, session: Session, key: str, cmd: Join, now: float,
                       nick: str | None = None) -> list[Effect]:
        """Admit ``session`` as the account ``key``, whose password it has proven, under the
        account's name or ``nick``."""
        name = nick or self._accounts[key]
        old = self._account_sessions.get(key)
        if old is None:
            old = self._names.get(key)  # someone using the account's name
        effects = self._replace_session(old, session, name, now)
        effects.extend(self._admit(session, name, cmd, key, now))
        effects.append(Ask(LoadOfflineDms(session.conn_id, key)))
        return effects

    def _admit(self, session: Session, name: str, cmd: Join, account: str | None, now: float) -> list[Effect]:
        room = self._lobby
        conn_id = session.conn_id
        version = cmd.version
        session.name = name
        session.version = version
        session.account = account
        session.user = (cmd.user or name)[:NAME_MAX]
        session.realname = (cmd.realname or name)[:AWAY_MAX]
        self._names[name.casefold()] = conn_id
        self._peak = max(self._peak, len(self._names))
        if account is not None:
            self._account_sessions[account] = conn_id
        if not cmd.lobby:  # in no room until it joins one (IRC)
            welcome = ev.Welcome(name, "", (), f"Welcome to selchat, {name}!", self.config.max_message,
                                 self.config.rate_limit, self.config.burst, "",
                                 account and self._accounts.get(account), self.config.max_rooms, self.config.motd)
            return [Send((conn_id,), welcome)]
        room.add(conn_id, name)
        session.rooms[room.key] = room
        quiet = room.quiet(self.config.quiet_above)
        presence: list[Effect] = [Presence(room.key, ev.UserJoined(name, room.name, now))] if self.shared else []
        others = room.size() - 1
        plural = "s" if others != 1 else ""
        online = f"{others} other user{plural} online." if others else "You are the first one here."
        welcome = ev.Welcome(
            username=name,
            room=room.name,
            # a large room's list would be most of the welcome's cost: the count, and ask for more
            users=(name,) if quiet else tuple(room.names()),
            message=f"Welcome to selchat, {name}! {online}",
            max_message=self.config.max_message,
            # so that a client can pace itself (a script piping many lines, say)
            rate_limit=self.config.rate_limit,
            burst=self.config.burst,
            topic=room.topic,
            account=account and self._accounts.get(account),
            max_rooms=self.config.max_rooms,
            motd=self.config.motd,
            user_count=room.size() if quiet else None,
        )
        effects: list[Effect] = [Send((conn_id,), welcome), *presence]
        if version >= 2:
            effects.extend(self._replay_or_wait(session, room))
        if not quiet:
            effects.append(room.broadcast(ev.UserJoined(name, room.name, now), conn_id))
        return effects

    # -- rooms ---------------------------------------------------------------------------------
    def _join_room(self, session: Session, cmd: JoinRoom, now: float) -> list[Effect]:
        key = room_key(cmd.room)
        self._spend_token(session, now)
        room = session.rooms.get(key)
        if room is not None:  # already in it: the same answer again, and no one else hears
            return self._replay_or_wait(session, room, joining=True)
        if len(session.rooms) >= self.config.max_rooms:
            raise ProtocolError(
                ErrorCode.TOO_MANY_ROOMS, f"you are in {len(session.rooms)} rooms, the most allowed; leave one first"
            )
        room = self._room(key, cmd.room)
        assert session.name is not None
        room.add(session.conn_id, session.name)
        session.rooms[key] = room
        effects: list[Effect] = []
        if self.shared:
            effects.append(Presence(room.key, ev.UserJoined(session.name, room.name, now)))
        effects.extend(self._replay_or_wait(session, room, joining=True))
        if not room.quiet(self.config.quiet_above):
            effects.append(room.broadcast(ev.UserJoined(session.name, room.name, now), session.conn_id))
        return effects

    def _room_joined(self, room: Room, name: str | None) -> ev.RoomJoined:
        if room.quiet(self.config.quiet_above) and name is not None:
            return ev.RoomJoined(room.name, room.topic, (name,), room.topic_by, room.topic_at, room.size())
        return ev.RoomJoined(room.name, room.topic, tuple(room.names()), room.topic_by, room.topic_at)

    def _leave_room(self, session: Session, cmd: LeaveRoom, now: float) -> list[Effect]:
        room = self._my_room(session, cmd.room)
        assert session.name is not None
        quiet = room.quiet(self.config.quiet_above)
        room.remove(session.conn_id)
        del session.rooms[room.key]
        effects: list[Effect] = [Send((session.conn_id,), ev.RoomLeft(room.name, cmd.message or None))]
        if self.shared:
            effects.append(Presence(room.key, ev.UserLeft(session.name, room.name, now, cmd.message or None,
                                                          parted=True)))
        if not quiet:
            effects.append(room.broadcast(ev.UserLeft(session.name, room.name, now, cmd.message or None,
                                                      parted=True)))
        self._maybe_drop(room)
        return effects

    def _rooms_list(self, session: Session, cmd: Rooms, now: float) -> list[Effect]:
        if self.shared and self.linked:  # every process's rooms: Redis knows them
            return [Ask(ListRooms(session.conn_id))]
        return self._rooms_here(session)

    def _rooms_here(self, session: Session) -> list[Effect]:
        """The rooms as this process knows them."""
        rooms = sorted((r for r in self._rooms.values() if r.lasting), key=lambda r: r.key)
        listing = tuple(ev.RoomInfo(r.name, r.size(), r.topic) for r in rooms)
        return [Send((session.conn_id,), ev.RoomList(listing))]

    def _rooms_listed(self, session: Session, result: RoomsListed, now: float) -> list[Effect]:
        if result.rooms is None:
            return self._rooms_here(session)
        rooms = {room_key(r.room): r for r in result.rooms if _ROOM_RE.fullmatch(r.room)}
        lobby = self._lobby
        rooms.setdefault(LOBBY_KEY, ev.RoomInfo(lobby.name, lobby.size(), lobby.topic))
        return [Send((session.conn_id,), ev.RoomList(tuple(rooms[k] for k in sorted(rooms))))]

    def _users(self, session: Session, cmd: Users, now: float) -> list[Effect]:
        if cmd.room is None or session.version < 2:
            room: Room | None = self._lobby
        else:
            room = self._rooms.get(room_key(cmd.room))
            if room is None or not room.lasting:
                raise ProtocolError(ErrorCode.NO_SUCH_ROOM, f"there is no room {cmd.room}")
        assert room is not None
        away = []
        for conn_id, name in room.members.items():
            message = self._sessions[conn_id].away
            if message is not None:
                away.append((name, message))
        if self._remote_away:
            for key, (name, _) in room.remote.items():
                message = self._remote_away.get(key)
                if message is not None:
                    away.append((name, message))
        away.sort(key=lambda pair: pair[0].casefold())
        names = room.names()
        info: tuple[tuple[str, str], ...] = ()
        if cmd.tag == "who":
            sessions = self._sessions
            info = tuple((sessions[cid].user, sessions[cid].realname)
                         for cid in sorted(room.members, key=lambda c: room.members[c].casefold()))
        return [Send((session.conn_id,), ev.UserList(room.name, tuple(names), tuple(away), cmd.tag, room.topic, info))]

    def _topic(self, session: Session, cmd: Topic, now: float) -> list[Effect]:
        if cmd.topic is None:  # a question, also about a room one is not in
            key = room_key(cmd.room)
            found = self._rooms.get(key)
            if self.shared and self.linked and (found is None or not found.synced):  # Redis's to say
                return [Ask(LoadTopic(session.conn_id, key, cmd.room))]
            return self._topic_here(session, cmd.room)
        room = self._my_room(session, cmd.room)
        topic = cmd.topic.strip()
        if len(topic) > TOPIC_MAX:
            raise ProtocolError(ErrorCode.TOPIC_TOO_LONG, f"topic is {len(topic)} characters; the limit is {TOPIC_MAX}")
        self._spend_token(session, now)
        assert session.name is not None
        room.topic, room.topic_by, room.topic_at = topic, session.name, now
        changed = room.broadcast(ev.TopicChanged(room.name, topic, session.name, now))
        if self.shared:  # kept in Redis, with the turn's messages (backplane)
            return [changed]
        effects: list[Effect] = []
        if not room.stored:
            room.stored = True
            effects.append(Store(SaveRoom(room.key, room.name)))
        effects.append(Store(SaveTopic(room.key, topic, session.name, now)))
        effects.append(changed)
        return effects

    def _topic_here(self, session: Session, name: str) -> list[Effect]:
        """A room's topic as this process knows it."""
        found = self._rooms.get(room_key(name))
        if found is None or not found.lasting:
            raise ProtocolError(ErrorCode.NO_SUCH_ROOM, f"there is no room {name}")
        return [Send((session.conn_id,), ev.TopicIs(found.name, found.topic, found.topic_by, found.topic_at))]

    def _topic_loaded(self, session: Session, result: TopicLoaded, now: float) -> list[Effect]:
        if result.failed:
            try:
                return self._topic_here(session, result.room)
            except ProtocolError as exc:  # an answer that came back: the error is an effect, not raised
                return [Fail(session.conn_id, exc)]
        if result.name is None and result.topic is None:
            return [Fail(session.conn_id, ProtocolError(ErrorCode.NO_SUCH_ROOM, f"there is no room {result.room}"))]
        text, by, at = result.topic or ("", None, None)
        return [Send((session.conn_id,), ev.TopicIs(result.name or result.room, text, by, at))]

    # -- messages ------------------------------------------------------------------------------
    def _chat(self, session: Session, cmd: Chat, now: float) -> list[Effect]:
        text = self._message(cmd.message)
        room = self._lobby if session.version < 2 else self._my_room(session, cmd.room)
        if session.version < 2 and room.key not in session.rooms:
            raise ProtocolError(ErrorCode.NOT_IN_ROOM, "you are not in the lobby")
        self._spend_token(session, now)
        name = session.name
        assert name is not None
        stamp = int(now * 1_000_000)  # _stamp(), inline: this is the hot path
        if stamp <= self._last_stamp:
            stamp = self._last_stamp + 1
        self._last_stamp = stamp
        message = ev.Message(room.name, name, text, stamp / 1_000_000, cmd.action, False, cmd.notice)
        session.spoke_at = now
        room.recent.append(message)
        room.total += 1
        # echo-message: the sender hears its own line too, so the whole room shares one buffer
        broadcast = room.broadcast(message, None if cmd.echo else session.conn_id)
        self.messages += 1
        self.deliveries += broadcast.count - (0 if cmd.echo else 1)
        if self.shared:  # kept in the room's stream in Redis (backplane), not here
            return [broadcast]
        row = Store((room.key, stamp, name, text, 1 if cmd.action else 0))
        if room.stored:
            return [broadcast, row]
        room.stored = True
        return [broadcast, Store(SaveRoom(room.key, room.name)), row]

    def _dm(self, session: Session, cmd: Dm, now: float) -> list[Effect]:
        text = self._message(cmd.message)
        key = cmd.to.casefold()
        target = self._names.get(key)
        if target is None and key in self._accounts:
            target = self._account_sessions.get(key)  # its owner, online under another name
        assert session.name is not None
        if target is None and self.shared:
            found = self._remote_user(key)
            if found is not None:  # on another node: relayed there, and a copy for the sender here
                name, node = found
                self._spend_token(session, now)
                session.spoke_at = now
                dm = ev.DirectMessage(session.name, name, text, self._stamp(now), action=cmd.action,
                                      notice=cmd.notice)
                return [Relay(node, dm), Send((session.conn_id,), dm)]
        if target is None:
            if session.account is None or key not in self._accounts:
                raise ProtocolError(ErrorCode.NO_SUCH_USER, f"no user named {cmd.to[:NAME_MAX]!r} is online")
            # Between accounts: kept, and delivered at the recipient's next login.
            self._spend_token(session, now)
            dm = ev.DirectMessage(session.name, self._accounts[key], text, self._stamp(now), offline=True)
            return [Send((session.conn_id,), dm), Store(SaveDm(session.account, key, dm, delivered=False))]
        self._spend_token(session, now)
        session.spoke_at = now
        recipient = self._sessions[target]
        assert recipient.name is not None
        dm = ev.DirectMessage(session.name, recipient.name, text, self._stamp(now), action=cmd.action,
                              notice=cmd.notice, away=recipient.away)
        # one Send each: a codec may answer its own sender differently (IRC: only with echo-message)
        effects: list[Effect] = [Send((target,), dm)]
        if target != session.conn_id:
            effects.append(Send((session.conn_id,), dm))
        if session.account is not None and recipient.account is not None:
            effects.append(Store(SaveDm(session.account, recipient.account, dm, delivered=True)))
        return effects

    def _offline_dms(self, session: Session, result: OfflineDms, now: float) -> list[Effect]:
        if not result.dms or session.account is None:
            return []
        me = (session.conn_id,)
        effects: list[Effect] = [Send(me, dm) for dm in result.dms]
        effects.append(Store(DmsDelivered(session.account, result.dms[-1].timestamp)))
        return effects

    def _history(self, session: Session, cmd: History, now: float) -> list[Effect]:
        room = self._my_room(session, cmd.room)
        self._spend_token(session, now)
        limit = min(cmd.limit, HISTORY_PAGE_MAX)
        return [Ask(LoadHistory(session.conn_id, room.key, room.name, cmd.before, limit, cmd.after, cmd.oldest,
                                cmd.around, cmd.tag))]

    def _history_page(self, session: Session, result: HistoryPage, now: float) -> list[Effect]:
        name = result.messages[0].room if result.messages else self._room_name(result.room_key)
        return [Send((session.conn_id,), ev.HistoryBatch(name, result.messages, result.more, result.tag))]

    def _room_name(self, key: str) -> str:
        room = self._rooms.get(key)
        return room.name if room else key

    # -- who you are ---------------------------------------------------------------------------
    def _nick(self, session: Session, cmd: Nick, now: float) -> list[Effect]:
        new = cmd.username
        key = self._check_name(new)
        old = session.name
        assert old is not None
        if new == old:
            return []
        if self.bans.name(key, now):
            raise ProtocolError(ErrorCode.INVALID_USERNAME, f"{new} is banned from this server")
        holder = self._names.get(key)
        if holder is not None and holder != session.conn_id:
            raise ProtocolError(ErrorCode.USERNAME_TAKEN, f"{new} is taken; choose another name")
        if (key in self._accounts or key in self._registering) and key != session.account:
            raise ProtocolError(ErrorCode.NAME_REGISTERED, f"{new} is a registered account")
        if self.shared:
            if session.claiming is not None:
                raise ProtocolError(ErrorCode.USERNAME_TAKEN, "a rename is already being checked; wait for it")
            if key != old.casefold() and self._remote_user(key) is not None:
                raise ProtocolError(ErrorCode.USERNAME_TAKEN, f"{new} is taken on another server; choose another name")
        self._spend_token(session, now)
        return self._claimed(session, key, True, lambda: self._rename(session, new, now))

    def _rename(self, session: Session, new: str, now: float) -> list[Effect]:
        old = session.name
        assert old is not None
        key = new.casefold()
        holder = self._names.get(key)
        if holder is not None and holder != session.conn_id:  # taken here while Redis was asked
            taken = ProtocolError(ErrorCode.USERNAME_TAKEN, f"{new} is taken; choose another name")
            return [Fail(session.conn_id, taken)]
        del self._names[old.casefold()]
        self._names[key] = session.conn_id
        session.name = new
        for room in session.rooms.values():
            room.members[session.conn_id] = new  # same members: the cached tuple stays valid
        lobby = LOBBY_ROOM if LOBBY_KEY in session.rooms else None
        renamed = ev.NickChanged(old, new, now, lobby)
        effects: list[Effect] = [Send(self._sharers(session), renamed)]
        if self.shared:  # the old name is free everywhere, and the rooms' lists say the new one
            effects.append(Ask(ReleaseName(old.casefold())))
            for room in session.rooms.values():
                effects.append(Presence(room.key, ev.UserLeft(old, room.name, now), local=False))
                effects.append(Presence(room.key, ev.UserJoined(new, room.name, now), local=False))
            effects.append(Everywhere(renamed))
        return effects

    def _away(self, session: Session, cmd: Away, now: float) -> list[Effect]:
        message = cmd.message.strip() if cmd.message is not None else None
        if message is not None and len(message) > AWAY_MAX:
            raise ProtocolError(ErrorCode.MESSAGE_TOO_LONG, f"away message is longer than {AWAY_MAX} characters")
        self._spend_token(session, now)
        session.away = message or None
        assert session.name is not None
        event = ev.AwayChanged(session.name, session.away)
        others = self._sharers(session)[1:]  # the first is the session itself
        # the setter's own answer first (IRC: 305/306), then everyone who shares a room
        effects: list[Effect] = [Send((session.conn_id,), event), *([Send(others, event)] if others else [])]
        if self.shared:
            effects.append(Everywhere(event))
        return effects

    def _register(self, session: Session, cmd: Register, now: float) -> list[Effect]:
        assert session.name is not None
        key = session.name.casefold()
        if session.account is not None:
            raise ProtocolError(ErrorCode.ALREADY_REGISTERED, f"you are logged in to the account {session.account}")
        if key in self._accounts or key in self._registering:
            raise ProtocolError(ErrorCode.NAME_REGISTERED, f"{session.name} is a registered account already")
        shortest = self.config.password_min
        if not shortest <= len(cmd.password) <= PASSWORD_MAX:
            raise ProtocolError(
                ErrorCode.WEAK_PASSWORD, f"an account password is {shortest}-{PASSWORD_MAX} characters"
            )
        self._spend_token(session, now)
        self._registering.add(key)
        return [Ask(HashPassword(session.conn_id, key, session.name, cmd.password))]

    def _password_hashed(self, session: Session | None, result: PasswordHashed, now: float) -> list[Effect]:
        key = result.account_key
        self._registering.discard(key)
        self._accounts[key] = result.name
        effects: list[Effect] = [Store(SaveAccount(key, result.name, result.hash, now))]
        if session is not None and session.name is not None and session.name.casefold() == key:
            session.account = key
            self._account_sessions[key] = session.conn_id
            effects.append(Send((session.conn_id,), ev.Registered(result.name)))
        return effects

    # -- the rest --------------------------------------------------------------------------------
    def _ping(self, session: Session, cmd: Ping, now: float) -> list[Effect]:
        return [Send((session.conn_id,), ev.PongReply(cmd.id, now))]

    def _pong(self, session: Session, cmd: Pong, now: float) -> list[Effect]:
        return []  # any frame already proves the client alive

    def _quit(self, session: Session, cmd: Quit, now: float) -> list[Effect]:
        if cmd.message:
            session.quit_message = f"Quit: {cmd.message[:AWAY_MAX]}"
        return [Close(session.conn_id, "quit")]

    def _whois(self, session: Session, cmd: Whois, now: float) -> list[Effect]:
        key = cmd.username.casefold()
        target = self._names.get(key)
        if target is None and self.shared:
            found = self._remote_user(key)
            if found is not None:  # on another process: what the rooms here know of them
                rooms = tuple(r.name for r in self._rooms.values() if key in r.remote)
                # an account's name is only ever its own (guests are refused it)
                info = ev.UserInfo(found[0], self._accounts.get(key), self._remote_away.get(key), rooms, "", 0.0,
                                   found[0], found[0], cmd.tag)
                return [Send((session.conn_id,), info)]
        if target is None:
            raise ProtocolError(ErrorCode.NO_SUCH_USER, f"no user named {cmd.username[:NAME_MAX]!r} is online")
        who = self._sessions[target]
        assert who.name is not None
        account = self._accounts.get(who.account) if who.account else None
        info = ev.UserInfo(who.name, account, who.away, tuple(r.name for r in who.rooms.values()), who.address,
                           max(0.0, now - who.spoke_at), who.user, who.realname, cmd.tag)
        return [Send((session.conn_id,), info)]

    def _lusers(self, session: Session, cmd: Lusers, now: float) -> list[Effect]:
        rooms = sum(1 for r in self._rooms.values() if r.lasting)
        return [Send((session.conn_id,), ev.ServerStats(len(self._names), rooms, len(self._sessions), self._peak))]

    def _who(self, session: Session, cmd: Who, now: float) -> list[Effect]:
        pattern = cmd.mask.casefold()
        if pattern == "0":
            pattern = "*"
        if "*" in pattern or "?" in pattern:
            # a mask finds only those who share a room with the asker (IRC's +i, which everyone
            # here has); an exact name finds its user anywhere, like WHOIS
            sharers = set(self._sharers(session))
            candidates = [self._sessions[cid] for cid in sharers]
            found = [s for s in candidates if s.name is not None and fnmatch.fnmatchcase(s.name.casefold(), pattern)]
        else:
            target = self._names.get(pattern)
            found = [self._sessions[target]] if target is not None else []
        found.sort(key=lambda s: s.name.casefold())  # type: ignore[union-attr]
        names = tuple(s.name for s in found)
        away = tuple((s.name, s.away) for s in found if s.away is not None)
        info = tuple((s.user, s.realname) for s in found)
        return [Send((session.conn_id,), ev.UserList(cmd.mask, names, away, "whomask", "", info))]  # type: ignore[arg-type]

