"""The services of one process among several sharing rooms through Redis (``--redis``).

Beside the database and the worker, the backplane: history pages, topics, the list of rooms,
name claims and offline private messages are Redis's; a room's broadcasts, presence, relayed
private messages and news of users are published. What the backplane learns enters the hub as
news (selchat/news.py) through ``hear``; while it is applied, its broadcasts are not published
again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from selchat import news
from selchat import outbound as ev
from selchat.backplane import Backplane, parse_url
from selchat.config import ServerConfig
from selchat.errors import ErrorCode, ProtocolError
from selchat.hub import Hub
from selchat.hub.effects import SHARED_VERBS, Everywhere, Presence, Relay, carriers
from selchat.reactor import Conn, Reactor
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
    SaveReadMark,
    SaveRoomRules,
    TopicLoaded,
    Write,
)
from selchat.server.services import Complete, Failed, LocalServices
from selchat.store import Store

# Events a room hears that the other processes' members of the room hear too (joins and leaves
# cross as Presence, also in rooms too large to announce them).
SHARED_BROADCASTS = (ev.Message, ev.TopicChanged, ev.ModeChanged, ev.MessageChanged, ev.TagMessage)

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
    """The store and worker, and the backplane; the reactor's handler for the backplane's links,
    and what the backplane asks of this process (``Holdings``)."""

    def __init__(self, reactor: Reactor, store: Store, complete: Complete, fail: Failed, config: ServerConfig,
                 hub: Hub, hear: Hear, announce: Callable[[str], None]) -> None:
        super().__init__(reactor, store, complete, fail)
        self.hub = hub
        self._hear = hear
        self._announce = announce
        self.hearing = False  # applying another process's news: its broadcasts are not published again
        # what the backplane learns while it reads its links, settled in order once the read is
        # done (sans-I/O: the link's bytes in, news and answers out; nothing calls up into the hub)
        self._learned: list[Learned] | None = None
        self._releases: list[str] = []  # names freed this turn (released unless taken back)
        self.backplane = Backplane(parse_url(config.redis or ""), reactor, self, self._learn, handler=self,
                                   resolve=self.resolve, history_max=config.history_max, replay=config.replay,
                                   cafile=config.redis_cafile)
        self.asks.update({  # what only several processes ask (load_history and the rest are overridden)
            ClaimName: self.claim_name, LoadTopic: self.load_topic, ListRooms: self.list_rooms,
            ReleaseName: self.release_name,
        })

    def start(self) -> None:
        self.backplane.start()

    # -- the links' handler: bytes in, what was learned settled --------------------------------------
    def on_open(self, conn: Conn) -> None:
        self._settle(self._reading(self.backplane.opened, conn))

    def on_data(self, conn: Conn, data: bytes) -> None:
        self._settle(self._reading(self.backplane.data, conn, data))

    def on_close(self, conn: Conn, reason: str) -> None:
        self._settle(self._reading(self.backplane.closed, conn, reason))

    def on_slow(self, conn: Conn) -> bytes:
        return b""  # a link of ours: the reactor cuts it without words

    def _reading(self, step: Callable[..., None], *args: Any) -> list[Learned]:
        self._learned = learned = []
        try:
            step(*args)
        finally:
            self._learned = None
        return learned

    def _settle(self, learned: list[Learned]) -> None:
        """What the backplane learned from a link, in the order it learned it: news for the hub
        (applied as another process's, so not published again), results, refusals."""
        for item in learned:
            kind = type(item)
            if kind is Answered:
                self.complete(item.conn_id, item.result)  # type: ignore[union-attr]
            elif kind is Refused:
                self.fail(item.conn_id, item.error)  # type: ignore[union-attr]
            elif kind is Announced:
                self._announce(item.text)  # type: ignore[union-attr]
            else:
                self._hear_news(item)  # type: ignore[arg-type]

    def _hear_news(self, item: news.News) -> None:
        if type(item) is news.AccountsFound:  # kept in this process's database too, so logins work here
            for key, name, hashed, created in item.accounts:
                if self.store.account(key) is None:
                    self.store.write(SaveAccount(key, name, hashed, created))
        self.hearing = True
        try:
            self._hear(item)
        finally:
            self.hearing = False

    def _learn(self, item: Learned) -> None:
        """Kept to settle once a link's read is done; learned otherwise (Redis away, asked while
        applying effects), it is settled at once, as a local read would answer."""
        if type(item) is news.RoomUnsynced:
            # at once, also while effects are applied (a subscription made for a join): a newcomer
            # after it must wait for the room's tail
            self._hear(item)
        elif type(item) is news.LinkChanged:
            self._learn_link(item)
        elif self._learned is not None:
            self._learned.append(item)
        else:
            self._settle([item])

    def _learn_link(self, item: news.LinkChanged) -> None:
        """Tell everyone here when the rooms are cut off from the other servers, and when whole again."""
        said = Announced("the other servers are back: the rooms are whole again" if item.up else
                         "lost the link to the other servers (Redis): you are chatting with this server's "
                         "users only until it is back")
        if self._learned is not None:
            self._learned.extend((item, said))
        else:
            self._settle([item, said])

    def stop(self) -> None:
        self.backplane.stop()  # the others notice this node's key lapse, as for any node that goes

    # -- effects -----------------------------------------------------------------------------------
    def write(self, write: Write) -> None:
        backplane = self.backplane
        if type(write) is SaveDm and not write.delivered and backplane.reads.keep_dm(write.recipient_key, write.dm):
            return  # for the account's next login on any process (here, while Redis is away)
        self.store.write(write)
        if type(write) is SaveAccount:
            backplane.share_account(write.key, write.name, write.hash, write.created)
        elif type(write) is SaveRoomRules:  # every process reads a room's rules when it subscribes
            backplane.share_rules(write.key, write.shared or write.rules)
        elif type(write) is SaveReadMark and not self.hearing:  # for the account's next login elsewhere
            backplane.reads.keep_mark(write.account, write.target, write.ts)

    def effect_handlers(self) -> dict[type, Callable[[Any], None]]:
        return carriers(self, SHARED_VERBS)

    def published(self, event: ev.Event) -> None:
        if not self.hearing and type(event) in SHARED_BROADCASTS:
            self.backplane.publish(event)

    def presence(self, effect: Presence) -> None:
        self.backplane.presence(effect.room_key, effect.event, effect.local, effect.node)

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
                    self.backplane.claims.release(key)

    def redis_counters(self) -> tuple[int, int, int]:
        backplane = self.backplane
        return int(backplane.up), backplane.published, backplane.received

    # -- requests that Redis answers ---------------------------------------------------------------
    def load_history(self, r: LoadHistory) -> None:
        """A page of a shared room's history, which is Redis's."""
        def done(messages: list[ev.Message], more: bool) -> None:
            self._learn(Answered(r.conn_id, HistoryPage(r.room_key, tuple(messages), more, r.tag, r.oldest)))

        if not self.backplane.reads.history(r.room_key, r.before, r.limit, r.after, r.oldest, r.around, done):
            self._learn(Refused(r.conn_id, ProtocolError(
                ErrorCode.HISTORY_UNAVAILABLE, "history is kept in Redis, and the link to it is down; try again soon")))

    def load_offline_dms(self, o: LoadOfflineDms) -> None:
        here = self.store.offline_dms(o.account_key)

        def offline(kept: list[ev.DirectMessage]) -> None:
            # taken from Redis, kept here until written: a login cut short gets the rest at its
            # next login on this process
            for dm in kept:
                self.store.write(SaveDm(dm.sender.casefold(), o.account_key, dm, delivered=False))
            dms = sorted(here + kept, key=lambda dm: dm.timestamp)
            self._learn(Answered(o.conn_id, OfflineDms(tuple(dms))))
        if not self.backplane.reads.take_dms(o.account_key, offline):
            offline([])

    def claim_name(self, c: ClaimName) -> None:
        account = c.account

        def answer(ok: bool, twins: tuple[str, ...], name: str | None) -> None:
            self._learn(Answered(c.conn_id, NameClaimed(c.name_key, ok, twins, name)))

        def claimed(ok: bool, twins: tuple[str, ...], name: str | None) -> None:
            # an account's login: its read markers, moved on any process, are here before it is
            # admitted (read once the claim is ours, so after the process it displaced let the
            # name go, and so after that process's last markers were kept)
            if not ok or account is None or not self.backplane.reads.read_marks(
                    account, lambda marks: found(marks, twins, name)):
                answer(ok, twins, name)

        def found(marks: tuple[tuple[str, int], ...], twins: tuple[str, ...], name: str | None) -> None:
            if marks and account is not None:
                self._learn(news.MarksFound(account, marks))
            answer(True, twins, name)
        self.backplane.claims.claim(c.name_key, claimed, c.displace, c.share or "", c.shown, c.follow)

    def load_topic(self, t: LoadTopic) -> None:
        def loaded(name: str | None, topic: Any, failed: bool) -> None:
            self._learn(Answered(t.conn_id, TopicLoaded(t.room, name, topic, failed)))
        if not self.backplane.reads.load_topic(t.room_key, loaded):
            loaded(None, None, True)

    def list_rooms(self, request: ListRooms) -> None:
        def listed(rooms: tuple[ev.RoomInfo, ...] | None) -> None:
            self._learn(Answered(request.conn_id, RoomsListed(rooms, request.asked)))
        if not self.backplane.reads.list_rooms(listed):
            listed(None)

    def release_name(self, request: ReleaseName) -> None:
        self._releases.append(request.name_key)

    # -- what the backplane asks of this process ---------------------------------------------------
    def local_rooms(self) -> list[str]:
        return self.hub.local_rooms()

    def local_presence(self) -> list[tuple[str, str]]:
        return self.hub.local_presence()

    def local_names(self) -> list[tuple[str, str, str]]:
        return self.hub.local_names()

    def has_local_members(self, key: str) -> bool:
        return self.hub.has_local_members(key)

    def remote_nodes(self) -> set[str]:
        return self.hub.remote_nodes()

    def local_accounts(self) -> list[tuple[str, str, str, float]]:
        return self.store.accounts()
