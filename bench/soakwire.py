"""How a soak client speaks each of the server's protocols: JSON lines, IRC, text mode (a person
at ``nc``), the page's WebSocket, and plain HTTP.

A wire is sans-I/O, as h11 and wsproto are: it turns what an actor means (log in as this name,
say this line, leave) into bytes, and the server's bytes into events for the actor. One wire
object per connection, made fresh at each connect. Events are tuples:

    ("welcome",)              the client is in #lobby and may chat
    ("chat", sender, text)    a message in #lobby
    ("error", code)           the server refused something (a JSON code, an IRC numeric, FAIL)
    ("reply", data)           bytes the protocol owes the server at once (PONG, a WebSocket pong)
    ("problem", text)         the server broke its own protocol (a line that is not JSON ...)
"""

from __future__ import annotations

import base64
import json
import os
import re
import struct
from typing import Any

LOBBY = "#lobby"
Event = tuple[Any, ...]

# irctest buffering.py and RFC 1459: a line from an IRC server is at most 512 bytes with its CRLF
IRC_LINE_MAX = 512
_TEXT_CHAT = re.compile(r"^\[\d\d:\d\d\] #lobby (\S+): (.*)$")


def ws_frame(payload: bytes, opcode: int = 1, fin: bool = True, mask: bytes | None = None) -> bytes:
    """One client frame, masked as RFC 6455 §5.3 requires of a client (``mask=b""`` leaves it bare)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    key = os.urandom(4) if mask is None else mask
    bit = 0x80 if key else 0
    size = len(payload)
    if size < 126:
        head += bytes([bit | size])
    elif size < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", size)
    if not key:
        return head + payload
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def ws_upgrade(port: int, origin: str | None = None) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    lines = ["GET /ws HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if origin:
        lines.append(f"Origin: {origin}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Wire:
    """The base: line-framed, nothing understood. Subclasses say how to speak and what they hear."""

    name = "raw"

    def __init__(self, port: int) -> None:
        self.port = port
        self.buf = b""

    def hello(self, name: str) -> bytes:
        return b""

    def chat(self, text: str) -> bytes:
        return text.encode() + b"\n"

    def quit(self) -> bytes:
        return b""

    def feed(self, data: bytes) -> list[Event]:
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        events: list[Event] = []
        for line in lines:
            self.line(line.rstrip(b"\r"), events)
        return events

    def line(self, line: bytes, events: list[Event]) -> None:
        pass


def json_events(line: bytes, events: list[Event]) -> None:
    """The events one JSON frame from the server means (JSON lines and the WebSocket alike)."""
    try:
        frame = json.loads(line)
    except ValueError:
        events.append(("problem", f"the server sent a line that is not JSON: {line[:80]!r}"))
        return
    kind = frame.get("type")
    if kind == "welcome":
        events.append(("welcome",))
    elif kind == "chat" and frame.get("room", LOBBY) in (LOBBY, "lobby"):  # JSON v1 names it "lobby"
        events.append(("chat", str(frame.get("username")), str(frame.get("message"))))
    elif kind == "ping":
        events.append(("reply", {"type": "pong", "id": frame.get("id")}))
    elif kind == "error":
        events.append(("error", frame.get("code", "?")))


class JsonWire(Wire):
    name = "json"

    def hello(self, name: str) -> bytes:
        # the first line picks the protocol (wire/sniff.py): a ping first, then the join
        return b'{"type":"ping","id":"hello"}\n' + self.frame(type="join", username=name)

    def frame(self, **fields: Any) -> bytes:
        return json.dumps(fields).encode() + b"\n"

    def chat(self, text: str) -> bytes:
        return self.frame(type="chat", message=text)

    def quit(self) -> bytes:
        return b'{"type":"quit"}\n'

    def feed(self, data: bytes) -> list[Event]:
        return [("reply", self.frame(**e[1])) if e[0] == "reply" else e for e in super().feed(data)]

    def line(self, line: bytes, events: list[Event]) -> None:
        json_events(line, events)


class IrcWire(Wire):
    name = "irc"

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.nick = ""

    def hello(self, name: str) -> bytes:
        self.nick = name
        # JOIN follows registration in the same write: the server handles lines in order
        return f"NICK {name}\r\nUSER {name} 0 * :soak {name}\r\nJOIN {LOBBY}\r\n".encode()

    def chat(self, text: str) -> bytes:
        return f"PRIVMSG {LOBBY} :{text}\r\n".encode()

    def quit(self) -> bytes:
        return b"QUIT :done\r\n"

    def line(self, line: bytes, events: list[Event]) -> None:
        if len(line) + 2 > IRC_LINE_MAX:
            events.append(("problem", f"an IRC line of {len(line) + 2} bytes: {line[:80]!r}"))
        text = line.decode("utf-8", "replace")
        if text.startswith("@"):
            text = text.partition(" ")[2]
        prefix = ""
        if text.startswith(":"):
            prefix, _, text = text[1:].partition(" ")
        command, _, rest = text.partition(" ")
        params, _, trailing = rest.partition(" :")
        words = params.split()
        sender = prefix.split("!", 1)[0]
        if command == "PING":
            events.append(("reply", f"PONG :{trailing or (words[0] if words else '')}\r\n".encode()))
        elif command == "JOIN" and sender.lower() == self.nick.lower():
            events.append(("welcome",))
        elif command == "PRIVMSG" and words[:1] == [LOBBY]:
            events.append(("chat", sender, trailing))
        elif command == "FAIL" or (command.isdigit() and command[0] in "45" and command != "422"):  # 422: no MOTD
            events.append(("error", f"irc:{command}"))
        elif command == "ERROR":
            events.append(("error", "irc:ERROR"))


class TextWire(Wire):
    """A person at ``nc``: a name line, then lines of chat; what arrives is one readable line each."""

    name = "text"

    def hello(self, name: str) -> bytes:
        self.nick = name
        return name.encode() + b"\n"

    def quit(self) -> bytes:
        return b"/quit\n"

    def line(self, line: bytes, events: list[Event]) -> None:
        text = line.decode("utf-8", "replace")
        if text.startswith("You are in #lobby"):
            events.append(("welcome",))
            return
        match = _TEXT_CHAT.match(text)
        if match:
            events.append(("chat", match.group(1), match.group(2)))


class WsWire(Wire):
    """The page's protocol: an HTTP upgrade, then JSON frames in masked WebSocket text messages.

    The reading side is a small RFC 6455 parser of the server's (unmasked) frames, so it can also
    check what wsproto would let pass: no frame after the server's own Close (§5.5.1).
    """

    name = "ws"

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.upgraded = False
        self.name_ = ""
        self.closed_by_server = False
        self.message = b""

    def hello(self, name: str) -> bytes:
        self.name_ = name
        # the join rides with the upgrade: the server reads the frames after the request's end
        return ws_upgrade(self.port) + self.frame(type="join", username=name)

    def frame(self, **fields: Any) -> bytes:
        return ws_frame(json.dumps(fields).encode())

    def chat(self, text: str) -> bytes:
        return self.frame(type="chat", message=text)

    def quit(self) -> bytes:
        return ws_frame(struct.pack("!H", 1000), opcode=8)

    def feed(self, data: bytes) -> list[Event]:
        self.buf += data
        events: list[Event] = []
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return events
            status = self.buf[: self.buf.find(b"\r\n")]
            if b" 101 " not in status + b" ":
                events.append(("error", f"http:{status[9:12].decode(errors='replace')}"))
            self.upgraded = True
            self.buf = self.buf[end + 4 :]
        while (frame := self._next_frame()) is not None:
            self._frame(*frame, events)
        return [("reply", self.frame(**e[1])) if e[0] == "reply" and isinstance(e[1], dict) else e
                for e in events]

    def _next_frame(self) -> tuple[int, bool, bytes] | None:
        buf = self.buf
        if len(buf) < 2:
            return None
        opcode, fin, size, at = buf[0] & 0x0F, bool(buf[0] & 0x80), buf[1] & 0x7F, 2
        if size == 126:
            if len(buf) < 4:
                return None
            size, at = struct.unpack("!H", buf[2:4])[0], 4
        elif size == 127:
            if len(buf) < 10:
                return None
            size, at = struct.unpack("!Q", buf[2:10])[0], 10
        if len(buf) < at + size:
            return None
        self.buf = buf[at + size :]
        return opcode, fin, buf[at : at + size]

    def _frame(self, opcode: int, fin: bool, payload: bytes, events: list[Event]) -> None:
        if self.closed_by_server:
            events.append(("problem", f"a WebSocket frame (opcode {opcode}) after the server's Close"))
            return
        if opcode == 9:
            events.append(("reply", ws_frame(payload, opcode=10)))
        elif opcode == 8:
            self.closed_by_server = True
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            events.append(("error", f"ws:{code}"))
        elif opcode in (0, 1):
            self.message += payload
            if fin:
                whole, self.message = self.message, b""
                json_events(whole, events)
        elif opcode != 10:
            events.append(("problem", f"the server sent a WebSocket frame with opcode {opcode}"))


class HttpWire(Wire):
    """Plain HTTP: requests for the page and its files; answers are only counted."""

    name = "http"

    def hello(self, name: str) -> bytes:
        return f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n\r\n".encode()

    def chat(self, text: str) -> bytes:
        return self.hello(text)  # one more request on the same connection

    def feed(self, data: bytes) -> list[Event]:
        self.buf += data
        events: list[Event] = []
        while (at := self.buf.find(b"HTTP/1.1 ")) >= 0 and len(self.buf) >= at + 12:
            status = self.buf[at + 9 : at + 12].decode(errors="replace")
            if status == "500":  # 501 and 503 are answers; 500 is a bug that reached the client
                events.append(("problem", "an HTTP 500 answer"))
            if status >= "400":
                events.append(("error", f"http:{status}"))
            self.buf = self.buf[at + 12 :]
        self.buf = self.buf[-16:]  # bodies are not kept: only a status line cut in two
        return events


WIRES: dict[str, type[Wire]] = {w.name: w for w in (JsonWire, IrcWire, TextWire, WsWire, HttpWire)}
# the protocols a person chats in (HTTP only fetches the page)
CHAT_WIRES = ("json", "irc", "text", "ws")
