"""`make abuse`, part two: losing or forging what others see, and flooding the log (issue 21,
items 4, 5, 8, 9, 14, 15, 17, 18). Same contract as abuse_down.py."""

from __future__ import annotations

import base64
import socket
import time
from typing import Any

from abuseclients import Failed, Irc, Json, Line

FORGED_LOG = "x\nFORGED INFO selchat.server: join root\r\x1b[2J"


def fields_with_line_breaks(t: Any) -> str:
    """Item 4: CR and NUL in USER, a topic, an away message must not reach others as lines."""
    mallory = Line(t.address, t.source())
    mallory.send(b"NICK mallory\r\nUSER us\rer\x00 0 * :real\r:fake!f@f PRIVMSG #lobby :spoofed\r\n")
    jay = Json(t.address, t.source())
    jay.join("jay")
    jay.frame(type="away", message="gone\r\nPRIVMSG #lobby :y")
    jay.frame(type="ping", id=1)
    jay.expect("pong")
    watcher = Irc(t.address, t.source(), "watcher")
    watcher.say("WHO mallory", "WHOIS mallory", "USERHOST mallory", "WHOIS jay", "PING :done")
    seen = watcher.upto(":done")
    bad = [line for line in seen if "\r" in line or "\0" in line or line.startswith(":fake")]
    if bad or not any(" 352 " in line for line in seen):
        raise Failed(f"a forged line reached WHO/WHOIS: {bad or seen}")
    for client in (mallory, jay, watcher):
        client.close()
    return "WHO, WHOIS, USERHOST and the away reply carry the values on one line each, CR and NUL gone"


def offline_dms(t: Any) -> str:
    """Item 5: 110 long DMs to an offline account: 100 kept (the per-sender cap), dms_full for the
    rest, and all 100 delivered at login without a drop; none twice."""
    owner = Json(t.address, t.source())
    owner.join("dana")
    owner.frame(type="register", password="dana's password")
    owner.expect("registered")
    owner.close()
    sender = Json(t.address, t.source())
    sender.join("sam")
    sender.frame(type="register", password="sam's password")  # DMs are kept between accounts
    sender.expect("registered")
    text = "z" * 2000
    for _ in range(110):
        sender.frame(type="dm", to="dana", message=text)
        time.sleep(0.11)  # under the rate limit: only the cap may refuse
    sender.frame(type="ping", id="end")
    refused = 0
    while (frame := sender.recv())["type"] != "pong":
        refused += frame.get("code") == "dms_full"
    sender.close()
    counts = []
    for _ in range(2):
        dana = Json(t.address, t.source())
        if dana.join("dana", login="dana's password")["type"] != "welcome":
            raise Failed("dana could not log in")
        dana.frame(type="ping", id="after")
        got = 0
        while (frame := dana.recv(30))["type"] != "pong":
            got += frame["type"] == "dm" and frame.get("from") == "sam"
        counts.append(got)
        dana.close()
    if refused != 10 or counts != [100, 0]:
        raise Failed(f"dms_full {refused} times; delivered at the two logins: {counts}")
    return "100 kept, the other 10 answered dms_full; all 100 (200 KB) delivered in pages at login, 0 at the next"


def numbers_out_of_range(t: Any) -> str:
    """Item 8: numbers no parser should take, and a transfer coding h11 refuses."""
    mallory = Json(t.address, t.source())
    mallory.join("numbers")
    lines = [b'{"type":"ping","id":1e400}'] + [
        b'{"type":"history","room":"#lobby","before":%s}' % n for n in (b"1e19", b"9.3e12", b"1e400", b"-1e300")]
    codes = []
    for line in lines:
        mallory.send(line + b"\n")
        codes.append(mallory.error()["code"])
    irc = Irc(t.address, t.source(), "ircnumbers")
    irc.say("CHATHISTORY BEFORE #lobby msgid=" + "9" * 20 + " 10")
    fail = irc.expect("FAIL")
    http = Line(t.address, t.source())
    http.send(b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
    status = http.line()
    for client in (mallory, irc, http):
        client.close()
    if set(codes) != {"bad_frame"} or "INVALID_PARAMS" not in fail or b" 501 " not in status:
        raise Failed(f"{codes}, {fail!r}, {status!r}")
    return f"bad_frame for all {len(codes)}, FAIL CHATHISTORY INVALID_PARAMS, HTTP 501; no traceback"


def forged_log_lines(t: Any) -> str:
    """Item 9: a newline in a SASL authcid, a name or a login must not start a log line."""
    irc = Irc(t.address, t.source())
    irc.say("CAP LS 302", "NICK forger", "USER f 0 * :f", "CAP REQ :sasl", "AUTHENTICATE PLAIN")
    irc.expect("AUTHENTICATE +")
    irc.say("AUTHENTICATE " + base64.b64encode(f"\0{FORGED_LOG}\0password".encode()).decode())
    irc.expect(" 904 ")
    client = Json(t.address, t.source())
    client.frame(type="join", username=FORGED_LOG)
    client.error()
    irc.close()
    client.close()
    time.sleep(0.3)
    bad = [line for line in t.log().splitlines() if line.startswith("FORGED") or "\x1b" in line or "\r" in line]
    if bad:
        raise Failed(f"a forged log line: {bad[0]!r}")
    return "the values are quoted in the log: no line of their own, no escape, no CR"


def text_that_is_not_utf8(t: Any) -> str:
    """Item 14: bytes that are not UTF-8, in IRC, JSON and text mode: refused, never relayed."""
    irc = Irc(t.address, t.source(), "latin")
    irc.send(b"PRIVMSG #lobby :caf\xe9\r\n")
    fail = irc.expect("INVALID_UTF8")
    json_client = Json(t.address, t.source())
    json_client.join("latin2")
    json_client.send(b'{"type":"chat","message":"caf\xe9"}\n')
    code = json_client.error()["code"]
    terminal = Line(t.address, t.source())
    terminal.send(b"typist\n")
    while not terminal.line().startswith(b"You are in #lobby"):
        pass
    terminal.send(b"na\xefve\n")
    while b"not UTF-8" not in (said := terminal.line()):
        pass
    for client in (irc, json_client, terminal):
        client.close()
    if " FAIL PRIVMSG INVALID_UTF8 " not in fail or code != "bad_frame":
        raise Failed(f"{fail!r}, {code}")
    return f"IRC FAIL PRIVMSG INVALID_UTF8, JSON bad_frame, text mode \"{said.decode().lstrip('! ')[:70]}\""


def irc_lines_over_512(t: Any) -> str:
    """Item 15: a full-length line relayed with the sender's mask in front is cut on a boundary."""
    sender, reader = Irc(t.address, t.source(), "longsender"), Irc(t.address, t.source(), "reader")
    body = "PRIVMSG reader :"
    sender.send((body + "a" * (510 - len(body) - 4) + "😃\r\n").encode())
    got = reader.expect("PRIVMSG reader")
    sender.close()
    reader.close()
    if len(got.encode()) + 2 > 512 or not got.endswith("a"):
        raise Failed(f"a relayed line of {len(got.encode()) + 2} bytes")
    return f"relayed in {len(got.encode()) + 2} bytes, the emoji dropped whole"


def rebound_origin(t: Any) -> str:
    """Item 17: a page on a rebound DNS name is not the page's own origin."""
    statuses = []
    for host in (f"evil.example:{t.address[1]}", f"127.0.0.1:{t.address[1]}"):
        with socket.create_connection(t.address, timeout=10) as sock:
            sock.sendall((f"GET /ws HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode())
            statuses.append(int(sock.recv(4096).split(b" ")[1]))
    if statuses != [403, 101]:
        raise Failed(f"statuses {statuses}")
    return "403 for evil.example's Origin, 101 for the server's own address"


def invisible_characters(t: Any) -> str:
    """Item 18: bidirectional overrides and zero-width spaces are shown, not obeyed, at `nc`."""
    terminal = Line(t.address, t.source())
    terminal.send(b"watcher18\n")
    while not terminal.line().startswith(b"You are in #lobby"):
        pass
    writer = Json(t.address, t.source())
    writer.join("bidi")
    writer.frame(type="chat", message="abc\u202edef\u200bghi")
    while b"bidi:" not in (line := terminal.line()):
        pass
    terminal.close()
    writer.close()
    shown = line.decode()
    if "\u202e" in shown or "\u200b" in shown:
        raise Failed(f"shown as {shown!r}")
    return f"text mode shows {shown.split('bidi: ')[1]!r}"


CASES = [
    ("4", "CR and NUL in IRC USER and an away message", fields_with_line_breaks),
    ("5", "110 long DMs to an offline account", offline_dms),
    ("8", "numbers out of range, a bad transfer coding", numbers_out_of_range),
    ("9", "a newline in a SASL name to forge the log", forged_log_lines),
    ("14", "text that is not UTF-8", text_that_is_not_utf8),
    ("15", "an IRC line past 512 bytes once relayed", irc_lines_over_512),
    ("17", "a DNS-rebinding page", rebound_origin),
    ("18", "bidirectional and zero-width characters", invisible_characters),
]
