"""The services of one process among several sharing rooms through Redis (``--redis``).

Beside the database and the worker, the backplane: history pages, topics, the list of rooms,
name claims and offline private messages are Redis's; a room's broadcasts, presence, relayed
private messages and news of users are published. What the backplane learns enters the hub as
news (selchat/news.py) through ``hear``; while it is applied, its broadcasts are not published
again.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from selchat import news
from selchat import outbound as ev
from selchat.backplane import Backplane, parse_url
from selchat.config import ServerConfig
from selchat.errors import ErrorCode, ProtocolError
from selchat.hub import Hub
from selchat.hub.effects import Everywhere, Presence, Relay
from selchat.reactor import Reactor
from selchat.records import (
    ClaimName,
    HistoryPage,
    ListRooms,
    LoadHistory,
    LoadOfflineDms,
    LoadTopic,
    NameClaimed,
    OfflineDms,
    ReleaseName,
    Result,
    RoomsListed,
    SaveAccount,
    SaveDm,
    TopicLoaded,
    Write,
)
from selchat.server.services import Complete, Failed, LocalServices
from selchat.store import Store

# Events a room hears that the other processes' members of the room hear too (joins and leaves
# cross as Presence, also in rooms too large to announce them).
SHARED_BROADCASTS = (ev.Message, ev.TopicChanged)

Hear = Callable[[news.News], None]


@dataclass(slots=True)
class Answered:
    """A request's result that Redis's reply carried: for ``Hub.complete``."""

    conn_id: int
    result: Result


@dataclass(slots=True)
class Refused:
    """A request that failed (Redis away): for the connection, as its error."""

    conn_id: int
    error: ProtocolError


@dataclass(slots=True)
class Announced:
    """Words for everyone here from the server itself (the link to the other servers came or went)."""

    text: str


Learned = news.News | Answered | Refused | Announced


class SharedServices(LocalServices):
    """The store and worker, and the backplane; the backplane's owner (what it asks of this
    process and tells it)."""

    def __init__(self, reactor: Reactor, store: Store, complete: Complete, fail: Failed, config: ServerConfig,
                 hub: Hub, hear: Hear) -> None:
        super().__init__(reactor, store, complete, fail)
        self.hub = hub
        self._hear = hear
        self.hearing = False  # applying another process's news: its broadcasts are not published again
        # what the backplane learns while it reads its links, returned to the server in order
        # (sans-I/O: the link's bytes in, news and answers out; nothing calls back up into the hub)
        self._learned: list[Learned] | None = None
        self._releases: list[str] = []  # names freed this turn (released unless taken back)
        self.backplane = Backplane(parse_url(config.redis or ""), self, history_max=config.history_max,
                                   replay=config.replay, cafile=config.redis_cafile)
        self.asks.update({  # what only several processes ask (load_history and the rest are overridden)
            ClaimName: self.claim_name, LoadTopic: self.load_topic, ListRooms: self.list_rooms,
            ReleaseName: self.release_name,
        })

    def start(self) -> None:
        self.backplane.start()

    # -- the links: bytes in, what was learned out -------------------------------------------------
    def link_opened(self, conn: Any) -> list[Learned]:
        return self._reading(self.backplane.opened, conn)

    def link_data(self, conn: Any, data: bytes) -> list[Learned]:
        return self._reading(self.backplane.data, conn, data)

    def link_closed(self, conn: Any, reason: str) -> list[Learned]:
        return self._reading(self.backplane.closed, conn, reason)

    def _reading(self, step: Callable[..., None], *args: Any) -> list[Learned]:
        self._learned = learned = []
        try:
            step(*args)
        finally:
            self._learned = None
        return learned

    def _learn(self, item: Learned) -> None:
        """Kept for the server while a link is read; an answer given at once (Redis away, asked
        while applying effects) goes back at once, as a local read would."""
        if self._learned is not None:
            self._learned.append(item)
        elif type(item) is Answered:
            self.complete(item.conn_id, item.result)  # type: ignore[union-attr]
        elif type(item) is Refused:
            self.fail(item.conn_id, item.error)  # type: ignore[union-attr]
        elif type(item) is Announced:
            raise AssertionError("announced only while a link is read")
        else:
            self._hear(item)  # type: ignore[arg-type]

    def stop(self) -> None:
        self.backplane.stop()  # the others notice this node's key lapse, as for any node that goes

    # -- effects -----------------------------------------------------------------------------------
    def write(self, write: Write) -> None:
        backplane = self.backplane
        if type(write) is SaveDm and not write.delivered and backplane.keep_dm(write.recipient_key, write.dm):
            return  # for the account's next login on any process (here, while Redis is away)
        self.store.write(write)
        if type(write) is SaveAccount:
            backplane.share_account(write.key, write.name, write.hash, write.created)

    def effect_handlers(self) -> dict[type, Callable[[Any], None]]:
        return {Presence: self.presence, Relay: self.relay, Everywhere: self.everywhere}

    def published(self, event: ev.Event) -> None:
        if not self.hearing and type(event) in SHARED_BROADCASTS:
            self.backplane.publish(event)

    def presence(self, effect: Presence) -> None:
        self.backplane.presence(effect.room_key, effect.event, effect.local)

    def relay(self, effect: Relay) -> None:
        self.backplane.relay(effect.node, effect.event)

    def everywhere(self, effect: Everywhere) -> None:
        self.backplane.everywhere(effect.event)

    def before_flush(self) -> None:
        self.backplane.flush()  # the turn's events for the other nodes, one publication a room
        if self._releases:
            releases, self._releases = self._releases, []
            for key in releases:
                if self.hub.find(key) is None:  # not taken back meanwhile
                    self.backplane.release(key)
        self.commit()

    def redis_counters(self) -> tuple[int, int, int]:
        backplane = self.backplane
        return int(backplane.up), backplane.published, backplane.received

    # -- requests that Redis answers ---------------------------------------------------------------
    def load_history(self, r: LoadHistory) -> None:
        """A page of a shared room's history, which is Redis's."""
        def done(messages: list[ev.Message], more: bool) -> None:
            self._learn(Answered(r.conn_id, HistoryPage(r.room_key, tuple(messages), more, r.tag)))

        if not self.backplane.history(r.room_key, r.before, r.limit, r.after, r.oldest, r.around, done):
            self._learn(Refused(r.conn_id, ProtocolError(
                ErrorCode.HISTORY_UNAVAILABLE, "history is kept in Redis, and the link to it is down; try again soon")))

    def load_offline_dms(self, o: LoadOfflineDms) -> None:
        here = self.store.offline_dms(o.account_key)

        def offline(kept: list[ev.DirectMessage]) -> None:
            dms = sorted(here + kept, key=lambda dm: dm.timestamp)
            self._learn(Answered(o.conn_id, OfflineDms(tuple(dms))))
        if not self.backplane.take_dms(o.account_key, offline):
            offline([])

    def claim_name(self, c: ClaimName) -> None:
        self.backplane.claim(c.name_key, lambda ok: self._learn(Answered(c.conn_id, NameClaimed(c.name_key, ok))),
                             c.displace)

    def load_topic(self, t: LoadTopic) -> None:
        def loaded(name: str | None, topic: Any, failed: bool) -> None:
            self._learn(Answered(t.conn_id, TopicLoaded(t.room, name, topic, failed)))
        if not self.backplane.load_topic(t.room_key, loaded):
            loaded(None, None, True)

    def list_rooms(self, request: ListRooms) -> None:
        def listed(rooms: tuple[ev.RoomInfo, ...] | None) -> None:
            self._learn(Answered(request.conn_id, RoomsListed(rooms)))
        if not self.backplane.list_rooms(listed):
            listed(None)

    def release_name(self, request: ReleaseName) -> None:
        self._releases.append(request.name_key)

    # -- what the backplane asks of this process ---------------------------------------------------
    def resolve(self, host: str, port: int, done: Callable[[Any], None]) -> None:
        """``done(address)`` (or ``done(OSError)``) on the loop: a literal address at once, a name
        in the worker, since the resolver may take seconds and the loop must not wait for it."""
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        except OSError:
            pass
        else:
            done(host)
            return

        def lookup() -> str:
            addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4]
            return str(addr[0])
        if self.worker is None:
            try:
                done(lookup())
            except OSError as exc:
                done(exc)
            return
        self.worker.submit(lookup, done)

    def local_rooms(self) -> list[str]:
        return self.hub.local_rooms()

    def local_presence(self) -> list[tuple[str, str]]:
        return self.hub.local_presence()

    def local_names(self) -> list[str]:
        return self.hub.local_names()

    def has_local_members(self, key: str) -> bool:
        return self.hub.has_local_members(key)

    def remote_nodes(self) -> set[str]:
        return self.hub.remote_nodes()

    def local_accounts(self) -> list[tuple[str, str, str, float]]:
        return self.store.accounts()

    # -- what the backplane tells: news for the hub ------------------------------------------------
    def remote_events(self, node: str, events: list[ev.Event]) -> None:
        """Another node's turn of events (one room's, or a private message): into this turn's batch."""
        self._learn(news.Heard(node, events))

    def node_gone(self, node: str) -> None:
        self._learn(news.NodeGone(node))

    def remote_accounts(self, accounts: list[tuple[str, str, str, float]]) -> None:
        """Accounts made on other processes: kept in this one's database too, so logins work here."""
        for key, name, hashed, created in accounts:
            if self.store.account(key) is None:
                self.store.write(SaveAccount(key, name, hashed, created))
        self._learn(news.AccountsFound(accounts))

    def remote_members(self, key: str, name: str, members: list[tuple[str, str]]) -> None:
        self._learn(news.MembersFound(key, name, members))

    def room_synced(self, key: str, recent: list[ev.Message], total: int,
                    topic: tuple[str, str | None, float | None] | None, own_after: list[ev.Message]) -> None:
        self._learn(news.RoomSynced(key, recent, total, topic, own_after))

    def room_unsynced(self, key: str) -> None:
        # at once, also while effects are applied (a subscription made for a join): a newcomer
        # after it must wait for the room's tail
        self._hear(news.RoomUnsynced(key))

    def link_changed(self, up: bool) -> None:
        """Tell everyone here when the rooms are cut off from the other servers, and when whole again."""
        self._learn(news.LinkChanged(up))
        self._learn(Announced("the other servers are back: the rooms are whole again" if up else
                              "lost the link to the other servers (Redis): you are chatting with this server's "
                              "users only until it is back"))
