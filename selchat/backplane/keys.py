"""What selchat keeps in Redis and says on its channels: key names, the Lua scripts that must run
atomically inside Redis, and chat events as they cross between processes. Pure: no I/O."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import fields
from typing import Any

from selchat import outbound as ev
from selchat.config import LOBBY_ROOM
from selchat.news import Displace, MarkMoved, Twin, TwinParted

PREFIX = "selchat:"
LOBBY_KEY = LOBBY_ROOM.casefold()
NODE_KEY = f"{PREFIX}node:"
ROOM_CHANNEL = f"{PREFIX}room:"
ACCOUNTS = f"{PREFIX}accounts"  # a hash of every account, and the channel new ones are told on
ROOMS = f"{PREFIX}rooms"  # every room's name by its key
MEMBERS = f"{PREFIX}members:"  # a hash per room: who is in it, on which node
PERSON = f"{PREFIX}person:"  # a hash per account: the name it is under on each node it is on
RULES = f"{PREFIX}rules:"  # a room's rules (roomrules.py's JSON): its modes, bans, founder and account roles

# Events that cross processes, by name (nothing else is ever decoded from the wire).
SHARED_EVENTS: dict[str, type] = {cls.__name__: cls for cls in (
    ev.Message, ev.UserJoined, ev.UserLeft, ev.TopicChanged, ev.DirectMessage, ev.NickChanged, ev.AwayChanged,
    ev.ModeChanged, ev.Kicked, ev.MessageChanged, ev.TagMessage, Displace, Twin, TwinParted, MarkMoved)}
FIELDS = {name: tuple(f.name for f in fields(cls)) for name, cls in SHARED_EVENTS.items()}


def encode_events(node: str, events: list[Any]) -> bytes:
    """A loop turn's events for one room as they cross to other processes: the node they came
    from, then each event's kind and fields. One publication a room a turn, as the local batch
    is one buffer a room a turn."""
    return json.dumps([node, [[type(e).__name__, [getattr(e, name) for name in FIELDS[type(e).__name__]]]
                              for e in events]], separators=(",", ":"), ensure_ascii=False).encode()


def decode_events(data: bytes) -> tuple[str, list[Any]]:
    """(node, events); ValueError for anything that is not ours."""
    node, items = json.loads(data)
    if not isinstance(node, str) or not isinstance(items, list):
        raise ValueError(f"not selchat events: {data[:80]!r}")
    events = []
    for kind, values in items:
        cls = SHARED_EVENTS.get(kind)
        if cls is None or len(values) != len(FIELDS[kind]):
            raise ValueError(f"not a selchat event: {kind!r}")
        events.append(cls(*(tuple(v) if type(v) is list else v for v in values)))  # JSON has no tuples
    return node, events


def room_channel(key: str) -> str:
    return ROOM_CHANNEL + key


def node_channel(node: str) -> str:
    """A node's own channel: private messages for its users."""
    return f"{PREFIX}to:{node}"


def name_key(key: str) -> str:
    return f"{PREFIX}name:{key}"


def offline_key(account_key: str) -> str:
    return f"{PREFIX}dms:{account_key}"


def marks_key(account_key: str) -> str:
    """An account's read markers: a hash of target key -> microseconds, for its next login anywhere."""
    return f"{PREFIX}marks:{account_key}"


def new_node_id() -> str:
    return f"{os.getpid()}-{secrets.token_hex(4)}"


def account_record(data: bytes) -> tuple[str, str, str, float]:
    key, name, hashed, created = json.loads(data)
    return str(key), str(name), str(hashed), float(created)


# Private messages for an account that is offline everywhere: a list per account, at most
# OFFLINE_MAX of the newest, taken (read and emptied at once) by the node it next logs in on.
OFFLINE_MAX = 1000
KEEP_DM = "redis.call('rpush', KEYS[1], ARGV[1]) redis.call('ltrim', KEYS[1], -tonumber(ARGV[2]), -1) return 1"
TAKE_DMS = "local v = redis.call('lrange', KEYS[1], 0, -1) redis.call('del', KEYS[1]) return v"

# A read marker only moves forward, also when two processes move it at once (a check-then-set
# inside Redis); the hub bounds how many one account keeps (hub/reads.py, MARKS_MAX).
KEEP_MARK = ("local old = tonumber(redis.call('hget', KEYS[1], ARGV[1])) "
             "if old == nil or tonumber(ARGV[2]) > old then redis.call('hset', KEYS[1], ARGV[1], ARGV[2]) end return 1")

# Every room's name, and what each has: members (on any node), a topic, history. A room with
# no members and no history is forgotten as it is listed, its topic with it (issue 21, item 1).
LIST_ROOMS = """
local out = {}
local rooms = redis.call('hgetall', KEYS[1])
for i = 1, #rooms, 2 do
  local key, name = rooms[i], rooms[i + 1]
  local members = redis.call('hlen', ARGV[1] .. key)
  local topic = redis.call('hget', ARGV[2] .. key, 'topic')
  if members == 0 and redis.call('exists', ARGV[3] .. key) == 0 then
    redis.call('hdel', KEYS[1], key)
    redis.call('del', ARGV[2] .. key)
  else
    out[#out + 1] = name
    out[#out + 1] = members
    out[#out + 1] = topic or ''
  end
end
return out
"""

# A name's claim is a hash of node -> account ("" for a guest's): one node's alone, or shared by
# the nodes where an account is connected from devices (issue 24). A key of the older kind (a
# string naming one node) is read as a claim by that node alone.
_CLAIMS_OF = ("local held = {} "
              "if redis.call('type', KEYS[1]).ok == 'string' then "
              "local v = redis.call('get', KEYS[1]) redis.call('del', KEYS[1]) held = {v, ''} "
              "redis.call('hset', KEYS[1], v, '') "
              "else held = redis.call('hgetall', KEYS[1]) end ")

# Releases this node's claim (a check-then-delete done atomically inside Redis); the name stays
# claimed by the other nodes that share it. ARGV: node, PERSON, the name's key.
RELEASE = _CLAIMS_OF + """
local account = redis.call('hget', KEYS[1], ARGV[1])
if account and account ~= '' then
  local shown = redis.call('hget', ARGV[2] .. account, ARGV[1])
  if shown and string.lower(shown) == ARGV[3] then redis.call('hdel', ARGV[2] .. account, ARGV[1]) end
end
return redis.call('hdel', KEYS[1], ARGV[1])
"""

# Claims a name for a node, atomically inside Redis. ARGV: node, TTL, NODE_KEY, an account (or
# ""), the name as shown, "1" to follow the account's name elsewhere, PERSON. The name is free,
# already ours, or held only by nodes that are no longer alive; or (an account) held only by nodes
# where that same account holds it: then the answer is the list of those other nodes (empty when
# none), and the account's entry in PERSON says the name. Else the answer is a node that holds it.
# Following (an account's login under its own name): when the account is on a live node under
# another name (a nick), the answer is {'as', that name}, to be claimed instead.
CLAIM = _CLAIMS_OF + """
local person = ARGV[4] ~= '' and (ARGV[7] .. ARGV[4]) or false
if person and ARGV[6] == '1' then
  local seen = redis.call('hgetall', person)
  for i = 1, #seen, 2 do
    if seen[i] ~= ARGV[1] and string.lower(seen[i + 1]) ~= string.lower(ARGV[5])
        and redis.call('exists', ARGV[3] .. seen[i]) == 1 then
      return {'as', seen[i + 1]}
    end
  end
end
local others = {}
for i = 1, #held, 2 do
  local node, account = held[i], held[i + 1]
  if node ~= ARGV[1] then
    if redis.call('exists', ARGV[3] .. node) == 0 then
      redis.call('hdel', KEYS[1], node)
    elseif ARGV[4] ~= '' and account == ARGV[4] then
      others[#others + 1] = node
    else
      return node
    end
  end
end
redis.call('hset', KEYS[1], ARGV[1], ARGV[4])
redis.call('expire', KEYS[1], ARGV[2])
if person then
  redis.call('hset', person, ARGV[1], ARGV[5])
  redis.call('expire', person, ARGV[2])
end
return others
"""

# Someone left a room: their entry in its members hash goes if it still names this node (another
# process where the same person is connected may have written it since, and keeps it).
LEAVE = ("if redis.call('hget', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('hdel', KEYS[1], ARGV[1]) end "
         "return 0")
