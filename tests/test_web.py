"""The browser's way in, over real sockets: HTTP for the page (h11) and the JSON and IRC protocols
over WebSocket (wsproto), on the same port as everything else."""

from __future__ import annotations

import json
import select
import socket
import ssl
import struct
import time
from typing import Any

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Message,
    Ping,
    Request,
)

from selchat.wire.web import CSP, frame, messages
from tests.clients import RawClient, Ws, get, http
from tests.helpers import DEADLINE, ServerProcess

# -- the codec's framing, alone ---------------------------------------------------------------------


def test_frames() -> None:
    assert frame(b"hi") == b"\x81\x02hi"
    assert frame(b"x" * 200)[:4] == b"\x81\x7e\x00\xc8"
    assert frame(b"x" * 70000)[:10] == b"\x81\x7f" + struct.pack("!Q", 70000)
    assert messages(b'{"a":1}\n') == b'\x81\x07{"a":1}'
    assert messages(b":s 001 a :hi\r\n:s 002 a :yo\r\n") == b"\x81\x0c:s 001 a :hi\x81\x0c:s 002 a :yo"


# -- HTTP ---------------------------------------------------------------------------------------------


def test_the_page_and_its_files(server: ServerProcess) -> None:
    status, headers, body = http(server, get("/"))
    assert status == 200 and b'<script type="module" src="/app.js"' in body
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-security-policy"] == CSP and "script-src 'self'" in CSP
    assert headers["cache-control"] == "no-cache" and headers["x-content-type-options"] == "nosniff"
    etag = headers["etag"]
    assert http(server, get("/", f"If-None-Match: {etag}"))[0] == 304
    for path, kind in (("/app.js", "text/javascript"), ("/view.js", "text/javascript"),
                       ("/commands.js", "text/javascript"), ("/style.css", "text/css")):
        status, headers, body = http(server, get(path))
        assert status == 200 and headers["content-type"].startswith(kind)
        assert int(headers["content-length"]) == len(body)
    assert http(server, get("/?x=1"))[0] == 200  # a query string does not change the page
    status, headers, body = http(server, get("/").replace(b"GET", b"HEAD", 1))
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0


@pytest.mark.parametrize(("request_bytes", "status"), [
    (get("/nope"), 404),
    (get("/../etc/passwd"), 404),
    (b"GET / HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 needs a Host
    (b"GET / HTTP/1.1\r\nHost: a\r\nbroken header line\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
    (get("/ws"), 400),  # not an upgrade
])
def test_http_statuses(server: ServerProcess, request_bytes: bytes, status: int) -> None:
    got, headers, body = http(server, request_bytes)
    assert got == status and headers["content-type"].startswith("text/plain") and body


def test_a_request_that_never_ends_is_cut_off(start_server) -> None:
    server = start_server("--handshake-timeout", "0.5")
    with socket.create_connection(server.address, timeout=DEADLINE) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")  # and nothing more
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n")


# -- WebSocket ------------------------------------------------------------------------------------------


def test_json_over_websocket_beside_tcp(server: ServerProcess, connect, sockets) -> None:
    tcp = connect()
    tcp.join("tcpuser", version=2)
    page = Ws(server, origin=f"http://127.0.0.1:{server.port}")
    sockets.append(page)
    assert page.accepted is not None and page.accepted.subprotocol is None
    page.send(type="join", username="webby", version=2)
    welcome = page.expect("welcome")
    assert welcome["username"] == "webby" and welcome["users"] == ["tcpuser", "webby"]
    page.expect("history_end", room="#lobby")
    assert tcp.expect("user_joined")["username"] == "webby"
    page.send(type="chat", message="<img src=x onerror=alert(1)>")
    assert tcp.expect("chat")["message"] == "<img src=x onerror=alert(1)>"  # text, passed on as text
    tcp.send(type="chat", message="hello browser")
    got = page.expect("chat")
    assert got["username"] == "tcpuser" and got["message"] == "hello browser"
    page.send(type="join_room", room="#web")
    page.expect("history_end", room="#web")
    page.send_text("{not json")
    assert page.expect("error")["code"] == "bad_frame"
    page.send(type="quit")
    assert tcp.expect("user_left")["username"] == "webby"


def test_messages_in_fragments_and_too_big(start_server, sockets) -> None:
    server = start_server("--max-frame", "1024")
    page = Ws(server)
    sockets.append(page)
    page.sock.sendall(page.ws.send(Message(data='{"type":"join",', message_finished=False)))
    page.sock.sendall(page.ws.send(Message(data='"username":"frag"}', message_finished=True)))
    assert page.expect("welcome")["username"] == "frag"
    page.sock.sendall(page.ws.send(Message(data="x" * 2000)))
    closed = page.wait_closed()
    assert closed.code == 1009


def test_binary_messages_are_refused(server: ServerProcess, sockets) -> None:
    page = Ws(server)
    sockets.append(page)
    page.sock.sendall(page.ws.send(Message(data=b"\x00\x01")))
    assert page.wait_closed().code == 1003


def test_a_page_from_another_site_is_refused(start_server, sockets) -> None:
    server = start_server()
    evil = Ws(server, origin="https://evil.example")
    sockets.append(evil)
    assert evil.rejected == 403
    allowed = start_server("--allow-origin", "https://chat.example.org")
    ok = Ws(allowed, origin="https://chat.example.org")
    sockets.append(ok)
    assert ok.accepted is not None
    own = Ws(allowed, origin=f"http://127.0.0.1:{allowed.port}")  # with a list, only the list
    sockets.append(own)
    assert own.rejected == 403


def test_close_codes_and_ping(server: ServerProcess, sockets) -> None:
    page = Ws(server)
    sockets.append(page)
    page.sock.sendall(page.ws.send(Ping(b"are you there")))
    page.send(type="join", username="pinger", version=2)
    page.expect("welcome")
    page.sock.sendall(page.ws.send(CloseConnection(code=1000, reason="bye")))
    assert page.wait_closed().code == 1000


def test_irc_over_websocket(server: ServerProcess, connect, sockets) -> None:
    tcp = connect()
    tcp.join("jay", version=2)
    irc = Ws(server, subprotocols=["text.ircv3.net"])
    sockets.append(irc)
    assert irc.accepted is not None and irc.accepted.subprotocol == "text.ircv3.net"
    irc.send_text("NICK webirc")
    irc.send_text("USER w 0 * :Web IRC")
    assert irc.expect_line(" 001 ").endswith(" 001 webirc :Welcome to selchat, webirc")
    irc.send_text("JOIN #lobby")
    irc.expect_line(" 366 webirc #lobby ")
    irc.send_text("PRIVMSG #lobby :hi from a web IRC client")
    assert tcp.expect("chat")["message"] == "hi from a web IRC client"
    tcp.send(type="chat", message="hi back")
    assert irc.expect_line("PRIVMSG #lobby :hi back") == ":jay!jay@selchat PRIVMSG #lobby :hi back"


def test_a_slow_websocket_reader_is_dropped_and_others_go_on(start_server, sockets) -> None:
    server = start_server("--max-output", "65536", "--rate-limit", "0")
    slow = Ws(server, rcvbuf=4096)
    sockets.append(slow)
    slow.send(type="join", username="slowpoke", version=2)
    slow.expect("welcome")  # ... and never reads again
    talker = RawClient(server.address)
    listener = RawClient(server.address)
    sockets.extend([talker, listener])
    talker.join("talker")
    listener.join("listener")
    sent = got = 0
    left = None
    end = time.monotonic() + 30
    listener.sock.setblocking(False)
    while left is None or got < sent:
        assert time.monotonic() < end, f"sent {sent}, got {got}, left {left}"
        if left is None:
            talker.send(type="chat", message=f"{sent}:" + "y" * 1900)
            sent += 1
        try:
            listener.buf += listener.sock.recv(1 << 20)
        except BlockingIOError:
            select.select([listener.sock], [], [], 0.01)
        while b"\n" in listener.buf:
            raw, _, listener.buf = listener.buf.partition(b"\n")
            frame = json.loads(raw)
            if frame["type"] == "chat":
                assert frame["message"].startswith(f"{got}:")  # in order, none lost
                got += 1
            elif frame["type"] == "user_left":
                left = frame
    assert left["username"] == "slowpoke" and left["reason"] == "slow consumer"


def test_https_and_wss_on_the_tls_port(start_server, cert_files, sockets) -> None:
    cert, key = cert_files
    server = start_server("--tls-cert", str(cert), "--tls-key", str(key))
    context = ssl.create_default_context(cafile=str(cert))
    status, _, body = http(server, get("/"), tls=context)
    assert status == 200 and b"<title>selchat</title>" in body
    page = Ws(server, tls=context)
    sockets.append(page)
    page.send(type="join", username="secure", version=2)
    assert page.expect("welcome")["username"] == "secure"


def test_keepalive_pings_flood_control_and_the_server_password(start_server, tmp_path, sockets) -> None:
    secret = tmp_path / "password"
    secret.write_text("letmein\n")
    server = start_server("--ping-interval", "0.3", "--rate-limit", "2", "--burst", "2",
                          "--password-file", str(secret))
    wrong = Ws(server)
    sockets.append(wrong)
    wrong.send(type="join", username="guessing", version=2, password="nope")
    assert wrong.expect("error")["code"] == "bad_password"
    page = Ws(server)
    sockets.append(page)
    page.send(type="join", username="pinged", version=2, password="letmein")
    page.expect("welcome")
    end = time.monotonic() + DEADLINE
    while not page.pings and time.monotonic() < end:  # the server pings a quiet WebSocket
        try:
            page._read(0.2)
        except TimeoutError:
            continue
    assert page.pings, "no keepalive ping"
    for i in range(5):
        page.send(type="chat", message=f"flood {i}")
    assert page.expect("error")["code"] == "rate_limited"
    page.send(type="ping", id=7)
    assert page.expect("pong")["id"] == 7  # still connected: pings answered, flooding refused



@pytest.mark.parametrize("subprotocols", [[], ["text.ircv3.net"]])
def test_a_websocket_message_is_decoded_once(subprotocols: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """wsproto's text goes to the inner codec as the one line it is: never back to bytes to be
    split into lines and decoded again (the inner codec's byte door is not used)."""
    from selchat.events import Chat, Join
    from selchat.wire.web import WebCodec

    codec = WebCodec(16384, "selchat", frozenset())
    client = WSConnection(ConnectionType.CLIENT)
    upgrade = client.send(Request(host="127.0.0.1", target="/ws", subprotocols=subprotocols))
    for item in codec.feed(upgrade):
        if type(item) is bytes:
            client.receive_data(item)
    assert [type(e) for e in client.events()] == [AcceptConnection] and codec.inner is not None

    def no_bytes(self: Any, data: bytes) -> list[Any]:
        raise AssertionError("a WebSocket message went through the byte stream")
    monkeypatch.setattr(type(codec.inner), "feed", no_bytes)
    if subprotocols:
        said = ["NICK ünï", "USER u 0 * :real", "PRIVMSG #lobby :hi ✓"]
    else:
        said = ['{"type":"join","username":"ünï","version":2}', '{"type":"chat","message":"hi ✓"}']
    got = [item for text in said for item in codec.feed(client.send(Message(data=text)))]
    assert [type(c) for c in got if isinstance(c, (Join, Chat))] == [Join, Chat]
    assert next(c for c in got if isinstance(c, Chat)).message == "hi ✓"


def test_frames_sent_behind_the_upgrade_are_read_not_dropped() -> None:
    """A client that does not wait for the 101 (RFC 6455 §4.1 asks it to) sends its join in the
    same packet as the request: wsproto's server would drop those bytes, the codec reads them."""
    from selchat.events import Chat, Join
    from selchat.wire.web import WebCodec

    codec = WebCodec(16384, "selchat", frozenset())
    client = WSConnection(ConnectionType.CLIENT)
    upgrade = client.send(Request(host="127.0.0.1", target="/ws"))
    join = b'{"type":"join","username":"early"}'
    chat = b'{"type":"chat","message":"before the 101"}'
    masked = [bytes([0x81, 0x80 | len(p)]) + b"\0\0\0\0" + p for p in (join, chat)]  # a zero mask
    got = codec.feed(upgrade + b"".join(masked))
    assert [type(c) for c in got if isinstance(c, (Join, Chat))] == [Join, Chat]
    assert next(c for c in got if isinstance(c, Join)).username == "early"


def test_a_browser_gets_the_page_s_files_on_one_connection(server) -> None:
    """With Connection: keep-alive (as browsers send) the files come one after another on one
    connection, so that loading the page twice is not thirty connections against the limit."""
    with socket.create_connection(server.address, timeout=DEADLINE) as sock:
        ask = "GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"
        sock.sendall(ask.format("/").encode() + ask.format("/app.js").encode())  # the second behind the first
        data = b""
        while data.count(b"HTTP/1.1 200 OK") < 2:
            chunk = sock.recv(65536)
            assert chunk, f"closed after {data.count(b'HTTP/1.1 200')} answers"
            data += chunk
        assert b"Connection: keep-alive" in data and b"<!doctype html>" in data
        sock.sendall(b"GET /style.css HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        rest = b""
        while chunk := sock.recv(65536):
            rest += chunk
        assert rest.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in rest  # and then closed


def test_a_kept_alive_connection_hears_nothing_meant_for_chatters(start_server) -> None:
    """Between two of the page's files a browser's connection has no wire: a shutdown sent to
    everyone skips it (and the server stops cleanly), and it gets no JSON."""
    server = start_server()
    idle = socket.create_connection(server.address, timeout=DEADLINE)
    idle.sendall(b"GET /style.css HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n")
    answer = b""
    while b"}" not in answer:  # the stylesheet, whole enough
        answer += idle.recv(65536)
    from tests.clients import RawClient

    chatter = RawClient(server.address)
    chatter.join("chatter", version=2)
    assert server.stop() == 0
    assert chatter.wait_closed()[-1]["type"] == "shutdown"
    rest = b""
    while chunk := idle.recv(65536):
        rest += chunk
    assert b'"type"' not in rest  # no chat frame on it
    idle.close()
    chatter.close()
