"""The SQLite store on its own: schema versions, migrations, paging, pruning, odd text."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from selchat.bans import make_ban
from selchat.outbound import DirectMessage, Message
from selchat.records import (
    DeleteBan,
    DmsDelivered,
    SaveAccount,
    SaveBan,
    SaveDm,
    SaveReadMark,
    SaveRoom,
    SaveRoomRules,
    SaveTopic,
)
from selchat.store import SCHEMA_VERSION, Store, StoreError, connect, migrate
from tests.helpers import DEADLINE, selchat_cmd

# What each schema version could hold, so that a migration test can fill a file of that version
# the way a selchat of that version would have. A new migration adds its line here.
FILL: dict[int, list[str]] = {
    1: [
        "INSERT INTO rooms (key, name, topic, topic_by, topic_at) VALUES ('#dev', '#Dev', 'plans', 'bob', 5.0)",
        "INSERT INTO messages (room, ts, username, message, action) VALUES ('#dev', 7000000, 'bob', 'kept', 0)",
    ],
    2: [
        "INSERT INTO accounts (key, name, hash, created) VALUES ('bob', 'bob', '$argon2id$x', 1.0)",
        "INSERT INTO dms (ts, sender, recipient, sender_name, recipient_name, message, delivered)"
        " VALUES (8000000, 'bob', 'alice', 'bob', 'alice', 'later', 0)",
    ],
    3: [
        "INSERT INTO bans (target, shown, until, reason, created)"
        " VALUES ('10.0.0.0/8', '10.0.0.0/8', NULL, 'spam', 2.0)",
    ],
    4: [  # an index: the conversation's pages
        "INSERT INTO dms (ts, sender, recipient, sender_name, recipient_name, message, delivered)"
        " VALUES (7500000, 'alice', 'bob', 'alice', 'bob', 'earlier', 1)",
    ],
    5: [  # a room's rules: a registered room without history outlasts a restart
        "INSERT INTO rooms (key, name) VALUES ('#club', '#Club')",
        """INSERT INTO room_rules (key, name, rules) VALUES ('#club', '#Club',
        '{"m":true,"t":true,"k":null,"l":0,"masks":{"b":[["spam!*@*","bob",3.0]]},"founder":"bob","roles":{}}')""",
    ],
    6: [  # the operator's requests: one a server has applied
        "INSERT INTO operator_requests (action, subject, detail, made, applied)"
        " VALUES ('delete_room', '#old', '', 1.0, 2.0)",
    ],
    7: [  # an incoming webhook, by its secret's digest
        "INSERT INTO hooks (key, name, room, secret, username_allowed, created)"
        " VALUES ('ci-bot', 'ci-bot', '#ci', 'ab12', 0, 3.0)",
    ],
    8: [  # a bot account with a token
        "INSERT INTO accounts (key, name, hash, created, bot, token) VALUES ('deploy', 'deploy', '!', 4.0, 1, 'cd34')",
    ],
    9: [  # the search index: a message written with it kept
        "INSERT INTO messages (room, ts, username, message, action) VALUES ('#dev', 7100000, 'bob', 'indexed', 0)",
        "INSERT INTO search (rowid, message) VALUES (7100000, 'indexed')",
    ],
    10: [  # a reply
        "INSERT INTO messages (room, ts, username, message, action, reply_to)"
        " VALUES ('#club', 7200000, 'bob', 'agreed', 0, 7000000)",
    ],
    11: [  # a reaction to #dev's first line
        "INSERT INTO reactions (room, ts, reaction, username) VALUES ('#dev', 7000000, 'x', 'bob')",
    ],
    12: [  # an edited line
        "INSERT INTO messages (room, ts, username, message, action, edited)"
        " VALUES ('#club', 7300000, 'bob', 'fixed typo', 8, 7400000)",
    ],
    13: [  # bob has read #dev up to its first line
        "INSERT INTO read_markers (account, target, ts) VALUES ('bob', '#dev', 7000000)",
    ],
}


def test_every_migration_has_fill_data() -> None:
    assert sorted(FILL) == list(range(1, SCHEMA_VERSION + 1))


@pytest.mark.parametrize("start", range(SCHEMA_VERSION + 1))
def test_migrates_from_every_earlier_version(tmp_path: Path, start: int) -> None:
    path = str(tmp_path / "old.db")
    db = connect(path)
    migrate(db, path, upto=start)
    for version in range(1, start + 1):
        for statement in FILL[version]:
            db.execute(statement)
    db.close()

    store = Store(path)
    try:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        snap = store.snapshot()
        if start >= 1:
            rooms = {r.key: r for r in snap.rooms}
            assert (rooms["#dev"].name, rooms["#dev"].topic, rooms["#dev"].total) == ("#Dev", "plans",
                                                                                     2 if start >= 9 else 1)
            assert rooms["#dev"].recent[0].text == "kept"
            assert sorted(rooms) == (["#club", "#dev"] if start >= 5 else ["#dev"])
        if start >= 5:
            assert '"founder":"bob"' in (snap.rooms[0].rules or "")
        if start >= 2:
            assert snap.accounts == ({"bob": "bob", "deploy": "deploy"} if start >= 8 else {"bob": "bob"})
            assert [dm.text for dm in store.offline_dms("alice")] == ["later"]
            assert snap.last_timestamp == 8.0
        if start >= 7:
            assert snap.hook_names == ["ci-bot"]
        assert snap.read_marks == ({"bob": {"#dev": 7000000}} if start >= 13 else {})
        if start >= 8:
            assert store.login_of("deploy") == ("deploy", "!", "cd34", True)
            assert store.login_of("bob") == ("bob", "$argon2id$x", None, False)
        if 1 <= start < 9:  # what was kept before the index is found: the migration built it
            found = store.db.execute("SELECT rowid FROM search WHERE search MATCH 'kept'").fetchall()
            assert found == [(7000000,)]
        if start >= 9:
            assert store.db.execute("SELECT rowid FROM search WHERE search MATCH 'indexed'").fetchall() == [(7100000,)]
        if start >= 3:
            assert [(b.target, b.until, b.reason) for b in snap.bans] == [("10.0.0.0/8", None, "spam")]
        if start >= 2:  # a conversation's pages, through the index of version 4 on a migrated file
            kept = ["earlier", "later"] if start >= 4 else ["later"]
            assert [dm.text for dm in store.dm_history("bob", "alice", None, 10)[0]] == kept
        # and the migrated file takes every kind of write
        store.write(SaveRoom("#new", "#New"))
        store.write(("#new", 9_000_000, "carol", "hello", 0))
        store.write(SaveAccount("carol", "carol", "$argon2id$y", 9.0))
        store.write(SaveBan(make_ban("mallory", 9.0, "1h")))
        store.write(SaveBan(make_ban("192.168.0.0/16", 9.0)))
        store.write(DeleteBan("192.168.0.0/16"))
        store.write(SaveRoomRules("#new", "#New", '{"founder":"carol"}'))
        store.write(SaveReadMark("carol", "#new", 9_000_000))
        store.commit()
        assert store.snapshot().read_marks["carol"] == {"#new": 9_000_000}
        assert [b.shown for b in store.snapshot().bans if b.created == 9.0] == ["mallory"]
        assert store.history("#new", "#New", None, 10)[0][0].text == "hello"
    finally:
        store.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "future.db")
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer than this selchat knows"):
        Store(path)


def test_missing_folder_and_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store(str(tmp_path / "nowhere" / "x.db"))
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot use"):
        Store(str(junk))


def fill(store: Store, count: int, room: str = "#dev", start: float = 1000.0) -> list[Message]:
    messages = [Message(room, "bob", f"m{i}", start + i / 1_000_000) for i in range(count)]
    store.write(SaveRoom(room.lower(), room))
    for m in messages:
        store.write((room.lower(), round(m.timestamp * 1_000_000), m.username, m.text, 0))
    store.commit()
    return messages


def test_paging_never_skips_or_repeats() -> None:
    store = Store(":memory:")
    sent = fill(store, 437)  # one burst: a microsecond apart
    page, more = store.history("#dev", "#dev", None, 100)
    got = list(page)
    while more:
        page, more = store.history("#dev", "#dev", got[0].timestamp, 100)
        got[:0] = page
    assert [m.text for m in got] == [m.text for m in sent]
    assert all(m.history for m in got)
    assert store.history("#dev", "#dev", sent[0].timestamp, 100) == ([], False)
    store.close()


def test_history_is_pruned_to_the_newest(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "p.db"), history_max=100)
    fill(store, 150)
    fill(store, 150, start=2000.0)
    rows = store.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    assert 100 <= rows <= 105
    newest, _ = store.history("#dev", "#dev", None, 100)
    assert newest[-1].text == "m149" and newest[-1].timestamp == pytest.approx(2000.000149)
    store.close()


def test_lone_surrogates_do_not_lose_the_batch() -> None:
    store = Store(":memory:")
    store.write(SaveRoom("#dev", "#dev"))
    store.write(("#dev", 1_000_000, "bob", "before", 0))
    store.write(("#dev", 2_000_000, "bob", "bad \ud800 text", 0))
    store.write(("#dev", 3_000_000, "bob", "after", 1))
    store.write(SaveTopic("#dev", "odd \udfff topic", "bob", 3.0))
    store.commit()
    page, _ = store.history("#dev", "#dev", None, 10)
    assert [m.text for m in page] == ["before", "bad \ufffd text", "after"]
    store.close()


def test_dms_kept_and_marked_delivered() -> None:
    store = Store(":memory:")
    for i, delivered in enumerate((True, False, False)):
        store.write(SaveDm("bob", "alice", DirectMessage("bob", "alice", f"dm{i}", 10.0 + i), delivered))
    store.commit()
    assert [dm.text for dm in store.offline_dms("alice")] == ["dm1", "dm2"]
    store.write(DmsDelivered("alice", 11.0))
    store.commit()
    assert [dm.text for dm in store.offline_dms("alice")] == ["dm2"]
    assert store.account("alice") is None
    store.close()


def test_file_survives_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "r.db")
    store = Store(path)
    fill(store, 3)
    store.write(SaveTopic("#dev", "kept", "bob", 1.0))
    store.write(SaveAccount("bob", "Bob", "$argon2id$h", 1.0))
    store.close()
    assert not Path(path + "-wal").exists() or Path(path + "-wal").stat().st_size == 0
    again = Store(path)
    snap = again.snapshot()
    assert snap.rooms[0].topic == "kept" and len(snap.rooms[0].recent) == 3
    assert again.account("bob") == ("Bob", "$argon2id$h")
    again.close()


def test_corrupt_pages_are_one_line_and_exit_2(tmp_path: Path) -> None:
    """Before: a file with a good header and damaged pages ended the start in a traceback."""
    path = tmp_path / "damaged.db"
    store = Store(str(path))
    fill(store, 3000)
    store.close()
    size = path.stat().st_size
    with path.open("r+b") as f:  # page 1 (the schema) stays whole; the tables' pages do not
        f.seek(4096 * 2)
        f.write(b"\xde\xad" * ((size - 4096 * 2) // 2))
    result = subprocess.run(selchat_cmd("serve", "--db", str(path), "--port", "0"),
                            capture_output=True, text=True, timeout=DEADLINE)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"cannot read {path}" in result.stderr and "malformed" in result.stderr


def test_a_write_ahead_log_left_behind_is_said(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A server that was killed leaves its -wal file; the next start replays it and says so."""
    path, copy = tmp_path / "live.db", tmp_path / "copy.db"
    store = Store(str(path))
    fill(store, 10)  # committed into the -wal file (the worker checkpoints, not SQLite)
    for suffix in ("", "-wal"):  # what a kill -9 leaves on the disk
        Path(str(copy) + suffix).write_bytes(Path(str(path) + suffix).read_bytes())
    store.close()
    with caplog.at_level("WARNING", logger="selchat.store"):
        again = Store(str(copy))
    assert "was not closed cleanly" in caplog.text
    assert len(again.history("#dev", "#dev", None, 100)[0]) == 10
    again.close()
