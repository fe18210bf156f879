"""The effect interpreter: a table from each effect the hub returns to the part that carries it
out (the fan-out, a connection, the services), so a new effect is one entry, not a new branch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from selchat import outbound as ev
from selchat.hub.effects import LOCAL_VERBS, Ask, Broadcast, CallOut, Close, Effect, Fail, Send, Store, Then, carriers
from selchat.reactor import Reactor
from selchat.server.callouts import CallOuts
from selchat.server.fanout import Fanout
from selchat.server.services import LocalServices
from selchat.server.session import Connections


class Effects:
    def __init__(self, reactor: Reactor, fanout: Fanout, services: LocalServices, connections: Connections) -> None:
        self.reactor = reactor
        self.fanout = fanout
        self.services = services
        self.connections = connections
        self.callouts = CallOuts(reactor, services.resolve, self._replied)
        self.hub = connections.hub
        self.table: dict[type, Callable[[Any], None]] = carriers(self, LOCAL_VERBS)
        # what is for the other processes (Presence, Relay, Everywhere): the shared services'
        self.table.update(services.effect_handlers())

    def _replied(self, hook: str, room: str, text: str) -> None:
        """An outgoing webhook's answer, said in its room."""
        self.apply(self.hub.hooks.replied(hook, room, text, self.connections.wall_clock()))

    def apply(self, effects: list[Effect]) -> None:
        table = self.table
        for effect in effects:
            table[type(effect)](effect)

    def broadcast(self, b: Broadcast) -> None:
        self.fanout.queue(b.targets, b.count, b.exclude, b.event)
        self.services.published(b.event)

    def store(self, effect: Store) -> None:
        self.services.write(effect.write)

    def ask(self, effect: Ask) -> None:
        self.connections.labels.asked(getattr(effect.request, "conn_id", -1))  # a labeled command waits for it
        self.services.ask(effect.request)  # what it delivers comes back through the hub's complete

    def fail(self, effect: Fail) -> None:
        self.connections.fail(effect.conn_id, effect.error)

    def then(self, effect: Then) -> None:
        self.fanout.flush_for(effect.conn_id)
        self.connections.then(effect.conn_id, effect.command)

    def call_out(self, effect: CallOut) -> None:
        self.callouts.call_out(effect)

    def close(self, effect: Close) -> None:
        self.fanout.flush_for(effect.conn_id)
        conn = self.reactor.conns.get(effect.conn_id)
        if conn is not None:
            self.reactor.close(conn, effect.reason)

    def send(self, effect: Send) -> None:
        targets, event = effect.targets, effect.event
        fanout = self.fanout
        if len(targets) == 1:
            fanout.flush_for(targets[0])
        else:
            fanout.flush()
        conns = self.reactor.conns
        if type(event) is ev.Welcome:
            self.connections.welcomed(targets[0])
        if len(targets) == 1:
            conn = conns.get(targets[0])
            if conn is not None and conn.ctx is not None and conn.ctx.codec is not None:
                payload = conn.ctx.codec.encode(event)
                if payload is not None:
                    self.reactor.send(conn, payload)
            return
        for wire, audience in fanout.split(targets):
            payload = wire.encode(event)
            if payload is not None:
                self.reactor.send_many(audience, payload)
        if type(event) is ev.NickChanged:
            for cid in targets:  # codecs that keep their own name learn it
                conn = conns.get(cid)
                if conn is not None and conn.ctx is not None and conn.ctx.codec is not None:
                    conn.ctx.codec.saw(event)
