"""The operator's changes from the command line (issue 27): `selchat account delete | rename` and
`selchat room list | delete`, in the file, in the hub, and followed by a running server."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

from selchat import upkeep
from selchat.events import Chat, Join, JoinRoom
from selchat.records import LoginChecked, Snapshot
from selchat.store import Store
from tests.clients import RawClient
from tests.helpers import DEADLINE, selchat_cmd
from tests.hubdriver import Driver

PASSWORD = "a long enough secret"


def _logged_in(d: Driver, cid: int, name: str) -> None:
    d.connect(cid)
    d.do(cid, Join(name, login=PASSWORD, replay=True))
    d.complete(cid, LoginChecked(name.casefold(), True, name))
    assert any(f["type"] == "welcome" for f in d.take(cid))


def test_the_hub_lets_go_of_a_deleted_account() -> None:
    d = Driver(Snapshot(accounts={"bob": "bob"}))
    _logged_in(d, 1, "bob")
    d.join(2, "alice", version=2)
    d.take(2)
    d.apply(d.hub.upkeep.account_deleted("bob", d.now))
    told = d.take(1)[-1]
    assert told["code"] == "kicked" and told["message"] == "the account bob was deleted by the server's operator"
    assert d.closed[1] == "kicked"
    assert [f["type"] for f in d.take(2)] == ["user_left"]
    assert not d.hub.is_account("bob")
    d.join(3, "bob", version=2)  # the name is anyone's now


def test_the_hub_renames_an_account_and_its_owner() -> None:
    d = Driver(Snapshot(accounts={"bob": "bob"}))
    _logged_in(d, 1, "bob")
    d.join(2, "alice", version=2)
    d.take(2)
    d.apply(d.hub.upkeep.account_renamed("bob", "Bobby", d.now))
    assert d.take(1)[-1] == {"type": "nick", "from": "bob", "to": "Bobby", "timestamp": d.now}
    assert d.take(2)[-1]["to"] == "Bobby"
    assert d.hub.is_account("bobby") and not d.hub.is_account("bob")
    assert d.hub.state.account_sessions == {"bobby": 1}


def test_the_hub_empties_a_deleted_room() -> None:
    d = Driver()
    d.join(1, "alice", version=2)
    d.do(1, JoinRoom("#dev"))
    d.do(1, Chat("kept?", room="#dev"))
    d.take(1)
    d.apply(d.hub.upkeep.room_deleted("#dev", d.now))
    assert d.take(1) == [{"type": "room_left", "room": "#dev",
                          "reason": "the room was deleted by the server's operator"}]
    assert "#dev" not in d.hub.state.rooms and "#dev" not in d.hub.state.sessions[1].rooms
    d.do(1, JoinRoom("#dev"))  # made anew, with nothing in it
    joined = d.take(1)
    assert joined[0]["type"] == "room_joined" and not any(f.get("history") for f in joined)


def test_the_file_changes_can_run_twice(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "chat.db"))
    db = store.db
    try:
        _run_twice(db)
    finally:
        store.close()


def _run_twice(db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO accounts (key, name, hash, created) VALUES ('bob', 'bob', 'h', 1.0)")
    db.execute("INSERT INTO dms (ts, sender, recipient, sender_name, recipient_name, message, delivered)"
               " VALUES (1, 'alice', 'bob', 'alice', 'bob', 'hi', 0)")
    db.execute("INSERT INTO search (rowid, message, username, room) VALUES (1, 'hi', 'alice', '')")  # as kept
    db.execute("""INSERT INTO room_rules (key, name, rules)
                  VALUES ('#club', '#club', '{"founder":"bob","roles":{"bob":"o"}}')""")
    first = upkeep.request(db, "rename_account", "bob", "Bobby")
    assert not upkeep.applied(db, first)
    upkeep.redo(db, upkeep.since(db, 0)[0])  # as a running server does, after its own writes
    assert upkeep.applied(db, first)
    assert db.execute("SELECT key, name FROM accounts").fetchall() == [("bobby", "Bobby")]
    assert db.execute("SELECT recipient, recipient_name FROM dms").fetchall() == [("bobby", "Bobby")]
    assert db.execute("SELECT rules FROM room_rules").fetchone()[0] == '{"founder":"bobby","roles":{"bobby":"o"}}'
    upkeep.request(db, "delete_account", "bobby")
    assert db.execute("SELECT count(*) FROM accounts").fetchone()[0] == 0
    assert db.execute("SELECT rules FROM room_rules").fetchone()[0] == '{"founder":null,"roles":{}}'
    assert upkeep.newest(db) == 2 and upkeep.since(db, 2) == []


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(selchat_cmd(*args), capture_output=True, text=True, timeout=DEADLINE * 3,
                          stdin=subprocess.DEVNULL, env={**os.environ, **env})


def test_a_running_server_follows_the_commands(start_server, tmp_path: Path) -> None:
    db = str(tmp_path / "team.db")
    made = _run("account", "add", "bob", "--db", db, SELCHAT_ACCOUNT_PASSWORD=PASSWORD)
    assert made.returncode == 0, made.stderr
    server = start_server("--db", db)
    bob = RawClient(server.address)
    bob.join("bob", version=2, login=PASSWORD)
    bob.expect("history_end")
    alice = RawClient(server.address)
    alice.join("alice", version=2)
    alice.join_room("#dev")
    alice.send(type="chat", room="#dev", message="soon gone")
    bob.join_room("#dev")
    alice.send(type="ping", id="said")
    alice.expect("pong")

    renamed = _run("account", "rename", "bob", "bobby", "--db", db)
    assert renamed.returncode == 0, renamed.stderr
    assert renamed.stdout.strip() == f"account bob renamed bobby in {db} (the running server has followed)"
    assert bob.expect("nick")["to"] == "bobby"
    assert alice.expect("nick")["to"] == "bobby"
    taken = _run("account", "rename", "bobby", "alice2", "--db", db)
    assert taken.returncode == 0

    listed = _run("room", "list", "--db", db)
    assert listed.returncode == 0 and listed.stderr.strip() == f"1 room in {db}"
    assert [line.split("\t")[:2] for line in listed.stdout.splitlines()] == [["#dev", "1 message"]]
    deleted = _run("room", "delete", "#DEV", "--db", db)
    assert deleted.stdout.strip() == f"room #dev deleted from {db} with its history (the running server has followed)"
    assert alice.expect("room_left")["reason"] == "the room was deleted by the server's operator"
    assert bob.expect("room_left")["room"] == "#dev"
    lobby = _run("room", "delete", "#lobby", "--db", db)
    assert lobby.returncode == 2
    assert lobby.stderr.strip() == "selchat: #lobby is where everyone starts: it cannot be deleted"
    gone = _run("room", "delete", "#dev", "--db", db)
    assert gone.returncode == 1 and gone.stderr.strip() == f"selchat: #dev is not a room in {db}"

    dropped = _run("account", "delete", "alice2", "--db", db)
    assert dropped.stdout.strip() == f"account alice2 deleted from {db} (the running server has followed)"
    assert bob.error("kicked")["message"] == "the account alice2 was deleted by the server's operator"
    assert alice.expect("user_left")["username"] == "alice2"
    nobody = _run("account", "delete", "carol", "--db", db)
    assert nobody.returncode == 1 and nobody.stderr.strip() == f"selchat: carol is not an account in {db}"
    bob.close()
    alice.close()
    server.stop()
    # and after a restart: no account, no room, no history of it
    file = sqlite3.connect(db)
    assert file.execute("SELECT count(*) FROM accounts").fetchone()[0] == 0
    assert file.execute("SELECT count(*) FROM messages WHERE room = '#dev'").fetchone()[0] == 0
    file.close()
    stopped = _run("account", "delete", "nobody-here", "--db", db)
    assert stopped.returncode == 1
