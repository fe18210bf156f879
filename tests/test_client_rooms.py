"""`selchat join` with rooms, history and accounts, in a real terminal against a real server."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.clients import RawClient, finished, port_args
from tests.helpers import ServerProcess, selchat_cmd

Start = Callable[..., ServerProcess]
ALT = "\x1b"
PAGE_UP = "\x1b[5~"


@pytest.fixture
def connect() -> Iterator[Callable[..., RawClient]]:
    opened: list[RawClient] = []

    def open_client(server: ServerProcess, name: str) -> RawClient:
        client = RawClient(server.address)
        opened.append(client)
        client.join(name, version=2)
        client.expect("history_end")
        return client

    yield open_client
    for client in opened:
        client.close()


def child_for(spawn, server: ServerProcess, name: str, *extra: str, env: dict[str, str] | None = None):
    child = spawn(*port_args(server), "--name", name, "--no-color", *extra, env=env)
    child.expect("type /help for commands")
    child.expect(rf"\[#lobby\] {name}>")
    return child


def test_room_commands(spawn, server: ServerProcess, connect) -> None:
    bob = connect(server, "bob")
    alice = child_for(spawn, server, "alice")
    alice.sendline("/join dev")  # the # may be left out
    alice.expect(r"you joined #dev \(1 here: alice\)")
    alice.expect(r"\[#dev\] alice>")
    bob.send(type="join_room", room="#dev")
    bob.expect("history_end")
    alice.expect("bob joined #dev")
    bob.send(type="chat", room="#dev", message="in the room")
    alice.expect(r"\[\d\d:\d\d\] bob: in the room")  # the current room: no tag
    bob.send(type="chat", message="in the lobby")
    alice.expect(r"\[\d\d:\d\d\] #lobby bob: in the lobby")  # another room: tagged
    alice.sendline("hello dev")
    assert bob.expect("chat", room="#dev")["message"] == "hello dev"
    alice.sendline("/me waves")
    alice.expect(r"\* alice waves")
    got = bob.expect("chat", room="#dev")
    assert (got["message"], got["action"]) == ("waves", True)
    alice.sendline("/topic ship it")
    assert bob.expect("topic")["topic"] == "ship it"
    alice.expect("alice set the topic of #dev to: ship it")
    alice.sendline("/topic")
    alice.expect("topic of #dev: ship it")
    alice.sendline("/names")
    alice.expect(r"online in #dev \(2\): @alice, bob")  # alice made #dev: its operator
    alice.sendline("/list")
    alice.expect("2 rooms:")
    alice.expect(r"#dev \(2 here\) — ship it")
    alice.sendline("/away lunch")
    assert bob.expect("away") == {"type": "away", "username": "alice", "message": "lunch"}
    bob.send(type="away", message="meeting")
    alice.expect("bob is away: meeting")
    alice.sendline("/names")
    alice.expect(r"bob \(away: meeting\)")
    alice.sendline("/nick ally")
    assert bob.expect("nick")["to"] == "ally"
    alice.expect(r"\[#dev\] ally>")
    alice.sendline("/part")
    alice.expect("you left #dev")
    alice.expect(r"\[#lobby\] ally>")
    assert bob.expect("user_left", room="#dev")["username"] == "ally"
    alice.sendline("/join #bad room name")  # a room, and a key (+k), at most
    alice.expect(r"usage: /join #ROOM \[KEY\]")
    alice.sendline("/quit")
    assert finished(alice) == 0


def test_alt_number_switches_rooms(spawn, server: ServerProcess, connect) -> None:
    bob = connect(server, "bob")
    bob.send(type="join_room", room="#dev")
    bob.expect("history_end")
    alice = child_for(spawn, server, "alice")
    alice.sendline("/join #dev")
    alice.expect(r"\[#dev\] alice>")
    alice.send(ALT + "1")
    alice.expect("now in #lobby")
    alice.expect(r"\[#lobby\] alice>")
    alice.sendline("to the lobby")
    assert bob.expect("chat")["room"] == "#lobby"
    alice.send(ALT + "2")
    alice.expect(r"\[#dev\] alice>")
    alice.sendline("to dev")
    assert bob.expect("chat")["room"] == "#dev"
    alice.sendline("/join #lobby")  # a room you are in: switches, joins nothing
    alice.expect(r"\[#lobby\] alice>")
    alice.send("/join #d\t")  # Tab completes rooms
    alice.expect("/join #dev")


def test_history_is_dimmed_and_page_up_scrolls_back(spawn, start_server, connect) -> None:
    server = start_server("--replay", "5", "--rate-limit", "0")
    bob = connect(server, "bob")
    for i in range(30):
        bob.send(type="chat", message=f"old{i}")
    bob.send(type="ping", id="sync")
    bob.expect("pong")
    child = spawn(*port_args(server), "--name", "alice")  # colours on: history is dimmed
    child.expect("type /help for commands")
    child.expect(r"\x1b\[0;2m\[\d\d:\d\d\] #lobby bob: old25")  # dimmed, with its own time
    child.expect("old29")
    child.send(PAGE_UP)
    child.expect("older lines of #lobby, oldest first")  # said plainly: they are not the newest
    child.expect("old5")
    child.expect("old24")
    child.expect("end of the older lines of #lobby; PageUp again")
    child.send(PAGE_UP)
    child.expect("old0")
    child.expect("old4")
    child.expect("that is the beginning of #lobby: nothing is older")
    child.send(PAGE_UP)  # again: said once more, with no empty page and no header
    index = child.expect(["nothing older in #lobby", "older lines of #lobby"])
    assert index == 0


def test_reconnects_rejoins_and_fills_the_gap(spawn, start_server, connect, tmp_path: Path) -> None:
    db = str(tmp_path / "chat.db")
    server = start_server("--db", db)
    alice = child_for(spawn, server, "alice")
    alice.sendline("/join #dev")
    alice.expect(r"\[#dev\] alice>")
    bob = connect(server, "bob")
    bob.send(type="join_room", room="#dev")
    bob.expect("history_end")
    bob.send(type="chat", room="#dev", message="seen before")
    alice.expect("bob: seen before")
    bob.close()
    port = server.port
    server.stop(signal.SIGKILL)
    alice.expect("lost; reconnecting in 1 s")
    again = start_server("--db", db, "--port", str(port))
    carol = connect(again, "carol")
    carol.send(type="join_room", room="#dev")
    carol.expect("history_end")
    carol.send(type="chat", room="#dev", message="while you were away 1")
    carol.send(type="chat", room="#dev", message="while you were away 2")
    carol.send(type="ping", id="sync")
    carol.expect("pong")
    alice.expect("while you were away 1")
    alice.expect("while you were away 2")
    alice.expect(r"reconnected to 127\.0\.0\.1:\d+; missed: 2 in #dev")
    assert "seen before" not in alice.before  # not shown twice
    alice.expect(r"\[#dev\] alice>")  # still in the room it was in
    alice.sendline("back")
    assert carol.expect("chat", room="#dev")["message"] == "back"


def test_login_and_register(spawn, start_server, tmp_path: Path, connect) -> None:
    db = str(tmp_path / "accounts.db")
    env = {**os.environ, "SELCHAT_ACCOUNT_PASSWORD": "carol's password"}
    subprocess.run(selchat_cmd("account", "add", "carol", "--db", db), env=env, check=True, capture_output=True,
                   timeout=30)
    server = start_server("--db", db)
    carol = child_for(spawn, server, "carol", "--login", env={"SELCHAT_LOGIN": "carol's password"})
    carol.sendline("/register")
    carol.expect("you are logged in to the account carol already")
    # a guest who tries the name is asked for its password, and may pick another name instead
    guest = spawn(*port_args(server), "--name", "carol", "--no-color")
    guest.expect("carol is a registered account; log in or choose another name")
    guest.expect(r"Password for carol \(Enter to choose another name\):")
    guest.sendline("")
    guest.expect("Your name:")
    guest.sendline("dave")
    guest.expect(r"\[#lobby\] dave>")
    guest.sendline("/register")
    guest.expect("an account password is at least 8 characters")  # the rule first
    guest.expect("New password for dave:")
    guest.sendline("short")
    guest.expect("that is 5 characters, fewer than 8; not registered")  # not asked twice first
    guest.sendline("/register")
    guest.expect("New password for dave:")
    guest.sendline("dave's secret")
    guest.expect("The same password again:")
    guest.sendline("dave's secret")
    guest.expect("dave is now your account: next time, log in to it with its password")
    assert "dave's secret" not in guest.before
    guest.sendline("/nick davey")
    guest.expect("dave is now known as davey")
    guest.sendline("own line")
    guest.expect("davey: own line")  # one's own lines carry the new name
    guest.sendline("/quit")
    assert finished(guest) == 0
    watcher = connect(server, "watcher")
    dave = spawn(*port_args(server), "--name", "dave", "--no-color", "--login", env={"SELCHAT_LOGIN": "dave's secret"})
    dave.expect(r"\[#lobby\] dave>")
    assert watcher.expect("user_joined")["username"] == "dave"


def test_unread_rooms_in_the_prompt_and_list_and_read_when_shown(spawn, start_server, tmp_path: Path) -> None:
    """Lines in a room not on screen are counted before the prompt and in /list; switching to it
    marks it read, which the account's other device hears at once; /dms lists conversations."""
    db = str(tmp_path / "unread.db")
    env = {**os.environ, "SELCHAT_ACCOUNT_PASSWORD": "correct horse battery"}
    subprocess.run(selchat_cmd("account", "add", "alice", "--db", db), env=env, check=True, capture_output=True,
                   timeout=60)
    server = start_server("--db", db, "--rate-limit", "0")
    bob = RawClient(server.address)
    phone = RawClient(server.address)
    try:
        bob.join("bob", version=2)
        bob.join_room("#dev")
        alice = child_for(spawn, server, "alice", "--login", env={"SELCHAT_LOGIN": "correct horse battery"})
        alice.sendline("/join #dev")
        alice.expect(r"\[#dev\] alice>")
        alice.send(ALT + "1")
        alice.expect(r"\[#lobby\] alice>")
        phone.join("alice", version=2, login="correct horse battery")  # her other device
        bob.send(type="chat", room="#dev", message="one")
        bob.send(type="chat", room="#dev", message="alice, two?")
        alice.expect(r"\(#dev 2@\) \[#lobby\] alice>")  # unread, and one names her
        alice.sendline("/list")
        alice.expect(r"#dev \(2 here, 2 unread\)")
        alice.send(ALT + "2")
        alice.expect(r"\[#dev\] alice>")
        marked = phone.expect("read", room="#dev")  # shown: read, on her phone too
        assert marked["timestamp"] > 0
        bob.send(type="dm", to="alice", message="psst")
        alice.expect("psst")
        alice.sendline("/dms")
        alice.expect(r"1 conversation, the latest first:")
        alice.expect(r"bob \(last at \d\d:\d\d\)")  # read as it was shown: nothing unread
    finally:
        bob.close()
        phone.close()


def test_typing_shows_at_the_bottom_and_is_told(spawn, server: ServerProcess, connect) -> None:
    bob = connect(server, "bob")
    alice = child_for(spawn, server, "alice")
    bob.send(type="typing", room="#lobby", state="active")
    # before the prompt, never a line of its own; prompt_toolkit redraws only the cells that changed,
    # so the stream holds "(bob is typ" and then a skip over the "i" the old prompt had there too
    alice.expect(r"\(bob is typ")
    alice.send("hel")
    heard = bob.expect("typing")
    assert (heard["username"], heard["room"], heard["state"]) == ("alice", "#lobby", "active")
    alice.sendline("lo")
    assert bob.expect("chat")["message"] == "hello"
    assert bob.expect("typing")["state"] == "done"
    assert "unknown frame" not in alice.before
