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
