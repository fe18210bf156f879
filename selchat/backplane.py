"""Several selchat processes sharing rooms through Redis (``selchat serve --redis URL``).

The link is two more reactor connections speaking RESP, parsed by ``hiredis.Reader`` (sans-I/O):
one for commands, whose replies come back in the order the commands went (a FIFO of callbacks),
and one that only subscribes. Nothing here blocks and nothing runs in a thread.

What crosses processes:

- A room's events (messages, joins, leaves, topics) are published once to ``selchat:room:KEY``,
  serialized once, and every process with members in that room is subscribed to it. A process
  knows its own publications by its node id and does not deliver them twice. One publishing
  connection keeps each sender's messages in order.
- Names are claimed atomically (``SET selchat:name:KEY NODE NX EX``), so two processes can never
  admit the same name, even when the claims race; each process renews its claims, and a claim
  lapses by itself when its process dies.
- Presence: who is in which room, on which node, is a hash per room (``selchat:members:KEY``),
  read when a process first subscribes to the room. Each node keeps ``selchat:node:NODE`` alive
  with a short expiry; when a node's key is gone its users are told to have left.
- History and topics live in Redis (``shared_history``): a turn's messages are appended to the
  room's stream by the same script that publishes them, and a process that subscribes to a room
  reads the stream's tail and the topic once the subscription holds, before its newcomers get
  their replay.

Redis going away is not a crash: local delivery goes on, the link is retried with back-off, and
on its return the process subscribes again and registers its names and members anew.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import unquote, urlsplit

from selchat import outbound as ev
from selchat import shared_history as sh
from selchat.config import LOBBY_ROOM
from selchat.news import Displace

log = logging.getLogger("selchat.backplane")

PREFIX = "selchat:"
LOBBY_KEY = LOBBY_ROOM.casefold()
# A node's liveness key lives this long and is renewed every HEARTBEAT: a node killed with
# SIGKILL is noticed by the others within NODE_TTL + HEARTBEAT (the issue allows 5 s).
NODE_TTL = 3
HEARTBEAT = 1.0
# A name claim names its node, and a claim whose node's liveness key has lapsed is free (so a
# killed process's names are free again within NODE_TTL); the claim's own expiry only collects
# what a killed process leaves behind, and its owner renews it well before.
CLAIM_TTL = 3600
CLAIM_RENEW = 600.0
# Reconnecting: the first retry after this, doubling up to the most (Redis clients such as
# redis-py and ioredis back off the same way).
BACKOFF_FIRST = 0.1
BACKOFF_MOST = 5.0
# What may wait to be written to Redis before the link counts as stalled and is cut (then
# retried): a client's limit is 1 MiB, a link carrying every room's traffic gets more (Redis's
# own client-output-buffer-limit for replicas is 256 MiB; pub/sub's is 32 MiB).
LINK_OUTPUT_MAX = 64 * 1024 * 1024
# A login to an account whose session is on another node: that node ends it, and the claim on
# the name is tried again after DISPLACE_WAIT, doubling, DISPLACE_TRIES times.
DISPLACE_WAIT = 0.05
DISPLACE_TRIES = 6


# Events that cross processes, by name (nothing else is ever decoded from the wire).
SHARED_EVENTS: dict[str, type] = {cls.__name__: cls for cls in (
    ev.Message, ev.UserJoined, ev.UserLeft, ev.TopicChanged, ev.DirectMessage, ev.NickChanged, ev.AwayChanged,
    Displace)}
_FIELDS = {name: tuple(f.name for f in fields(cls)) for name, cls in SHARED_EVENTS.items()}


class RedisUrlError(ValueError):
    """--redis is not a URL selchat can use; the message is one line."""


@dataclass(frozen=True, slots=True)
class RedisTarget:
    host: str
    port: int
    db: int = 0
    password: str | None = None
    username: str | None = None
    tls: bool = False


def parse_url(url: str) -> RedisTarget:
    """redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], or rediss:// for TLS."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise RedisUrlError(f"{url!r} is not a redis:// or rediss:// URL (redis://127.0.0.1:6379/0)")
    try:
        port = parts.port or 6379
    except ValueError:
        raise RedisUrlError(f"{url!r} has a port that is not a number")
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise RedisUrlError(f"{url!r}: the database is a number (redis://HOST:PORT/0)")
    if not parts.hostname:
        raise RedisUrlError(f"{url!r} names no host")
    return RedisTarget(parts.hostname, port, int(path or 0), unquote(parts.password) if parts.password else None,
                       unquote(parts.username) if parts.username else None, parts.scheme == "rediss")


def tls_context(cafile: str | None = None) -> ssl.SSLContext:
    """rediss://: the server's certificate is checked, against ``cafile`` (a self-signed or
    private CA's certificate) or else the system's store, and so is its name."""
    return ssl.create_default_context(cafile=cafile)


def command(*args: str | bytes | int | float) -> bytes:
    """One RESP command (an array of bulk strings)."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def encode_events(node: str, events: list[Any]) -> bytes:
    """A loop turn's events for one room as they cross to other processes: the node they came
    from, then each event's kind and fields. One publication a room a turn, as the local batch
    is one buffer a room a turn."""
    return json.dumps([node, [[type(e).__name__, [getattr(e, name) for name in _FIELDS[type(e).__name__]]]
                              for e in events]], separators=(",", ":"), ensure_ascii=False).encode()


def decode_events(data: bytes) -> tuple[str, list[Any]]:
    """(node, events); ValueError for anything that is not ours."""
    node, items = json.loads(data)
    if not isinstance(node, str) or not isinstance(items, list):
        raise ValueError(f"not selchat events: {data[:80]!r}")
    events = []
    for kind, values in items:
        cls = SHARED_EVENTS.get(kind)
        if cls is None or len(values) != len(_FIELDS[kind]):
            raise ValueError(f"not a selchat event: {kind!r}")
        events.append(cls(*values))
    return node, events


ROOM_CHANNEL = f"{PREFIX}room:"


def room_channel(key: str) -> str:
    return ROOM_CHANNEL + key


ACCOUNTS = f"{PREFIX}accounts"  # a hash of every account, and the channel new ones are told on


def node_channel(node: str) -> str:
    """A node's own channel: private messages for its users."""
    return f"{PREFIX}to:{node}"


def new_node_id() -> str:
    return f"{os.getpid()}-{secrets.token_hex(4)}"


# Private messages for an account that is offline everywhere: a list per account, at most
# OFFLINE_MAX of the newest, taken (read and emptied at once) by the node it next logs in on.
OFFLINE_MAX = 1000
KEEP_DM = "redis.call('rpush', KEYS[1], ARGV[1]) redis.call('ltrim', KEYS[1], -tonumber(ARGV[2]), -1) return 1"
TAKE_DMS = "local v = redis.call('lrange', KEYS[1], 0, -1) redis.call('del', KEYS[1]) return v"


# Every room's name, and what each has: members (on any node), a topic, history. A room with
# none of them is forgotten as it is listed.
ROOMS = f"{PREFIX}rooms"
LIST_ROOMS = """
local out = {}
local rooms = redis.call('hgetall', KEYS[1])
for i = 1, #rooms, 2 do
  local key, name = rooms[i], rooms[i + 1]
  local members = redis.call('hlen', ARGV[1] .. key)
  local topic = redis.call('hget', ARGV[2] .. key, 'topic')
  if members == 0 and (topic == false or topic == '') and redis.call('exists', ARGV[3] .. key) == 0 then
    redis.call('hdel', KEYS[1], key)
  else
    out[#out + 1] = name
    out[#out + 1] = members
    out[#out + 1] = topic or ''
  end
end
return out
"""


def offline_key(account_key: str) -> str:
    return f"{PREFIX}dms:{account_key}"


# Releases a claim only if it is still ours (a check-then-delete done atomically inside Redis).
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class Link:
    """One RESP connection's state: the parser, and the callbacks waiting for replies."""

    def __init__(self, name: str) -> None:
        import hiredis

        self.name = name
        self.conn: Any = None  # the reactor's Conn while connected (or connecting)
        self.resolving = False  # its host is being resolved (off the loop), before connecting
        self.up = False
        self.reader = hiredis.Reader()
        self.waiting: deque[Callable[[Any], None] | None] = deque()

    def reset(self) -> None:
        import hiredis

        self.conn = None
        self.up = False
        self.reader = hiredis.Reader()
        waiting, self.waiting = self.waiting, deque()
        for callback in waiting:
            if callback is not None:
                callback(ConnectionError("the link to Redis was lost"))


# Claims a name for a node, atomically inside Redis: free, already ours, or held by a node that
# is no longer alive (1); else the node that holds it.
CLAIM = ("local v = redis.call('get', KEYS[1]) "
         "if v == false or v == ARGV[1] or redis.call('exists', ARGV[3] .. v) == 0 then "
         "redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 1 end return v")
NODE_KEY = f"{PREFIX}node:"


@dataclass
class _Sync:
    """A room being caught up after subscribing: its tail is read once the subscription holds
    (``requested``); meanwhile what other nodes publish waits in ``buffered``, and what this node
    appends after the read went is in ``own_after`` (it is not in the tail)."""

    confirmed: bool = False
    requested: bool = False
    own_after: list[ev.Message] = field(default_factory=list)
    buffered: list[tuple[str, list[bytes], list[Any]]] = field(default_factory=list)


class Backplane:
    """The process's side of the shared rooms: two links, heartbeats, claims and presence.

    ``owner`` is the server: it gives the reactor and takes what arrives (``remote_event``,
    ``remote_members``, ``node_gone``, ``link_changed``) and says what this process holds
    (``local_rooms``, ``local_presence``, ``local_names``) so that a new link can register it.
    """

    def __init__(self, target: RedisTarget, owner: Any, node: str | None = None, *, history_max: int = 10_000,
                 replay: int = 50, cafile: str | None = None) -> None:
        self.target = target
        self.ssl_context = tls_context(cafile) if target.tls else None
        self.owner = owner
        self.node = node or new_node_id()
        self._own = json.dumps([self.node]).encode()[:-1] + b","  # how this node's publications start
        self.history_max = history_max
        self.replay = replay
        self.syncing: dict[str, _Sync] = {}  # rooms subscribed to and not yet caught up
        self.cmd = Link("commands")
        self.sub = Link("subscriptions")
        self.subscribed: dict[str, str] = {}  # room key -> name, subscribed (or asked for) on this link
        self.backoff = BACKOFF_FIRST
        self.retry_timer: Any = None
        self.told_down = False  # the users were told the rooms are cut off
        self.whole = False  # both links up and everything registered again
        self.published = 0
        self.received = 0
        self._outbox: dict[str, list[Any]] = {}  # room key -> this turn's events, published at its end
        self.stopped = False

    # -- the links ------------------------------------------------------------------------------
    @property
    def up(self) -> bool:
        return self.cmd.up and self.sub.up

    def start(self) -> None:
        self._dial(self.cmd, "redis-cmd")
        self._dial(self.sub, "redis-sub")
        reactor = self.owner.reactor
        reactor.call_later(HEARTBEAT, self._heartbeat)
        reactor.call_later(CLAIM_RENEW, self._renew_claims)

    def stop(self) -> None:
        self.stopped = True
        for link in (self.cmd, self.sub):
            if link.conn is not None and not link.conn.closing:
                self.owner.reactor.close(link.conn, "shutdown")

    def _dial(self, link: Link, tag: str) -> None:
        """Resolve Redis's host off the loop (a name may take the resolver seconds), then connect."""
        if self.stopped or link.conn is not None or link.resolving:
            return
        link.resolving = True

        def resolved(address: Any) -> None:
            link.resolving = False
            if self.stopped:
                return
            try:
                if isinstance(address, Exception):
                    raise address
                link.conn = self.owner.reactor.connect(address, self.target.port, tag, LINK_OUTPUT_MAX,
                                                       self.ssl_context, self.target.host)
            except OSError as exc:
                log.warning("cannot reach Redis at %s:%d: %s", self.target.host, self.target.port, exc)
                self._retry()
        self.owner.resolve(self.target.host, self.target.port, resolved)

    def _retry(self) -> None:
        if self.retry_timer is not None or self.stopped:
            return
        delay, self.backoff = self.backoff, min(BACKOFF_MOST, self.backoff * 2)
        self.retry_timer = self.owner.reactor.call_later(delay, self._redial)

    def _redial(self) -> None:
        self.retry_timer = None
        for link, tag in ((self.cmd, "redis-cmd"), (self.sub, "redis-sub")):
            if link.conn is None:
                self._dial(link, tag)  # (not twice: a link whose host is being resolved waits for it)

    def link_of(self, conn: Any) -> Link:
        return self.cmd if conn.tag == "redis-cmd" else self.sub

    def opened(self, conn: Any) -> None:
        link = self.link_of(conn)
        link.up = True
        hello = []
        if self.target.password is not None:
            auth = ("AUTH", self.target.username, self.target.password) if self.target.username else \
                ("AUTH", self.target.password)
            hello.append(auth)
        if self.target.db:
            hello.append(("SELECT", self.target.db))
        for args in hello:  # first on the connection: Redis answers them before anything else
            self._send(link, args, self._checked(args[0]))
        log.info("Redis %s link up (%s:%d)", link.name, self.target.host, self.target.port)
        if link is self.sub:
            self.subscribed = {}
            # the lobby always (everyone lands there, and its members should be known before they
            # do), and every room someone here is in
            self._send(self.sub, ("SUBSCRIBE", node_channel(self.node), ACCOUNTS))
            self._subscribe(LOBBY_KEY, LOBBY_ROOM)
            for key in self.owner.local_rooms():
                self._subscribe(key)
        else:
            self._register()
        if self.up:
            self.backoff = BACKOFF_FIRST
            if self.told_down:
                self.told_down = False
                self.owner.link_changed(True)

    def _checked(self, what: str) -> Callable[[Any], None]:
        def check(reply: Any) -> None:
            if isinstance(reply, Exception):
                log.error("Redis refused %s: %s", what, reply)
        return check

    def data(self, conn: Any, payload: bytes) -> None:
        link = self.link_of(conn)
        reader = link.reader
        reader.feed(payload)
        while True:
            try:
                reply = reader.gets()
            except Exception as exc:  # hiredis.ProtocolError: not Redis on the other end
                log.error("Redis %s link: %s", link.name, exc)
                self.owner.reactor.close(conn, "protocol error")
                return
            if reply is False:
                return
            if link is self.sub:
                self._pushed(reply)
            elif link.waiting:
                callback = link.waiting.popleft()
                if callback is not None:
                    callback(reply)

    def closed(self, conn: Any, reason: str) -> None:
        link = self.link_of(conn)
        was_up = link.up
        link.reset()
        if link is self.sub:
            self.subscribed = {}
            self.syncing = {}
        else:  # a read that went is lost with the link: asked again once it is back
            for sync in self.syncing.values():
                sync.requested = False
                sync.own_after.clear()
        if self.stopped:
            return
        log.warning("Redis %s link %s: %s; retrying", link.name, "lost" if was_up else "not made", reason)
        if not self.told_down and (was_up or not self.whole):
            self.told_down = True
            self.owner.link_changed(False)
        self._retry()

    def _send(self, link: Link, args: tuple[Any, ...], callback: Callable[[Any], None] | None = None) -> bool:
        if not link.up or link.conn is None:
            return False
        link.waiting.append(callback)
        self.owner.reactor.send(link.conn, command(*args))
        return True

    # -- what this process says ---------------------------------------------------------------
    def publish(self, event: Any) -> None:
        """Queue an event for the other nodes; ``flush`` publishes the turn's, one message a room."""
        self._queue(event.room.casefold(), event)

    def _queue(self, key: str, event: Any) -> None:
        box = self._outbox.get(key)
        if box is None:
            self._outbox[key] = [event]
        else:
            box.append(event)

    def flush(self) -> None:
        outbox, self._outbox = self._outbox, {}
        if not self.cmd.up:
            return  # delivered here already; the other nodes are out of reach until the link is back
        for key, events in outbox.items():
            publication = encode_events(self.node, events)
            messages = [e for e in events if type(e) is ev.Message]
            topics = [e for e in events if type(e) is ev.TopicChanged]
            if messages or topics:  # kept in the room's stream and published, in one script
                sync = self.syncing.get(key)
                if sync is not None and sync.requested:
                    sync.own_after.extend(messages)
                self._send(self.cmd, sh.append_args(key, room_channel(key), self.history_max, publication, messages,
                                                    topics[-1] if topics else None), self._appended)
            else:
                self._send(self.cmd, ("PUBLISH", room_channel(key), b"\n" + publication))
            self.published += len(events)

    def _appended(self, reply: Any) -> None:
        if isinstance(reply, Exception) and not isinstance(reply, ConnectionError):
            log.error("Redis refused a room's messages: %s", reply)

    def everywhere(self, event: Any) -> None:
        """News of a user for every node (a rename, an away message): on the lobby's channel,
        which every node hears, in this turn's order."""
        self._queue(LOBBY_KEY, event)

    def relay(self, node: str, event: Any) -> None:
        self._send(self.cmd, ("PUBLISH", node_channel(node), b"\n" + encode_events(self.node, [event])))

    def presence(self, room_key: str, event: Any, local: bool = True) -> None:
        """Someone entered or left a room: the room's hash of members, the subscription, and
        (for this node's own users) the event for the other nodes."""
        members = f"{PREFIX}members:{room_key}"
        if type(event) is ev.UserJoined:
            self._subscribe(room_key, event.room)
            self._send(self.cmd, ("HSET", members, event.username, self.node))
            self._send(self.cmd, ("HSET", ROOMS, room_key, event.room))
        else:
            self._send(self.cmd, ("HDEL", members, event.username))
            if not self.owner.has_local_members(room_key):
                self._unsubscribe(room_key)
        if local:
            self.publish(event)

    def claim(self, name_key: str, done: Callable[[bool], None], displace: bool = False) -> None:
        """Claim a name for this node; ``done(True)`` also when Redis is away (local rules then).
        ``displace`` (an account's login): the node holding the name is told to end its session
        of the account, and the claim is tried again until that node has let the name go."""
        tries = 0

        def answered(reply: Any) -> None:
            nonlocal tries
            if isinstance(reply, Exception):  # Redis said no to the script itself: local rules, and say why
                if not isinstance(reply, ConnectionError):
                    log.error("claiming a name in Redis failed: %s", reply)
                done(True)
                return
            if reply == 1 or not displace or not isinstance(reply, bytes) or tries == DISPLACE_TRIES:
                done(reply == 1)
                return
            if tries == 0:
                self._send(self.cmd, ("PUBLISH", node_channel(reply.decode()),
                                      b"\n" + encode_events(self.node, [Displace(name_key)])))
            tries += 1
            self.owner.reactor.call_later(DISPLACE_WAIT * 2 ** (tries - 1), again)

        def again() -> None:
            if not self._send(self.cmd, self._claim_args(name_key), answered):
                done(True)
        again()

    def _claim_args(self, name_key: str) -> tuple[Any, ...]:
        return ("EVAL", CLAIM, 1, f"{PREFIX}name:{name_key}", self.node, CLAIM_TTL, NODE_KEY)

    def release(self, name_key: str) -> None:
        self._send(self.cmd, ("EVAL", RELEASE, 1, f"{PREFIX}name:{name_key}", self.node))

    def _subscribe(self, key: str, name: str | None = None) -> None:
        if key in self.subscribed or not self.sub.up:
            return
        self.subscribed[key] = name or key
        self.syncing[key] = _Sync()
        self.owner.room_unsynced(key)
        self._send(self.sub, ("SUBSCRIBE", room_channel(key)))
        self._fetch_members(key)

    def _sync(self, key: str) -> None:
        """Read the room's tail, length and topic, now that the subscription holds."""
        sync = self.syncing[key]
        sync.requested = True
        stream = sh.stream_key(key)
        got: list[Any] = []

        def collect(reply: Any) -> None:
            got.append(reply)
            if len(got) == 3:
                self._synced(key, sync, *got)
        self._send(self.cmd, ("XREVRANGE", stream, "+", "-", "COUNT", max(1, self.replay)), collect)
        self._send(self.cmd, ("XLEN", stream), collect)
        self._send(self.cmd, ("HGETALL", sh.topic_key(key)), collect)

    def _synced(self, key: str, sync: _Sync, tail: Any, length: Any, topic: Any) -> None:
        if self.syncing.get(key) is not sync or not sync.requested:
            return  # unsubscribed meanwhile
        if any(isinstance(reply, ConnectionError) for reply in (tail, length, topic)):
            return  # the link went (its waiting replies fail first): the read is made again once it is back
        del self.syncing[key]
        for reply in (tail, length, topic):
            if isinstance(reply, Exception):
                log.error("reading %s's history from Redis failed: %s", key, reply)
        found = [] if isinstance(tail, Exception) else sh.entries(tail)
        found.reverse()  # oldest first
        newest = found[-1][0] if found else (0, 0)
        messages = [m for _, m in found][-self.replay:] if self.replay else []
        total = (length if isinstance(length, int) else len(found)) + len(sync.own_after)
        self.owner.room_synced(key, messages, total, None if isinstance(topic, Exception) else sh.topic(topic),
                               sync.own_after)
        for node, ids, events in sync.buffered:
            if ids and sh.parse_id(ids[0]) <= newest:  # appended before the read: in the tail already
                events = [e for e in events if type(e) is not ev.Message]
            if events:
                self.owner.remote_events(node, events)

    def history(self, key: str, before: float | None, limit: int, after: float | None, oldest: bool,
                around: float | None, done: Callable[[list[ev.Message], bool], None]) -> bool:
        """A page of the room's stream, as ``Store.history`` gives one; False when Redis is away."""
        if not self.cmd.up:
            return False
        if limit <= 0:
            done([], False)
            return True
        read = _PageRead(self, key, done)
        if around is not None:
            read.around(around, limit)
        else:
            read.range(before, limit, after, oldest)
        return True

    def _fetch_members(self, key: str) -> None:
        """Who is already in the room, on other nodes."""
        shown = self.subscribed.get(key, key)

        def members(reply: Any) -> None:
            if isinstance(reply, Exception) or not reply:
                return
            pairs = [(reply[i].decode(), reply[i + 1].decode()) for i in range(0, len(reply) - 1, 2)]
            self.owner.remote_members(key, shown, [(n, node) for n, node in pairs if node != self.node])
        self._send(self.cmd, ("HGETALL", f"{PREFIX}members:{key}"), members)

    def _unsubscribe(self, key: str) -> None:
        if key in self.subscribed and self.sub.up and key != LOBBY_KEY:
            self.subscribed.pop(key, None)
            self.syncing.pop(key, None)
            self.owner.room_unsynced(key)  # it hears the room no more: caught up again when it does
            self._send(self.sub, ("UNSUBSCRIBE", room_channel(key)))

    def _register(self) -> None:
        """A new command link: this node's liveness, names and members, anew."""
        self._send(self.cmd, ("SET", f"{PREFIX}node:{self.node}", 1, "EX", NODE_TTL))
        for name_key in self.owner.local_names():
            self._send(self.cmd, self._claim_args(name_key))
        for room_key, name in self.owner.local_presence():
            self._send(self.cmd, ("HSET", f"{PREFIX}members:{room_key}", name, self.node))
        for key, name in self.subscribed.items():  # subscribed before this link was up
            self._fetch_members(key)
            self._send(self.cmd, ("HSET", ROOMS, key, name))
        for key, sync in self.syncing.items():  # subscriptions that held before this link was up
            if sync.confirmed and not sync.requested:
                self._sync(key)
        self._sync_accounts()
        self.whole = True

    def list_rooms(self, done: Callable[[tuple[ev.RoomInfo, ...] | None], None]) -> bool:
        """Every room on every node, with its members' count and topic; False when Redis is away."""
        def listed(reply: Any) -> None:
            if isinstance(reply, Exception) or not isinstance(reply, list):
                if not isinstance(reply, ConnectionError):
                    log.error("listing the rooms in Redis failed: %s", reply)
                done(None)
                return
            done(tuple(ev.RoomInfo(reply[i].decode(), int(reply[i + 1]), reply[i + 2].decode())
                       for i in range(0, len(reply) - 2, 3)))
        return self._send(self.cmd, ("EVAL", LIST_ROOMS, 1, ROOMS, f"{PREFIX}members:", sh.topic_key(""),
                                     sh.stream_key("")), listed)

    def load_topic(self, key: str, done: Callable[[str | None, Any, bool], None]) -> bool:
        """A room's name and topic as Redis has them: ``done(name, topic, failed)``; False when
        Redis is away."""
        got: list[Any] = []

        def collect(reply: Any) -> None:
            got.append(reply)
            if len(got) < 2:
                return
            name, topic = got
            if isinstance(name, Exception) or isinstance(topic, Exception):
                done(None, None, True)
                return
            done(name.decode() if name else None, sh.topic(topic), False)
        self._send(self.cmd, ("HGET", ROOMS, key), collect)
        return self._send(self.cmd, ("HGETALL", sh.topic_key(key)), collect)

    # -- private messages for accounts that are offline everywhere ------------------------------
    def keep_dm(self, account_key: str, dm: ev.DirectMessage) -> bool:
        """Keep ``dm`` for the account's next login on any node; False when Redis is away."""
        record = json.dumps([getattr(dm, name) for name in _FIELDS["DirectMessage"]], ensure_ascii=False)
        return self._send(self.cmd, ("EVAL", KEEP_DM, 1, offline_key(account_key), record, OFFLINE_MAX),
                          self._checked("keeping a private message"))

    def take_dms(self, account_key: str, done: Callable[[list[ev.DirectMessage]], None]) -> bool:
        """The account's kept messages, which Redis then forgets; False when Redis is away."""
        def taken(reply: Any) -> None:
            dms = []
            if isinstance(reply, Exception):
                log.error("reading %s's private messages from Redis failed: %s", account_key, reply)
            else:
                for record in reply or ():
                    try:
                        values = json.loads(record)
                        if len(values) == len(_FIELDS["DirectMessage"]):
                            dms.append(ev.DirectMessage(*values))
                    except (ValueError, TypeError):
                        log.warning("ignored a private message record: %r", record[:80])
            done(dms)
        return self._send(self.cmd, ("EVAL", TAKE_DMS, 1, offline_key(account_key)), taken)

    # -- accounts: each process keeps them in its own database, and Redis has them all ---------
    def share_account(self, key: str, name: str, hashed: str, created: float) -> None:
        record = json.dumps([key, name, hashed, created])
        self._send(self.cmd, ("HSETNX", ACCOUNTS, key, record))
        self._send(self.cmd, ("PUBLISH", ACCOUNTS, record))

    def _sync_accounts(self) -> None:
        """Both ways: this process's accounts into Redis (first one wins), Redis's into this one."""
        for key, name, hashed, created in self.owner.local_accounts():
            self._send(self.cmd, ("HSETNX", ACCOUNTS, key, json.dumps([key, name, hashed, created])))

        def fetched(reply: Any) -> None:
            if isinstance(reply, Exception) or not reply:
                return
            self.owner.remote_accounts([_account(reply[i + 1]) for i in range(0, len(reply) - 1, 2)])
        self._send(self.cmd, ("HGETALL", ACCOUNTS), fetched)

    def _pushed(self, reply: Any) -> None:
        """What the subscription link receives: acknowledgements and messages."""
        if isinstance(reply, Exception):
            log.error("Redis subscriptions link: %s", reply)
            return
        if not isinstance(reply, list) or not reply:
            return
        kind = reply[0]
        if kind == b"subscribe" and len(reply) == 3:
            channel = reply[1].decode()
            sync = self.syncing.get(channel[len(ROOM_CHANNEL):]) if channel.startswith(ROOM_CHANNEL) else None
            if sync is not None and not sync.confirmed:
                sync.confirmed = True
                if self.cmd.up:
                    self._sync(channel[len(ROOM_CHANNEL):])
            return
        if kind == b"message" and len(reply) == 3 and reply[1] == ACCOUNTS.encode():
            try:
                self.owner.remote_accounts([_account(reply[2])])
            except (ValueError, TypeError) as exc:
                log.warning("ignored an account record: %s", exc)
            return
        if kind == b"message" and len(reply) == 3:
            try:
                ids, payload = sh.split_publication(reply[2])
                if payload.startswith(self._own):
                    return  # our own publication: delivered here already (and not worth decoding)
                node, events = decode_events(payload)
            except (ValueError, TypeError) as exc:
                log.warning("ignored a message on %s: %s", reply[1], exc)
                return
            if node == self.node:
                return
            self.received += len(events)
            channel = reply[1]
            if channel.startswith(ROOM_CHANNEL.encode()):
                sync = self.syncing.get(channel[len(ROOM_CHANNEL):].decode())
                if sync is not None:  # after the room's tail is read, and only if newer than it
                    sync.buffered.append((node, ids, events))
                    return
            self.owner.remote_events(node, events)

    # -- timers ---------------------------------------------------------------------------------
    def _heartbeat(self) -> None:
        reactor = self.owner.reactor
        reactor.call_later(HEARTBEAT, self._heartbeat)
        if not self.cmd.up:
            return
        self._send(self.cmd, ("SET", f"{PREFIX}node:{self.node}", 1, "EX", NODE_TTL))
        for node in self.owner.remote_nodes():
            def alive(reply: Any, node: str = node) -> None:
                if reply == 0:
                    log.info("node %s is gone: its users have left", node)
                    self.owner.node_gone(node)
            self._send(self.cmd, ("EXISTS", f"{PREFIX}node:{node}"), alive)

    def _renew_claims(self) -> None:
        self.owner.reactor.call_later(CLAIM_RENEW, self._renew_claims)
        for name_key in self.owner.local_names():
            self._send(self.cmd, self._claim_args(name_key))


class _PageRead:
    """One page of a room's stream being read: its replies, and one more read for whether
    anything is older than the page, where SQLite would ask too."""

    def __init__(self, backplane: Backplane, key: str, done: Callable[[list[ev.Message], bool], None]) -> None:
        self.backplane = backplane
        self.key = key
        self.stream = sh.stream_key(key)
        self.done = done

    def _send(self, args: tuple[Any, ...], callback: Callable[[Any], None]) -> None:
        self.backplane._send(self.backplane.cmd, args, callback)

    def failed(self, reply: Any) -> bool:
        if isinstance(reply, Exception):
            log.error("reading %s's history from Redis failed: %s", self.key, reply)
            self.done([], False)
            return True
        return False

    def with_more(self, page: list[ev.Message], first: str | None) -> None:
        """Whether anything is older than the page's first entry (one more read)."""
        if first is None:
            self.done(page, False)
            return

        def older(reply: Any) -> None:
            if not self.failed(reply):
                self.done(page, bool(reply))
        self._send(("XREVRANGE", self.stream, "(" + first, "-", "COUNT", 1), older)

    @staticmethod
    def first_id(items: list[tuple[tuple[int, int], ev.Message]]) -> str | None:
        return f"{items[0][0][0]}-{items[0][0][1]}" if items else None

    def around(self, around: float, limit: int) -> None:
        """Half before it, half from it on (as Store.history)."""
        halves: list[Any] = [] if limit // 2 else [[]]

        def half(reply: Any) -> None:
            halves.append(reply)
            if len(halves) < 2:
                return
            if self.failed(halves[0]) or self.failed(halves[1]):
                return
            older_half = sh.entries(halves[0])
            older_half.reverse()
            items = older_half + sh.entries(halves[1])
            self.with_more([m for _, m in items], self.first_id(items))
        if limit // 2:
            self._send(("XREVRANGE", self.stream, sh.bound(around), "-", "COUNT", limit // 2), half)
        self._send(("XRANGE", self.stream, sh.stream_id(around), "+", "COUNT", limit - limit // 2), half)

    def range(self, before: float | None, limit: int, after: float | None, oldest: bool) -> None:
        def page(reply: Any) -> None:
            if self.failed(reply):
                return
            items = sh.entries(reply)
            if oldest:
                self.with_more([m for _, m in items], self.first_id(items))
                return
            more = len(items) > limit
            items = items[:limit]
            items.reverse()
            self.done([m for _, m in items], more)
        self._send(sh.page_range(self.key, before, limit if oldest else limit + 1, after, oldest), page)


def _account(data: bytes) -> tuple[str, str, str, float]:
    key, name, hashed, created = json.loads(data)
    return str(key), str(name), str(hashed), float(created)
