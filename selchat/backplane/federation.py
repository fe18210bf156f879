"""The federation: this process's side of the rooms it shares with others through Redis.

Over two RESP links (resp.py), one for commands and one that only subscribes, it publishes a
turn's events a room at a time, claims names, keeps presence and this node's liveness, and
catches a room up when it starts hearing it. What it learns from the others is news
(selchat/news.py), given to ``tell``; what it must know of this process (to register it again
on a new link) it asks of ``holdings``. Nothing here blocks and nothing runs in a thread.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from selchat import news
from selchat import outbound as ev
from selchat import shared_history as sh
from selchat.backplane import keys
from selchat.backplane.claims import Claims
from selchat.backplane.keys import LOBBY_KEY, ROOM_CHANNEL, node_channel, room_channel
from selchat.backplane.reads import Reads
from selchat.backplane.resp import RedisTarget, Reply, Resolve, RespLink
from selchat.config import LOBBY_ROOM
from selchat.reactor import Conn, Handler, Reactor
from selchat.shared_changes import changes_of

log = logging.getLogger("selchat.backplane")

# A node's liveness key lives this long and is renewed every HEARTBEAT: a node killed with
# SIGKILL is noticed by the others within NODE_TTL + HEARTBEAT (the issue allows 5 s).
NODE_TTL = 3
HEARTBEAT = 1.0
CLAIM_RENEW = 600.0  # how often this node's name claims are renewed (their expiry: claims.CLAIM_TTL)
# What may wait to be written to Redis before the link counts as stalled and is cut (then
# retried): a client's limit is 1 MiB, a link carrying every room's traffic gets more (Redis's
# own client-output-buffer-limit for replicas is 256 MiB; pub/sub's is 32 MiB).
LINK_OUTPUT_MAX = 64 * 1024 * 1024

Tell = Callable[[news.News], None]


class Holdings(Protocol):
    """What this process holds, registered anew on every new link."""

    def local_rooms(self) -> list[str]: ...
    def local_presence(self) -> list[tuple[str, str]]: ...
    def local_names(self) -> list[tuple[str, str, str]]: ...
    def has_local_members(self, key: str) -> bool: ...
    def remote_nodes(self) -> set[str]: ...
    def local_accounts(self) -> list[tuple[str, str, str, float]]: ...


@dataclass
class RoomSync:
    """A room being caught up after subscribing: its tail is read once the subscription holds
    (``requested``); meanwhile what other nodes publish waits in ``buffered``, and what this node
    appends after the read went is in ``own_after`` (it is not in the tail)."""

    confirmed: bool = False
    requested: bool = False
    own_after: list[ev.Message] = field(default_factory=list)
    buffered: list[tuple[str, list[bytes], list[Any]]] = field(default_factory=list)


class Backplane:
    """Two links, what goes out on them, and what comes in."""

    def __init__(self, target: RedisTarget, reactor: Reactor, holdings: Holdings, tell: Tell, *,
                 handler: Handler, resolve: Resolve, node: str | None = None, history_max: int = 10_000,
                 replay: int = 50, cafile: str | None = None) -> None:
        self.reactor = reactor
        self.holdings = holdings
        self.tell = tell
        self.node = node or keys.new_node_id()
        self._own = json.dumps([self.node]).encode()[:-1] + b","  # how this node's publications start
        self.history_max = history_max
        self.replay = replay
        self.cmd = RespLink("commands", target, reactor, handler, resolve, limit=LINK_OUTPUT_MAX, cafile=cafile)
        self.sub = RespLink("subscriptions", target, reactor, handler, resolve, limit=LINK_OUTPUT_MAX,
                            cafile=cafile, pushes=True)
        self.reads = Reads(self.cmd)
        self.claims = Claims(self.cmd, reactor, self.node, holdings)
        self.syncing: dict[str, RoomSync] = {}  # rooms subscribed to and not yet caught up
        self.subscribed: dict[str, str] = {}  # room key -> name, subscribed (or asked for) on this link
        self.told_down = False  # the users were told the rooms are cut off
        self.whole = False  # both links up and everything registered again
        self.published = 0
        self.received = 0
        self._outbox: dict[str, list[Any]] = {}  # room key -> this turn's events, published at its end

    # -- the links ------------------------------------------------------------------------------
    @property
    def up(self) -> bool:
        return self.cmd.up and self.sub.up

    def start(self) -> None:
        self.cmd.dial()
        self.sub.dial()
        self.reactor.call_later(HEARTBEAT, self._heartbeat)
        self.reactor.call_later(CLAIM_RENEW, self._renew_claims)

    def _renew_claims(self) -> None:
        self.reactor.call_later(CLAIM_RENEW, self._renew_claims)
        self.claims.renew()

    def stop(self) -> None:
        self.cmd.stop()
        self.sub.stop()

    def link_of(self, conn: Conn) -> RespLink:
        return self.cmd if conn is self.cmd.conn else self.sub

    def opened(self, conn: Conn) -> None:
        link = self.link_of(conn)
        link.opened()
        if link is self.sub:
            self.subscribed = {}
            # the lobby always (everyone lands there, and its members should be known before they
            # do), and every room someone here is in
            self.sub.send(("SUBSCRIBE", node_channel(self.node), keys.ACCOUNTS))
            self._subscribe(LOBBY_KEY, LOBBY_ROOM)
            for key in self.holdings.local_rooms():
                self._subscribe(key)
        else:
            self._register()
        if self.up and self.told_down:
            self.told_down = False
            self.tell(news.LinkChanged(True))

    def data(self, conn: Conn, payload: bytes) -> None:
        for reply in self.link_of(conn).feed(payload):
            self._pushed(reply)

    def closed(self, conn: Conn, reason: str) -> None:
        link = self.link_of(conn)
        was_up = link.closed(reason)
        if link is self.sub:
            self.subscribed = {}
            self.syncing = {}
        else:  # a read that went is lost with the link: asked again once it is back
            for sync in self.syncing.values():
                sync.requested = False
                sync.own_after.clear()
        if not link.stopped and not self.told_down and (was_up or not self.whole):
            self.told_down = True
            self.tell(news.LinkChanged(False))

    # -- what this process says ---------------------------------------------------------------
    def publish(self, event: Any) -> None:
        """Queue an event for the other nodes; ``flush`` publishes the turn's, one message a room."""
        self._queue((event.target if type(event) is ev.TagMessage else event.room).casefold(), event)

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
            publication = keys.encode_events(self.node, events)
            messages = [e for e in events if type(e) is ev.Message]
            topics = [e for e in events if type(e) is ev.TopicChanged]
            if messages or topics:  # kept in the room's stream and published, in one script
                sync = self.syncing.get(key)
                if sync is not None and sync.requested:
                    sync.own_after.extend(messages)
                self.cmd.send(sh.append_args(key, room_channel(key), self.history_max, publication, messages,
                                             topics[-1] if topics else None), self._appended)
            else:
                self.cmd.send(("PUBLISH", room_channel(key), b"\n" + publication))
            for args in changes_of(key, events, self.history_max):  # edits, deletions, reactions: beside the stream
                self.cmd.send(args, self._appended)
            self.published += len(events)

    def _appended(self, reply: Reply) -> None:
        if isinstance(reply, Exception) and not isinstance(reply, ConnectionError):
            log.error("Redis refused a room's messages: %s", reply)

    def everywhere(self, event: Any) -> None:
        """News of a user for every node (a rename, an away message): on the lobby's channel,
        which every node hears, in this turn's order."""
        self._queue(LOBBY_KEY, event)

    def relay(self, node: str, event: Any) -> None:
        self.cmd.send(("PUBLISH", node_channel(node), b"\n" + keys.encode_events(self.node, [event])))

    def presence(self, room_key: str, event: Any, local: bool = True, node: str | None = None) -> None:
        """Someone entered or left a room: the room's hash of members (a leave takes an entry that
        names this node, or ``node``), the subscription, and the event for the other nodes."""
        members = keys.MEMBERS + room_key
        if type(event) is ev.UserJoined:
            self._subscribe(room_key, event.room)
            self.cmd.send(("HSET", members, event.username, self.node))
            self.cmd.send(("HSET", keys.ROOMS, room_key, event.room))
        else:
            self.cmd.send(("EVAL", keys.LEAVE, 1, members, event.username, node or self.node))
            if not self.holdings.has_local_members(room_key):
                self._unsubscribe(room_key)
        if local:
            self.publish(event)

    def share_rules(self, key: str, rules: str) -> None:
        self.cmd.send(("SET", keys.RULES + key, rules))

    def share_account(self, key: str, name: str, hashed: str, created: float) -> None:
        record = json.dumps([key, name, hashed, created])
        self.cmd.send(("HSETNX", keys.ACCOUNTS, key, record))
        self.cmd.send(("PUBLISH", keys.ACCOUNTS, record))

    # -- hearing a room ----------------------------------------------------------------------------
    def _subscribe(self, key: str, name: str | None = None) -> None:
        if key in self.subscribed or not self.sub.up:
            return
        self.subscribed[key] = name or key
        self.syncing[key] = RoomSync()
        self.tell(news.RoomUnsynced(key))
        self.sub.send(("SUBSCRIBE", room_channel(key)))
        self._fetch_members(key)

    def _unsubscribe(self, key: str) -> None:
        if key in self.subscribed and self.sub.up and key != LOBBY_KEY:
            self.subscribed.pop(key, None)
            self.syncing.pop(key, None)
            self.tell(news.RoomUnsynced(key))  # it hears the room no more: caught up again when it does
            self.sub.send(("UNSUBSCRIBE", room_channel(key)))

    def _sync(self, key: str) -> None:
        """Read the room's tail, length and topic, now that the subscription holds."""
        sync = self.syncing[key]
        sync.requested = True
        stream = sh.stream_key(key)
        got: list[Reply] = []

        def collect(reply: Reply) -> None:
            got.append(reply)
            if len(got) == 4:
                self._synced(key, sync, *got)
        self.cmd.send(sh.read_args(key, "XREVRANGE", "+", "-", max(1, self.replay)), collect)
        self.cmd.send(("XLEN", stream), collect)
        self.cmd.send(("HGETALL", sh.topic_key(key)), collect)
        self.cmd.send(("GET", keys.RULES + key), collect)

    def _synced(self, key: str, sync: RoomSync, tail: Reply, length: Reply, topic: Reply, rules: Reply) -> None:
        if self.syncing.get(key) is not sync or not sync.requested:
            return  # unsubscribed meanwhile
        if any(isinstance(reply, ConnectionError) for reply in (tail, length, topic, rules)):
            return  # the link went (its waiting replies fail first): the read is made again once it is back
        del self.syncing[key]
        for reply in (tail, length, topic, rules):
            if isinstance(reply, Exception):
                log.error("reading %s's history from Redis failed: %s", key, reply)
        found = [] if isinstance(tail, Exception) else sh.entries(tail)
        found.reverse()  # oldest first
        newest = found[-1][0] if found else (0, 0)
        messages = [m for _, m in found][-self.replay:] if self.replay else []
        total = (length if isinstance(length, int) else len(found)) + len(sync.own_after)
        self.tell(news.RoomSynced(key, messages, total, None if isinstance(topic, Exception) else sh.topic(topic),
                                  sync.own_after, rules.decode() if isinstance(rules, bytes) else None))
        for node, ids, events in sync.buffered:
            if ids and sh.parse_id(ids[0]) <= newest:  # appended before the read: in the tail already
                events = [e for e in events if type(e) is not ev.Message]
            if events:
                self.tell(news.Heard(node, events))

    def _fetch_members(self, key: str) -> None:
        """Who is already in the room, on other nodes."""
        shown = self.subscribed.get(key, key)

        def members(reply: Reply) -> None:
            if isinstance(reply, Exception) or not reply:
                return
            pairs = [(reply[i].decode(), reply[i + 1].decode()) for i in range(0, len(reply) - 1, 2)]
            self.tell(news.MembersFound(key, shown, [(n, node) for n, node in pairs if node != self.node]))
        self.cmd.send(("HGETALL", keys.MEMBERS + key), members)

    def _register(self) -> None:
        """A new command link: this node's liveness, names, members and accounts, anew."""
        cmd = self.cmd
        cmd.send(("SET", keys.NODE_KEY + self.node, 1, "EX", NODE_TTL))
        self.claims.renew()
        for room_key, name in self.holdings.local_presence():
            cmd.send(("HSET", keys.MEMBERS + room_key, name, self.node))
        for key, name in self.subscribed.items():  # subscribed before this link was up
            self._fetch_members(key)
            cmd.send(("HSET", keys.ROOMS, key, name))
        for key, sync in self.syncing.items():  # subscriptions that held before this link was up
            if sync.confirmed and not sync.requested:
                self._sync(key)
        for key, name, hashed, created in self.holdings.local_accounts():  # first one wins
            cmd.send(("HSETNX", keys.ACCOUNTS, key, json.dumps([key, name, hashed, created])))

        def fetched(reply: Reply) -> None:  # and Redis's accounts into this process
            if isinstance(reply, Exception) or not reply:
                return
            self.tell(news.AccountsFound([keys.account_record(reply[i + 1]) for i in range(0, len(reply) - 1, 2)]))
        cmd.send(("HGETALL", keys.ACCOUNTS), fetched)
        self.whole = True

    def _pushed(self, reply: Reply) -> None:
        """What the subscription link receives: acknowledgements and messages."""
        if isinstance(reply, Exception):
            log.error("Redis subscriptions link: %s", reply)
            return
        if not isinstance(reply, list) or len(reply) != 3:
            return
        kind, channel = reply[0], reply[1]
        if kind == b"subscribe":
            name = channel.decode()
            sync = self.syncing.get(name[len(ROOM_CHANNEL):]) if name.startswith(ROOM_CHANNEL) else None
            if sync is not None and not sync.confirmed:
                sync.confirmed = True
                if self.cmd.up:
                    self._sync(name[len(ROOM_CHANNEL):])
        elif kind == b"message" and channel == keys.ACCOUNTS.encode():
            try:
                self.tell(news.AccountsFound([keys.account_record(reply[2])]))
            except (ValueError, TypeError) as exc:
                log.warning("ignored an account record: %s", exc)
        elif kind == b"message":
            self._heard(channel, reply[2])

    def _heard(self, channel: bytes, data: bytes) -> None:
        """A publication on a room's or this node's channel."""
        try:
            ids, payload = sh.split_publication(data)
            if payload.startswith(self._own):
                return  # our own publication: delivered here already (and not worth decoding)
            node, events = keys.decode_events(payload)
        except (ValueError, TypeError) as exc:
            log.warning("ignored a message on %s: %s", channel, exc)
            return
        if node == self.node:
            return
        self.received += len(events)
        if channel.startswith(ROOM_CHANNEL.encode()):
            sync = self.syncing.get(channel[len(ROOM_CHANNEL):].decode())
            if sync is not None:  # after the room's tail is read, and only if newer than it
                sync.buffered.append((node, ids, events))
                return
        self.tell(news.Heard(node, events))

    # -- timers ---------------------------------------------------------------------------------
    def _heartbeat(self) -> None:
        self.reactor.call_later(HEARTBEAT, self._heartbeat)
        if not self.cmd.up:
            return
        self.cmd.send(("SET", keys.NODE_KEY + self.node, 1, "EX", NODE_TTL))
        for node in self.holdings.remote_nodes():
            def alive(reply: Reply, node: str = node) -> None:
                if reply == 0:
                    log.info("node %s is gone: its users have left", node)
                    self.tell(news.NodeGone(node))
            self.cmd.send(("EXISTS", keys.NODE_KEY + node), alive)
