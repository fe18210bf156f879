"""What an abusive guest tries, over real sockets (issue 21): each case fails on the code before
its fix. The pure parts of the same fixes are tested in the hub's and codecs' own tests."""

from __future__ import annotations

import base64
import json
import select
import socket
import time

import pytest
from wsproto.events import Message

from selchat.codec import encode
from tests.clients import Irc, RawClient, Terminal, Ws, get, http
from tests.helpers import ServerProcess

LONE_SURROGATE = "\ud800abcdefghij"  # a JSON string may hold it; no encoding takes it


def test_a_password_that_is_not_text_locks_no_name(server: ServerProcess, sockets: list) -> None:
    """Before: the worker's argon2 failed on it, the name stayed 'being registered' until restart."""
    mallory = RawClient(server.address)
    sockets.append(mallory)
    mallory.join("mallory", version=2)
    mallory.send(type="register", password=LONE_SURROGATE)
    assert "text" in mallory.error("weak_password")["message"]
    mallory.send(type="register", password="a fine password")
    assert mallory.expect("registered")["account"] == "mallory"  # the name was never held
    # over WebSocket the same JSON, and a login with such a password is a wrong one, not a crash
    page = Ws(server)
    sockets.append(page)
    page.send(type="join", username="mallory", version=2, login=LONE_SURROGATE)
    assert page.expect("error")["code"] == "bad_login"
    assert "Traceback" not in server.log() and "failed" not in server.log()


def test_numbers_out_of_range_are_refused_where_parsed(server: ServerProcess, sockets: list) -> None:
    """Before: each of these reached an unhandled exception (infinity cannot be encoded, SQLite's
    integers overflow, h11's 501 had no reason phrase) and logged a traceback."""
    mallory = RawClient(server.address)
    sockets.append(mallory)
    mallory.join("mallory", version=2)
    mallory.send_raw(b'{"type":"ping","id":1e400}\n')
    assert mallory.error("bad_frame")
    for before in ("1e19", "9.3e12", "1e400", "-1e300", "-1"):
        mallory.send_raw(b'{"type":"history","room":"#lobby","before":' + before.encode() + b"}\n")
        assert mallory.error("bad_frame"), before
    mallory.send(type="history", room="#lobby", before=1e9)
    assert mallory.expect("history_end")["room"] == "#lobby"  # a sane time still answers
    irc = Irc(server, "ircmal", caps="draft/chathistory batch")
    sockets.append(irc)
    irc.send("PING :welcomed")
    irc.expect("welcomed")  # past the welcome, whose 005 names CHATHISTORY too
    for ref in ("msgid=" + "9" * 20, "msgid=" + "9" * 19):  # 9.9e12 s: past SQLite's integers
        irc.send(f"CHATHISTORY BEFORE #lobby {ref} 10")
        assert "INVALID_PARAMS" in irc.expect("FAIL CHATHISTORY"), ref
    status, _, _ = http(server, get("/", "Transfer-Encoding: gzip, chunked"))
    assert status == 501
    irc.send("PING :still-here")
    irc.expect("still-here")
    assert "Traceback" not in server.log()


def test_values_from_clients_cannot_forge_log_lines(server: ServerProcess, sockets: list) -> None:
    """Before: a newline in a SASL authcid (or a name, or a reason) started a line of its own."""
    forged = "x\nFORGED INFO selchat.server: join root\r\x1b[2J"
    irc = Irc(server, "ircforge", caps="sasl")
    sockets.append(irc)
    irc.send("AUTHENTICATE PLAIN")
    irc.expect("AUTHENTICATE +")
    irc.send("AUTHENTICATE " + base64.b64encode(f"\0{forged}\0password".encode()).decode())
    irc.expect(" 904 ")
    json_client = RawClient(server.address)
    sockets.append(json_client)
    json_client.send(type="join", username=forged)
    json_client.error("invalid_username")
    json_client.send(type="join", username="fine", login=forged)
    json_client.expect("error")
    server.wait_log("invalid")
    lines = server.log().splitlines()
    assert not [line for line in lines if line.startswith("FORGED") or "\x1b" in line or "\r" in line]


def test_fields_shown_to_others_hold_no_line_breaks(server: ServerProcess, sockets: list) -> None:
    """Before: IRC's USER kept a CR inside, and WHO, WHOIS and USERHOST handed it to others as a
    forged line; a topic, an away message or a reason from JSON did the same."""
    mallory = socket.create_connection(server.address, timeout=10)
    sockets.append(mallory)
    mallory.sendall(b"NICK mallory\r\nUSER us\rer\x00 0 * :real\r:fake!f@f PRIVMSG #lobby :spoofed\r\n")
    watcher = Irc(server, "watcher")
    sockets.append(watcher)
    watcher.expect(" 001 ")
    json_client = RawClient(server.address)
    sockets.append(json_client)
    json_client.join("jay", version=2)
    json_client.send(type="topic", room="#lobby", topic="news\r:evil!e@e PRIVMSG #lobby :x\x00")
    json_client.send(type="away", message="gone\r\nPRIVMSG #lobby :y")
    json_client.send(type="ping", id=1)
    json_client.expect("pong")  # both are in before the watcher asks
    watcher.send("JOIN #lobby", "WHO mallory", "WHOIS mallory", "USERHOST mallory", "WHOIS jay", "PING :done")
    seen = watcher.upto(":done")
    assert not any("\r" in line or "\0" in line for line in seen)
    who = next(line for line in seen if " 352 " in line)
    assert " user " in who and who.endswith("real :fake!f@f PRIVMSG #lobby :spoofed")
    assert any(" 332 " in line and line.endswith(":news :evil!e@e PRIVMSG #lobby :x") for line in seen)
    assert any(" 301 " in line and line.endswith(":gone PRIVMSG #lobby :y") for line in seen)


def _slow_reader(server: ServerProcess, protocol: str) -> socket.socket:
    """A client of ``protocol`` that joins as 'slowpoke' with a tiny receive buffer; it reads
    nothing more until it is dropped."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(server.address)
    if protocol == "irc":
        sock.sendall(b"NICK slowpoke\r\nUSER s 0 * :s\r\nJOIN #lobby\r\n")
    elif protocol == "text":
        Terminal(server.address, sock).wait("name")  # after a second of silence
        sock.sendall(b"slowpoke\r\n")
    else:
        page = Ws(server)
        page.send(type="join", username="slowpoke", version=2)
        page.expect("welcome")
        return page.sock
    return sock


@pytest.mark.parametrize(("protocol", "last_words"), [
    ("irc", b"ERROR :Closing link: you fell 65536 bytes behind reading; disconnected\r\n"),
    ("text", b"! you fell 65536 bytes behind reading; disconnected\r\n"),
    ("ws", b"\x03\xf0you fell 65536 bytes behind reading; disconnected"),  # a Close, code 1008
])
def test_a_slow_reader_is_told_in_its_own_protocol(start_server, sockets: list, protocol: str,
                                                    last_words: bytes) -> None:
    """Before: every protocol got the slow-consumer notice as a JSON line."""
    server = start_server("--max-output", "65536", "--rate-limit", "0")
    slow = _slow_reader(server, protocol)
    sockets.append(slow)
    talker = RawClient(server.address)
    sockets.append(talker)
    talker.join("talker")
    talker.sock.setblocking(False)
    end = time.monotonic() + 30
    left = False
    while not left:
        assert time.monotonic() < end, "slowpoke was never dropped"
        try:
            talker.sock.send(encode({"type": "chat", "message": "y" * 1900}))
        except BlockingIOError:
            pass
        try:
            talker.buf += talker.sock.recv(1 << 20)
        except BlockingIOError:
            select.select([talker.sock], [], [], 0.005)
        *lines, talker.buf = talker.buf.split(b"\n")
        left = any(json.loads(line).get("type") == "user_left" for line in lines)
    data = b""
    slow.settimeout(10)
    while chunk := slow.recv(1 << 20):
        data += chunk
    assert data.endswith(last_words)
    # a page hears the error in JSON too, just before the Close; no other protocol hears JSON
    assert (b'"code":"slow_consumer"' in data[-300:]) == (protocol == "ws")


@pytest.mark.parametrize("too_much", ["big", "binary"])
def test_after_its_close_a_websocket_hears_nothing_and_its_name_is_free(start_server, sockets: list,
                                                                         too_much: str) -> None:
    """Before: after its Close (1009 or 1003) the server kept sending data frames, kept the
    session for 120 s, and the page could not come back under its name."""
    server = start_server("--max-frame", "1024")
    page = Ws(server)
    sockets.append(page)
    page.send(type="join", username="paster", version=2)
    page.expect("welcome")
    talker = RawClient(server.address)
    sockets.append(talker)
    talker.join("talker")
    page.sock.sendall(page.ws.send(Message(data="x" * 2000) if too_much == "big" else Message(data=b"\0")))
    assert talker.expect("user_left")["username"] == "paster"  # the session ended at once
    talker.send(type="chat", message="after the close")
    data = b""
    while chunk := page.sock.recv(65536):  # the server hangs up without waiting for our Close
        data += chunk
    close = data.rfind(b"\x88")
    assert close >= 0 and data[close + 2:close + 4] == (b"\x03\xf1" if too_much == "big" else b"\x03\xeb")
    assert b"after the close" not in data and b"\x81" not in data[close:]  # no data frame after it
    again = Ws(server)
    sockets.append(again)
    again.send(type="join", username="paster", version=2)
    assert again.expect("welcome")["username"] == "paster"
