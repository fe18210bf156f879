"""Users, names, rooms and routing: commands in, effects out.

The hub never touches a socket, JSON or the wall clock: ``now`` is passed in (trio's MockClock
idea), so every rule is a unit test. It addresses connections by integer id and returns effects
for the server to carry out. A room caches the tuple of its members' ids; the tuple object is
replaced only when membership changes, so the server can batch broadcasts to one room by
identity and know the audience has not changed in between.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Union

from selchat.config import LOBBY, NAME_MAX, ServerConfig
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import Chat, Command, Dm, Join, Ping, Pong, Quit, Users

Frame = dict[str, Any]

_NAME_RE = re.compile(rf"[A-Za-z0-9_.\-]{{1,{NAME_MAX}}}")


@dataclass(frozen=True, slots=True)
class Send:
    """Deliver ``frame`` to each connection in ``targets``, in order with earlier effects."""

    targets: tuple[int, ...]
    frame: Frame


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Deliver ``frame`` to a room's members (a cached tuple), except ``exclude``."""

    targets: tuple[int, ...]
    frame: Frame
    exclude: int | None = None


@dataclass(frozen=True, slots=True)
class Close:
    """Close a connection once its queued output is written."""

    conn_id: int
    reason: str


Effect = Union[Send, Broadcast, Close]


class Room:
    __slots__ = ("name", "members", "_targets")

    def __init__(self, name: str) -> None:
        self.name = name
        self.members: dict[int, str] = {}
        self._targets: tuple[int, ...] | None = ()

    @property
    def targets(self) -> tuple[int, ...]:
        if self._targets is None:
            self._targets = tuple(self.members)
        return self._targets

    def add(self, conn_id: int, name: str) -> None:
        self.members[conn_id] = name
        self._targets = None

    def remove(self, conn_id: int) -> None:
        if self.members.pop(conn_id, None) is not None:
            self._targets = None

    def names(self) -> list[str]:
        return sorted(self.members.values(), key=str.casefold)


@dataclass(slots=True)
class Session:
    conn_id: int
    name: str | None = None
    rooms: list[Room] = field(default_factory=list)
    tokens: float = 0.0
    refill_at: float = 0.0
    strikes: int = 0


def valid_name(name: str) -> bool:
    return _NAME_RE.fullmatch(name) is not None


class Hub:
    def __init__(self, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        self._sessions: dict[int, Session] = {}
        self._names: dict[str, int] = {}  # casefolded name -> connection id
        self._rooms: dict[str, Room] = {LOBBY: Room(LOBBY)}
        self.banned_names: set[str] = set()
        self._handlers: dict[type, Callable[[Session, Any, float], list[Effect]]] = {
            Join: self._join,
            Chat: self._chat,
            Dm: self._dm,
            Users: self._users,
            Ping: self._ping,
            Pong: self._pong,
            Quit: self._quit,
        }

    # -- queries -------------------------------------------------------------------------------
    def usernames(self, room: str = LOBBY) -> list[str]:
        return self._rooms[room].names()

    def name_of(self, conn_id: int) -> str | None:
        session = self._sessions.get(conn_id)
        return session.name if session else None

    def find(self, name: str) -> int | None:
        return self._names.get(name.casefold())

    def connections(self) -> tuple[int, ...]:
        return tuple(self._sessions)

    # -- connection life -----------------------------------------------------------------------
    def connect(self, conn_id: int, now: float = 0.0) -> None:
        self._sessions[conn_id] = Session(conn_id, tokens=float(self.config.burst), refill_at=now)

    def disconnect(self, conn_id: int, now: float, reason: str | None = None) -> list[Effect]:
        """Forget a connection; tell its rooms it left (``reason`` says why, when not a quit)."""
        session = self._sessions.pop(conn_id, None)
        if session is None or session.name is None:
            return []
        del self._names[session.name.casefold()]
        effects: list[Effect] = []
        for room in session.rooms:
            room.remove(conn_id)
            frame: Frame = {
                "type": "user_left",
                "username": session.name,
                "room": room.name,
                "message": f"{session.name} left the chat",
                "timestamp": now,
            }
            if reason:
                frame["reason"] = reason
            effects.append(Broadcast(room.targets, frame))
        return effects

    def handle(self, conn_id: int, command: Command, now: float) -> list[Effect]:
        """Effects of one command; raises ``ProtocolError`` for the sender alone."""
        return self._handlers[type(command)](self._sessions[conn_id], command, now)

    # -- operator ------------------------------------------------------------------------------
    def announce(self, text: str, now: float) -> list[Effect]:
        frame = {"type": "server", "message": text, "timestamp": now}
        return [Broadcast(self._rooms[LOBBY].targets, frame)]

    def shutdown(self, now: float, message: str = "Server is shutting down") -> list[Effect]:
        frame = {"type": "shutdown", "message": message, "timestamp": now}
        return [Send(tuple(self._sessions), frame)]

    # -- commands ------------------------------------------------------------------------------
    def _joined(self, session: Session) -> str:
        if session.name is None:
            raise ProtocolError(ErrorCode.NOT_JOINED, 'send {"type":"join","username":...} first')
        return session.name

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

    def _join(self, session: Session, cmd: Join, now: float) -> list[Effect]:
        if session.name is not None:
            raise ProtocolError(ErrorCode.ALREADY_JOINED, f"already joined as {session.name}")
        expected = self.config.password
        if expected is not None and not hmac.compare_digest(
            (cmd.password or "").encode("utf-8", "surrogatepass"),
            expected.encode("utf-8", "surrogatepass"),
        ):
            raise ProtocolError(ErrorCode.BAD_PASSWORD, "wrong or missing password")
        name = cmd.username
        if not valid_name(name):
            raise ProtocolError(
                ErrorCode.INVALID_USERNAME,
                f"usernames are 1-{NAME_MAX} ASCII letters, digits, '_', '-' or '.'",
            )
        key = name.casefold()
        if key in self.banned_names:
            raise ProtocolError(ErrorCode.BANNED, f"{name} is banned from this server")
        if key in self._names:
            raise ProtocolError(ErrorCode.USERNAME_TAKEN, f"{name} is taken; choose another name")
        room = self._rooms[LOBBY]
        session.name = name
        self._names[key] = session.conn_id
        room.add(session.conn_id, name)
        session.rooms.append(room)
        users = room.names()
        others = len(users) - 1
        plural = "s" if others != 1 else ""
        online = f"{others} other user{plural} online." if others else "You are the first one here."
        welcome = {
            "type": "welcome",
            "username": name,
            "room": room.name,
            "users": users,
            "message": f"Welcome to selchat, {name}! {online}",
            "max_message": self.config.max_message,
            # so that a client can pace itself (a script piping many lines, say)
            "rate_limit": self.config.rate_limit,
            "burst": self.config.burst,
        }
        joined = {
            "type": "user_joined",
            "username": name,
            "room": room.name,
            "message": f"{name} joined the chat",
            "timestamp": now,
        }
        return [Send((session.conn_id,), welcome), Broadcast(room.targets, joined, session.conn_id)]

    def _chat(self, session: Session, cmd: Chat, now: float) -> list[Effect]:
        name = self._joined(session)
        text = self._message(cmd.message)
        self._spend_token(session, now)
        room = session.rooms[0]
        frame = {
            "type": "chat",
            "username": name,
            "room": room.name,
            "message": text,
            "timestamp": now,
        }
        return [Broadcast(room.targets, frame, session.conn_id)]

    def _dm(self, session: Session, cmd: Dm, now: float) -> list[Effect]:
        name = self._joined(session)
        text = self._message(cmd.message)
        target = self._names.get(cmd.to.casefold())
        if target is None:
            raise ProtocolError(ErrorCode.NO_SUCH_USER, f"no user named {cmd.to[:NAME_MAX]!r} is online")
        self._spend_token(session, now)
        to_name = self._sessions[target].name
        frame = {"type": "dm", "from": name, "to": to_name, "message": text, "timestamp": now}
        targets = (target,) if target == session.conn_id else (target, session.conn_id)
        return [Send(targets, frame)]

    def _users(self, session: Session, cmd: Users, now: float) -> list[Effect]:
        self._joined(session)
        room = session.rooms[0]
        return [Send((session.conn_id,), {"type": "users", "room": room.name, "users": room.names()})]

    def _ping(self, session: Session, cmd: Ping, now: float) -> list[Effect]:
        return [Send((session.conn_id,), {"type": "pong", "id": cmd.id, "timestamp": now})]

    def _pong(self, session: Session, cmd: Pong, now: float) -> list[Effect]:
        return []  # any frame already proves the client alive

    def _quit(self, session: Session, cmd: Quit, now: float) -> list[Effect]:
        return [Close(session.conn_id, "quit")]
