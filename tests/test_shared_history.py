"""History and topics in Redis (--redis): the pure parts, the hub's wait for a room's tail, and
the backplane's pages against a real redis-server, compared with SQLite's pages on the same
messages."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from selchat import shared_history as sh
from selchat.backplane import Backplane, RoomSync, parse_url
from selchat.events import Chat, Join, JoinRoom, Topic
from selchat.news import AccountsFound, Heard, LinkChanged, RoomSynced, RoomUnsynced
from selchat.outbound import Message, TopicChanged, UserJoined
from selchat.reactor import Reactor
from selchat.records import NameClaimed, SaveRoom, SaveRoomRules
from selchat.store import Store
from tests.helpers import DEADLINE
from tests.hubdriver import Driver
from tests.redisserver import Redis

# -- the pure parts --------------------------------------------------------------------------------


def test_ids_come_from_the_messages_time() -> None:
    assert sh.stream_id(1795543400.001234) == "1795543400001-234"
    assert sh.parse_id(b"1795543400001-234") == (1795543400001, 234)
    assert sh.bound(12.5) == "(12500-0"


def test_entries_and_publications_round_trip() -> None:
    m = Message("#Dev", "alice", "hi ✓", 12.5, action=True)
    stored = sh.message(sh.entry(m))
    assert (stored.room, stored.username, stored.text, stored.timestamp, stored.action, stored.history) == (
        "#Dev", "alice", "hi ✓", 12.5, True, True)
    reply = [[b"12500-0", [b"m", sh.entry(m)]], [b"13-0", [b"other", b"x"]], [b"14-0", [b"m", b"not json"]]]
    assert [(i, e.text) for i, e in sh.entries(reply)] == [((12500, 0), "hi ✓")]  # what is not ours is skipped
    assert sh.split_publication(b"1-0,2-0\n[payload]") == ([b"1-0", b"2-0"], b"[payload]")
    assert sh.split_publication(b"\n[payload]") == ([], b"[payload]")
    with pytest.raises(ValueError):
        sh.split_publication(b"[old style]")
    assert sh.topic([b"topic", b"release day", b"by", b"bob", b"at", b"12.5"]) == ("release day", "bob", 12.5)
    assert sh.topic([b"topic", b"", b"by", b"", b"at", b""]) == ("", None, None)
    assert sh.topic([]) is None


def _backplane(tell: Callable[[Any], None], replay: int = 50) -> Backplane:
    """A backplane that is never started: for its pure steps."""
    reactor = Reactor(max_conns=1, max_output=1024)
    return Backplane(parse_url("redis://127.0.0.1:1/0"), reactor, None, tell,  # type: ignore[arg-type]
                     handler=None, resolve=None, node="me", replay=replay)  # type: ignore[arg-type]


def test_a_rooms_tail_keeps_only_what_is_newer() -> None:
    """Publications heard while the tail was read: the ones appended before the read are in the
    tail already, and only their joins and leaves still count."""
    seen: dict[str, Any] = {"synced": [], "events": []}

    def tell(item: Any) -> None:
        if type(item) is RoomSynced:
            seen["synced"].append((item.key, item.recent, item.total, item.topic, item.own_after))
        elif type(item) is Heard:
            seen["events"].append(item.events)

    bp = _backplane(tell, replay=2)
    old, new = Message("#dev", "bob", "old", 1.0), Message("#dev", "bob", "new", 3.0)
    joined = UserJoined("carol", "#dev", 2.0)
    mine = Message("#dev", "me", "mine", 2.5)
    sync = RoomSync(confirmed=True, requested=True, own_after=[mine],
                 buffered=[("n2", [b"1000-0"], [old, joined]), ("n2", [b"3000-0"], [new])])
    bp.syncing["#dev"] = sync
    tail = [[b"1000-0", [b"m", sh.entry(old)]], [b"900-0", [b"m", sh.entry(Message("#dev", "bob", "older", 0.9))]],
            [b"800-0", [b"m", sh.entry(Message("#dev", "bob", "oldest", 0.8))]]]
    bp._synced("#dev", sync, tail, 7, [b"topic", b"t", b"by", b"bob", b"at", b"1.5"], None)  # no rules kept
    (key, recent, total, topic, own_after), = seen["synced"]
    assert (key, [m.text for m in recent], total, topic, own_after) == (
        "#dev", ["older", "old"], 8, ("t", "bob", 1.5), [mine])  # the last --replay, oldest first
    assert seen["events"] == [[joined], [new]]
    assert "#dev" not in bp.syncing


def test_a_read_cut_off_by_a_lost_link_is_not_taken_for_an_empty_room() -> None:
    synced: list[Any] = []
    bp = _backplane(synced.append)
    sync = RoomSync(confirmed=True, requested=True)
    bp.syncing["#dev"] = sync
    lost = ConnectionError("the link to Redis was lost")
    bp._synced("#dev", sync, lost, lost, lost, lost)
    assert synced == [] and bp.syncing["#dev"] is sync  # read again once the link is back


def test_a_shared_room_replays_once_its_tail_is_read() -> None:
    d = Driver(replay=5, shared=True)
    d.connect(1)
    d.do(1, Join("alice", replay=True))
    d.complete(1, NameClaimed("alice", True))
    assert [f["type"] for f in d.take(1)] == ["welcome"]  # the lobby's tail is not read yet: no replay
    said = [Message("#lobby", "bob", "from another process", 5.0, history=True)]
    d.hear(RoomSynced("#lobby", said, 1, ("ours", "bob", 4.0), []))
    got = d.take(1)
    assert [(f["type"], f.get("message")) for f in got] == [("chat", "from another process"), ("history_end", None)]
    d.do(1, JoinRoom("#dev"))
    assert d.take(1) == []  # room_joined waits for the room's topic and tail
    d.hear(RoomSynced("#dev", [], 0, ("set elsewhere", "bob", 4.5), []))
    joined = d.take(1)
    assert [f["type"] for f in joined] == ["room_joined", "history_end"] and joined[0]["topic"] == "set elsewhere"
    d.do(1, Chat("first here", room="#dev"))
    # a shared room's history is Redis's; this process's database keeps a copy of its lines for
    # search (what Redis's tail had, and its own: store.py's copies), but never the room itself;
    # its rules are both's (alice, first in #dev, is its operator, which the others learn from Redis)
    assert [type(w) for w in d.stored] == [tuple, SaveRoomRules, tuple]
    assert [w[3] for w in d.stored if type(w) is tuple] == ["from another process", "first here"]
    d.stored.clear()
    d.do(1, JoinRoom("#ops"))
    d.hear(LinkChanged(False))  # Redis is away: no more waiting, the room is what this process has
    assert [f["type"] for f in d.take(1)] == ["room_joined", "history_end"]
    d.hear(RoomUnsynced("#dev"))
    d.do(1, JoinRoom("#dev"))  # in it already: the same answer, at once while Redis is away
    assert [(f["type"], f.get("message")) for f in d.take(1)] == [
        ("room_joined", None), ("chat", "first here"), ("history_end", None)]
    d.hear(RoomUnsynced("#dev"))
    d.connect(2)
    d.do(2, Join("bob", replay=True))
    d.complete(2, NameClaimed("bob", True))
    d.do(2, JoinRoom("#dev"))
    assert [f["type"] for f in d.take(2)][-2:] == ["chat", "history_end"]  # still away: at once
    d.do(1, Topic("#dev", "kept in redis"))
    assert SaveRoom not in {type(w) for w in d.stored} and d.stored == []


def test_the_own_lines_of_a_room_being_read_are_not_replayed_twice() -> None:
    d = Driver(shared=True)
    d.connect(1)
    d.do(1, Join("alice", replay=True))
    d.complete(1, NameClaimed("alice", True))
    d.take(1)
    mine = Message("#lobby", "alice", "said while the tail was read", 5.0)
    d.hear(RoomSynced("#lobby", [Message("#lobby", "bob", "before", 4.0)], 2, None, [mine]))
    assert [f.get("message") for f in d.take(1)] == ["before", None]
    d.connect(2)  # a later newcomer gets both
    d.do(2, Join("carl", replay=True))
    d.complete(2, NameClaimed("carl", True))
    assert [f.get("message") for f in d.take(2) if f["type"] == "chat"] == ["before", "said while the tail was read"]


# -- against a real redis-server ---------------------------------------------------------------------


class _Owner:
    """What the server gives a backplane, for one in this process: a reactor, the links'
    handler, what this process holds (nothing), and a place for the news."""

    def __init__(self, url: str, node: str) -> None:
        self.reactor = Reactor(max_conns=8, max_output=1 << 20, before_flush=self.before_flush)
        self.backplane = Backplane(parse_url(url), self.reactor, self, self.tell, handler=self,
                                   resolve=self.resolve, node=node, history_max=10_000, replay=50)
        self.synced: list[Any] = []
        self.events: list[Any] = []

    def on_open(self, conn: Any) -> None:
        self.backplane.opened(conn)

    def on_data(self, conn: Any, data: bytes) -> None:
        self.backplane.data(conn, data)

    def on_close(self, conn: Any, reason: str) -> None:
        self.backplane.closed(conn, reason)

    def on_slow(self, conn: Any) -> bytes:
        return b""

    def before_flush(self) -> None:
        self.backplane.flush()

    def until(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + DEADLINE
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            self.reactor.run_once()

    def resolve(self, host: str, port: int, done: Callable[[Any], None]) -> None:
        done(host)  # the tests' Redis is at a literal address

    # what this process holds
    def local_rooms(self) -> list[str]:
        return []

    def local_presence(self) -> list[tuple[str, str]]:
        return []

    def local_names(self) -> list[str]:
        return []

    def has_local_members(self, key: str) -> bool:
        return True

    def remote_nodes(self) -> set[str]:
        return set()

    def local_accounts(self) -> list[Any]:
        return []

    def tell(self, item: Any) -> None:
        if type(item) is Heard:
            self.events.extend(item.events)
        elif type(item) is RoomSynced:
            self.synced.append((item.key, item.recent, item.total, item.topic, item.own_after))


@pytest.fixture
def linked(redis: Redis) -> Iterator[Callable[[str], _Owner]]:
    """Backplanes in this process, each with its links up; all closed afterwards."""
    owners: list[_Owner] = []

    def link(node: str) -> _Owner:
        owner = _Owner(redis.url, node)
        owners.append(owner)
        owner.backplane.start()
        owner.until(lambda: owner.backplane.up and not owner.backplane.cmd.waiting, "the links")
        return owner
    yield link
    for owner in owners:
        owner.backplane.stop()
        owner.reactor.close_all()


def test_pages_from_redis_are_the_pages_sqlite_gives(linked: Callable[[str], _Owner], tmp_path: Any) -> None:
    """The same messages in a stream and in SQLite: every kind of page (latest, before, after,
    between, around, as CHATHISTORY asks) is the same page with the same ``more``."""
    owner = linked("n1")
    store = Store(str(tmp_path / "h.db"))
    store.write(SaveRoom("#dev", "#dev"))
    stamps = [1000.0 + i * 0.25 for i in range(40)] + [1010.0 + i * 0.000_1 for i in range(5)]  # some in one ms
    for n, ts in enumerate(stamps):
        m = Message("#dev", "alice" if n % 2 else "bob", f"line {n}", ts, action=n % 7 == 0)
        store.write(("#dev", round(ts * 1_000_000), m.username, m.text, 1 if m.action else 0))
        owner.backplane.publish(m)
        if n % 3 == 0:
            owner.backplane.flush()  # several turns, several messages a turn
    owner.backplane.flush()
    owner.until(lambda: not owner.backplane.cmd.waiting, "the appends")
    store.commit()
    queries = [(None, 10, None, False, None), (None, 100, None, False, None), (1005.0, 10, None, False, None),
               (1005.1, 3, None, False, None), (None, 10, 1002.0, True, None), (1009.0, 5, 1001.0, True, None),
               (1009.0, 5, 1001.0, False, None), (None, 10, None, False, 1003.0), (None, 7, None, False, 1000.0),
               (None, 1, None, False, 1010.0002), (999.0, 5, None, False, None), (None, 4, 1010.0001, True, None)]
    for before, limit, after, oldest, around in queries:
        page, more = _page(owner, before, limit, after, oldest, around)
        want, want_more = store.history("#dev", "#dev", before, limit, after, oldest, around)
        as_rows = [(m.username, m.text, m.timestamp, m.action, m.history) for m in page]
        assert as_rows == [(m.username, m.text, m.timestamp, m.action, True) for m in want], (before, limit, after)
        assert more == want_more, (before, limit, after, oldest, around)
    store.close()


def _page(owner: _Owner, *query: Any) -> tuple[list[Message], bool]:
    answers: list[tuple[list[Message], bool]] = []
    assert owner.backplane.reads.history("#dev", *query, lambda page, more: answers.append((page, more)))
    owner.until(lambda: bool(answers), "a page")
    return answers[0]


def test_a_process_that_subscribes_late_reads_the_tail_and_the_topic(linked: Callable[[str], _Owner]) -> None:
    speaker, listener = linked("n1"), linked("n2")
    for i in range(3):
        speaker.backplane.publish(Message("#dev", "alice", f"before {i}", 100.0 + i))
    speaker.backplane.publish(TopicChanged("#dev", "release day", "alice", 102.5))
    speaker.backplane.flush()
    speaker.until(lambda: not speaker.backplane.cmd.waiting, "the appends")
    listener.backplane.presence("#dev", UserJoined("bob", "#dev", 103.0), local=False)
    listener.until(lambda: any(s[0] == "#dev" for s in listener.synced), "the tail")
    key, recent, total, topic, _ = next(s for s in listener.synced if s[0] == "#dev")
    assert (key, [m.text for m in recent], total, topic) == (
        "#dev", ["before 0", "before 1", "before 2"], 3, ("release day", "alice", 102.5))
    speaker.backplane.publish(Message("#dev", "alice", "after", 104.0))
    speaker.backplane.flush()
    speaker.until(lambda: not speaker.backplane.cmd.waiting, "the append")
    listener.until(lambda: bool(listener.events), "the live line")
    assert [m.text for m in listener.events] == ["after"]  # live, and once


def test_a_relayed_private_message_for_someone_gone_waits_for_their_login() -> None:
    from selchat.outbound import DirectMessage
    from selchat.records import SaveDm

    d = Driver(shared=True)
    d.hear(AccountsFound([("bob", "bob", "", 0.0)]))
    dm = DirectMessage("alice", "bob", "left before it arrived", 5.0)
    d.hear(Heard("node", [dm]))
    assert d.stored == [SaveDm("alice", "bob", DirectMessage("alice", "bob", "left before it arrived", 5.0,
                                                             offline=True), delivered=False)]
    assert d.hub.hear(Heard("node", [DirectMessage("alice", "guest", "no account: nowhere to keep it", 6.0)]),
                      d.now) == []


def test_a_line_that_came_only_in_the_tail_read_again_reaches_the_members() -> None:
    """After a new link the room is read again; a line said elsewhere while that read was on the
    way is in the tail, not heard live: the members who stayed get it once, a newcomer in the replay."""
    d = Driver(replay=5, shared=True)
    d.connect(1)
    d.do(1, Join("alice", replay=True))
    d.complete(1, NameClaimed("alice", True))
    before = Message("#lobby", "bob", "before the link went", 5.0)
    d.hear(RoomSynced("#lobby", [before], 1, None, []))
    d.take(1)
    d.hear(RoomUnsynced("#lobby"))  # the link came back: read again
    d.connect(2)
    d.do(2, Join("carl", replay=True))
    d.complete(2, NameClaimed("carl", True))
    d.take(1)
    during = Message("#lobby", "bob", "said while the tail was read", 6.0)
    d.hear(RoomSynced("#lobby", [before, during], 2, None, []))
    assert [f.get("message") for f in d.take(1) if f["type"] == "chat"] == ["said while the tail was read"]
    assert [f.get("message") for f in d.take(2) if f["type"] == "chat"] == ["before the link went",
                                                                           "said while the tail was read"]
    d.hear(RoomUnsynced("#lobby"))
    d.hear(RoomSynced("#lobby", [before, during], 2, None, []))  # nothing new: nothing again
    assert [f for f in d.take(1) + d.take(2) if f["type"] == "chat"] == []
