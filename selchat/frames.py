"""JSON frames as the hub's commands: each client frame's "type" in one table, its fields
checked, and a ProtocolError with a clear message for a frame that is not one (bad_frame,
unknown_type). IRC and text mode make the same commands from their own syntax."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from selchat.config import ROOMS_PAGE_MAX
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import (
    MAX_TIMESTAMP,
    REACTION_MAX,
    Away,
    Chat,
    Command,
    Dm,
    DmHistory,
    Edit,
    History,
    Invite,
    Join,
    JoinRoom,
    Kick,
    Kill,
    LeaveRoom,
    MarkRead,
    Monitor,
    Nick,
    Oper,
    Ping,
    Pong,
    Quit,
    Register,
    RegisterRoom,
    Rooms,
    Search,
    SetBot,
    SetMode,
    Setname,
    StatusChat,
    TagMsg,
    Topic,
    UnreadAsk,
    Users,
    Wallops,
    Whois,
    Whowas,
    in_time_range,
)

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


STATUS_WORDS = {"operators": "@", "voiced": "+"}


def _chat(frame: dict[str, Any]) -> Chat | StatusChat:
    action = frame.get("action", False)
    if type(action) is not bool:
        raise ProtocolError(ErrorCode.BAD_FRAME, '"action" must be true or false')
    if "to" in frame:  # a line for the room's operators ("operators") or its voiced members too ("voiced")
        if not isinstance(frame["to"], str) or frame["to"] not in STATUS_WORDS:
            raise ProtocolError(ErrorCode.BAD_FRAME, '"to" must be "operators" or "voiced"')
        return StatusChat(_field(frame, "message"), _field(frame, "room"), STATUS_WORDS[frame["to"]], action)
    chat = Chat(_field(frame, "message"), _optional(frame, "room"), action)
    reply_to = _number(frame, "reply_to")
    if reply_to is not None:  # the message this one answers, by its timestamp (its IRC msgid)
        chat.tags = f"+draft/reply={round(reply_to * 1_000_000)}"
    return chat


def _history(frame: dict[str, Any]) -> History | DmHistory:
    limit = frame.get("limit", 50)
    if type(limit) is not int or limit < 1:
        raise ProtocolError(ErrorCode.BAD_FRAME, '"limit" must be a positive integer')
    if "with" in frame:  # a private conversation's pages
        return DmHistory(_field(frame, "with"), _number(frame, "before"), limit)
    return History(_field(frame, "room"), _number(frame, "before"), limit, _number(frame, "after"),
                   frame.get("before") is None and frame.get("after") is not None)


def _search(frame: dict[str, Any]) -> Search:
    limit = frame.get("limit", 20)
    if type(limit) is not int or limit < 1:
        raise ProtocolError(ErrorCode.BAD_FRAME, '"limit" must be a positive integer')
    return Search(_field(frame, "query"), limit, _number(frame, "before"))


def _read(frame: dict[str, Any]) -> MarkRead:
    """{"type":"read","room":"#dev","timestamp":T} (or "with":NAME): read up to T; without it, how far."""
    target = _field(frame, "with") if "with" in frame else _field(frame, "room")
    return MarkRead(target, _number(frame, "timestamp"))


TYPING_STATES = ("active", "paused", "done")


def _typing(frame: dict[str, Any]) -> TagMsg:
    """{"type":"typing","room":"#dev","state":"active"} (or "to":NAME): IRCv3's +typing tag."""
    state = frame.get("state", "active")
    if state not in TYPING_STATES:
        raise ProtocolError(ErrorCode.BAD_FRAME, '"state" is "active", "paused" or "done"')
    target = _optional(frame, "to") if "to" in frame else _field(frame, "room")
    return TagMsg(target or "", f"+typing={state}")


def _react(frame: dict[str, Any]) -> TagMsg:
    """{"type":"react","room":"#dev","id":TIMESTAMP,"reaction":"👍"} ("on":false takes it back):
    IRCv3's +draft/react on the line's msgid."""
    line = _number(frame, "id")
    reaction = _field(frame, "reaction")
    on = frame.get("on", True)
    if line is None or type(on) is not bool or len(reaction) > REACTION_MAX or any(c in reaction for c in " \\;"):
        raise ProtocolError(ErrorCode.BAD_FRAME, f'a reaction needs "id" (the line\'s timestamp), "reaction" (at most'
                            f' {REACTION_MAX} characters, no spaces) and "on" true or false')
    verb = "+draft/react" if on else "+draft/unreact"
    return TagMsg(_field(frame, "room"), f"{verb}={reaction};+draft/reply={round(line * 1_000_000)}")


def _edit(frame: dict[str, Any], deleting: bool) -> Edit:
    """{"type":"edit","room":"#dev","id":TIMESTAMP,"message":"..."} or {"type":"delete",...}; an
    "id" of "last" is one's own last line."""
    line = frame.get("id")
    if line == "last":
        stamp = None
    elif type(line) in (int, float) and in_time_range(line):
        stamp = round(line * 1_000_000)
    else:
        raise ProtocolError(ErrorCode.BAD_FRAME, '"id" is the line\'s timestamp, or "last" for your own last line')
    text = None if deleting else _field(frame, "message")
    where = _field(frame, "with") if "with" in frame else _field(frame, "room")  # a private message's: "with"
    if "with" in frame and where.startswith("#"):
        raise ProtocolError(ErrorCode.BAD_FRAME, '"with" names a person; a room\'s line is "room"')
    return Edit(where, stamp, text, _optional(frame, "reason"))


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
    if role is not None and (not isinstance(role, str) or role not in ROLE_WORDS):
        raise ProtocolError(ErrorCode.BAD_FRAME, '"role" must be "operator", "voice" or null')
    who = _field(frame, "username")
    if role is None:
        return SetMode(_field(frame, "room"), ((False, "o", who), (False, "v", who)))
    return SetMode(_field(frame, "room"), ((True, ROLE_WORDS[role], who),))


MONITOR_WORDS = {"add": "+", "remove": "-", "clear": "C", "list": "L", "status": "S"}


def _monitor(frame: dict[str, Any]) -> Monitor:
    """Watch names: "action" add, remove, clear, list or status, with "names" for add and remove."""
    action = frame.get("action")
    if not isinstance(action, str) or action not in MONITOR_WORDS:
        raise ProtocolError(ErrorCode.BAD_FRAME, '"action" must be add, remove, clear, list or status')
    names = frame.get("names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ProtocolError(ErrorCode.BAD_FRAME, '"names" must be a list of names')
    return Monitor(MONITOR_WORDS[action], tuple(names[:ROOMS_PAGE_MAX]))


LIST_WORDS = {"bans": "b", "exceptions": "e", "invite_exceptions": "I"}


def _masks(frame: dict[str, Any], on: bool | None) -> SetMode:
    """``ban``/``unban`` a mask on a room's list ("list": bans, the default, exceptions or
    invite_exceptions); ``bans`` (``on`` None) asks for the list."""
    word = frame.get("list", "bans")
    if not isinstance(word, str) or word not in LIST_WORDS:
        raise ProtocolError(ErrorCode.BAD_FRAME, '"list" must be "bans", "exceptions" or "invite_exceptions"')
    if on is None:
        return SetMode(_field(frame, "room"), ((True, LIST_WORDS[word], None),))
    return SetMode(_field(frame, "room"), ((on, LIST_WORDS[word], _field(frame, "mask")),))


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
    "search": _search,
    "typing": _typing,
    "react": _react,
    "edit": lambda f: _edit(f, False),
    "delete": lambda f: _edit(f, True),
    "topic": lambda f: Topic(_field(f, "room"), _optional(f, "topic")),
    "whois": lambda f: Whois(_field(f, "username")),
    "nick": lambda f: Nick(_field(f, "username")),
    "away": lambda f: Away(_optional(f, "message")),
    "register": lambda f: Register(_field(f, "password")),
    "kick": lambda f: Kick(_field(f, "room"), _field(f, "username"), _optional(f, "reason")),
    "invite": lambda f: Invite(_field(f, "room"), _field(f, "username")),
    "invitations": lambda f: Invite("", ""),
    "oper": lambda f: Oper(_field(f, "name"), _field(f, "password")),
    "room_mode": lambda f: _room_mode(f),
    "role": lambda f: _role(f),
    "kill": lambda f: Kill(_field(f, "username"), _optional(f, "reason")),
    "wallops": lambda f: Wallops(_field(f, "message")),
    "whowas": lambda f: Whowas(_field(f, "username")),
    "setname": lambda f: Setname(_field(f, "realname")),
    "monitor": lambda f: _monitor(f),
    "register_room": lambda f: RegisterRoom(_field(f, "room")),
    "bot": lambda f: SetBot(f.get("bot") is True),
    "ban": lambda f: _masks(f, True),
    "unban": lambda f: _masks(f, False),
    "bans": lambda f: _masks(f, None),
    "read": lambda f: _read(f),
    "unread": lambda f: UnreadAsk(),
    "conversations": lambda f: UnreadAsk(conversations=True),
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
