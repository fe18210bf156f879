"""The JSON v2 frames of what answers or marks a line (issue 25): typing and reactions (tags
alone, as IRC's TAGMSG carries them), a line edited or deleted, and a search's hits; and read
markers with the unread counts they give (issue 24)."""

from __future__ import annotations

from typing import Any

from selchat.answers import ReadMarker, SearchResults, Unread, UnreadCounts
from selchat.events import reaction_of
from selchat.outbound import MessageChanged, TagMessage

Frame = dict[str, Any]


def tagged(e: TagMessage) -> Frame | None:
    """Only tags: typing and reactions as frames of their own (from IRC's +typing and +draft/react,
    or another JSON client's); other tags alone have no JSON frame."""
    if not e.tags.startswith("+typing="):
        found = reaction_of(e.tags) if "react=" in e.tags else None
        if found is None or not e.target.startswith("#"):
            return None
        reaction, on, line = found
        return {"type": "reaction", "room": e.target, "username": e.sender, "id": line / 1_000_000,
                "reaction": reaction, "on": on, "timestamp": e.timestamp}
    state = e.tags.partition("=")[2].partition(";")[0]
    where = {"room": e.target} if e.target.startswith("#") else {}
    return {"type": "typing", "username": e.sender, **where, "state": state, "timestamp": e.timestamp}


def changed(e: MessageChanged) -> Frame:
    where = {"with": e.peer} if e.peer is not None else {"room": e.room}  # a private message's, or a room's
    frame: Frame = {"type": "edited" if e.text is not None else "deleted", **where, "id": e.line}
    if e.text is not None:
        frame["message"] = e.text
    frame.update({"by": e.by, "timestamp": e.timestamp})
    if e.reason:
        frame["reason"] = e.reason
    return frame


def search_results(e: SearchResults) -> Frame:
    if e.failed is not None:
        return {"type": "error", "code": "bad_search", "message": e.failed}
    results = []
    for hit in e.hits:
        where: Frame = {"room": hit.room} if hit.room is not None else {"with": hit.peer}
        found: Frame = {**where, "username": hit.username, "message": hit.text, "timestamp": hit.timestamp}
        if hit.action:
            found["action"] = True
        results.append(found)
    return {"type": "search_results", "query": e.query, "results": results, "more": e.more}


def _where(room: str | None, peer: str | None) -> Frame:
    return {"room": room} if room is not None else {"with": peer}


def read_marker(e: ReadMarker) -> Frame:
    """How far a room or conversation was read, here or on another device (issue 24)."""
    where = {"room": e.target} if e.target.startswith("#") else {"with": e.target}
    return {"type": "read", **where, "timestamp": e.timestamp}


def _count(u: Unread) -> Frame:
    frame: Frame = {**_where(u.room, u.peer), "unread": u.unread, "mentions": u.mentions}
    if u.more:  # more than the count says (it stops at readmarks.UNREAD_MAX)
        frame["more"] = True
    if u.latest is not None:
        frame["latest"] = u.latest
    return frame


def unread_counts(e: UnreadCounts) -> Frame:
    """Unread counts by room, or the list of one's conversations (newest first) with theirs."""
    if e.conversations:
        return {"type": "conversations", "conversations": [_count(u) for u in e.counts]}
    return {"type": "unread", "rooms": [_count(u) for u in e.counts if u.room is not None],
            "conversations": [_count(u) for u in e.counts if u.room is None]}
