"""Edits, deletions and reactions of a shared room's lines in Redis (``--redis``): the pure parts.

A stream's entries cannot be rewritten, so what happened to a line since it was said is a hash
beside the stream, ``selchat:changes:KEY``, one field a line (its stream id): the new text and
when it was edited, and who reacted how. Every read of the stream (a page, a room's tail at its
sync) is a script that returns each entry with its field, so a page from Redis shows a line as it
is now, in one round trip. A deletion takes the entry out of the stream (XDEL) and its field with
it: the text is gone from Redis at once, so a page read from Redis leaves the line out, as IRC's
pages leave out a redacted line; the processes that hear the deletion show their users the
"deleted" marker, in the replay from memory too.
"""

from __future__ import annotations

from typing import Any

from selchat import outbound as ev
from selchat.events import reaction_of
from selchat.shared_history import changes_key, stream_id, stream_key

# KEYS: the stream, the changes hash. ARGV: the line's id, what ('edit', 'delete', 'react'), then
# an edit's text and time, or a reaction, its sender and '1' (added) or '0' (taken back); last,
# how many fields the hash may hold before those of lines trimmed from the stream are dropped.
CHANGE = """
local id, what = ARGV[1], ARGV[2]
if what == 'delete' then
  redis.call('XDEL', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  return 1
end
if #redis.call('XRANGE', KEYS[1], id, id) == 0 then return 0 end
local raw = redis.call('HGET', KEYS[2], id)
local c = raw and cjson.decode(raw) or {}
if what == 'edit' then
  c.t, c.e = ARGV[3], ARGV[4]
else
  c.r = c.r or {}
  local who, kept = c.r[ARGV[3]] or {}, {}
  for _, name in ipairs(who) do if name ~= ARGV[4] then kept[#kept + 1] = name end end
  if ARGV[5] == '1' then kept[#kept + 1] = ARGV[4] end
  if #kept == 0 then c.r[ARGV[3]] = nil else c.r[ARGV[3]] = kept end
end
redis.call('HSET', KEYS[2], id, cjson.encode(c))
if redis.call('HLEN', KEYS[2]) > tonumber(ARGV[#ARGV]) then
  local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
  local lm, ls = string.match(first and first[1] or '', '(%d+)-(%d+)')  -- the oldest line kept (none: all go)
  for _, field in ipairs(redis.call('HKEYS', KEYS[2])) do
    local fm, fs = string.match(field, '(%d+)-(%d+)')
    if lm == nil or fm == nil or tonumber(fm) < tonumber(lm) or (fm == lm and tonumber(fs) < tonumber(ls)) then
      redis.call('HDEL', KEYS[2], field)
    end
  end
end
return 1
"""


def change_args(room_key: str, event: Any, keep: int) -> tuple[Any, ...] | None:
    """The script that keeps a room's edit, deletion or reaction beside its stream; None for
    what changes no line (typing, a private message's change)."""
    if type(event) is ev.MessageChanged:
        if event.peer is not None:
            return None
        head = ("EVAL", CHANGE, 2, stream_key(room_key), changes_key(room_key), stream_id(event.line))
        if event.text is None:
            return (*head, "delete", keep)
        return (*head, "edit", event.text, repr(event.timestamp), keep)
    if type(event) is ev.TagMessage and "react=" in event.tags:
        found = reaction_of(event.tags)
        if found is None:
            return None
        reaction, on, line = found
        return ("EVAL", CHANGE, 2, stream_key(room_key), changes_key(room_key), stream_id(line / 1_000_000),
                "react", reaction, event.sender, "1" if on else "0", keep)
    return None


def changes_of(room_key: str, events: list[Any], keep: int) -> list[tuple[Any, ...]]:
    """The scripts for a turn's events of one room (most turns: none)."""
    found = [change_args(room_key, e, keep) for e in events if type(e) in (ev.MessageChanged, ev.TagMessage)]
    return [args for args in found if args is not None]
