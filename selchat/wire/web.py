"""The browser's way in: HTTP/1.1 (h11) for the page, WebSocket (wsproto) for the chat.

Sans-I/O like every codec: bytes in, commands (or bytes to send, or ``Hangup``) out. A connection
starts as HTTP. ``GET /`` and the page's two files are answered and the connection is closed;
``GET /ws`` from an allowed ``Origin`` becomes a WebSocket, after which each text message is one
JSON frame (or, with the ``text.ircv3.net`` subprotocol, one IRC line) handed to the JSON or IRC
codec inside, and whatever that codec renders goes back one message per line.

Outgoing frames are built here, not by wsproto: a server's frames are unmasked and, without
extensions, carry no per-connection state, so one encoding can go to every browser in a room
(``WsWire``, interned per inner wire, as every codec's broadcasts are). wsproto does the parts
that need care: the handshake, unmasking, fragments, control frames and close codes.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from http import HTTPStatus
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import h11
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from selchat.config import MAX_MESSAGE
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import Command, Pong
from selchat.hooks import PATH, PayloadError
from selchat.outbound import Event, HookAnswer
from selchat.wire import hookwire
from selchat.wire.base import Labeled
from selchat.wire.irc import IrcCodec
from selchat.wire.jsonl import JsonCodec
from selchat.wire.wsframes import Reader, close_frame, frame, messages, payloads

IRC_SUBPROTOCOL = "text.ircv3.net"
HEAD_MAX = 8192  # bytes of request line and headers (h11's own default is 16 KiB)
# Content-Security-Policy: the page's own script and style only, no inline code, no other site
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "manifest-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
CLOSE_TOO_BIG = 1009
CLOSE_UNSUPPORTED = 1003
CLOSE_POLICY = 1008  # refused: banned, too slow, no join in time
CLOSE_TRY_LATER = 1013  # the server is full
CLOSE_PROTOCOL = 1002


# The HTTP status of an error that ends a request before any WebSocket.
REFUSAL_STATUS = {ErrorCode.HANDSHAKE_TIMEOUT: 408, ErrorCode.SERVER_FULL: 503, ErrorCode.BANNED: 403,
                  ErrorCode.TOO_MANY_CONNECTIONS: 429}


@dataclass(slots=True)
class Hangup:
    """Close the connection once what was queued before this is written."""

    reason: str


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


# what each of the page's files is, by its suffix; every file in selchat/web/ is served at /NAME
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
                 ".webmanifest": "application/manifest+json"}


def _load_assets() -> dict[str, Asset]:
    web = resources.files("selchat") / "web"
    assets = {}
    for item in web.iterdir():
        kind = CONTENT_TYPES.get("." + item.name.rpartition(".")[2])
        if kind is None or not item.is_file():
            continue
        body = item.read_bytes()
        asset = Asset(body, kind, '"' + hashlib.sha256(body).hexdigest()[:20] + '"')
        assets["/" if item.name == "index.html" else "/" + item.name] = asset
    assets["/favicon.ico"] = assets["/favicon.svg"]  # asked for by browsers that saw no <link rel=icon>
    return assets


ASSETS = _load_assets()




def _not_rebindable(hostname: str) -> bool:
    """An address literal or localhost: a name no other site's DNS can point here."""
    if hostname == "localhost":  # browsers resolve it to loopback themselves (RFC 6761)
        return True
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True








class WsWire:
    """What a room hears, for browsers: the inner wire's rendering as WebSocket messages."""

    _interned: dict[int, WsWire] = {}
    __slots__ = ("inner",)

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @classmethod
    def of(cls, inner: Any) -> WsWire:
        wire = cls._interned.get(id(inner))
        if wire is None or wire.inner is not inner:
            wire = cls._interned[id(inner)] = cls(inner)
        return wire

    def encode(self, event: Event) -> bytes | None:
        data = self.inner.encode(event)
        return messages(data) if data else None


def reason(status: int) -> str:
    """The reason phrase for any status h11 or we might answer with (h11 hints 501 for a transfer
    coding it does not know): the standard library's table, so no status is missing from ours."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _response(status: int, body: bytes, headers: list[tuple[str, str]], head_only: bool = False,
              keep_alive: bool = False) -> bytes:
    """A response, then the connection closed (or, ``keep_alive``, the next request read): h11
    parses what the browser sends; what we send is a fixed shape, written out."""
    lines = [f"HTTP/1.1 {status} {reason(status)}"]
    if status != 304:
        lines.append(f"Content-Length: {len(body)}")
    lines += ["Connection: keep-alive" if keep_alive else "Connection: close", "X-Content-Type-Options: nosniff",
              "Referrer-Policy: no-referrer", "Server: selchat"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head_only or status == 304 else body)


def plain(status: int, text: str, extra: list[tuple[str, str]] | None = None) -> bytes:
    return _response(status, (text + "\n").encode(), [("Content-Type", "text/plain; charset=utf-8"), *(extra or [])])


class WebCodec:
    """One browser connection: HTTP until it upgrades, then WebSocket around the JSON or IRC codec."""

    @property
    def kind(self) -> str:
        return "websocket" if self.ws is not None else "http"

    def __init__(self, max_frame: int, irc_name: str, allowed_origins: frozenset[str],
                 max_message: int = MAX_MESSAGE) -> None:
        self.max_frame = max_frame
        self.irc_name = irc_name
        self.max_message = max_message
        self.allowed_origins = allowed_origins
        self.http = h11.Connection(h11.SERVER, max_incomplete_event_size=HEAD_MAX)
        self.raw = b""  # the request's bytes, handed to wsproto on an upgrade
        self.ws: WSConnection | None = None
        self.inner: JsonCodec | IrcCodec | None = None
        self._parts: list[str] = []
        self._size = 0
        self.frames = Reader(max_frame)  # after the upgrade: the common frame read here, the rest by wsproto
        self.done = False
        self.hook: hookwire.HookRequest | None = None  # POST /hooks/SECRET: its body so far

    @property
    def wire(self) -> Any:
        return WsWire.of(self.inner.wire) if self.inner is not None else None

    # -- in -------------------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[Any]:
        if self.done:
            return []
        if self.ws is None:
            return self._http(data)
        out: list[Any] = []
        said = self.frames.only_text(data)
        if said is not None:
            self._text(said, out)
            return out
        self.frames.feed(data, lambda text: self._text(text, out), lambda whole: self._wsproto(whole, out),
                         lambda: out.extend(self._close(CLOSE_TOO_BIG, f"a message is at most {self.max_frame} bytes")))
        return out

    def _wsproto(self, data: bytes, out: list[Any]) -> bool:
        """A whole frame that is not a whole text message: wsproto's to read (wsframes.py)."""
        assert self.ws is not None
        try:
            self.ws.receive_data(data)
            for event in self.ws.events():
                self._ws_event(event, out)
                if self.done:
                    break
        except (RemoteProtocolError, LocalProtocolError) as exc:
            out.extend(self._close(CLOSE_PROTOCOL, str(exc)[:100]))
        return not self.done

    def _text(self, text: str, out: list[Any]) -> bool:
        """One text message is one line: the inner codec parses it as it is."""
        assert self.inner is not None
        for item in self.inner.message(text):
            if type(item) is Labeled:
                item.items = [messages(x) if type(x) is bytes else x for x in item.items]
            out.append(messages(item) if type(item) is bytes else item)
        return not self.done

    def _http(self, data: bytes) -> list[Any]:
        self.raw += data
        end = self.raw.find(b"\r\n\r\n")
        if end > HEAD_MAX or (end < 0 and len(self.raw) > HEAD_MAX):  # h11 limits only a head still arriving
            self.done = True
            return [plain(431, "request header fields too large"), Hangup("HTTP head too large")]
        out: list[Any] = []
        try:
            self.http.receive_data(data)
            while not self.done and self.ws is None and (event := self.http.next_event()) is not h11.NEED_DATA:
                out += self._http_event(event)
        except h11.RemoteProtocolError as exc:
            self.done = True
            status = exc.error_status_hint
            text = "request header fields too large" if status == 431 else "bad request"
            return [plain(status, text), Hangup(f"bad HTTP request: {exc}")]
        return out

    def _http_event(self, event: Any) -> list[Any]:
        hook = self.hook
        if hook is not None and type(event) is h11.Data:  # a webhook's body, as it arrives
            if not hook.data(event.data):
                self.done = True
                return [plain(413, hookwire.TOO_BIG), Hangup("webhook body too large")]
            return []
        if hook is not None and type(event) is h11.EndOfMessage:
            self.done = True  # the hub's answer (HookAnswer) ends the connection
            post = hook.post()
            return [plain(400, str(post)), Hangup("webhook body not a post")] if type(post) is PayloadError else [post]
        if not isinstance(event, h11.Request):
            self.done = True
            return [plain(400, "bad request"), Hangup("bad HTTP request")]
        return self._request(event)

    def _request(self, request: h11.Request) -> list[Any]:
        method = request.method.decode("ascii", "replace")
        path = urlsplit(request.target.decode("ascii", "replace")).path
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in request.headers}
        if path == "/ws":
            return self._upgrade(method, headers)
        if path.startswith(PATH):
            return self._hook(method, path, headers)
        self.done = True
        if method not in ("GET", "HEAD"):
            return [plain(405, "only GET is served here", [("Allow", "GET, HEAD")]), Hangup("HTTP method")]
        asset = ASSETS.get(path)
        if asset is None:
            return [plain(404, "not found"), Hangup("HTTP 404")]
        common = [("Content-Type", asset.content_type), ("ETag", asset.etag), ("Cache-Control", "no-cache"),
                  ("Content-Security-Policy", CSP)]
        status = 304 if headers.get("if-none-match") == asset.etag else 200
        # a browser asks for the page's files one after another on one connection when it may
        # (Connection: keep-alive), rather than a connection each, against --connects-per-minute
        keep = headers.get("connection", "").lower() == "keep-alive" and request.http_version == b"1.1"
        answer = _response(status, asset.body, common, head_only=method == "HEAD", keep_alive=keep)
        return [answer, *self._next_request()] if keep else [answer, Hangup(f"HTTP {status}")]

    def _next_request(self) -> list[Any]:
        """Ready for the connection's next request, and whatever of it came already."""
        behind = self.http.trailing_data[0]
        self.http = h11.Connection(h11.SERVER, max_incomplete_event_size=HEAD_MAX)
        self.raw = b""
        self.done = False
        return self._http(behind) if behind else []

    def _hook(self, method: str, path: str, headers: dict[str, str]) -> list[Any]:
        refused = hookwire.refusal(method, path, headers)
        if refused is not None:
            self.done = True
            status, text, extra = refused
            return [plain(status, text, extra), Hangup(f"webhook refused: {status}")]
        self.hook = hookwire.HookRequest(path[len(PATH):], headers.get("content-type", ""))
        waiting = hookwire.continue_line(headers)
        return [waiting] if waiting else []

    def origin_allowed(self, origin: str | None, host: str | None) -> bool:
        """A browser always says where the page that opens a WebSocket came from; a page on
        another site must not chat as its visitor. Programs send no Origin and are let in.

        The page's own origin is let in only where it cannot be rebound: an address (127.0.0.1,
        [::1], a LAN address) or localhost. A DNS name is named with --allow-origin; otherwise a
        page on evil.example, its name rebound to this server, would pass a Host comparison
        (DNS rebinding, issue 21, item 17)."""
        if origin is None:
            return True
        if origin in self.allowed_origins:
            return True
        if self.allowed_origins:
            return False
        parts = urlsplit(origin)
        same = host is not None and parts.netloc.lower() == host.lower()
        return parts.scheme in ("http", "https") and same and _not_rebindable(parts.hostname or "")

    def _upgrade(self, method: str, headers: dict[str, str]) -> list[Any]:
        if method != "GET" or headers.get("upgrade", "").lower() != "websocket":
            self.done = True
            return [plain(400, "GET /ws is a WebSocket: send Upgrade: websocket"), Hangup("HTTP not an upgrade")]
        if not self.origin_allowed(headers.get("origin"), headers.get("host")):
            self.done = True
            return [plain(403, "this Origin may not open a WebSocket here"), Hangup("WebSocket from another site")]
        self.ws = WSConnection(ConnectionType.SERVER)
        raw, self.raw = self.raw, b""
        out: list[Any] = []
        try:
            self.ws.receive_data(raw)
            for event in self.ws.events():
                self._ws_event(event, out)
        except (RemoteProtocolError, LocalProtocolError) as exc:
            self.done = True
            return [plain(400, f"bad WebSocket handshake: {exc}"[:200]), Hangup("bad WebSocket handshake")]
        # wsproto's server drops what came behind the request (a client that did not wait for
        # the 101, as RFC 6455 §4.1 asks): it is read here as frames, not lost
        behind = raw[raw.find(b"\r\n\r\n") + 4 :]
        if behind and not self.done:
            out += self.feed(behind)
        return out

    def _ws_event(self, event: Any, out: list[Any]) -> None:
        assert self.ws is not None
        if isinstance(event, Request):
            irc = IRC_SUBPROTOCOL in event.subprotocols
            self.inner = IrcCodec(self.max_frame, self.irc_name, self.max_message) if irc else JsonCodec(self.max_frame)
            out.append(self.ws.send(AcceptConnection(subprotocol=IRC_SUBPROTOCOL if irc else None)))
        elif isinstance(event, TextMessage):
            self._size += len(event.data)
            if self._size > self.max_frame:
                out += self._close(CLOSE_TOO_BIG, f"a message is at most {self.max_frame} bytes")
                return
            self._parts.append(event.data)
            if event.message_finished:
                text = "".join(self._parts)
                self._parts, self._size = [], 0
                self._text(text, out)
        elif isinstance(event, BytesMessage):
            out += self._close(CLOSE_UNSUPPORTED, "text messages only")
        elif isinstance(event, Ping):
            out.append(self.ws.send(event.response()))
        elif isinstance(event, CloseConnection):
            self.done = True
            out.append(self.ws.send(event.response()))
            out.append(Hangup("WebSocket closed"))
        else:  # Pong: the keepalive answered
            out.append(Pong(None))

    def _close(self, code: int, reason: str) -> list[Any]:
        """Our Close, and the end of the session at once: after it RFC 6455 (5.5.1) allows no
        more data frames, so nothing else is written and the TCP connection is closed once the
        Close is out (issue 21, item 6)."""
        self.done = True
        return [close_frame(code, reason), Hangup(f"WebSocket closed by the server ({code})")]

    # -- out ------------------------------------------------------------------------------------
    def labeled(self, item: Labeled, data: bytes, more: bool) -> bytes:
        tagged = self.inner.labeled(item, payloads(data), more)  # type: ignore[union-attr]
        return messages(tagged) if tagged else b""

    def encode(self, event: Event) -> bytes | None:
        if self.inner is None:
            if type(event) is HookAnswer:
                return plain(event.status, event.text, hookwire.answer_headers(event))
            return None
        data = self.inner.encode(event)
        return messages(data) if data else None

    def error(self, exc: ProtocolError, command: Command | None = None) -> bytes:
        if self.inner is None:  # still HTTP: the answer is an HTTP status
            if self.done:
                return b""
            self.done = True
            status = REFUSAL_STATUS.get(exc.code, 400)
            return plain(status, exc.message)
        data = self.inner.error(exc, command)
        return messages(data) if data else b""

    def ping(self, ping_id: int) -> bytes | None:
        if self.ws is None:
            return None
        return frame(str(ping_id).encode(), 0x9)  # a browser answers a WebSocket ping by itself

    def saw(self, event: Event) -> None:
        if self.inner is not None:
            self.inner.saw(event)

    def welcomed(self) -> None:
        if self.inner is not None:
            self.inner.welcomed()

    def refuse(self, exc: ProtocolError) -> bytes:
        """Last words: HTTP's status before the upgrade; after it the error as the inner protocol
        says it, then a Close with the reason (a page sees both)."""
        if self.inner is None:  # still HTTP: a status
            return plain(REFUSAL_STATUS.get(exc.code, 400), exc.message)
        data = self.inner.refuse(exc)
        later = exc.code in (ErrorCode.SERVER_FULL, ErrorCode.TOO_MANY_CONNECTIONS)
        code = CLOSE_TRY_LATER if later else CLOSE_POLICY
        return (messages(data) if data else b"") + close_frame(code, exc.message)
