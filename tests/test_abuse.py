"""What an abusive guest tries, over real sockets (issue 21): each case fails on the code before
its fix. The pure parts of the same fixes are tested in the hub's and codecs' own tests."""

from __future__ import annotations

import base64
import json
import select
import socket
import time
from collections.abc import Callable

import pytest
from wsproto.events import Message

from selchat.codec import encode
from tests.clients import Irc, RawClient, Terminal, Ws, get, http
from tests.helpers import DEADLINE, ServerProcess, wait_for

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


def _masked_text_frame(payload: bytes) -> bytes:
    """A text frame as a client sends one, whatever its payload (wsproto sends only valid text)."""
    key = b"\x01\x02\x03\x04"
    return bytes([0x81, 0x80 | len(payload)]) + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


CLOSE_CODES = {"big": b"\x03\xf1", "binary": b"\x03\xeb", "not utf-8": b"\x03\xef"}  # 1009, 1003, 1007


@pytest.mark.parametrize("too_much", list(CLOSE_CODES))
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
    frames = {"big": page.ws.send(Message(data="x" * 2000)), "binary": page.ws.send(Message(data=b"\0")),
              "not utf-8": _masked_text_frame(b'{"type":"chat","message":"hi\xaa"}')}
    page.sock.sendall(frames[too_much])
    assert talker.expect("user_left")["username"] == "paster"  # the session ended at once
    talker.send(type="chat", message="after the close")
    data = b""
    while chunk := page.sock.recv(65536):  # the server hangs up without waiting for our Close
        data += chunk
    close = data.rfind(b"\x88")
    assert close >= 0 and data[close + 2:close + 4] == CLOSE_CODES[too_much]
    assert b"after the close" not in data and b"\x81" not in data[close:]  # no data frame after it
    again = Ws(server)
    sockets.append(again)
    again.send(type="join", username="paster", version=2)
    assert again.expect("welcome")["username"] == "paster"


def test_one_address_cannot_fill_the_server(start_server, sockets: list) -> None:
    """Before: 256 silent sockets from one address filled --max-clients, and everyone else was
    refused. Now the 17th from one address is refused in its own protocol, and the rest of the
    server (here another address, ::1) is served."""
    server = start_server("--max-clients", "40", "--host", "::", "--connects-per-minute", "0")
    v4 = ("127.0.0.1", server.port)
    silent = [socket.create_connection(v4, timeout=10) for _ in range(16)]
    sockets.extend(silent)
    json_more = socket.create_connection(v4, timeout=10)
    irc_more = socket.create_connection(v4, timeout=10)
    sockets.extend([json_more, irc_more])
    irc_more.sendall(b"NICK extra\r\nUSER e 0 * :e\r\n")
    assert b"ERROR :Closing link: at most 16 connections at once from one address" in _all_of(irc_more)
    json_more.sendall(b'{"type":"join","username":"extra"}\n')
    assert json.loads(_all_of(json_more))["code"] == "too_many_connections"
    other = RawClient(("::1", server.port))  # another address is let in
    sockets.append(other)
    assert other.join("other")["type"] == "welcome"
    silent.pop().close()  # a place freed is a place again
    wait_for(lambda: server.log().count("disconnect") >= 3, 10, "the closes to be seen")
    again = RawClient(v4)
    sockets.append(again)
    assert again.join("again")["type"] == "welcome"


def test_one_address_cannot_reconnect_in_a_loop(start_server, sockets: list) -> None:
    """A page stuck reconnecting (or a script) opens at most 32 connections a minute."""
    server = start_server("--connects-per-minute", "5")
    for i in range(5):
        client = RawClient(server.address)
        sockets.append(client)
        client.join(f"loop{i}")
        client.close()
    # the sixth, a page, is refused before its upgrade: HTTP's 429
    status, _, body = http(server, get("/ws", "Upgrade: websocket", "Connection: Upgrade"))
    assert status == 429 and b"5 new connections a minute" in body


def _all_of(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_service_and_server_names_are_reserved(server: ServerProcess, sockets: list) -> None:
    """Before: a guest could join as NickServ and receive the IDENTIFY passwords IRC clients send."""
    for name in ("NickServ", "chanserv", "selchat"):
        guest = RawClient(server.address)
        sockets.append(guest)
        guest.send(type="join", username=name)
        assert "reserved" in guest.error("invalid_username")["message"]
    renamer = RawClient(server.address)
    sockets.append(renamer)
    renamer.join("renamer", version=2)
    renamer.send(type="nick", username="NickServ")
    assert "reserved" in renamer.error("invalid_username")["message"]
    irc = Irc(server, "ircuser")
    sockets.append(irc)
    irc.expect(" 001 ")
    irc.send("NICK ChanServ")
    assert " 432 " in irc.expect("reserved")
    irc.send("PRIVMSG NickServ :IDENTIFY ircuser hunter2")
    notice = irc.expect("NOTICE ircuser")
    assert "no NickServ here" in notice and "SASL" in notice and "hunter2" not in server.log()


def test_one_irc_line_is_held_to_what_005_promised(start_server: Callable[..., ServerProcess],
                                                   sockets: list) -> None:
    """Before: MAXTARGETS=1 was not enforced, and a 125-channel JOIN ended in a flooding
    disconnect; now the first CHANLIMIT are joined and the rest answered. (The 20 rooms are
    new: this server lets one user make them.)"""
    server = start_server("--new-rooms-per-user", "0")
    irc = Irc(server, "joiner")
    sockets.append(irc)
    irc.expect(" 001 ")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    names = [f"#{digits[i // 36]}{digits[i % 36]}" for i in range(125)]  # fits one 512-byte line
    irc.send("JOIN " + ",".join(names))
    seen = irc.upto(f"{names[-1]} :")
    assert sum(" JOIN " in line for line in seen) == 20
    assert sum(" 405 " in line for line in seen) == 105
    friend = Irc(server, "friend")
    sockets.append(friend)
    friend.expect(" 001 ")
    friend.send(f"JOIN {names[0]}")
    friend.expect(" 366 ")
    # the friend's tokens are whole (the joiner spent its burst on its JOINs)
    friend.send(f"PRIVMSG {names[0]},joiner :to two targets", "PING :after")
    lines = friend.upto("after")
    assert any(" 407 " in line and " joiner " in line for line in lines), lines
    assert "to two targets" in irc.expect(f"PRIVMSG {names[0]}")


def test_a_rebound_dns_name_is_not_the_page_s_own_origin(start_server) -> None:
    """Before: the Origin was compared with the request's Host, so a page on evil.example whose
    name was rebound to 127.0.0.1 sent matching ones and chatted as its visitor."""
    server = start_server()
    upgrade = ("Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")

    def opening(host: str) -> int:
        request = "\r\n".join(["GET /ws HTTP/1.1", f"Host: {host}", f"Origin: http://{host}", *upgrade])
        # a 101 keeps the connection open, so read only up to the end of the status line
        with socket.create_connection(server.address, timeout=DEADLINE) as sock:
            sock.sendall((request + "\r\n\r\n").encode())
            head = b""
            while b"\r\n" not in head and (chunk := sock.recv(4096)):
                head += chunk
        return int(head.split(b" ")[1])

    assert opening(f"evil.example:{server.port}") == 403
    assert opening(f"127.0.0.1:{server.port}") == 101  # the page's own address still opens
    assert opening(f"localhost:{server.port}") == 101


def test_text_that_is_not_utf_8_is_refused_in_every_protocol(server: ServerProcess, sockets: list) -> None:
    """Before: 005 said UTF8ONLY, yet an IRC line that was not UTF-8 was relayed re-decoded as
    latin-1, and text mode showed it with replacement marks; now each protocol refuses it in its
    own words and nothing reaches the room. (The page's WebSocket closes with 1007: above.)"""
    listener = RawClient(server.address)
    sockets.append(listener)
    listener.join("listener")
    irc = Irc(server, "latin")
    sockets.append(irc)
    irc.expect(" 001 ")
    irc.sock.sendall(b"PRIVMSG #lobby :caf\xe9\r\nPRIVMSG listener :d\xe9j\xe0\r\n")
    assert " FAIL PRIVMSG INVALID_UTF8 :" in irc.expect("INVALID_UTF8")
    assert " FAIL PRIVMSG INVALID_UTF8 :" in irc.expect("INVALID_UTF8")
    terminal = Terminal(server.address)
    sockets.append(terminal)
    terminal.wait("Your name:")
    terminal.say("typist")
    terminal.wait("You are in #lobby")
    terminal.sock.sendall(b"na\xefve\r\n")
    assert "not UTF-8" in terminal.wait("not UTF-8")
    listener.sock.sendall(b'{"type":"chat","message":"caf\xe9"}\n')
    assert "UTF-8" in listener.error("bad_frame")["message"]
    listener.send(type="ping", id=7)  # the answer comes after anything relayed to it before
    frames = []
    while (frame := listener.recv())["type"] != "pong":
        frames.append(frame)
    assert not [f for f in frames if f["type"] in ("chat", "dm")], frames


def test_irc_replies_are_cut_to_512_bytes_on_a_character_boundary(server: ServerProcess, sockets: list) -> None:
    """Before: a message an IRC client sent in one full line reached others past 512 bytes (the
    sender's mask in front), and PONG and CAP ACK echoed what they were given at any length."""
    sender, reader = Irc(server, "longsender"), Irc(server, "reader")
    sockets.extend([sender, reader])
    sender.expect(" 001 ")
    reader.expect(" 001 ")
    body = "PRIVMSG reader :"
    text = "a" * (510 - len(body) - 4) + "😃"  # the sender's line is exactly 512 bytes
    sender.sock.sendall((body + text + "\r\n").encode())
    sender.sock.sendall(("PING :" + "p" * 499 + "é\r\n").encode())
    sender.sock.sendall(b"CAP REQ :" + b"sasl " * 100 + b"\r\n")
    got = reader.expect("PRIVMSG reader")
    assert len(got.encode()) + 2 <= 512 and text.startswith(got.split(" :", 1)[1])
    assert got.split(" :", 1)[1].endswith("a")  # the emoji was dropped whole, never half of it
    pong = sender.expect(" PONG ")
    assert len(pong.encode()) + 2 <= 512
    ack = sender.expect(" ACK ")
    assert ack.endswith(" ACK :sasl")


def _try_login(client: RawClient, password: str) -> dict:
    """One login; a too_many_logins that names a wait of a few seconds is waited out and retried."""
    end = time.monotonic() + 3 * DEADLINE
    while True:
        client.send(type="join", username="owner", version=2, login=password)
        frame = client.recv()
        wait = frame.get("message", "").rpartition("try again in ")[2].removesuffix(" s")
        if frame.get("code") != "too_many_logins" or "address" in frame["message"] or not wait.isdigit():
            return frame
        assert time.monotonic() + int(wait) < end, "the account stayed locked"
        time.sleep(int(wait))  # the wait the server named


def test_wrong_logins_from_one_address_do_not_lock_out_the_owner(start_server, sockets: list) -> None:
    """Before: five wrong logins from one address locked the right password out from that
    address, which behind NAT or a reverse proxy is everyone's. Now they are counted per account
    and address (5 a minute) and per account (3, then a doubling wait): the guesser is stopped,
    and the owner, from another address, is let in after a few seconds at most."""
    server = start_server("--host", "::")
    owner = RawClient(("::1", server.port))
    sockets.append(owner)
    owner.join("owner", version=2)
    owner.send(type="register", password="the owner's password")
    owner.expect("registered")
    owner.close()
    guesser = RawClient(("127.0.0.1", server.port))
    sockets.append(guesser)
    codes = [_try_login(guesser, f"guess {i}")["code"] for i in range(5)]
    assert codes == ["bad_login"] * 5  # the waits in between were waited out
    stopped = _try_login(guesser, "guess 6")
    assert stopped["code"] == "too_many_logins" and "from your address" in stopped["message"]
    again = RawClient(("::1", server.port))
    sockets.append(again)
    assert _try_login(again, "the owner's password")["type"] == "welcome"


def _lines(*frames: dict) -> bytes:
    return b"".join(encode(frame) for frame in frames)


def _errors_until_pong(client: RawClient) -> list[dict]:
    errors = []
    while (frame := client.recv())["type"] != "pong":
        if frame["type"] == "error":
            errors.append(frame)
    return errors


def test_a_registration_storm_is_limited_per_connection_and_address(start_server, sockets: list) -> None:
    """Before: six guests registering and renaming made 61 accounts in 0.3 s. Now what a connection
    sends behind a registration waits for its hash (so renaming before it is done cannot make a
    second account on one connection), and one address makes 5 accounts in ten minutes."""
    server = start_server()
    storm = RawClient(server.address)
    sockets.append(storm)
    storm.join("maker0", version=2)
    # register, rename at once, register again: one packet, read in one turn, before the worker answers
    storm.sock.sendall(_lines({"type": "register", "password": "password 0"},
                              {"type": "nick", "username": "maker1"},
                              {"type": "register", "password": "password 1"}, {"type": "ping", "id": 1}))
    assert [e["code"] for e in _errors_until_pong(storm)] == ["already_registered"]  # maker0's account, once
    made, n, end = 1, 2, time.monotonic() + 3 * DEADLINE
    while time.monotonic() < end:
        guest = RawClient(server.address)
        sockets.append(guest)
        guest.join(f"maker{n}", version=2)
        guest.sock.sendall(_lines({"type": "register", "password": f"password {n}"}, {"type": "ping", "id": 1}))
        n += 1
        errors = _errors_until_pong(guest)
        guest.close()
        if any(e["code"] == "too_many_registrations" for e in errors):
            break
        assert not errors, errors
        made += 1
    assert made == 5


def test_rooms_have_a_cap_in_every_protocol(start_server: Callable[..., ServerProcess], sockets: list) -> None:
    """Before: 25 guests made 4,000 rooms that lasted across restarts; now the server holds
    --max-rooms-total, refused in each protocol's words, and a room made and left is forgotten."""
    server = start_server("--max-rooms-total", "2")
    alice = RawClient(server.address)
    sockets.append(alice)
    alice.join("alice", version=2)
    alice.send(type="join_room", room="#made")
    alice.expect("room_joined")
    alice.send(type="join_room", room="#more")
    assert "2 rooms" in alice.error("rooms_full")["message"]
    irc = Irc(server, "ircuser")
    sockets.append(irc)
    irc.expect(" 001 ")
    irc.send("JOIN #other")
    assert " 405 ircuser #other :" in irc.expect(" 405 ")
    irc.send("JOIN #made")  # one that exists: always
    irc.expect("JOIN #made")
    irc.send("PART #made")
    irc.expect("PART #made")
    alice.send(type="leave_room", room="#made")
    alice.expect("room_left")
    alice.send(type="join_room", room="#more")  # #made is empty and without history: forgotten
    alice.expect("room_joined", room="#more")
