"""Accounts through a real server: register, log in, offline messages, the login limit.

argon2 costs about 0.2 s a hash here, so these tests hash as few passwords as they can.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.clients import RawClient
from tests.helpers import ServerProcess, selchat_cmd

Start = Callable[..., ServerProcess]
PASSWORD = "correct horse battery"


@pytest.fixture
def clients() -> list[RawClient]:
    opened: list[RawClient] = []
    yield opened
    for client in opened:
        client.close()


def guest(server: ServerProcess, name: str, clients: list[RawClient]) -> RawClient:
    client = RawClient(server.address)
    clients.append(client)
    client.join(name, version=2)
    client.expect("history_end")
    return client


def login(server: ServerProcess, name: str, clients: list[RawClient], password: str = PASSWORD) -> RawClient:
    client = RawClient(server.address)
    clients.append(client)
    welcome = client.join(name, version=2, login=password)
    assert welcome["account"] == name
    return client


def register(server: ServerProcess, name: str, clients: list[RawClient]) -> RawClient:
    client = guest(server, name, clients)
    client.send(type="register", password=PASSWORD)
    assert client.expect("registered")["account"] == name
    return client


def test_register_login_and_restart(start_server: Start, tmp_path: Path, clients: list[RawClient]) -> None:
    db = str(tmp_path / "accounts.db")
    server = start_server("--db", db)
    alice = register(server, "alice", clients)
    alice.send(type="register", password=PASSWORD)
    assert alice.error("already_registered")
    alice.close()
    server.stop()
    assert PASSWORD not in server.log()  # never logged

    again = start_server("--db", db)
    intruder = RawClient(again.address)
    clients.append(intruder)
    intruder.send(type="join", username="Alice", version=2)
    assert intruder.error("name_registered")
    intruder.send(type="join", username="alice", version=2, login="wrong password")
    assert intruder.error("bad_login")["message"] == "wrong account name or password for alice"
    intruder.send(type="join", username="nobody", version=2, login="whatever!")
    assert intruder.error("bad_login")
    intruder.send(type="ping", id=1)
    assert intruder.expect("pong")  # the connection stays open after a wrong login
    login(again, "alice", clients)


def test_wrong_logins_slow_the_account(server: ServerProcess, clients: list[RawClient]) -> None:
    register(server, "alice", clients).close()
    client = RawClient(server.address)
    clients.append(client)
    for _ in range(3):  # free; then each further guess waits (tests/test_abuse.py has the rest)
        client.send(type="join", username="alice", version=2, login="not it at all")
        assert client.error("bad_login")
    client.send(type="join", username="alice", version=2, login=PASSWORD)
    assert "try again in 1 s" in client.error("too_many_logins")["message"]


def test_login_elsewhere_replaces_the_session(start_server: Start, clients: list[RawClient]) -> None:
    server = start_server("--multiclient", "off")  # one device an account, as before issue 24
    first = register(server, "alice", clients)
    watcher = guest(server, "watcher", clients)
    login(server, "alice", clients)
    assert first.error("logged_in_elsewhere")
    assert first.wait_closed() == []
    assert watcher.expect("user_left", username="alice")["reason"] == "logged in elsewhere"


def test_require_account_and_account_add(start_server: Start, tmp_path: Path, clients: list[RawClient]) -> None:
    db = str(tmp_path / "closed.db")
    env = {**os.environ, "SELCHAT_ACCOUNT_PASSWORD": PASSWORD}
    made = subprocess.run(selchat_cmd("account", "add", "Carol", "--db", db), env=env, capture_output=True,
                          text=True, timeout=30)
    assert made.returncode == 0 and made.stdout.strip() == f"account Carol created in {db}"
    again = subprocess.run(selchat_cmd("account", "add", "carol", "--db", db), env=env, capture_output=True,
                           text=True, timeout=30)
    assert again.returncode == 1 and again.stderr.strip() == f"selchat: carol is an account already in {db}"
    server = start_server("--db", db, "--require-account")
    visitor = RawClient(server.address)
    clients.append(visitor)
    visitor.send(type="join", username="visitor", version=2)
    assert visitor.error("account_required")
    carol = login(server, "Carol", clients)
    carol.expect("history_end")
    # an account added while the server runs can log in at once
    subprocess.run(selchat_cmd("account", "add", "dave", "--db", db), env=env, check=True, capture_output=True,
                   timeout=30)
    login(server, "dave", clients)
    listed = subprocess.run(selchat_cmd("account", "list", "--db", db), capture_output=True, text=True, timeout=30)
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == ["Carol", "dave"]
    assert listed.stderr.strip() == f"2 accounts in {db}"
    # a new password while the server runs: the next login needs it, the old one is refused
    new = {**os.environ, "SELCHAT_ACCOUNT_PASSWORD": "a brand new secret"}
    changed = subprocess.run(selchat_cmd("account", "passwd", "DAVE", "--db", db), env=new, capture_output=True,
                             text=True, timeout=30)
    assert changed.returncode == 0 and changed.stdout.strip() == \
        f"new password for dave in {db}: it counts from the next login"
    stale = RawClient(server.address)
    clients.append(stale)
    stale.send(type="join", username="dave", version=2, login=PASSWORD)
    assert stale.error("bad_login")
    login(server, "dave", clients, password="a brand new secret")
    nobody = subprocess.run(selchat_cmd("account", "passwd", "erin", "--db", db), env=new, capture_output=True,
                            text=True, timeout=30)
    assert nobody.returncode == 1 and nobody.stderr.strip() == f"selchat: erin is not an account in {db}"
    elsewhere = str(tmp_path / "typo.db")
    typo = subprocess.run(selchat_cmd("account", "list", "--db", elsewhere), capture_output=True, text=True, timeout=30)
    assert typo.returncode == 2 and typo.stderr.strip() == f"selchat: {elsewhere}: no such database file"
    assert not os.path.exists(elsewhere)  # a mistyped --db is said, not made


def test_offline_dms_are_kept_for_the_next_login(start_server: Start, tmp_path: Path,
                                                 clients: list[RawClient]) -> None:
    db = str(tmp_path / "dms.db")
    server = start_server("--db", db)
    alice = register(server, "alice", clients)
    bob = register(server, "bob", clients)
    bob.send(type="quit")
    bob.wait_closed()
    alice.send(type="dm", to="bob", message="see this when you are back")
    receipt = alice.expect("dm")
    assert receipt["offline"] is True
    guest_user = guest(server, "guest", clients)
    guest_user.send(type="dm", to="bob", message="hello?")
    assert guest_user.error("no_such_user")  # only accounts leave messages for accounts
    server.stop()

    again = start_server("--db", db)
    bob = RawClient(again.address)
    clients.append(bob)
    bob.join("bob", version=2, login=PASSWORD)
    dm = bob.expect("dm")
    assert dm == {**receipt, "offline": True}
    bob.close()
    bob = login(again, "bob", clients)  # delivered once, not at every login
    bob.send(type="ping", id="after")
    frames = []
    while (frame := bob.recv())["type"] != "pong":
        frames.append(frame["type"])
    assert "dm" not in frames


def test_the_chat_goes_on_during_a_login_storm(server: ServerProcess, clients: list[RawClient]) -> None:
    """Password checks queue in the worker; the loop keeps delivering chat meanwhile."""
    register(server, "alice", clients).close()
    talker = guest(server, "talker", clients)
    listener = guest(server, "listener", clients)
    storm = []
    for _ in range(8):  # about 1.5 s of argon2 work, all queued at once
        client = RawClient(server.address)
        clients.append(client)
        client.send(type="join", username="alice", version=2, login="wrong password!")
        storm.append(client)
    talker.send(type="chat", message="still here")
    assert listener.expect("chat")["message"] == "still here"
    # and at that moment most of the checks are still waiting: the chat did not queue behind them
    answered = 0
    for client in storm:
        client.sock.setblocking(False)
        try:
            answered += bool(client.sock.recv(65536))
        except BlockingIOError:
            pass
        client.sock.setblocking(True)
    assert answered < len(storm)
