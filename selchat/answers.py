"""Events that answer one request and go to the asker alone: a search's hits, a webhook's HTTP
status. Kept apart from outbound.py's chat events, and named there too (``outbound.Event``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class SearchHit:
    """A message a search found: in ``room``, or in the conversation with ``peer``."""

    room: str | None
    peer: str | None
    username: str
    text: str
    timestamp: float
    action: bool = False


@dataclass(slots=True)
class SearchResults:
    """A page of hits, newest first; ``more``: older ones follow (ask ``before`` the last)."""

    query: str
    hits: tuple[SearchHit, ...]
    more: bool
    tag: str | None = None
    failed: str | None = None  # why none could be given (it took too long), in words


@dataclass(slots=True)
class HookAnswer:
    """The answer to an incoming webhook's request: an HTTP status and a line saying why."""

    status: int
    text: str
    retry_after: int = 0  # 429: seconds until the hook may post again


@dataclass(slots=True)
class ReadMarker:
    """How far one has read ``target`` (a room, or the person a conversation is with): to the
    asker, and when it moves to every device of the account (IRCv3 draft/read-marker)."""

    target: str
    timestamp: float | None  # None: never marked


@dataclass(slots=True)
class Unread:
    """Lines after the read marker in a room (``room``) or a conversation (``peer``): how many
    (at most readmarks.UNREAD_MAX, ``more`` beyond it), how many name the reader, the latest's time."""

    room: str | None
    peer: str | None
    unread: int
    mentions: int = 0
    more: bool = False
    latest: float | None = None  # the newest line's time (a conversation's, for the list of them)


@dataclass(slots=True)
class UnreadCounts:
    """Counts for rooms (after a join, or asked for), or the list of one's conversations."""

    counts: tuple[Unread, ...]
    conversations: bool = False
