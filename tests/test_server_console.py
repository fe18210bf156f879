"""The server console: a real `selchat serve` in a pseudo-terminal, typed at with pexpect."""

from __future__ import annotations

import os
import re
import socket
import sys
from collections.abc import Iterator

import pexpect
import pytest

from tests.clients import Irc, RawClient
from tests.helpers import ROOT


@pytest.fixture
def console() -> Iterator[tuple[pexpect.spawn, tuple[str, int]]]:
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONUNBUFFERED": "1"}
    child = pexpect.spawn(
        sys.executable,
        ["-m", "selchat", "serve", "--port", "0", "--host", "127.0.0.1", "--db", ":memory:"],
        env=env,
        cwd=str(ROOT),
        encoding="utf-8",
        timeout=10,
    )
    try:
        child.expect(r"selchat listening on 127\.0\.0\.1:(\d+)")
        port = int(child.match.group(1))
        child.expect("console: type to announce")
        yield child, ("127.0.0.1", port)
    finally:
        if child.isalive():
            child.terminate(force=True)
        child.close()


def test_console_commands(console: tuple[pexpect.spawn, tuple[str, int]]) -> None:
    child, address = console
    alice, bob, carol = RawClient(address), RawClient(address), RawClient(address)
    try:
        alice.join("alice")
        bob.join("bob")
        carol.join("carol")
        child.sendline("Maintenance at noon")
        child.expect("announced to 3 users")
        for c in (alice, bob, carol):
            assert c.expect("server")["message"] == "Maintenance at noon"
        child.sendline("/users")
        child.expect("3 online: alice, bob, carol")
        child.sendline("/kick bob")
        child.expect("kicked bob")
        assert bob.wait_closed()[-1]["code"] == "kicked"
        assert alice.expect("user_left", username="bob")["reason"] == "kicked"
        child.sendline("/kick nobody")
        child.expect("no user named nobody is online")
        child.sendline("/frobnicate")
        child.expect("unknown command /frobnicate")
        child.sendline("/ban carol")
        child.expect("banned carol")
        assert carol.wait_closed()[-1]["code"] == "banned"
        again = RawClient(address)  # same address: refused while the server lives
        assert again.wait_closed()[-1]["code"] == "banned"
        again.close()
        child.sendline("/shutdown")
        last = alice.wait_closed()[-1]
        assert last["type"] == "shutdown" and last["reconnect"] is False  # for good
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
        assert "Traceback" not in (child.before or "")
    finally:
        for c in (alice, bob, carol):
            c.close()


def test_console_reaches_irc_users(console: tuple[pexpect.spawn, tuple[str, int]]) -> None:
    """Announcements, /users, /kick and /ban apply to IRC users exactly as to JSON users, in a
    room or in none."""
    child, address = console
    server = type("Address", (), {"address": address})()
    alice = RawClient(address)
    ircy, roomless = Irc(server, "ircy"), Irc(server, "roomless")  # type: ignore[arg-type]
    try:
        alice.join("alice", version=2)
        ircy.send("JOIN #lobby")
        ircy.expect(" 366 ircy #lobby ")
        roomless.expect(" 001 roomless ")
        child.sendline("/users")
        child.expect("3 online: alice, ircy, roomless")
        child.sendline("/stats")
        child.expect(r"connections 3 \(2 irc, 1 json\) of 256; users 3; rooms 1; output queued [\d,]+ bytes; "
                     r"database writes pending \d+; up 0m\d\ds; RSS [\d.]+ MB")
        child.sendline("tea is ready")
        child.expect("announced to 3 users")
        assert roomless.expect("NOTICE * :").endswith("NOTICE * :tea is ready")
        child.sendline("/kick ircy")
        child.expect("kicked ircy")
        assert "ERROR :Closing link" in ircy.expect("ERROR")
        assert alice.expect("user_left", username="ircy")["reason"] == "kicked"
        child.sendline("/ban roomless")
        child.expect("banned roomless")
        roomless.expect("ERROR :Closing link")
        # the address is refused while the server lives, in the protocol its first bytes speak
        again = Irc(server, "another")  # type: ignore[arg-type]
        try:
            assert again.expect("ERROR") == "ERROR :Closing link: you are banned from this server"
        finally:
            again.close()
        with socket.create_connection(address, timeout=10) as web:
            web.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert web.recv(4096).startswith(b"HTTP/1.1 403 Forbidden\r\n")
        silent = RawClient(address)  # says nothing: the JSON line, as v1 clients always got
        assert silent.wait_closed()[-1]["code"] == "banned"
        silent.close()
    finally:
        alice.close()
        ircy.close()
        roomless.close()


def test_ctrl_c_shuts_down_cleanly(console: tuple[pexpect.spawn, tuple[str, int]]) -> None:
    child, address = console
    alice = RawClient(address)
    try:
        alice.join("alice")
        child.sendintr()
        assert alice.wait_closed()[-1]["type"] == "shutdown"
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
        assert not re.search("Traceback|KeyboardInterrupt", child.before or "")
    finally:
        alice.close()
