"""News from other processes (``--redis``): what the backplane learned, as inputs to the hub.

The backplane decodes Redis's replies and publications into these; the server hands each to
``Hub.hear`` as it hands a client's command to ``Hub.handle``. They are plain data, so the hub's
side of sharing is tested without Redis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from selchat import outbound as ev


@dataclass(slots=True)
class Heard:
    """Another node's turn of events: one room's (messages, joins, leaves, a topic), a private
    message for a user here, a rename or an away message, or a login that displaces one here."""

    node: str
    events: list[Any]


@dataclass(frozen=True, slots=True)
class Displace:
    """For the node holding an account's name: another node has a login to it, so its session
    here ends. Crosses the wire by this class's name, inside a ``Heard``."""

    account: str


@dataclass(frozen=True, slots=True)
class Twin:
    """From a node where a person (an account) is connected, for each other node where they are
    too (hub/twins.py): ``here`` (they came, or answer one who came) with the rooms they are in
    and their away message, or not any more. Crosses the wire inside a ``Heard``."""

    name: str
    account: str
    here: bool
    rooms: tuple[str, ...] = ()
    away: str | None = None
    answer: bool = False  # the reply to a node that came: not answered again


@dataclass(frozen=True, slots=True)
class TwinParted:
    """The person left a room on one node (``kicked_by``: was put out): for their other nodes."""

    name: str
    room: str
    reason: str | None = None
    kicked_by: str | None = None


@dataclass(frozen=True, slots=True)
class MarkMoved:
    """An account's read marker moved on one node: for its devices on the others at once."""

    account: str
    target: str  # the marker's key (a room's, or a conversation's)
    shown: str  # the room or person as the devices show it
    at: int  # microseconds


@dataclass(slots=True)
class RoomSynced:
    """A room's tail and topic as Redis has them, read once this process subscribed to it;
    ``own_after``: this process's messages said since the read."""

    key: str
    recent: list[ev.Message]
    total: int
    topic: tuple[str, str | None, float | None] | None
    own_after: list[ev.Message] = field(default_factory=list)
    rules: str | None = None  # the room's rules as another process kept them (roomrules.py's JSON)


@dataclass(slots=True)
class RoomUnsynced:
    """This process is (again) catching up with a room, or no longer hears it."""

    key: str


@dataclass(slots=True)
class LinkChanged:
    up: bool


@dataclass(slots=True)
class NodeGone:
    """A process stopped renewing its liveness key: its users have left."""

    node: str


@dataclass(slots=True)
class MembersFound:
    """A room's members on other processes, read from its hash on subscribing."""

    key: str
    name: str
    members: list[tuple[str, str]]


@dataclass(slots=True)
class AccountsFound:
    """Accounts registered on other processes: (key, name, hash, created)."""

    accounts: list[tuple[str, str, str, float]]


@dataclass(slots=True)
class MarksFound:
    """An account's read markers as Redis keeps them, read as it logs in here: ((target, us), ...)."""

    account: str
    marks: tuple[tuple[str, int], ...]


News = Union[Heard, RoomSynced, RoomUnsynced, LinkChanged, NodeGone, MembersFound, AccountsFound, MarksFound]
