"""History and topics in Redis, for processes that share rooms (``--redis``): the pure parts.

A room's messages are a stream, ``selchat:history:KEY``, trimmed to about ``--history-max``
entries (``MAXLEN ~``: Redis trims whole nodes, which is far cheaper than trimming exactly). An
entry's id comes from the message's own timestamp (milliseconds, then the microseconds left
over as the sequence), so a page "before this time" is a range of ids. Two messages of the same
microsecond, or a process whose clock is behind the stream's newest entry, get the next id Redis
gives instead. A room's topic is a hash, ``selchat:topic:KEY``.

A turn's events for one room are appended and published by one script, atomically: every
process that hears the publication also hears the ids its messages got, and a process that
starts listening to a room reads the stream's tail after it has subscribed, then keeps only the
publications newer than that tail (``newer_than``), so it neither misses a message nor shows one
twice.
"""

from __future__ import annotations

import json
from typing import Any

from selchat import outbound as ev

PREFIX = "selchat:"

# KEYS: the stream, the topic hash. ARGV: the channel, the stream's length, the publication,
# whether the topic changed and to what (topic, by, at), then an (id, entry) pair a message.
APPEND = """
local ids = {}
for i = 8, #ARGV, 2 do
  local id = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], ARGV[i], 'm', ARGV[i + 1])
  if type(id) == 'table' and id.err then
    id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[i + 1])
  end
  ids[#ids + 1] = id
end
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[2], 'topic', ARGV[5], 'by', ARGV[6], 'at', ARGV[7])
end
redis.call('PUBLISH', ARGV[1], table.concat(ids, ',') .. '\\n' .. ARGV[3])
return #ids
"""
_APPEND = APPEND.encode()  # sent with every turn's messages: encoded once


def stream_key(room_key: str) -> str:
    return f"{PREFIX}history:{room_key}"


def topic_key(room_key: str) -> str:
    return f"{PREFIX}topic:{room_key}"


def changes_key(room_key: str) -> str:
    """What happened to the room's lines since (shared_changes.py): a hash beside the stream."""
    return f"{PREFIX}changes:{room_key}"


# KEYS: the stream, the changes hash. ARGV: XRANGE or XREVRANGE, its two bounds, the count.
# Each entry comes back with its line's field, when it has one, as 'c'.
READ = """
local entries = redis.call(ARGV[1], KEYS[1], ARGV[2], ARGV[3], 'COUNT', ARGV[4])
for _, e in ipairs(entries) do
  local c = redis.call('HGET', KEYS[2], e[1])
  if c then
    e[2][#e[2] + 1] = 'c'
    e[2][#e[2] + 1] = c
  end
end
return entries
"""


def read_args(room_key: str, verb: str, first: str, last: str, count: int) -> tuple[Any, ...]:
    """A range of the room's stream (XRANGE's or XREVRANGE's bounds), each line as it is now."""
    return ("EVAL", READ, 2, stream_key(room_key), changes_key(room_key), verb, first, last, count)


def stream_id(timestamp: float) -> str:
    """The id a message of this time asks for: milliseconds, then the microseconds left."""
    us = round(timestamp * 1_000_000)
    return f"{us // 1000}-{us % 1000}"


def parse_id(raw: bytes | str) -> tuple[int, int]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def entry(message: ev.Message) -> bytes:
    return json.dumps([message.room, message.username, message.text, message.timestamp, message.action,
                       message.notice], separators=(",", ":"), ensure_ascii=False).encode()


def message(data: bytes) -> ev.Message:
    """A stored entry, as history (ValueError for anything else)."""
    room, username, text, timestamp, action, notice = json.loads(data)
    return ev.Message(str(room), str(username), str(text), float(timestamp), bool(action), True, bool(notice))


def _changed(message: ev.Message, raw: bytes) -> None:
    """A line's field of the changes hash, onto the line as read from the stream (a field that
    is not ours is left aside: the line shows as it was said)."""
    try:
        change = json.loads(raw)
        if "t" in change:
            message.text, message.edited = str(change["t"]), float(change["e"])
        reactions = change.get("r")
        if isinstance(reactions, dict):
            kept = {str(k): [str(n) for n in v] for k, v in reactions.items() if isinstance(v, list) and v}
            message.reactions = kept or None
    except (ValueError, TypeError, KeyError, AttributeError):
        return


def append_args(room_key: str, channel: str, maxlen: int, publication: bytes, messages: list[ev.Message],
                topic: ev.TopicChanged | None) -> tuple[Any, ...]:
    """The EVAL that appends a turn's messages, sets the topic and publishes the turn."""
    args: list[Any] = ["EVAL", _APPEND, 2, stream_key(room_key), topic_key(room_key), channel, maxlen, publication]
    if topic is None:
        args.extend(("0", "", "", ""))
    else:
        args.extend(("1", topic.topic, topic.by or "", repr(topic.timestamp)))
    for m in messages:
        args.append(stream_id(m.timestamp))
        args.append(entry(m))
    return tuple(args)


def split_publication(data: bytes) -> tuple[list[bytes], bytes]:
    """(the ids its messages got in the stream, the events)."""
    ids, sep, payload = data.partition(b"\n")
    if not sep:
        raise ValueError(f"not a selchat publication: {data[:80]!r}")
    return (ids.split(b",") if ids else []), payload


def entries(reply: Any) -> list[tuple[tuple[int, int], ev.Message]]:
    """An XRANGE/XREVRANGE reply as (id, message) pairs, in the reply's order; entries that are
    not messages are skipped."""
    out = []
    for item in reply or ():
        try:
            raw_id, fields = item
            values = dict(zip(fields[::2], fields[1::2], strict=False))
            said = message(values[b"m"])
            if b"c" in values:  # edited or reacted to since (READ)
                _changed(said, values[b"c"])
            out.append((parse_id(raw_id), said))
        except (ValueError, TypeError, KeyError):
            continue
    return out


def topic(reply: Any) -> tuple[str, str | None, float | None] | None:
    """An HGETALL of a topic hash: (topic, by, at), or None when the room never had one."""
    if not reply:
        return None
    values = {reply[i]: reply[i + 1] for i in range(0, len(reply) - 1, 2)}
    try:
        text = values[b"topic"].decode()
        by = values.get(b"by", b"").decode() or None
        at = float(values[b"at"]) if values.get(b"at") else None
    except (KeyError, ValueError):
        return None
    return text, by, at


def bound(timestamp: float) -> str:
    """An exclusive range bound just at this time (``(`` + its id)."""
    return "(" + stream_id(timestamp)


def page_range(room_key: str, before: float | None, count: int, after: float | None,
               oldest: bool) -> tuple[Any, ...]:
    """The range command for ``count`` entries strictly between ``after`` and ``before`` (None:
    open): the ones next to ``after`` if ``oldest`` (oldest first), else the ones next to
    ``before`` (newest first)."""
    low = "-" if after is None else bound(after)
    high = "+" if before is None else bound(before)
    if oldest:
        return read_args(room_key, "XRANGE", low, high, count)
    return read_args(room_key, "XREVRANGE", high, low, count)
