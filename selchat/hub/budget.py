"""How much one answer may hold (issue 21, item 1): no answer to one client's question may by
itself pass the client's output limit (--max-output), or asking would get the asker dropped as
a slow consumer. A page of history, the list of rooms, a login's waiting private messages: each
takes what fits a quarter of the limit and says there is more (a client asks again, or, for a
list IRC streams, the hub goes on once the part before has been read: ``Then``).

The size of a thing on the wire is the codec's to know; here it is an upper estimate of its text
in UTF-8, JSON's escapes counted (a control character is six bytes there), plus a line's frame.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import TypeVar

from selchat import outbound as ev
from selchat.config import NAME_MAX

T = TypeVar("T")

FRAME_BYTES = 160  # a line's framing: JSON keys, or IRC's prefix, tags and command
BUDGET_MIN = 16 * 1024


def answer_budget(max_output: int) -> int:
    """Bytes one answer may take: a quarter of the output limit, so that an answer, the
    high-water mark of what waits before a connection's reading pauses (64 KiB) and the room
    broadcasts of a busy turn fit inside it together."""
    return max(max_output // 4, BUDGET_MIN)


def text_bytes(text: str) -> int:
    size = len(text.encode("utf-8", "surrogatepass"))
    if not text.isprintable():
        return size * 6  # controls (and line breaks) are escapes
    return size + text.count('"') + text.count("\\")


def message_bytes(m: ev.Message | ev.DirectMessage) -> int:
    sender = m.username if isinstance(m, ev.Message) else m.sender
    return text_bytes(m.text) + len(sender) + FRAME_BYTES


def messages_fitting(messages: Sequence[ev.Message] | Sequence[ev.DirectMessage], budget: int,
                     newest: bool = False) -> int:
    """``fitting`` for messages, without encoding any when even six bytes a character and the
    longest name would fit (the common case: a join's replay of short lines)."""
    if sum(len(m.text) for m in messages) * 6 + len(messages) * (FRAME_BYTES + NAME_MAX) <= budget:
        return len(messages)
    return fitting(messages, message_bytes, budget, newest)


def room_bytes(r: ev.RoomInfo) -> int:
    return text_bytes(r.topic) + len(r.room) + FRAME_BYTES


def fitting(items: Sequence[T], size: Callable[[T], int], budget: int, newest: bool = False) -> int:
    """How many of ``items`` fit ``budget``, counted from the start (from the end when
    ``newest``); at least one, so that paging always moves on."""
    used = 0
    order = reversed(items) if newest else iter(items)
    for count, item in enumerate(order):
        used += size(item)
        if used > budget and count:
            return count
    return len(items)


# a name in a list of members: JSON's quotes and comma, IRC's "nick!nick@selchat " in a 353 with
# userhost-in-names (and the 353 line's own prefix, shared by some 30 names), text mode's ", "
NAME_FRAME = 2 * len("!@selchat ") + 8


def member_bytes(name: str, away: str | None, info: tuple[str, str] | None) -> int:
    """A member in a NAMES, WHO or ``users`` answer: the name (twice with a host mask), the away
    message if any, and for WHO a line of its own with the user and real name."""
    size = 2 * text_bytes(name) + NAME_FRAME
    if away is not None:
        size += text_bytes(away) + text_bytes(name) + NAME_FRAME
    if info is not None:
        size += text_bytes(info[0]) + text_bytes(info[1]) + FRAME_BYTES
    return size


def page_after(names: Sequence[str], after: str | None, size: Callable[[int], int], budget: int) -> tuple[int, int]:
    """The part of ``names`` (sorted by casefold) after the name ``after``: (start, end) indexes,
    as many as ``budget`` holds by ``size(index)``, at least one."""
    start = 0
    if after is not None:
        start = bisect.bisect_right([n.casefold() for n in names], after.casefold())
    used, end = 0, start
    while end < len(names):
        used += size(end)
        if used > budget and end > start:
            break
        end += 1
    return start, end


def members_part(names: Sequence[str], after: str | None, away: dict[str, str],
                 info: dict[str, tuple[str, str]] | None, max_output: int) -> tuple[tuple[str, ...], bool]:
    """The members after ``after`` that one answer holds, and whether more follow."""
    def size(i: int) -> int:
        name = names[i]
        return member_bytes(name, away.get(name), None if info is None else info.get(name, (name, name)))
    start, end = page_after(names, after, size, answer_budget(max_output))
    return tuple(names[start:end]), end < len(names)
