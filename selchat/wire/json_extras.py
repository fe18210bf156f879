"""The JSON v2 frames of what answers or marks a line (issue 25): typing and reactions (tags
alone, as IRC's TAGMSG carries them), a line edited or deleted, and a search's hits."""

from __future__ import annotations

from typing import Any

from selchat.answers import SearchResults
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
    frame: Frame = {"type": "edited" if e.text is not None else "deleted", "room": e.room, "id": e.line}
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
