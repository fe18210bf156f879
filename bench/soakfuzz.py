"""Fuzz input for each of the server's codecs: JSON lines, IRC lines, text-mode lines, WebSocket
frames and HTTP requests. Each maker takes a seeded ``random.Random`` and gives the bytes of one
unit (a line, a frame, a request): random bytes, a damaged valid unit, or a valid one with odd
values in it (huge numbers, controls, lone surrogates, deep nesting, lies about lengths).
"""

from __future__ import annotations

import json
import random
import struct
from collections.abc import Callable
from typing import Any

from soakwire import ws_frame

VALID = [
    {"type": "chat", "message": "hello"},
    {"type": "users"},
    {"type": "ping", "id": 1},
    {"type": "dm", "to": "w0", "message": "hi"},
    {"type": "join", "username": "someone"},
    {"type": "join_room", "room": "#x"},
    {"type": "history", "room": "#lobby", "before": 1, "limit": 10},
    {"type": "rooms", "after": "", "limit": 5},
    {"type": "topic", "room": "#lobby", "topic": "t"},
    {"type": "quit"},
]
ODD_VALUES: list[Any] = [
    None, True, 0, -1, 2**63, 1e308, -1e300, "", "x" * 3000, "\x00\x1b[2J", "\ud800", "\u202e", [], {},
    [[[[]]]], {"a": {"b": []}},
]
ODD_WORDS = ["", "#", "#lobby", "*", "0", "-1", "1e400", "99999999999999999999", "\x00", "\r", "\x1b[2J", "é",
             "\u202e", "x" * 600, ":", "::", "@", "!", "msgid=", "timestamp=2020", "w0", "NickServ", "#a,#b,#c"]
IRC_COMMANDS = ["PRIVMSG #lobby", "PRIVMSG w0", "NOTICE #lobby", "JOIN", "PART", "TOPIC #lobby", "NICK", "USER",
                "MODE #lobby", "WHO", "WHOIS", "LIST", "NAMES", "AWAY", "CAP REQ", "CAP LS", "AUTHENTICATE",
                "CHATHISTORY BEFORE #lobby", "CHATHISTORY LATEST #lobby *", "TAGMSG #lobby", "PING", "PONG",
                "USERHOST", "ISON", "LUSERS", "MOTD", "KICK #lobby", "INVITE w0", "QUIT", "PASS", "HELP"]
IRC_TAGS = ["msgid=1", "a=b;c=\\\\", "+draft/reply=x", "=", ";;;", "+typing=active", "x=" + "y" * 9000]
TEXT_COMMANDS = ["", "/join", "/part", "/msg", "/me", "/users", "/list", "/topic", "/nick", "/away", "/help",
                 "/quit", "/nonsense", "/join #x,#y", "/msg w0"]
HTTP_PATHS = ["/", "/ws", "/app.js", "/style.css", "/metrics", "/healthz", "/%00", "/../../etc/passwd",
              "/" + "a" * 9000,
              "*", "http://x/", "/?a=" + "%" * 50]
HTTP_HEADERS = ["Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Version: 8", "Sec-WebSocket-Key: x", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                "Origin: http://evil.example", "Transfer-Encoding: chunked", "Transfer-Encoding: gzip, chunked",
                "Content-Length: 10", "Content-Length: -1", "Content-Length: 99999999999999999999",
                "Expect: 100-continue", "X: " + "y" * 20000, "Bad Header", ": empty", "If-None-Match: *"]


def _random_bytes(rng: random.Random, most: int = 300) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, most)))


def damage(rng: random.Random, data: bytes) -> bytes:
    """A few random edits: bit flips, inserted delimiters, cut runs, repeats, or a huge tail."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        pos = rng.randrange(len(out) + 1)
        if op < 0.3 and out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        elif op < 0.5:
            out[pos:pos] = bytes([rng.choice(b'{}[]",:\\\n\r\x00\xff @;=')])
        elif op < 0.7 and out:
            del out[pos : pos + rng.randint(1, 10)]
        elif op < 0.85:
            out[pos:pos] = out[: rng.randint(0, len(out))]
        else:
            out += bytes([rng.choice(b"[{:x")]) * rng.randint(1, 20000)  # nesting, an oversized unit
    return bytes(out)


def json_unit(rng: random.Random) -> bytes:
    choice = rng.random()
    if choice < 0.2:
        return _random_bytes(rng) + b"\n"
    frame = dict(rng.choice(VALID))
    if choice < 0.5:
        key = rng.choice([*frame, "type", "message", "username", "to", "id", "room", "before", "limit", "extra"])
        frame[key] = rng.choice(ODD_VALUES)
        try:
            return json.dumps(frame).encode("utf-8", "surrogatepass") + b"\n"
        except (ValueError, TypeError):
            return b"{}\n"
    return damage(rng, json.dumps(frame).encode()) + b"\n"


def irc_unit(rng: random.Random) -> bytes:
    choice = rng.random()
    if choice < 0.15:
        return _random_bytes(rng) + b"\r\n"
    words = [rng.choice(ODD_WORDS) for _ in range(rng.randint(0, 4))]
    line = " ".join([rng.choice(IRC_COMMANDS), *words])
    if rng.random() < 0.5:
        line += " :" + rng.choice(ODD_WORDS)
    if rng.random() < 0.2:
        line = "@" + rng.choice(IRC_TAGS) + " " + line
    data = line.encode("utf-8", "surrogatepass")
    if choice < 0.5:
        data = damage(rng, data)
    if rng.random() < 0.1:
        data += b"\xff\xfe"  # not UTF-8: the server must refuse it, not re-read it as latin-1
    return data + rng.choice([b"\r\n", b"\n", b"\r", b"\r\r\n"])


def text_unit(rng: random.Random) -> bytes:
    if rng.random() < 0.15:
        return _random_bytes(rng) + b"\n"
    words = [rng.choice(ODD_WORDS) for _ in range(rng.randint(0, 3))]
    data = " ".join([rng.choice(TEXT_COMMANDS), *words]).strip().encode("utf-8", "surrogatepass")
    if rng.random() < 0.4:
        data = damage(rng, data)
    return data + b"\n"


def ws_unit(rng: random.Random) -> bytes:
    """A client frame: mostly a JSON frame in a masked text message, else a broken frame."""
    payload = json_unit(rng).rstrip(b"\n")
    choice = rng.random()
    if choice < 0.5:
        return ws_frame(payload)
    if choice < 0.6:
        return ws_frame(payload, opcode=rng.choice([0, 2, 3, 7, 9, 10, 11, 15]))  # binary, reserved, control
    if choice < 0.7:
        return ws_frame(payload, fin=False) + ws_frame(payload[:5], opcode=0)  # fragments
    if choice < 0.75:
        return ws_frame(payload, mask=b"")  # unmasked: §5.1 says close
    if choice < 0.8:
        return ws_frame(b"x" * rng.choice([126, 20000, 70000]))  # past the size limit
    if choice < 0.85:
        return bytes([0x81, 0xFF]) + struct.pack("!Q", rng.choice([2**63, 2**40, 0])) + b"mask"  # lies
    if choice < 0.9:
        return ws_frame(struct.pack("!H", rng.choice([1000, 1002, 999, 5000])) + b"\xff", opcode=8)
    return damage(rng, ws_frame(payload))


def http_unit(rng: random.Random) -> bytes:
    """One request: odd methods, paths and headers, sometimes damaged or never finished."""
    if rng.random() < 0.1:
        return _random_bytes(rng, 600)
    method = rng.choice(["GET", "GET", "GET", "HEAD", "POST", "PUT", "OPTIONS", "BREW", "get"])
    version = rng.choice(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.x"])
    headers = rng.sample(HTTP_HEADERS, rng.randint(0, 5))
    head = f"{method} {rng.choice(HTTP_PATHS)} {version}\r\n" + "".join(h + "\r\n" for h in headers)
    data = head.encode() + b"\r\n"
    if rng.random() < 0.3:
        data += rng.choice([b"0\r\n\r\n", b"zz\r\nabc\r\n", b"5\r\nhello\r\n0\r\n\r\n", _random_bytes(rng, 50)])
    if rng.random() < 0.3:
        data = damage(rng, data)
    return data


UNITS: dict[str, Callable[[random.Random], bytes]] = {
    "json": json_unit, "irc": irc_unit, "text": text_unit, "ws": ws_unit, "http": http_unit,
}
