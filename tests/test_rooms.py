"""Ring 3 for protocol v2: rooms, history and topics through a real server over sockets."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.clients import RawClient
from tests.helpers import ServerProcess, wait_for

Start = Callable[..., ServerProcess]


def v2(server: ServerProcess, name: str, clients: list[RawClient] | None = None, **extra: object) -> RawClient:
    client = RawClient(server.address)
    if clients is not None:
        clients.append(client)
    client.join(name, version=2, **extra)
    client.expect("history_end", room="#lobby")
    return client


@pytest.fixture
def clients() -> list[RawClient]:
    opened: list[RawClient] = []
    yield opened
    for client in opened:
        client.close()


def test_rooms_end_to_end(server: ServerProcess, clients: list[RawClient]) -> None:
    alice = v2(server, "alice", clients)
    bob = v2(server, "bob", clients)
    alice.expect("user_joined", username="bob")
    alice.send(type="join_room", room="#Dev")
    assert alice.expect("room_joined") == {"type": "room_joined", "room": "#Dev", "topic": "", "users": ["alice"],
                                           "roles": {"alice": "operator"}}
    assert alice.recv() == {"type": "history_end", "room": "#Dev", "more": False}
    alice.send(type="chat", room="#dev", message="first")
    alice.send(type="chat", room="#dev", message="waves", action=True)
    alice.send(type="ping", id="sync")
    alice.expect("pong")  # both handled before bob arrives
    bob.send(type="join_room", room="#DEV")
    joined = bob.expect("room_joined")
    assert joined["users"] == ["alice", "bob"]
    replay = [bob.recv(), bob.recv()]
    assert [(f["message"], f["history"], f.get("action")) for f in replay] == [
        ("first", True, None), ("waves", True, True)]
    assert bob.recv()["type"] == "history_end"
    assert alice.expect("user_joined", room="#Dev")["username"] == "bob"
    bob.send(type="chat", room="#dev", message="hi alice")
    got = alice.expect("chat", room="#Dev")
    assert got["message"] == "hi alice" and "history" not in got

    bob.send(type="topic", room="#dev", topic="bob's own")  # alice made #Dev: its topic is hers (+t)
    assert bob.error("not_operator")
    alice.send(type="role", room="#dev", username="bob", role="operator")
    assert bob.expect("role")["given"] is True
    bob.send(type="topic", room="#dev", topic="ship it")
    for who in (alice, bob):
        assert who.expect("topic") == {"type": "topic", "room": "#Dev", "topic": "ship it", "by": "bob",
                                       "timestamp": pytest.approx(time.time(), abs=30)}
    bob.send(type="rooms")
    assert bob.expect("rooms")["rooms"] == [
        {"room": "#Dev", "users": 2, "topic": "ship it"}, {"room": "#lobby", "users": 2, "topic": ""}]
    alice.send(type="away", message="coffee")
    assert bob.expect("away") == {"type": "away", "username": "alice", "message": "coffee"}
    bob.send(type="users", room="#dev")
    assert bob.expect("users") == {"type": "users", "room": "#Dev", "users": ["alice", "bob"],
                                   "away": {"alice": "coffee"}, "roles": {"alice": "operator", "bob": "operator"}}
    alice.send(type="nick", username="ally")
    assert bob.expect("nick")["to"] == "ally" and alice.expect("nick")["from"] == "alice"
    bob.send(type="leave_room", room="#dev")
    assert bob.expect("room_left") == {"type": "room_left", "room": "#Dev"}
    left = alice.expect("user_left", room="#Dev")
    assert left["username"] == "bob" and left["message"] == "bob left #Dev"
    bob.send(type="chat", room="#dev", message="gone")
    assert bob.error("not_in_room")["message"] == "you are not in #dev; join it first"


def test_v2_errors(start_server: Start, clients: list[RawClient]) -> None:
    server = start_server("--max-rooms", "2")
    alice = v2(server, "alice", clients)
    cases = [
        ({"type": "join_room", "room": "dev"}, "bad_room_name"),
        ({"type": "join_room", "room": "#" + "x" * 33}, "bad_room_name"),
        ({"type": "join_room"}, "bad_frame"),
        ({"type": "chat", "room": "#nope", "message": "x"}, "not_in_room"),
        ({"type": "chat", "message": "x", "action": "yes"}, "bad_frame"),
        ({"type": "history", "room": "#lobby", "limit": 0}, "bad_frame"),
        ({"type": "history", "room": "#lobby", "before": "yesterday"}, "bad_frame"),
        ({"type": "users", "room": "#ghost"}, "no_such_room"),
        ({"type": "topic", "room": "#lobby", "topic": "t" * 301}, "topic_too_long"),
        ({"type": "nick", "username": "has space"}, "invalid_username"),
        ({"type": "register", "password": "short"}, "weak_password"),
        ({"type": "join", "username": "x", "version": "2"}, "bad_frame"),
    ]
    for frame, code in cases:
        alice.send(**frame)
        assert alice.error(code), frame
    alice.send(type="join_room", room="#two")
    alice.expect("history_end")
    alice.send(type="join_room", room="#three")
    assert "leave one first" in alice.error("too_many_rooms")["message"]
    alice.send(type="ping", id=1)
    assert alice.expect("pong")["id"] == 1  # still usable after all of that


def test_v1_and_v2_share_the_lobby(server: ServerProcess, clients: list[RawClient]) -> None:
    old = RawClient(server.address)
    clients.append(old)
    old.join("old")
    new = v2(server, "new", clients)
    assert old.expect("user_joined") == {"type": "user_joined", "username": "new", "room": "lobby",
                                         "message": "new joined the chat",
                                         "timestamp": pytest.approx(time.time(), abs=30)}
    # one read holding chats from both: the turn's batch is encoded once per codec
    new.send_raw(b"".join(json.dumps({"type": "chat", "message": f"n{i}"}).encode() + b"\n" for i in range(5)))
    old.send_raw(b"".join(json.dumps({"type": "chat", "message": f"o{i}"}).encode() + b"\n" for i in range(5)))
    got_old = [old.expect("chat") for _ in range(5)]
    got_new = [new.expect("chat") for _ in range(5)]
    assert [f["message"] for f in got_old] == [f"n{i}" for i in range(5)]
    assert all(f["room"] == "lobby" for f in got_old)
    assert [f["message"] for f in got_new] == [f"o{i}" for i in range(5)]
    assert all(f["room"] == "#lobby" for f in got_new)
    new.send(type="topic", room="#lobby", topic="v1 never sees this")
    new.expect("topic")
    new.send(type="nick", username="newer")
    assert [old.recv()["type"], old.recv()["type"]] == ["user_left", "user_joined"]
    old.send(type="users")
    assert old.expect("users") == {"type": "users", "room": "lobby", "users": ["newer", "old"]}
    old.send(type="join_room", room="#dev")
    assert "protocol v2" in old.error("unknown_type")["message"]


def test_history_paging_over_the_wire(start_server: Start, clients: list[RawClient]) -> None:
    server = start_server("--rate-limit", "0", "--replay", "10")
    alice = v2(server, "alice", clients)
    bob = v2(server, "bob", clients)
    burst = b"".join(json.dumps({"type": "chat", "message": f"m{i}"}).encode() + b"\n" for i in range(120))
    alice.send_raw(burst)
    for _ in range(120):
        bob.expect("chat")
    carol = RawClient(server.address)
    clients.append(carol)
    carol.join("carol", version=2)
    replay = []
    while (frame := carol.recv())["type"] != "history_end":
        replay.append(frame)
    assert [f["message"] for f in replay] == [f"m{i}" for i in range(110, 120)]  # --replay 10
    assert frame["more"] is True
    got = replay
    while True:
        carol.send(type="history", room="#lobby", before=got[0]["timestamp"], limit=25)
        page = []
        while (frame := carol.recv())["type"] != "history_end":
            page.append(frame)
        got = page + got
        if not frame["more"]:
            break
    assert [f["message"] for f in got] == [f"m{i}" for i in range(120)]
    stamps = [f["timestamp"] for f in got]
    assert stamps == sorted(stamps) and len(set(stamps)) == 120


def test_history_survives_a_restart(start_server: Start, tmp_path: Path, clients: list[RawClient]) -> None:
    db = str(tmp_path / "chat.db")
    server = start_server("--db", db)
    alice = v2(server, "alice", clients)
    alice.send(type="join_room", room="#ops")
    alice.expect("history_end")
    alice.send(type="topic", room="#ops", topic="on call: alice")
    alice.expect("topic")
    for i in range(3):
        alice.send(type="chat", room="#ops", message=f"before restart {i}")
    alice.send(type="ping", id="sync")
    alice.expect("pong")
    assert server.stop() == 0  # SIGTERM: loses nothing

    again = start_server("--db", db)
    bob = v2(again, "bob", clients)
    bob.send(type="rooms")
    assert {"room": "#ops", "users": 0, "topic": "on call: alice"} in bob.expect("rooms")["rooms"]
    bob.send(type="join_room", room="#ops")
    assert bob.expect("room_joined")["topic"] == "on call: alice"
    assert [bob.recv()["message"] for _ in range(3)] == [f"before restart {i}" for i in range(3)]
    assert bob.recv()["type"] == "history_end"


def test_sigkill_during_a_burst_loses_at_most_100ms(start_server: Start, tmp_path: Path,
                                                     clients: list[RawClient]) -> None:
    """Every message a watcher received more than 100 ms before the kill is in the history."""
    db = str(tmp_path / "kill.db")
    server = start_server("--db", db, "--rate-limit", "0", "--replay", "0", "--history-max", "1000000")
    sender = v2(server, "sender", clients)
    watcher = v2(server, "watcher", clients)
    seen: list[tuple[float, str]] = []
    stop = threading.Event()

    def watch() -> None:
        watcher.sock.settimeout(0.2)
        buf = b""
        while not stop.is_set():
            try:
                chunk = watcher.sock.recv(65536)
            except (TimeoutError, OSError):
                continue
            if not chunk:
                return
            now = time.monotonic()
            buf += chunk
            *lines, buf = buf.split(b"\n")
            seen.extend((now, json.loads(line)["message"]) for line in lines if b'"chat"' in line)

    reader = threading.Thread(target=watch)
    reader.start()
    try:
        end = time.monotonic() + 1.5
        i = 0
        while time.monotonic() < end:
            sender.send_raw(b"".join(json.dumps({"type": "chat", "message": f"k{i + j}"}).encode() + b"\n"
                                     for j in range(20)))
            i += 20
            time.sleep(0.002)
        wait_for(lambda: len(seen) > 200, what="messages reaching the watcher")
        killed_at = time.monotonic()
        server.stop(signal.SIGKILL)
    finally:
        stop.set()
        reader.join()
    safe = {text for at, text in seen if at < killed_at - 0.1}
    assert len(safe) > 100
    print(f"{len(seen)} delivered before the kill, {len(safe)} of them more than 100 ms before")

    again = start_server("--db", db, "--rate-limit", "0", "--history-max", "1000000")
    reader2 = v2(again, "reader", clients)
    stored: set[str] = set()
    before = None
    while True:
        frame: dict = {"type": "history", "room": "#lobby", "limit": 200}
        if before is not None:
            frame["before"] = before
        reader2.send(**frame)
        page = []
        while (got := reader2.recv())["type"] != "history_end":
            page.append(got)
        stored.update(f["message"] for f in page)
        if not got["more"]:
            break
        before = page[0]["timestamp"]
    missing = safe - stored
    print(f"{len(stored)} stored; lost of all delivered: {len({t for _, t in seen} - stored)}")
    assert not missing, f"{len(missing)} messages delivered >100 ms before SIGKILL were lost"


def test_history_max_prunes(start_server: Start, clients: list[RawClient]) -> None:
    server = start_server("--rate-limit", "0", "--history-max", "40", "--replay", "200")
    alice = v2(server, "alice", clients)
    alice.send_raw(b"".join(json.dumps({"type": "chat", "message": f"m{i}"}).encode() + b"\n" for i in range(100)))
    alice.send(type="history", room="#lobby", limit=200)
    page = []
    while (frame := alice.recv())["type"] != "history_end":
        page.append(frame)
    assert 40 <= len(page) <= 42 and page[-1]["message"] == "m99"
