"""Frames <-> typed commands: what a client may ask of the server, validated once.

Small frozen dataclasses with ``__slots__``, as in h11 and wsproto; the hub dispatches on
``type(command)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

from selchat.errors import ErrorCode, ProtocolError


@dataclass(frozen=True, slots=True)
class Join:
    username: str
    password: str | None = None


@dataclass(frozen=True, slots=True)
class Chat:
    message: str


@dataclass(frozen=True, slots=True)
class Dm:
    to: str
    message: str


@dataclass(frozen=True, slots=True)
class Users:
    pass


@dataclass(frozen=True, slots=True)
class Ping:
    id: Any = None


@dataclass(frozen=True, slots=True)
class Pong:
    id: Any = None


@dataclass(frozen=True, slots=True)
class Quit:
    pass


Command = Union[Join, Chat, Dm, Users, Ping, Pong, Quit]

_USERS = Users()
_QUIT = Quit()


def _field(frame: dict[str, Any], name: str) -> str:
    value = frame.get(name)
    if type(value) is not str:
        kind = frame["type"]
        raise ProtocolError(ErrorCode.BAD_FRAME, f'a "{kind}" frame needs a "{name}" string')
    return value


def _join(frame: dict[str, Any]) -> Join:
    password = frame.get("password")
    if password is not None and type(password) is not str:
        raise ProtocolError(ErrorCode.BAD_FRAME, '"password" must be a string')
    return Join(_field(frame, "username"), password)


_PARSERS: dict[str, Callable[[dict[str, Any]], Command]] = {
    "join": _join,
    "chat": lambda f: Chat(_field(f, "message")),
    "dm": lambda f: Dm(_field(f, "to"), _field(f, "message")),
    "users": lambda f: _USERS,
    "ping": lambda f: Ping(f.get("id")),
    "pong": lambda f: Pong(f.get("id")),
    "quit": lambda f: _QUIT,
}

CLIENT_TYPES = tuple(_PARSERS)


def parse(frame: dict[str, Any]) -> Command:
    """The command a decoded frame asks for; ``ProtocolError`` if it asks for nothing valid."""
    kind = frame.get("type")
    if type(kind) is not str:
        raise ProtocolError(ErrorCode.BAD_FRAME, 'every frame needs a "type" string')
    parser = _PARSERS.get(kind)
    if parser is None:
        raise ProtocolError(
            ErrorCode.UNKNOWN_TYPE,
            f"unknown frame type {kind[:40]!r}; expected one of: {', '.join(CLIENT_TYPES)}",
        )
    return parser(frame)
