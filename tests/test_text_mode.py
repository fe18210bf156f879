"""One port, chosen by the first bytes: the sniffer on its own, then text mode over real sockets,
and a real `nc`."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from selchat.wire.sniff import HTTP, IRC, JSON, TEXT, sniff
from tests.clients import RawClient, Terminal
from tests.helpers import DEADLINE, ServerProcess, selchat_cmd, wait_for


@pytest.mark.parametrize(
    ("first", "kind"),
    [
        (b'{"type":"join","username":"a"}\n', JSON),
        (b"  \r\n{", JSON),
        (b"CAP LS 302\r\n", IRC),
        (b"cap ls\r\n", IRC),
        (b"NICK alice\r\n", IRC),
        (b"USER a 0 * :A\r\n", IRC),
        (b"PASS secret\r\n", IRC),
        (b"GET / HTTP/1.1\r\n", HTTP),
        (b"alice\n", TEXT),
        (b"hello there\n", TEXT),
        (b"NICKNAME\n", TEXT),
        (b"x" * 600, TEXT),
    ],
)
def test_sniff_at_every_split(first: bytes, kind: str) -> None:
    assert sniff(first) == kind
    for cut in range(1, len(first)):
        early = sniff(first[:cut])
        assert early in (None, kind), (first[:cut], early)  # never a wrong verdict, only "not yet"


def test_sniff_waits_for_enough() -> None:
    for partial in (b"", b"  ", b"N", b"NI", b"NIC", b"NICK", b"G", b"GE", b"GET", b"ca"):
        assert sniff(partial) is None, partial


def test_silence_means_a_person_at_a_terminal(server: ServerProcess, connect) -> None:
    bob = connect()
    bob.join("bob", version=2)
    bob.expect("history_end")
    you = Terminal(server.address)
    try:
        you.wait("Your name:")  # after a second of silence
        you.say("alice")
        you.wait("Welcome to selchat, alice! 1 other user online.")
        you.wait("You are in #lobby. Here: alice, bob.")
        assert bob.expect("user_joined")["username"] == "alice"
        you.say("hello from nc")
        got = bob.expect("chat")
        assert (got["room"], got["message"]) == ("#lobby", "hello from nc")
        bob.send(type="chat", message="hi \x1b[2Jnc\x07 user")
        screen = you.wait("bob: hi")
        assert "[2Jnc user" in screen and "\x1b" not in screen and "\x07" not in screen  # stripped
        bob.send(type="chat", message="pay \u202etxt.exe\u200b now")  # reads "exe.txt" reversed
        screen = you.wait("bob: pay")
        assert "pay <U+202E>txt.exe<U+200B> now" in screen and "\u202e" not in screen  # issue 21, 18
        you.say("/join #dev")
        you.wait("you joined #dev. Here: alice")
        bob.send(type="join_room", room="#dev")
        you.wait("#dev * bob joined")
        you.say("/me waves")
        got = bob.expect("chat", room="#dev")
        assert got["action"] is True and got["message"] == "waves"
        you.say("/msg bob psst")
        assert bob.expect("dm")["message"] == "psst"
        bob.send(type="chat", room="#dev", message="in dev")
        you.wait("#dev bob: in dev")
        you.say("/users")
        you.wait("* in #dev: alice, bob")
        you.say("/frobnicate")
        you.wait("unknown command")
        you.say("/quit")
        assert bob.expect("user_left")["username"] == "alice"
    finally:
        you.close()


def test_a_first_line_that_is_not_json_is_a_name(server: ServerProcess) -> None:
    you = Terminal(server.address)
    try:
        you.say("bad name!")  # no waiting: the first line is a person typing
        you.wait("usernames are 1-32")
        you.wait("Your name:")
        you.say("carol")
        you.wait("Welcome to selchat, carol!")
    finally:
        you.close()


def test_text_mode_with_a_server_password(start_server) -> None:
    server = start_server(env={"SELCHAT_PASSWORD": "letmein"})
    you = Terminal(server.address)
    try:
        you.wait("Your name:")
        you.say("dave")
        you.wait("Server password:")
        you.say("letmein")
        you.wait("Welcome to selchat, dave!")
        you.say("/quit")
        you.wait("Goodbye, dave. The server has closed the connection.\r\n")
        you.sock.settimeout(DEADLINE)
        assert you.sock.recv(100) == b""  # closed, not waiting for the next line typed
    finally:
        you.close()


def test_text_mode_logs_in_to_an_account(start_server, tmp_path: Path) -> None:
    db = str(tmp_path / "accounts.db")
    env = {**os.environ, "SELCHAT_ACCOUNT_PASSWORD": "erin's long secret"}
    subprocess.run(selchat_cmd("account", "add", "erin", "--db", db), env=env, check=True, capture_output=True,
                   timeout=DEADLINE * 3)
    server = start_server("--db", db)
    you = Terminal(server.address)

    def asked(text: str, times: int) -> None:
        """Read until ``text`` has come ``times`` times (the buffer keeps everything read)."""
        end = time.monotonic() + DEADLINE
        while you.buf.count(text.encode()) < times:
            assert time.monotonic() < end, f"{text!r} not {times} times in {you.buf[-300:]!r}"
            you.sock.settimeout(max(0.01, end - time.monotonic()))
            chunk = you.sock.recv(65536)
            assert chunk, f"closed before {text!r}"
            you.buf += chunk

    try:
        asked("Your name:", 1)
        you.say("erin")
        asked("erin is an account. Its password (it shows as you type), or an empty line to choose another name:", 1)
        you.say("not it")
        asked("! wrong account name or password for erin", 1)
        asked("Your name:", 2)
        you.say("erin")
        asked("erin is an account.", 2)
        you.say("")  # changed their mind: another name
        asked("Your name:", 3)
        you.say("erin")
        asked("erin is an account.", 3)
        you.say("erin's long secret")
        asked("Welcome to selchat, erin!", 1)
        you.say("/quit")
        asked("Goodbye, erin.", 1)
    finally:
        you.close()


@pytest.mark.parametrize("cut", [1, 3, 4, 9, 20])
def test_http_is_told_apart_at_any_split(server: ServerProcess, cut: int) -> None:
    """GET (or any request line) is HTTP, however the first bytes arrive; HTTP gets the page."""
    for request, status in ((b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"200 OK"),
                            (b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", b"405 Method")):
        with socket.create_connection(server.address, timeout=DEADLINE) as sock:
            sock.sendall(request[:cut])
            time.sleep(0.05)  # two segments, not one
            sock.sendall(request[cut:])
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
        assert data.startswith(b"HTTP/1.1 " + status)


def test_json_split_anywhere_in_its_first_line(server: ServerProcess) -> None:
    line = b'{"type":"join","username":"split","version":2}\n'
    for cut in (1, 2, 5):
        with socket.create_connection(server.address, timeout=DEADLINE) as sock:
            client = RawClient.__new__(RawClient)
            client.sock, client.buf, client.closed = sock, b"", False
            sock.sendall(line[:cut])
            time.sleep(0.05)  # the pieces arrive apart (this wait is the test's input, not a sync)
            sock.sendall(line[cut:])
            assert client.expect("welcome")["username"] == "split"


def test_text_mode_behind_tls(start_server, tmp_path: Path) -> None:
    from selchat.certs import write_self_signed

    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    write_self_signed(["localhost"], cert, key, 1)
    server = start_server("--tls-cert", str(cert), "--tls-key", str(key))
    context = ssl.create_default_context(cafile=str(cert))
    sock = context.wrap_socket(socket.create_connection(server.address, timeout=DEADLINE),
                               server_hostname="localhost")
    you = Terminal(server.address, sock)
    try:
        you.wait("Your name:")
        you.say("erin")
        you.wait("Welcome to selchat, erin!")
    finally:
        you.close()


@pytest.mark.skipif(shutil.which("nc") is None, reason="nc (Debian: netcat-openbsd) is not installed")
def test_real_nc(server: ServerProcess, connect) -> None:
    bob = connect()
    bob.join("bob", version=2)
    bob.expect("history_end")
    nc = subprocess.Popen(["nc", "127.0.0.1", str(server.port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert nc.stdin is not None and nc.stdout is not None
        nc.stdin.write(b"frank\nhello from a real nc\n")
        nc.stdin.flush()
        got = bob.expect("chat")
        assert (got["username"], got["message"]) == ("frank", "hello from a real nc")
        bob.send(type="chat", message="hello frank")
        lines: list[bytes] = []
        wait_for(lambda: lines.append(nc.stdout.readline()) or b"bob: hello frank" in lines[-1],
                 what="bob's line at nc")
        nc.stdin.write(b"/quit\n")
        nc.stdin.close()
        assert bob.expect("user_left")["username"] == "frank"
        assert nc.wait(DEADLINE) == 0
    finally:
        if nc.poll() is None:
            nc.kill()
            nc.wait()
        for stream in (nc.stdin, nc.stdout):
            if stream and not stream.closed:
                stream.close()
