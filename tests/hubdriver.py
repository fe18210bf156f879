"""A driver for the pure hub (h11's ConnectionPair idea): commands for several connection ids
go in, and each connection's inbox holds the frames its JSON codec (v1 or v2) would have sent.
Each connection has a real JsonCodec, which holds a version 1 client to version 1 and picks the
wire on its welcome, as on the server."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest

from selchat.config import ServerConfig
from selchat.errors import ProtocolError
from selchat.events import Command, Join
from selchat.hub import Ask, Broadcast, Close, Fail, Hub, Presence, Send, Store
from selchat.hub.effects import LOCAL_VERBS, SHARED_VERBS, Then, carriers
from selchat.outbound import Welcome
from selchat.records import Snapshot
from selchat.wire.jsonl import JsonCodec


class Driver:
    def __init__(self, snapshot: Snapshot | None = None, shared: bool = False, **config: Any) -> None:
        self.hub = Hub(ServerConfig(**config), snapshot, shared=shared)
        self.inbox: dict[int, list[dict]] = defaultdict(list)
        self.closed: dict[int, str] = {}
        self.stored: list[Any] = []
        self.asked: list[Any] = []
        self.called: list[Any] = []
        self.shared: list[Any] = []  # Presence and Relay: for the other processes (--redis)
        self.now = 1000.0
        self.codecs: dict[int, JsonCodec] = {}
        self.table = carriers(self, LOCAL_VERBS | SHARED_VERBS)

    def connect(self, cid: int, address: str = "127.0.0.1") -> None:
        self.hub.connect(cid, self.now, address)

    def codec(self, cid: int) -> JsonCodec:
        codec = self.codecs.get(cid)
        if codec is None:
            codec = self.codecs[cid] = JsonCodec(self.hub.config.max_frame)
        return codec

    def held(self, cid: int, command: Command) -> Command:
        """The command as the connection's codec passes it on (a join says which version)."""
        codec = self.codec(cid)
        if type(command) is Join:
            return codec.held(command, {"version": 2 if command.replay else 1})
        return codec.held(command, {}) if codec.v1 else command

    def deliver(self, target: int, event: Any) -> None:
        codec = self.codec(target)
        if type(event) is Welcome:
            codec.welcomed()
        payload = codec.encode(event)
        if payload:
            self.inbox[target].extend(json.loads(line) for line in payload.splitlines())

    def apply(self, effects: list) -> None:
        """Each effect by its type, through the server's own table of verbs (selchat/hub/effects.py)."""
        table = self.table
        for effect in effects:
            table[type(effect)](effect)

    def broadcast(self, effect: Broadcast) -> None:
        for target in effect.audience:
            if not effect.skips(target):
                self.deliver(target, effect.event)

    def send(self, effect: Send) -> None:
        for target in effect.targets:
            self.deliver(target, effect.event)

    def store(self, effect: Store) -> None:
        self.stored.append(effect.write)

    def ask(self, effect: Ask) -> None:
        self.asked.append(effect.request)

    def call_out(self, effect: Any) -> None:  # an outgoing webhook's POST (server/callouts.py)
        self.called.append(effect)

    def presence(self, effect: Presence) -> None:  # Presence, Relay, Everywhere: for other processes
        self.shared.append(effect)

    relay = everywhere = presence

    def fail(self, effect: Fail) -> None:
        self.inbox[effect.conn_id].append(effect.error.to_frame())
        if effect.error.closes:
            self.closed[effect.conn_id] = effect.error.code.value

    def close(self, effect: Close) -> None:
        self.closed[effect.conn_id] = effect.reason
        self.apply(self.hub.disconnect(effect.conn_id, self.now, None))

    def then(self, effect: Then) -> None:
        """The next part at once: this driver's inboxes are always read."""
        self.apply(self.hub.handle(effect.conn_id, effect.command, self.now))

    def do(self, cid: int, command: Command) -> None:
        self.apply(self.hub.handle(cid, self.held(cid, command), self.now))

    def complete(self, cid: int, result: Any) -> None:
        self.apply(self.hub.complete(cid, result, self.now))

    def hear(self, news: Any) -> None:
        self.apply(self.hub.hear(news, self.now))

    def error(self, cid: int, command: Command) -> ProtocolError:
        with pytest.raises(ProtocolError) as info:
            self.hub.handle(cid, self.held(cid, command), self.now)
        return info.value

    def join(self, cid: int, name: str, version: int = 1) -> dict:
        self.connect(cid)
        self.do(cid, Join(name, replay=version >= 2))
        return next(f for f in self.inbox[cid] if f["type"] == "welcome")

    def drop(self, cid: int, reason: str | None = "connection lost") -> None:
        self.apply(self.hub.disconnect(cid, self.now, reason))

    def take(self, cid: int) -> list[dict]:
        frames, self.inbox[cid] = self.inbox[cid], []
        return frames
