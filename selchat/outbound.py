"""What the hub tells clients, as typed events rather than wire frames.

The hub speaks one language and each wire codec renders it: JSON v1 (one room, the frames of
docs/protocol.md), JSON v2 (rooms, history, accounts) and, later, IRC. A codec may render an event
as nothing (a v1 client hears no topics) or as several lines. The server encodes an event once per
codec, never once per recipient.

Events are treated as immutable but are not frozen dataclasses: a frozen dataclass's ``__init__``
sets each field through ``object.__setattr__`` and costs four times as much (2.0 against 0.45 µs
here), and several are made for every chat line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from selchat.answers import HookAnswer, ReadMarker, SearchResults, UnreadCounts


@dataclass(slots=True)
class Welcome:
    username: str
    room: str
    users: tuple[str, ...]
    message: str
    max_message: int
    rate_limit: float
    burst: int
    topic: str = ""
    account: str | None = None
    max_rooms: int = 20
    motd: str = ""  # the server's message of the day, shown at join by every protocol
    user_count: int | None = None  # set when ``users`` is not everyone (a large, quiet room)
    password_min: int = 8  # an account password's shortest, said before /register asks for one


@dataclass(slots=True)
class UserJoined:
    username: str
    room: str
    timestamp: float
    account: str | None = None  # IRC's extended-join says the account and the real name
    realname: str = ""


@dataclass(slots=True)
class UserLeft:
    username: str
    room: str
    timestamp: float
    reason: str | None = None  # why, when the user did not quit or leave the room
    parted: bool = False  # left this room only, still online
    again: bool = False  # these recipients were told of this quit for another room already
    kicked_by: str | None = None  # put out by this operator (--redis: other processes say KICK)


@dataclass(slots=True)
class Message:
    """A chat line in a room; ``history`` when it is replayed from storage."""

    room: str
    username: str
    text: str
    timestamp: float
    action: bool = False
    history: bool = False
    notice: bool = False
    tags: str = ""  # the sender's client-only tags, as IRC writes them (+draft/reply=...;+typing=...)
    account: str | None = None  # the sender's account (IRC's account-tag)
    bot: bool = False  # from a bot (IRC's bot tag)
    status: str = ""  # "@": for the room's operators only, "+": and its voiced members (STATUSMSG)
    joins: tuple[int, ...] = ()  # where a line was continued over several IRC lines (wire/irc/multiline.py)
    reactions: dict[str, list[str]] | None = None  # reaction -> who reacted so (kept, and replayed)
    edited: float = 0.0  # when it was last edited (0: never)
    deleted: bool = False  # deleted by its sender or an operator: its text is gone
    own: bool = False  # the recipient's own line, sent from another of its devices (hub/devices.py)


@dataclass(slots=True)
class TagMessage:
    """Only tags (IRC's TAGMSG: typing, a reaction) to a room or one person; never kept."""

    sender: str
    target: str
    tags: str
    timestamp: float


@dataclass(slots=True)
class DirectMessage:
    sender: str
    to: str
    text: str
    timestamp: float
    offline: bool = False  # stored for an account that was offline, delivered at its login
    action: bool = False
    notice: bool = False
    away: str | None = None  # the recipient's away message, for the sender's receipt
    tags: str = ""  # the sender's client-only tags (Message's)
    account: str | None = None  # the sender's account (IRC's account-tag)
    bot: bool = False  # from a bot (IRC's bot tag)
    joins: tuple[int, ...] = ()  # Message's
    own: bool = False  # Message's
    mirrored: bool = False  # a copy for the person's devices on another process: never kept for later


@dataclass(slots=True)
class UserList:
    room: str
    users: tuple[str, ...]
    away: tuple[tuple[str, str], ...] = ()  # (name, away message) of those who are away
    tag: str | None = None  # the asking command's tag
    topic: str = ""
    info: tuple[tuple[str, str], ...] = ()  # (user, real name) of each of ``users``, for WHO
    more: bool = False  # members follow, after the last of these (a list cut to one answer)
    first: bool = True  # this part starts the list
    roles: tuple[tuple[str, str], ...] = ()  # (name, "o" or "v") of those of ``users`` with a role
    secret: bool = False  # the room is +s (IRC's NAMES says "@" for it)
    opers: tuple[str, ...] = ()  # those of ``users`` who are server operators (WHO's "*")
    extra: tuple[tuple[str, str, int], ...] = ()  # WHO's: (account or "", address or "", seconds idle) each
    bots: tuple[str, ...] = ()  # those of ``users`` who say they are bots (WHO's "B")


@dataclass(slots=True)
class PongReply:
    id: Any
    timestamp: float


@dataclass(slots=True)
class Announcement:
    """A line typed at the server's console."""

    text: str
    timestamp: float


@dataclass(slots=True)
class Shutdown:
    text: str
    timestamp: float
    reconnect: bool = False  # a restart (SIGTERM, Ctrl-C): clients come back; the console's /shutdown is for good


@dataclass(slots=True)
class MessageChanged:
    """A room's line edited (``text``) or deleted (``text`` None) by ``by``."""

    room: str
    line: float  # the line's timestamp: its id
    text: str | None
    by: str
    timestamp: float
    reason: str | None = None
    peer: str | None = None  # a private message's: the other side, as this recipient sees it (``room``: IRC's target)


@dataclass(slots=True)
class RoomJoined:
    room: str
    topic: str
    users: tuple[str, ...]
    topic_by: str | None = None
    topic_at: float | None = None
    user_count: int | None = None  # set when ``users`` is not everyone (a large, quiet room)
    roles: tuple[tuple[str, str], ...] = ()  # (name, "o" or "v"): the room's operators and voiced
    secret: bool = False
    read: float | None = None  # the joiner's read marker in the room (None: never marked)


@dataclass(slots=True)
class Opered:
    """This connection is a server operator now."""

    username: str


@dataclass(slots=True)
class Kicked:
    """``username`` was put out of ``room`` by one of its operators."""

    room: str
    username: str
    by: str
    reason: str | None
    timestamp: float


@dataclass(slots=True)
class Invited:
    """``by`` asked ``username`` into ``room``: told to both."""

    room: str
    username: str
    by: str
    timestamp: float
    account: str | None = None  # the inviter's (IRC's account-tag)


@dataclass(slots=True)
class ModeChanged:
    """A room's modes or roles changed (SetMode's changes, as made); with no ``by``, the answer
    to a question about them: ``changes`` then says every mode that is on."""

    room: str
    by: str | None
    changes: tuple[tuple[bool, str, str | None], ...]
    timestamp: float
    created: float | None = None  # with the answer: when the room was made (IRC's 329)


@dataclass(slots=True)
class MaskList:
    """A room's list of masks (``letter``: b bans, e exceptions, I invite exceptions):
    (mask, set by, set at) each."""

    room: str
    letter: str
    entries: tuple[tuple[str, str, float], ...]


@dataclass(slots=True)
class DmHistoryBatch:
    """A page of a private conversation, oldest first; ``more``: older ones are kept."""

    peer: str
    dms: tuple[DirectMessage, ...]
    more: bool
    tag: str | None = None  # the asking command's (IRC's chathistory batch)


@dataclass(slots=True)
class HistoryTargetList:
    """(name, latest message time) of one's rooms and conversations, the earliest first."""

    targets: tuple[tuple[str, float], ...]


@dataclass(slots=True)
class HistoryBatch:
    """Stored messages for one connection, oldest first: a room's replay on joining it
    (``tag`` None) or the answer to a history request (its ``tag``). One event, so that a codec
    can frame the whole page (JSON: the messages, then ``history_end``; IRC: a ``chathistory``
    batch)."""

    room: str
    messages: tuple[Message, ...]
    more: bool  # older messages exist
    tag: str | None = None


@dataclass(slots=True)
class RoomLeft:
    room: str
    reason: str | None = None
    kicked_by: str | None = None  # put out by this operator (its KICK told the room)


@dataclass(slots=True)
class RoomInfo:
    room: str
    users: int
    topic: str


@dataclass(slots=True)
class RoomList:
    """A page of the list of rooms: ``first`` when it starts the list, ``more`` when rooms follow
    (after the last of these)."""

    rooms: tuple[RoomInfo, ...]
    more: bool = False
    first: bool = True


@dataclass(slots=True)
class TopicChanged:
    room: str
    topic: str
    by: str
    timestamp: float


@dataclass(slots=True)
class NickChanged:
    old: str
    new: str
    timestamp: float
    room: str | None = None  # for one-room codecs: the lobby, when the renamer is in it


@dataclass(slots=True)
class AwayChanged:
    username: str
    message: str | None  # None: back


@dataclass(slots=True)
class AccountChanged:
    """Someone in a room one shares logged in to an account (IRC's account-notify); None: out."""

    username: str
    account: str | None


@dataclass(slots=True)
class RealnameChanged:
    """Someone's real name changed (IRC's SETNAME)."""

    username: str
    realname: str


@dataclass(slots=True)
class Monitored:
    """Watched names that came online or went (IRCv3 MONITOR), or where each one stands."""

    online: tuple[str, ...]
    offline: tuple[str, ...]


@dataclass(slots=True)
class MonitorList:
    names: tuple[str, ...]


@dataclass(slots=True)
class MonitorFull:
    """Names not watched: the list holds ``limit`` already."""

    limit: int
    names: tuple[str, ...]


@dataclass(slots=True)
class Watched:
    """A watched person's change (away, real name, account) for a watcher who shares no room
    with them (IRCv3 extended-monitor): said only to those who asked for that."""

    event: Any


@dataclass(slots=True)
class BotChanged:
    """One's own bot mode, as set (IRC: MODE nick +B)."""

    username: str
    bot: bool


@dataclass(slots=True)
class Invitations:
    """The rooms one is invited to and has not come into yet."""

    rooms: tuple[str, ...]


@dataclass(slots=True)
class RoomRegistered:
    room: str
    founder: str


@dataclass(slots=True)
class Registered:
    account: str


@dataclass(slots=True)
class LoggedIn:
    """An ``Authenticate`` succeeded: the next join is this account's."""

    account: str


@dataclass(slots=True)
class TopicIs:
    """The answer to asking a room's topic."""

    room: str
    topic: str
    by: str | None
    at: float | None


@dataclass(slots=True)
class UserInfo:
    username: str
    account: str | None
    away: str | None
    rooms: tuple[str, ...]
    address: str
    idle: float  # seconds since the user last said something
    user: str = ""
    realname: str = ""
    tag: str | None = None  # the asking command's tag
    roles: tuple[tuple[str, str], ...] = ()  # (room, "o" or "v"): the rooms of ``rooms`` where they have a role
    signon: float = 0.0  # when they connected
    oper: bool = False  # a server operator (WHOIS's 313)
    bot: bool = False  # says it is a bot (WHOIS's 335)


@dataclass(slots=True)
class Wallops:
    """A server operator's word to the server's operators."""

    username: str
    message: str
    timestamp: float


@dataclass(slots=True)
class WasInfo:
    """Who had a name that is free now: (name, user, real name, when they left), newest first."""

    username: str
    entries: tuple[tuple[str, str, str, float], ...]


@dataclass(slots=True)
class ServerStats:
    users: int
    rooms: int
    connections: int
    peak: int = 0  # the most users online at once since the server started


Event = Union[Welcome, UserJoined, UserLeft, Message, DirectMessage, UserList, PongReply, Announcement, Shutdown,
              RoomJoined, RoomLeft, RoomList, TopicChanged, NickChanged, AwayChanged, Registered,
              TopicIs, UserInfo, ServerStats, LoggedIn, HistoryBatch, DmHistoryBatch, Kicked, ModeChanged,
              Invited, Opered, Wallops, WasInfo, TagMessage, AccountChanged, RealnameChanged,
              Monitored, MonitorList, MonitorFull, Watched, HistoryTargetList,
              RoomRegistered, BotChanged, Invitations, HookAnswer, SearchResults, MessageChanged,
              ReadMarker, UnreadCounts]
