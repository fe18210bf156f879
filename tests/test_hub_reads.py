"""Read markers and unread counts (hub/reads.py, readmarks.py), in the pure hub and over SQLite."""

from __future__ import annotations

import sqlite3

from selchat import readmarks
from selchat.config import ServerConfig
from selchat.events import Chat, JoinRoom, MarkRead, UnreadAsk
from selchat.hub.effects import Store
from selchat.hub.reads import MARKS_MAX, merge_marks
from selchat.hub.state import State
from selchat.records import CountUnread, SaveReadMark, UnreadCounted
from selchat.schema import migrate
from tests.hubdriver import Driver
from tests.test_hub_devices import device
from tests.test_hub_rooms import register


def test_a_marker_moves_forward_and_reaches_every_device() -> None:
    d = Driver()
    register(d, 1, "alice")
    d.do(1, JoinRoom("#dev"))
    device(d, 2)
    d.take(1)
    d.do(1, MarkRead("#dev", 2000.5))
    assert d.take(1) == d.take(2) == [{"type": "read", "room": "#dev", "timestamp": 2000.5}]
    assert SaveReadMark("alice", "#dev", 2_000_500_000) in d.stored
    d.do(2, MarkRead("#dev", 1999.0))  # older: the one kept is said back, to the asker alone
    assert d.take(2) == [{"type": "read", "room": "#dev", "timestamp": 2000.5}] and d.take(1) == []
    d.do(1, MarkRead("#dev"))
    assert d.take(1)[0]["timestamp"] == 2000.5
    d.do(1, MarkRead("#nowhere"))
    assert d.take(1) == [{"type": "read", "room": "#nowhere", "timestamp": None}]


def test_a_join_brings_the_marker_and_asks_for_the_count() -> None:
    d = Driver()
    register(d, 1, "alice")
    d.do(1, JoinRoom("#dev"))
    d.do(1, MarkRead("#dev", 2000.5))
    d.take(1)
    device(d, 2)
    d.asked.clear()
    d.connect(3)
    frames = device(d, 3)
    joined = next(f for f in frames if f["type"] == "room_joined" and f["room"] == "#dev")
    assert joined["read"] == 2000.5
    ask = next(a for a in d.asked if isinstance(a, CountUnread))
    assert ask.rooms == (("#dev", "#dev", 2_000_500_000),) and ask.name == "alice"
    d.complete(3, UnreadCounted((readmarks.Unread("#dev", None, 4, 1),)))
    assert d.take(3) == [{"type": "unread", "rooms": [{"room": "#dev", "unread": 4, "mentions": 1}],
                          "conversations": []}]


def test_guests_have_markers_while_they_are_here() -> None:
    d = Driver()
    d.join(1, "guest", version=2)
    d.do(1, JoinRoom("#dev"))
    d.take(1)
    d.do(1, MarkRead("#dev", 2000.0))
    assert d.take(1)[0]["timestamp"] == 2000.0 and not any(isinstance(w, SaveReadMark) for w in d.stored)
    d.do(1, UnreadAsk(conversations=True))
    assert d.asked[-1].conversations and d.asked[-1].me.startswith("~")


def test_counts_over_sqlite() -> None:
    db = sqlite3.connect(":memory:", isolation_level=None)
    migrate(db, ":memory:")
    rows = [("#dev", 10, "bob", "hi alice", 0), ("#dev", 20, "alice", "hello", 0), ("#dev", 30, "bob", "gone", 4),
            ("#dev", 40, "carol", "alice-ish and Alice!", 0), ("#dev", 50, "bob", "malice", 0)]
    db.executemany("INSERT INTO messages (room, ts, username, message, action) VALUES (?, ?, ?, ?, ?)", rows)
    (count,) = readmarks.room_counts(db, (("#dev", "#dev", 5),), "alice")
    assert (count.unread, count.mentions, count.more) == (3, 2, False)  # not her own, not the deleted one
    (count,) = readmarks.room_counts(db, (("#dev", "#dev", 40),), "alice")
    assert (count.unread, count.mentions, count.latest) == (1, 0, 50 / 1_000_000)
    db.executemany("INSERT INTO dms (sender, recipient, sender_name, recipient_name, message, ts, delivered)"
                   " VALUES (?, ?, ?, ?, ?, ?, 1)", [("bob", "alice", "bob", "alice", "one", 100),
                                                     ("alice", "bob", "alice", "bob", "two", 200),
                                                     ("bob", "alice", "bob", "alice", "three", 300),
                                                     ("carol", "alice", "Carol", "alice", "hey", 150)])
    listed = readmarks.conversations(db, "alice", {"bob": 100})
    assert [(u.peer, u.unread, u.latest) for u in listed] == [("bob", 1, 300 / 1e6), ("Carol", 1, 150 / 1e6)]
    db.execute(readmarks.SAVE, ("alice", "#dev", 40))
    db.execute(readmarks.SAVE, ("alice", "#dev", 30))  # never backwards
    assert readmarks.load(db) == {"alice": {"#dev": 40}}


def test_chat_lines_count_after_the_marker_in_a_real_store(tmp_path) -> None:
    from selchat.store import Store

    store = Store(str(tmp_path / "x.db"))
    d = Driver()
    register(d, 1, "alice")
    d.do(1, JoinRoom("#dev"))
    d.join(2, "bob", version=2)
    d.do(2, JoinRoom("#dev"))
    d.do(2, Chat("alice, look", room="#dev"))
    for write in d.stored:
        store.write(write)
    store.commit()
    (count,) = readmarks.room_counts(store.db, (("#dev", "#dev", 0),), "alice")
    assert (count.unread, count.mentions) == (1, 1)
    store.close()


def test_markers_found_in_redis_only_move_markers_forward_and_are_kept() -> None:
    state = State(ServerConfig(), None, True)
    state.read_marks["alice"] = {"#dev": 5_000, "#ops": 9_000}
    effects = merge_marks(state, "alice", (("#dev", 7_000), ("#ops", 8_000), ("bob", 1_000)))
    assert state.read_marks["alice"] == {"#dev": 7_000, "#ops": 9_000, "bob": 1_000}
    assert effects == [Store(SaveReadMark("alice", "#dev", 7_000)), Store(SaveReadMark("alice", "bob", 1_000))]
    state.read_marks["carol"] = {f"#r{n}": 1 for n in range(MARKS_MAX)}
    assert merge_marks(state, "carol", (("#new", 5), ("#r1", 2))) == [Store(SaveReadMark("carol", "#r1", 2))]
    assert "#new" not in state.read_marks["carol"]  # no more than an account may keep
