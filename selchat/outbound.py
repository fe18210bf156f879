"""What the hub tells clients, as typed events rather than wire frames.

The hub speaks one language and each wire codec renders it: JSON v1 (one room, the frames of
docs/protocol.md), JSON v2 (rooms, history, accounts) and, later, IRC. A codec may render an event
as nothing (a v1 client hears no topics) or as several lines. The server encodes an event once per
codec, never once per recipient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class UserJoined:
    username: str
    room: str
    timestamp: float


@dataclass(frozen=True, slots=True)
class UserLeft:
    username: str
    room: str
    timestamp: float
    reason: str | None = None  # why, when the user did not quit or leave the room
    parted: bool = False  # left this room only, still online


@dataclass(frozen=True, slots=True)
class Message:
    """A chat line in a room; ``history`` when it is replayed from storage."""

    room: str
    username: str
    text: str
    timestamp: float
    action: bool = False
    history: bool = False


@dataclass(frozen=True, slots=True)
class DirectMessage:
    sender: str
    to: str
    text: str
    timestamp: float
    offline: bool = False  # stored for an account that was offline, delivered at its login


@dataclass(frozen=True, slots=True)
class UserList:
    room: str
    users: tuple[str, ...]
    away: tuple[tuple[str, str], ...] = ()  # (name, away message) of those who are away


@dataclass(frozen=True, slots=True)
class PongReply:
    id: Any
    timestamp: float


@dataclass(frozen=True, slots=True)
class Announcement:
    """A line typed at the server's console."""

    text: str
    timestamp: float


@dataclass(frozen=True, slots=True)
class Shutdown:
    text: str
    timestamp: float


@dataclass(frozen=True, slots=True)
class RoomJoined:
    room: str
    topic: str
    users: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HistoryEnd:
    room: str
    more: bool  # older messages exist


@dataclass(frozen=True, slots=True)
class RoomLeft:
    room: str


@dataclass(frozen=True, slots=True)
class RoomInfo:
    room: str
    users: int
    topic: str


@dataclass(frozen=True, slots=True)
class RoomList:
    rooms: tuple[RoomInfo, ...]


@dataclass(frozen=True, slots=True)
class TopicChanged:
    room: str
    topic: str
    by: str
    timestamp: float


@dataclass(frozen=True, slots=True)
class NickChanged:
    old: str
    new: str
    timestamp: float
    room: str | None = None  # for one-room codecs: the lobby, when the renamer is in it


@dataclass(frozen=True, slots=True)
class AwayChanged:
    username: str
    message: str | None  # None: back


@dataclass(frozen=True, slots=True)
class Registered:
    account: str


Event = Union[Welcome, UserJoined, UserLeft, Message, DirectMessage, UserList, PongReply, Announcement, Shutdown,
              RoomJoined, HistoryEnd, RoomLeft, RoomList, TopicChanged, NickChanged, AwayChanged, Registered]
