"""One account on several devices over real sockets (issue 24), JSON and IRC mixed: one person to
everyone else, everything on every device, read markers crossing at once and kept."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from tests.clients import Irc, RawClient
from tests.helpers import selchat_cmd
from tests.test_irc_v3 import plain

PASSWORD = "correct horse battery"


def irc_device(server, nick: str, account: str) -> Irc:
    """An IRC client logged in to ``account`` by SASL, with read markers."""
    client = Irc.__new__(Irc)
    client.sock = socket.create_connection(server.address, timeout=10)
    client.buf = b""
    client.nick = nick
    client.send("CAP LS 302", f"NICK {nick}", f"USER {nick} 0 * :{nick}",
                "CAP REQ :sasl message-tags draft/read-marker", "AUTHENTICATE PLAIN")
    client.expect("AUTHENTICATE +")
    client.send(f"AUTHENTICATE {plain(account, PASSWORD)}")
    client.expect(" 903 ")
    client.send("CAP END")
    client.expect(" 001 ")
    return client


def accounts(db: str, *names: str) -> None:
    env = {**os.environ, "SELCHAT_ACCOUNT_PASSWORD": PASSWORD}
    for name in names:
        subprocess.run(selchat_cmd("account", "add", name, "--db", db), env=env, check=True, capture_output=True,
                       timeout=60)


def nothing_more(client: RawClient) -> None:
    """Whatever the server had for ``client`` before a ping's answer is not a leave."""
    client.send(type="ping", id="sync")
    while (frame := client.recv())["type"] != "pong":
        assert frame["type"] not in ("user_left", "user_joined"), frame


def three_lines_for_alice(alice: RawClient, bob: RawClient) -> list[float]:
    """Both logged in and in #dev, bob says three lines (the second names alice): their times."""
    alice.join("alice", version=2, login=PASSWORD)
    alice.join_room("#dev")
    bob.join("bob", version=2, login=PASSWORD)
    bob.join_room("#dev")
    stamps = []
    for text in ("first", "alice, a question", "third"):
        bob.send(type="chat", room="#dev", message=text)
        stamps.append(alice.expect("chat", room="#dev")["timestamp"])
    return stamps


def test_two_devices_json_and_irc_are_one_person(start_server, tmp_path: Path) -> None:
    db = str(tmp_path / "devices.db")
    accounts(db, "alice")
    server = start_server("--db", db, "--rate-limit", "0")
    carol = RawClient(server.address)
    laptop = RawClient(server.address)
    phone = None
    try:
        assert laptop.join("alice", version=2, login=PASSWORD)["account"] == "alice"
        laptop.join_room("#dev")  # alice makes #dev: she runs it
        carol.join("carol", version=2)
        assert carol.join_room("#dev")["users"] == ["alice", "carol"]
        assert laptop.expect("user_joined", room="#dev")["username"] == "carol"
        phone = irc_device(server, "whatever", "alice")  # takes the person's name, whatever it asked
        phone.expect(":alice!alice@selchat JOIN #dev")
        phone.expect(" 366 alice #dev ")
        nothing_more(carol)  # the second device is not a second join

        phone.send("JOIN #ops")
        assert laptop.expect("room_joined", room="#ops")["users"] == ["alice"]
        laptop.send(type="topic", room="#dev", topic="release day")
        phone.expect("TOPIC #dev :release day")
        assert carol.expect("topic")["topic"] == "release day"
        phone.send("AWAY :lunch")
        assert laptop.expect("away")["message"] == "lunch"
        assert carol.expect("away") == {"type": "away", "username": "alice", "message": "lunch"}
        laptop.send(type="nick", username="alys")
        phone.expect(":alice!alice@selchat NICK alys")
        assert carol.expect("nick")["to"] == "alys"

        phone.send("PRIVMSG #dev :from the phone")
        mine = laptop.expect("chat", room="#dev")
        assert (mine["username"], mine["message"], mine.get("own")) == ("alys", "from the phone", True)
        theirs = carol.expect("chat", room="#dev")
        assert (theirs["username"], "own" in theirs) == ("alys", False)
        carol.send(type="users", room="#dev")
        assert carol.expect("users")["users"] == ["alys", "carol"]  # one member

        carol.send(type="dm", to="alys", message="psst")
        assert laptop.expect("dm")["message"] == "psst"
        phone.expect(":carol!carol@selchat PRIVMSG alys :psst")
        laptop.send(type="read", room="#dev", timestamp=mine["timestamp"])
        assert laptop.expect("read")["timestamp"] == mine["timestamp"]
        phone.expect("MARKREAD #dev timestamp=")  # at once, on the other device

        phone.send("PART #ops")
        laptop.expect("room_left", room="#ops")
        laptop.close()
        nothing_more(carol)  # one device gone: nobody hears of it
        phone.send("QUIT :bye")
        assert carol.expect("user_left", room="#dev")["username"] == "alys"  # with the last device
    finally:
        for client in (carol, laptop):
            client.close()
        if phone is not None:
            phone.close()


def test_markers_and_counts_outlast_a_restart_and_reach_a_new_device(start_server, tmp_path: Path) -> None:
    db = str(tmp_path / "marks.db")
    accounts(db, "alice", "bob")
    server = start_server("--db", db, "--rate-limit", "0")
    alice = RawClient(server.address)
    bob = RawClient(server.address)
    try:
        stamps = three_lines_for_alice(alice, bob)
        bob.send(type="dm", to="alice", message="one")
        bob.send(type="dm", to="alice", message="two")
        alice.expect("dm")
        alice.expect("dm")
        alice.send(type="read", room="#dev", timestamp=stamps[0])
        alice.expect("read")
        alice.close()
        bob.close()
        server.stop()

        server = start_server("--db", db, "--rate-limit", "0")
        phone = RawClient(server.address)
        phone.join("alice", version=2, login=PASSWORD)
        joined = phone.join_room("#dev")
        assert joined["read"] == stamps[0]
        counts = phone.expect("unread")
        assert counts["rooms"] == [{"room": "#dev", "unread": 2, "mentions": 1, "latest": stamps[2]}]
        phone.send(type="conversations")
        talks = phone.expect("conversations")["conversations"]
        assert [(t["with"], t["unread"]) for t in talks] == [("bob", 2)]
        phone.send(type="read", **{"with": "bob"}, timestamp=talks[0]["latest"])
        phone.expect("read")
        phone.send(type="conversations")
        assert phone.expect("conversations")["conversations"][0]["unread"] == 0
        phone.close()
    finally:
        alice.close()
        bob.close()
