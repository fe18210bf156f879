"""Frames <-> typed commands: what a client may ask of the server, validated once.

Small dataclasses with ``__slots__``, as in h11 and wsproto (treated as immutable, not frozen:
see outbound.py for the cost); the hub dispatches on ``type(command)``. A field's type is checked
here; its meaning (is the room name valid, is the user in that room) is the hub's business.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

from selchat.config import ROOMS_PAGE_MAX
from selchat.errors import ErrorCode, ProtocolError


@dataclass(slots=True)
class Join:
    username: str
    password: str | None = None
    login: str | None = None  # an account's password: join as that account
    lobby: bool = True  # start in the lobby (IRC clients start in no channel and join themselves)
    replay: bool = False  # hear the lobby's recent messages on joining it
    user: str | None = None  # IRC's username and real name, shown by WHO and WHOIS
    realname: str | None = None


@dataclass(slots=True)
class Chat:
    message: str
    room: str | None = None  # None: the lobby
    action: bool = False  # /me
    notice: bool = False  # IRC's NOTICE: never to be answered automatically
    echo: bool = False  # the sender wants its own message back (IRCv3 echo-message)
    tags: str = ""  # client-only tags, relayed as written (IRCv3 message-tags)


@dataclass(slots=True)
class Dm:
    to: str
    message: str
    action: bool = False
    notice: bool = False
    tags: str = ""


@dataclass(slots=True)
class Setname:
    """A new real name (IRC's SETNAME): those who share a room hear it."""

    realname: str


@dataclass(slots=True)
class TagMsg:
    """Only client tags, to a room (#...) or a person: relayed, never kept (IRC's TAGMSG)."""

    target: str
    tags: str
    echo: bool = False


@dataclass(slots=True)
class Users:
    """Who is in a room: the members after ``after`` by name, as many as one answer holds.
    ``stream``: the rest follows in parts by itself (IRC's NAMES and WHO, text mode's /users)."""

    room: str | None = None
    tag: str | None = None  # copied into the answer, so a codec knows which question it answers
    detail: bool = False  # each member's user and real name too (IRC's WHO shows them)
    after: str | None = None
    stream: bool = False


@dataclass(slots=True)
class Ping:
    id: Any = None


@dataclass(slots=True)
class Pong:
    id: Any = None


@dataclass(slots=True)
class Quit:
    message: str | None = None  # told to the others as the reason


@dataclass(slots=True)
class JoinRoom:
    room: str
    key: str | None = None  # a room with +k asks for it


@dataclass(slots=True)
class LeaveRoom:
    room: str
    message: str | None = None  # told to the room as the reason


@dataclass(slots=True)
class Rooms:
    """A page of the list of rooms, by name: those after ``after``, at most ``limit`` (0: as many
    as one answer holds). ``stream``: the rest follows in parts by itself (IRC's LIST)."""

    after: str | None = None
    limit: int = 0
    stream: bool = False


@dataclass(slots=True)
class Oper:
    """Become a server operator: an account named in --operators, with its password (IRC's OPER)."""

    name: str
    password: str


@dataclass(slots=True)
class Kill:
    """A server operator ends ``username``'s connection (IRC's KILL), saying why."""

    username: str
    reason: str | None = None


@dataclass(slots=True)
class Wallops:
    """A server operator's word to the other server operators (IRC's WALLOPS)."""

    message: str


@dataclass(slots=True)
class Whowas:
    """Who last had the name ``username``: the newest first, at most ``count`` (0: all kept)."""

    username: str
    count: int = 0


@dataclass(slots=True)
class Kick:
    """Put ``username`` out of ``room`` (its operators only)."""

    room: str
    username: str
    reason: str | None = None


@dataclass(slots=True)
class Invite:
    """Ask ``username`` into ``room``: it is let in once, past +i (and it is told)."""

    room: str
    username: str


@dataclass(slots=True)
class SetMode:
    """Change a room's modes or its members' roles; no changes: ask what they are.
    Each change is (on, letter, the member it is about): "m" moderated, "t" topic locked,
    "o" operator, "v" voice (IRC's letters; JSON says them in words)."""

    room: str
    changes: tuple[tuple[bool, str, str | None], ...] = ()


@dataclass(slots=True)
class DmHistory:
    """A page of one's private conversation with ``peer``: the newest before ``before`` (None: now).
    Kept only between accounts."""

    peer: str
    before: float | None = None
    limit: int = 50


@dataclass(slots=True)
class History:
    """A page of a room's stored messages strictly between ``after`` and ``before`` (either may be
    None: open). ``oldest``: the page next to ``after``, else the page next to ``before``.
    ``around``: half the page before this timestamp, half from it on (the others are unused)."""

    room: str
    before: float | None = None  # a timestamp; None: the newest messages
    limit: int = 50
    after: float | None = None
    oldest: bool = False
    around: float | None = None
    tag: str | None = None  # copied into the answer


@dataclass(slots=True)
class Topic:
    room: str
    topic: str | None  # None: what is it?


@dataclass(slots=True)
class Nick:
    username: str


@dataclass(slots=True)
class Away:
    message: str | None = None  # None: back


@dataclass(slots=True)
class Register:
    password: str


@dataclass(slots=True)
class Whois:
    username: str
    tag: str | None = None  # copied into the answer


@dataclass(slots=True)
class Lusers:
    pass


@dataclass(slots=True)
class Who:
    """Who is online under names matching ``mask`` (``*`` and ``?`` wildcards)."""

    mask: str
    after: str | None = None  # the part after this name (WHO streams its parts: hub/effects.Then)
    tag: str = "whomask"  # copied into the answer (IRC's WHOX keeps its fields here)


@dataclass(slots=True)
class Authenticate:
    """Log in to an account before joining (IRC's SASL): the join that follows is that account's."""

    account: str
    password: str


Command = Union[Join, Chat, Dm, Users, Ping, Pong, Quit, JoinRoom, LeaveRoom, Rooms, History, DmHistory, Topic, Nick,
                Away, Register, Whois, Lusers, Authenticate, Who, Kick, SetMode, Invite, Oper, Kill, Wallops, Whowas,
                TagMsg, Setname]

# Commands a JSON client must have joined with "version": 2 to use (its codec refuses them).
V2_COMMANDS = frozenset({JoinRoom, LeaveRoom, Rooms, History, DmHistory, Topic, Nick, Away, Register, Whois, Lusers,
                         Who, Kick, SetMode, Invite, Oper, Kill, Wallops, Whowas, TagMsg,
                         Setname})

_USERS = Users()
_QUIT = Quit()
_ROOMS = Rooms()


def _field(frame: dict[str, Any], name: str) -> str:
    value = frame.get(name)
    if type(value) is not str:
        kind = frame["type"]
        raise ProtocolError(ErrorCode.BAD_FRAME, f'a "{kind}" frame needs a "{name}" string')
    return value


def _optional(frame: dict[str, Any], name: str) -> str | None:
    value = frame.get(name)
    if value is not None and type(value) is not str:
        raise ProtocolError(ErrorCode.BAD_FRAME, f'"{name}" must be a string')
    return value


# The latest time a client may name, in seconds since 1970 (1e12, some 30,000 years: clients say
# "before the far future" for "the newest"). Timestamps are kept as microseconds in SQLite's
# 64-bit integers, which overflow past 9.2e12 s; a bound inside that, checked where the number
# is parsed, keeps every query in range (issue 21, item 8).
MAX_TIMESTAMP = 1_000_000_000_000


def in_time_range(value: float) -> bool:
    return 0 <= value <= MAX_TIMESTAMP


def _number(frame: dict[str, Any], name: str) -> float | None:
    value = frame.get(name)
    if value is None:
        return None
    if type(value) not in (int, float) or not in_time_range(value):
        raise ProtocolError(ErrorCode.BAD_FRAME, f'"{name}" must be a time from 0 to {MAX_TIMESTAMP}')
    return value


def join_version(frame: dict[str, Any]) -> int:
    version = frame.get("version", 1)
    if type(version) is not int or version < 1:
        raise ProtocolError(ErrorCode.BAD_FRAME, '"version" must be a positive integer')
    return version


def _join(frame: dict[str, Any]) -> Join:
    return Join(_field(frame, "username"), _optional(frame, "password"), _optional(frame, "login"),
                replay=join_version(frame) >= 2)


def _chat(frame: dict[str, Any]) -> Chat:
    action = frame.get("action", False)
    if type(action) is not bool:
        raise ProtocolError(ErrorCode.BAD_FRAME, '"action" must be true or false')
    return Chat(_field(frame, "message"), _optional(frame, "room"), action)


def _history(frame: dict[str, Any]) -> History | DmHistory:
    limit = frame.get("limit", 50)
    if type(limit) is not int or limit < 1:
        raise ProtocolError(ErrorCode.BAD_FRAME, '"limit" must be a positive integer')
    if "with" in frame:  # a private conversation's pages
        return DmHistory(_field(frame, "with"), _number(frame, "before"), limit)
    return History(_field(frame, "room"), _number(frame, "before"), limit, _number(frame, "after"),
                   frame.get("before") is None and frame.get("after") is not None)


def _rooms(frame: dict[str, Any]) -> Rooms:
    if len(frame) == 1:
        return _ROOMS
    limit = frame.get("limit", 0)
    if type(limit) is not int or not 0 <= limit <= ROOMS_PAGE_MAX:
        raise ProtocolError(ErrorCode.BAD_FRAME, f'"limit" must be an integer from 0 to {ROOMS_PAGE_MAX}')
    return Rooms(_optional(frame, "after"), limit)


def _users(frame: dict[str, Any]) -> Users:
    room = _optional(frame, "room")
    after = _optional(frame, "after")
    if after is not None:
        return Users(room, after=after)
    return _USERS if room is None else Users(room)


# JSON's words for a room's modes and a member's roles (IRC's letters)
MODE_WORDS = {"moderated": "m", "topic_locked": "t", "secret": "s", "invite_only": "i", "no_outside": "n"}
ROLE_WORDS = {"operator": "o", "voice": "v"}


def _room_mode(frame: dict[str, Any]) -> SetMode:
    changes = []
    for word, letter in MODE_WORDS.items():
        if word in frame:
            if type(frame[word]) is not bool:
                raise ProtocolError(ErrorCode.BAD_FRAME, f'"{word}" must be true or false')
            changes.append((frame[word], letter, None))
    if "key" in frame:  # a word, or null for none
        key = frame["key"]
        if key is not None and type(key) is not str:
            raise ProtocolError(ErrorCode.BAD_FRAME, '"key" must be a string or null')
        changes.append((key is not None, "k", key))
    if "limit" in frame:  # a number of members, or null for none
        limit = frame["limit"]
        if limit is not None and (type(limit) is not int or not 0 < limit <= 1_000_000):
            raise ProtocolError(ErrorCode.BAD_FRAME, '"limit" must be a number of members or null')
        changes.append((limit is not None, "l", None if limit is None else str(limit)))
    return SetMode(_field(frame, "room"), tuple(changes))


def _role(frame: dict[str, Any]) -> SetMode:
    """A member's role: "operator", "voice", or null to take both away."""
    role = frame.get("role")
    if role is not None and role not in ROLE_WORDS:
        raise ProtocolError(ErrorCode.BAD_FRAME, '"role" must be "operator", "voice" or null')
    who = _field(frame, "username")
    if role is None:
        return SetMode(_field(frame, "room"), ((False, "o", who), (False, "v", who)))
    return SetMode(_field(frame, "room"), ((True, ROLE_WORDS[role], who),))


LIST_WORDS = {"bans": "b", "exceptions": "e", "invite_exceptions": "I"}


def _masks(frame: dict[str, Any], on: bool | None) -> SetMode:
    """``ban``/``unban`` a mask on a room's list ("list": bans, the default, exceptions or
    invite_exceptions); ``bans`` (``on`` None) asks for the list."""
    word = frame.get("list", "bans")
    if word not in LIST_WORDS:
        raise ProtocolError(ErrorCode.BAD_FRAME, '"list" must be "bans", "exceptions" or "invite_exceptions"')
    if on is None:
        return SetMode(_field(frame, "room"), ((True, LIST_WORDS[word], None),))
    return SetMode(_field(frame, "room"), ((on, LIST_WORDS[word], _field(frame, "mask")),))


# the channel modes selchat has: flags m n t s i, k and l with a value, o and v with a nick, and
# the lists b e I with a mask (alone: show the list)
MODE_LETTERS = frozenset("mntsikl" "ov" "beI")


def mode_changes(letters: str, args: list[str]) -> tuple[tuple[bool, str, str | None], ...] | None:
    """``+mo-v bob carol`` as changes: (on, letter, nick or None); None for a letter we lack."""
    changes: list[tuple[bool, str, str | None]] = []
    on, given = True, iter(args)
    for letter in letters:
        if letter in "+-":
            on = letter == "+"
        elif letter not in MODE_LETTERS:
            return None
        else:
            takes = letter in "oveIb" or (on and letter in "kl") or (letter == "k" and not on)
            arg = next(given, None) if takes else None
            changes.append((on, letter, None if letter == "k" and not on else arg))
    return tuple(changes)


_PARSERS: dict[str, Callable[[dict[str, Any]], Command]] = {
    "join": _join,
    "chat": _chat,
    "dm": lambda f: Dm(_field(f, "to"), _field(f, "message")),
    "users": _users,
    "ping": lambda f: Ping(f.get("id")),
    "pong": lambda f: Pong(f.get("id")),
    "quit": lambda f: _QUIT,
    "join_room": lambda f: JoinRoom(_field(f, "room"), _optional(f, "key")),
    "leave_room": lambda f: LeaveRoom(_field(f, "room")),
    "rooms": _rooms,
    "history": _history,
    "topic": lambda f: Topic(_field(f, "room"), _optional(f, "topic")),
    "whois": lambda f: Whois(_field(f, "username")),
    "nick": lambda f: Nick(_field(f, "username")),
    "away": lambda f: Away(_optional(f, "message")),
    "register": lambda f: Register(_field(f, "password")),
    "kick": lambda f: Kick(_field(f, "room"), _field(f, "username"), _optional(f, "reason")),
    "invite": lambda f: Invite(_field(f, "room"), _field(f, "username")),
    "oper": lambda f: Oper(_field(f, "name"), _field(f, "password")),
    "room_mode": lambda f: _room_mode(f),
    "role": lambda f: _role(f),
    "kill": lambda f: Kill(_field(f, "username"), _optional(f, "reason")),
    "wallops": lambda f: Wallops(_field(f, "message")),
    "whowas": lambda f: Whowas(_field(f, "username")),
    "setname": lambda f: Setname(_field(f, "realname")),
    "ban": lambda f: _masks(f, True),
    "unban": lambda f: _masks(f, False),
    "bans": lambda f: _masks(f, None),
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
