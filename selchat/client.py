"""`selchat join`: the terminal client.

Three parts, so that each is tested on its own: ``Link`` is the network side (asyncio streams and
the shared codec), ``parse_input`` turns a typed line into an action (pure), and two front ends
drive them: an interactive one on prompt_toolkit, which keeps the line being typed intact while
messages arrive above it, and a plain one for pipes and scripts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from selchat.codec import LineDecoder, encode
from selchat.render import Renderer, sanitize

CONNECT_TIMEOUT = 10.0
# A selchat server answers `join` at once; silence this long means something else is listening.
WELCOME_TIMEOUT = 5.0
# After `quit`, how long to wait for the server's last frames and its close.
QUIT_TIMEOUT = 5.0
JOIN_WAIT = 5.0  # the most a line after /join waits for the join's answer
MAX_FRAME = 1 << 20  # what the client accepts from a server, in bytes a line

COMMANDS = {
    "/help": "this list",
    "/join #ROOM": "join a room, or switch to one you are in (also Alt-1..9)",
    "/part [#ROOM]": "leave the current room (or the one named)",
    "/list": "every room, with its people and topic",
    "/names [#ROOM]": "who is in the current room (or the one named), and who is away",
    "/users": "who is in the lobby",
    "/topic [TEXT]": "show the current room's topic, or set it",
    "/me TEXT": "an action: * alice waves",
    "/msg NAME TEXT": "a private message (also: @NAME TEXT)",
    "/nick NAME": "change your name",
    "/away [TEXT]": "say you are away (without TEXT: back)",
    "/register": "make your name an account (the password is asked for)",
    "/ping": "the round trip to the server, in milliseconds",
    "/quit": "leave (also /exit, /q, Ctrl-D or Ctrl-C)",
}
COMMAND_WORDS = ("/help", "/join", "/part", "/list", "/names", "/users", "/topic", "/me", "/msg", "/nick", "/away",
                 "/register", "/ping", "/quit", "/exit", "/q")
# Scroll-back: messages asked for per PageUp.
PAGE = 20
# Reconnecting: the first wait, doubled after each failure up to the last.
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0


class ClientError(Exception):
    """A problem the user is told about in one line, with the exit status to leave with."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class Action(NamedTuple):
    # chat, action, dm, users, names, ping, quit, help, join, part, list, topic, nick, away, register,
    # nothing, invalid
    kind: str
    target: str = ""
    text: str = ""


def parse_input(line: str) -> Action:
    """What a typed line asks for. Never sends an unknown command as chat."""
    line = line.rstrip("\r\n")
    if not line.strip():
        return Action("nothing")
    if line.startswith("//"):
        return Action("chat", text=line[1:])  # "//x" sends "/x"
    if line.startswith("@"):
        name, _, text = line[1:].partition(" ")
        if not name or not text.strip():
            return Action("invalid", text="usage: @NAME TEXT")
        return Action("dm", name, text)
    if not line.startswith("/"):
        return Action("chat", text=line)
    word, _, rest = line.partition(" ")
    word = word.lower()
    if word in ("/quit", "/exit", "/q"):
        return Action("quit")
    if word == "/help":
        return Action("help")
    if word == "/users":
        return Action("users")
    if word == "/ping":
        return Action("ping")
    if word == "/msg":
        name, _, text = rest.strip().partition(" ")
        if not name or not text.strip():
            return Action("invalid", text="usage: /msg NAME TEXT")
        return Action("dm", name, text)
    arg = rest.strip()
    if word in ("/join", "/j"):
        if not arg or " " in arg:
            return Action("invalid", text="usage: /join #ROOM")
        return Action("join", arg if arg.startswith("#") else "#" + arg)
    if word in ("/part", "/leave"):
        return Action("part", arg)
    if word == "/list":
        return Action("list")
    if word == "/names":
        return Action("names", arg)
    if word == "/topic":
        return Action("topic", text=arg)
    if word == "/me":
        if not arg:
            return Action("invalid", text="usage: /me TEXT")
        return Action("action", text=rest.lstrip(" "))
    if word == "/nick":
        if not arg or " " in arg:
            return Action("invalid", text="usage: /nick NAME")
        return Action("nick", arg)
    if word == "/away":
        return Action("away", text=arg)
    if word == "/register":
        return Action("register")
    return Action("invalid", text=f"unknown command {sanitize(word)}; type /help for the list")


def help_lines() -> list[str]:
    width = max(map(len, COMMANDS))
    lines = [f"{cmd.ljust(width)}  {what}" for cmd, what in COMMANDS.items()]
    lines.append("anything else is sent to the room; start a line with // to send one that begins with /")
    return lines


def client_ssl_context(cafile: str | None, insecure: bool) -> ssl.SSLContext:
    if insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise ClientError(f"cannot use {cafile} as a CA file: {getattr(exc, 'strerror', None) or exc}") from exc


class Link:
    """One connection to a server: frames out, frames in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: str) -> None:
        self.reader = reader
        self.writer = writer
        self.address = address
        self._decoder = LineDecoder(MAX_FRAME)
        self._ready: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, host: str, port: int, tls: ssl.SSLContext | None = None) -> Link:
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=tls, server_hostname=host if tls else None),
                CONNECT_TIMEOUT,
            )
        except ConnectionRefusedError:
            raise ClientError(f"cannot connect to {address}: connection refused; is selchat serve running there?")
        except socket.gaierror as exc:
            raise ClientError(f"cannot find host {host!r}: {exc.strerror}")
        except (asyncio.TimeoutError, TimeoutError):
            raise ClientError(f"cannot connect to {address}: no answer within {CONNECT_TIMEOUT:g} s")
        except ssl.SSLCertVerificationError as exc:
            raise ClientError(
                f"{address}: the server's TLS certificate is not trusted ({exc.verify_message}); "
                "pass its certificate with --cafile FILE, or --insecure to skip the check"
            )
        except (ssl.SSLError, ConnectionError) as exc:
            if tls is None:
                raise ClientError(f"cannot connect to {address}: {exc}")
            raise ClientError(f"{address}: TLS handshake failed; is the server started with --tls-cert?")
        except OSError as exc:
            raise ClientError(f"cannot connect to {address}: {exc.strerror or exc}")
        sock = writer.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer, address)

    async def send(self, frame: dict[str, Any]) -> None:
        try:
            self.writer.write(encode(frame))
            await self.writer.drain()
        except (ConnectionError, OSError):
            pass  # the reading side notices the loss and says so

    async def next_frame(self) -> dict[str, Any] | None:
        """The next frame, or None when the server has closed the connection."""
        while not self._ready:
            try:
                data = await self.reader.read(65536)
            except (ConnectionError, OSError, ssl.SSLError):
                data = b""
            if not data:
                return None
            for item in self._decoder.feed(data):
                if type(item) is not dict:
                    raise ClientError(f"{self.address} does not speak the selchat protocol ({item})")
                self._ready.append(item)
        return self._ready.pop(0)

    async def close(self) -> None:
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 1.0)
        except (asyncio.TimeoutError, ConnectionError, OSError, ssl.SSLError):
            pass


@dataclass
class ChatState:
    """What the client knows of the server and its rooms, kept current from the frames it gets."""

    me: str
    users: set[str] = field(default_factory=set)  # everyone seen in any room (for Tab)
    max_message: int = 2000
    rate_limit: float = 0.0
    burst: int = 20
    pings: dict[int, float] = field(default_factory=dict)
    next_ping: int = 1
    version: int = 1  # the protocol the server speaks: 1 is one room
    account: str | None = None
    rooms: list[str] = field(default_factory=list)  # the rooms we are in, in the order joined
    current: str = "#lobby"
    topics: dict[str, str] = field(default_factory=dict)  # casefolded room -> topic
    known_rooms: set[str] = field(default_factory=set)  # every room heard of (for Tab)
    oldest: dict[str, float] = field(default_factory=dict)  # oldest message shown, for scroll-back
    newest: dict[str, float] = field(default_factory=dict)  # newest message seen, for gap filling

    def in_room(self, room: str) -> str | None:
        """The room as we joined it (its canonical spelling), if we are in it."""
        for joined in self.rooms:
            if joined.casefold() == room.casefold():
                return joined
        return None

    def seen(self, room: str, timestamp: float) -> None:
        key = room.casefold()
        if timestamp > self.newest.get(key, 0.0):
            self.newest[key] = timestamp
        if key not in self.oldest or timestamp < self.oldest[key]:
            self.oldest[key] = timestamp

    def learn(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        get = frame.get
        if kind == "welcome":
            self.me = str(get("username", self.me))
            self.users = {str(u) for u in get("users") or []}
            if isinstance(get("max_message"), int):
                self.max_message = get("max_message")
            if isinstance(get("rate_limit"), (int, float)):
                self.rate_limit = float(get("rate_limit"))
            if isinstance(get("burst"), int):
                self.burst = get("burst")
            self.version = get("version") if isinstance(get("version"), int) else 1
            self.account = get("account") if isinstance(get("account"), str) else None
            room = str(get("room")) if self.version >= 2 else "#lobby"
            if not self.in_room(room):
                self.rooms.insert(0, room)
            self.topics[room.casefold()] = str(get("topic") or "")
            self.known_rooms.add(room)
        elif kind == "users":
            self.users = {str(u) for u in get("users") or []}
        elif kind == "user_joined":
            self.users.add(str(get("username")))
        elif kind == "user_left":
            self.users.discard(str(get("username")))
        elif kind == "room_joined":
            room = str(get("room"))
            if not self.in_room(room):
                self.rooms.append(room)
            self.current = self.in_room(room) or room
            self.topics[room.casefold()] = str(get("topic") or "")
            self.known_rooms.add(room)
            self.users |= {str(u) for u in get("users") or []}
        elif kind == "room_left":
            room = self.in_room(str(get("room")))
            if room:
                self.rooms.remove(room)
                if self.current == room:
                    self.current = self.rooms[0] if self.rooms else "#lobby"
        elif kind == "rooms":
            self.known_rooms |= {str(r.get("room")) for r in get("rooms") or [] if isinstance(r, dict)}
        elif kind == "topic":
            self.topics[str(get("room")).casefold()] = str(get("topic") or "")
        elif kind == "nick":
            self.users.discard(str(get("from")))
            self.users.add(str(get("to")))
            if str(get("from")) == self.me:
                self.me = str(get("to"))
        elif kind == "registered":
            self.account = str(get("account"))
        elif kind == "chat" and isinstance(get("timestamp"), (int, float)) and isinstance(get("room"), str):
            self.seen(get("room"), float(get("timestamp")))


class Pacer:
    """Keeps a script under the server's rate limit, so piped lines are not refused."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.tokens = float(burst)
        self.burst = float(burst)
        self.at = time.monotonic()

    async def wait(self) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            await asyncio.sleep((1 - self.tokens) / self.rate)
            self.tokens = 1.0
            self.at = time.monotonic()
        self.tokens -= 1


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 5000
    name: str | None = None
    password: str | None = None  # the server's password
    login: str | None = None  # the account's password: join as that account
    colour: bool = True
    json_output: bool = False
    tls: ssl.SSLContext | None = None


Asker = Callable[[str], Awaitable[str]]


async def join(
    link: Link,
    name: str,
    options: Options,
    ask_again: Asker | None,
    show: Callable[[str], None],
    ask_secret: Asker | None = None,
) -> dict[str, Any]:
    """Send `join` until the server welcomes us. ``ask_again(reason)`` picks a new name and
    ``ask_secret(prompt)`` asks for an account's password, when there is someone to ask."""
    login = options.login
    while True:
        frame: dict[str, Any] = {"type": "join", "username": name, "version": 2}
        if options.password is not None:
            frame["password"] = options.password
        if login is not None:
            frame["login"] = login
        await link.send(frame)
        try:
            reply = await asyncio.wait_for(link.next_frame(), WELCOME_TIMEOUT)
        except asyncio.TimeoutError:
            raise ClientError(
                f"{link.address} did not answer join within {WELCOME_TIMEOUT:g} s; is it a selchat server?"
            )
        if reply is None:
            raise ClientError(f"{link.address} closed the connection before welcoming us")
        kind = reply.get("type")
        if kind == "welcome":
            options.name = str(reply.get("username", name))
            options.login = login  # a reconnect logs in again the same way
            return reply
        if kind != "error":
            raise ClientError(f"{link.address} answered join with {sanitize(kind)!r}; is it a selchat server?")
        code = reply.get("code")
        reason = sanitize(reply.get("message", "refused"))
        if code in ("username_taken", "invalid_username") and ask_again is not None:
            show(reason)
            name = await ask_again(reason)
            continue
        if code in ("name_registered", "account_required", "bad_login") and ask_secret is not None:
            show({"name_registered": f"{sanitize(name)} is a registered account; log in or choose another name",
                  "account_required": "this server admits accounts only: log in"}.get(code, reason))
            login = await ask_secret(f"Password for {name} (Enter to choose another name): ") or None
            if login is None and ask_again is not None:
                name = await ask_again(reason)
            elif login is None:
                raise ClientError(f"cannot join as {sanitize(name)}: {reason}")
            continue
        if code == "bad_password":
            raise ClientError(f"{reason}: set SELCHAT_PASSWORD or use --password-file")
        if code in ("name_registered", "account_required", "bad_login"):
            raise ClientError(f"cannot join as {sanitize(name)}: {reason}; log in with --login (or SELCHAT_LOGIN)")
        raise ClientError(f"cannot join as {sanitize(name)}: {reason}")


class Session:
    """The part both front ends share: incoming frames, typed lines, and how the session ends."""

    def __init__(self, link: Link, state: ChatState, renderer: Renderer, options: Options,
                 out: Callable[[str], None], ask_secret: Asker | None = None) -> None:
        self.link = link
        self.state = state
        self.renderer = renderer
        self.options = options
        self.out = out
        self.ask_secret = ask_secret
        self.status: int | None = None  # the exit status, once the session is over
        self.quitting = False
        self.connected = True
        self.paging: set[str] = set()  # rooms whose older page we asked for
        # after a reconnect: the newest message seen per room before it, and how many are new
        self.resuming: dict[str, float] = {}
        self.missed: dict[str, int] = {}
        self.keep_current: str | None = None  # the room to stay in while rooms are rejoined
        self.quiet_lists = 0  # `rooms` answers fetched for Tab completion, not to be shown
        # a /join sent and not yet answered: the next line waits for it, so that a line typed (or
        # piped) after "/join #dev" goes to #dev, as it reads
        self.joining: asyncio.Event | None = None
        renderer.current = state.current

    async def receive(self) -> None:
        """Show frames until the connection ends; ``status`` is set if the session is over."""
        while True:
            frame = await self.link.next_frame()
            if frame is None:
                if self.quitting:
                    self.status = 0
                return
            kind = frame.get("type")
            before = self.state.newest.get(str(frame.get("room", "")).casefold(), 0.0)
            self.state.learn(frame)
            self.renderer.current = self.state.current
            if self.joining is not None and kind in ("room_joined", "error"):
                self.joining.set()
            if kind == "ping":
                await self.link.send({"type": "pong", "id": frame.get("id")})
            if self.options.json_output:
                self.out(json.dumps(frame, ensure_ascii=False, separators=(",", ":")))
            elif kind == "pong" and frame.get("id") in self.state.pings:
                sent = self.state.pings.pop(frame["id"])
                took = (time.monotonic() - sent) * 1000
                self.out(self.renderer.notice(f"pong from {self.link.address}: {took:.1f} ms"))
            elif not self._quiet(frame, before):
                line = self.renderer.frame(frame)
                if line is not None:
                    self.out(line)
            if kind == "shutdown":
                self.status = 0
                return

    def _quiet(self, frame: dict[str, Any], newest_before: float) -> bool:
        """Frames not to show: replayed messages already on screen, and the ends of pages."""
        kind = frame.get("type")
        room = str(frame.get("room", "")).casefold()
        if kind == "rooms" and self.quiet_lists:
            self.quiet_lists -= 1
            return True
        if kind == "room_joined" and room in self.resuming:
            if self.keep_current:
                self.state.current = self.renderer.current = self.keep_current
            return True
        if kind == "chat" and frame.get("history"):
            stamp = frame.get("timestamp")
            if room in self.paging:
                return False
            if room in self.resuming:
                if isinstance(stamp, (int, float)) and stamp <= self.resuming[room]:
                    return True
                self.missed[room] = self.missed.get(room, 0) + 1
            return False
        if kind == "history_end":
            if room in self.paging:
                self.paging.discard(room)
                if not frame.get("more"):
                    self.out(self.renderer.notice(f"that is the beginning of {sanitize(frame.get('room'))}"))
            elif room in self.resuming:
                newest_before_gap = self.resuming.pop(room)
                if frame.get("more") and self.missed.get(room, 0) and newest_before_gap:
                    self.missed[room] = -self.missed[room]  # more were missed than were replayed
                if not self.resuming:
                    self._resumed()
            return True
        return False

    def _resumed(self) -> None:
        parts = []
        for room, count in sorted(self.missed.items()):
            if count:
                parts.append(f"{abs(count)}{'+' if count < 0 else ''} in {room}")
        gap = "missed: " + ", ".join(parts) if parts else "nothing missed"
        self.out(self.renderer.notice(f"reconnected to {self.link.address}; {gap}"
                                      + (" (PageUp shows older)" if any(c < 0 for c in self.missed.values()) else "")))
        self.missed = {}

    async def resume(self, link: Link, welcome: dict[str, Any]) -> None:
        """A new connection after a lost one: rejoin the rooms and show what was missed."""
        self.link = link
        self.connected = True
        rooms = [r for r in self.state.rooms if r.casefold() != str(welcome.get("room", "")).casefold()]
        self.resuming = {r.casefold(): self.state.newest.get(r.casefold(), 0.0) for r in self.state.rooms}
        current = self.state.current
        self.state.rooms = []
        self.state.learn(welcome)
        if self.state.version < 2:
            self.resuming = {}
            self.out(self.renderer.notice(f"reconnected to {link.address}"))
            return
        for room in rooms:
            await link.send({"type": "join_room", "room": room})
        self.state.current = self.keep_current = current  # rejoining must not move the user

    def switch(self, room: str) -> bool:
        joined = self.state.in_room(room)
        if joined is None:
            return False
        self.state.current = joined
        self.renderer.current = joined
        topic = self.state.topics.get(joined.casefold())
        self.out(self.renderer.notice(f"now in {sanitize(joined)}" + (f" — {sanitize(topic)}" if topic else "")))
        return True

    async def page_up(self) -> None:
        """Ask for the page of messages before the oldest shown in the current room."""
        room = self.state.current
        if self.state.version < 2 or not self.connected:
            return
        key = room.casefold()
        if key in self.paging:
            return
        self.paging.add(key)
        frame: dict[str, Any] = {"type": "history", "room": room, "limit": PAGE}
        if key in self.state.oldest:
            frame["before"] = self.state.oldest[key]
        self.out(self.renderer.notice(f"earlier in {sanitize(room)}:"))
        await self.link.send(frame)

    def _v2(self) -> bool:
        if self.state.version >= 2:
            return True
        self.out(self.renderer.problem("this server speaks protocol v1: one room, no rooms or accounts"))
        return False

    async def handle(self, line: str, pacer: Pacer | None = None) -> bool:
        """Act on one typed line; False once the user asked to quit."""
        action = parse_input(line)
        kind = action.kind
        state = self.state
        send = self.link.send
        if kind == "nothing":
            return True
        if kind == "invalid":
            self.out(self.renderer.problem(action.text))
            return True
        if kind == "help":
            for text in help_lines():
                self.out(self.renderer.notice(text))
            return True
        if kind == "quit":
            await self.quit()
            return False
        if self.joining is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.joining.wait(), JOIN_WAIT)
            self.joining = None
        if not self.connected:
            self.out(self.renderer.problem("not connected; reconnecting (Ctrl-D quits)"))
            return True
        v2 = state.version >= 2
        if kind == "users":
            await send({"type": "users"})
        elif kind == "ping":
            ping_id = state.next_ping
            state.next_ping += 1
            state.pings[ping_id] = time.monotonic()
            await send({"type": "ping", "id": ping_id})
        elif kind == "join":
            if self._v2() and not self.switch(action.target):
                self.joining = asyncio.Event()
                await send({"type": "join_room", "room": action.target})
        elif kind == "part":
            if self._v2():
                await send({"type": "leave_room", "room": action.target or state.current})
        elif kind == "list":
            if self._v2():
                await send({"type": "rooms"})
        elif kind == "names":
            await send({"type": "users", "room": action.target or state.current} if v2 else {"type": "users"})
        elif kind == "topic":
            if not self._v2():
                pass
            elif action.text:
                await send({"type": "topic", "room": state.current, "topic": action.text})
            else:
                topic = state.topics.get(state.current.casefold())
                self.out(self.renderer.notice(f"topic of {sanitize(state.current)}: {sanitize(topic)}" if topic
                                              else f"{sanitize(state.current)} has no topic"))
        elif kind == "nick":
            if self._v2():
                await send({"type": "nick", "username": action.target})
        elif kind == "away":
            if self._v2():
                await send({"type": "away", "message": action.text} if action.text else {"type": "away"})
        elif kind == "register":
            await self.register()
        else:
            text = action.text
            if len(text) > state.max_message:
                self.out(self.renderer.problem(
                    f"not sent: that line is {len(text)} characters; the server's limit is {state.max_message}"
                ))
                return True
            if pacer is not None:
                await pacer.wait()
            if kind == "dm":
                await send({"type": "dm", "to": action.target, "message": text})
                return True
            frame: dict[str, Any] = {"type": "chat", "message": text}
            if v2:
                frame["room"] = state.current
            if kind == "action":
                frame["action"] = True
            await send(frame)
            if not self.options.json_output and pacer is None:
                # the server echoes nothing to the sender
                self.out(self.renderer.own_chat(text, action=kind == "action"))
        return True

    async def register(self) -> None:
        if not self._v2():
            return
        if self.state.account is not None:
            self.out(self.renderer.problem(f"you are logged in to the account {sanitize(self.state.account)} already"))
            return
        if self.ask_secret is None:
            self.out(self.renderer.problem("/register asks for a password: it needs a terminal"))
            return
        first = await self.ask_secret(f"New password for {self.state.me}: ")
        if not first:
            self.out(self.renderer.notice("not registered"))
            return
        if await self.ask_secret("The same password again: ") != first:
            self.out(self.renderer.problem("the passwords differ; not registered"))
            return
        self.options.login = first  # reconnects log in with it
        await self.link.send({"type": "register", "password": first})

    async def quit(self) -> None:
        self.quitting = True
        if self.connected:
            await self.link.send({"type": "quit"})


# -- the interactive front end -------------------------------------------------------------------


class _ConnectionOver(Exception):
    """Ends the prompt when the server has gone."""


async def run_interactive(options: Options) -> int:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import Completer, Completion
    from prompt_toolkit.formatted_text import ANSI
    from prompt_toolkit.history import InMemoryHistory
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.patch_stdout import patch_stdout
    from prompt_toolkit.shortcuts import print_formatted_text

    renderer = Renderer(colour=options.colour and not options.json_output)

    def show(text: str) -> None:
        print_formatted_text(ANSI(text))

    state = ChatState(me=options.name or "")
    session: Session | None = None
    tasks: set[asyncio.Task[Any]] = set()

    class ChatCompleter(Completer):
        """Tab completes command names, rooms (after #), and user names after @ or /msg (or anywhere)."""

        def get_completions(self, document: Any, complete_event: Any) -> Any:
            text = document.text_before_cursor
            word = document.get_word_before_cursor(WORD=True)
            if text.startswith("/") and " " not in text:
                for command in COMMAND_WORDS:
                    if command.startswith(text.lower()):
                        yield Completion(command, start_position=-len(text))
                return
            if word.startswith("#") or text.lower().startswith(("/join ", "/part ", "/names ")):
                rooms = {r.casefold(): r for r in [*state.known_rooms, *state.rooms]}
                prefix = word if word.startswith("#") else "#" + word
                for room in sorted(rooms.values(), key=str.casefold):
                    if room.casefold().startswith(prefix.casefold()):
                        yield Completion(room, start_position=-len(word))
                return
            prefix = word[1:] if word.startswith("@") else word
            for name in sorted(state.users, key=str.casefold):
                if name.casefold().startswith(prefix.casefold()) and name != state.me:
                    yield Completion(("@" if word.startswith("@") else "") + name, start_position=-len(word))

    keys = KeyBindings()

    def later(coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    for n in range(1, 10):
        @keys.add("escape", str(n))
        def _switch(event: Any, n: int = n) -> None:
            if session is not None and n <= len(state.rooms):
                session.switch(state.rooms[n - 1])
                event.app.invalidate()

    @keys.add("pageup")
    def _older(event: Any) -> None:
        if session is not None:
            later(session.page_up())

    def message() -> Any:
        room = f"[{state.current}] " if state.version >= 2 else ""
        if renderer.colour:
            return ANSI(room + renderer.name(state.me) + "> ")
        return f"{room}{state.me}> "

    # erase_when_done: an accepted line is replaced by its formatted echo, not shown twice
    prompt = PromptSession(
        history=InMemoryHistory(), completer=ChatCompleter(), complete_while_typing=False, erase_when_done=True,
        key_bindings=keys,
    )

    async def ask_name(reason: str = "") -> str:
        while True:
            try:
                name = (await prompt.prompt_async("Your name: ")).strip()
            except (EOFError, KeyboardInterrupt):
                raise ClientError("no name chosen", status=0)
            if name:
                return name

    async def ask_secret(question: str) -> str:
        try:
            return await prompt.prompt_async(question, is_password=True)
        except (EOFError, KeyboardInterrupt):
            return ""

    link = await Link.open(options.host, options.port, options.tls)
    try:
        name = options.name or await ask_name()
        welcome = await join(link, name, options, ask_name, lambda r: show(renderer.problem(r)), ask_secret)
    except BaseException:
        await link.close()
        raise
    state.learn(welcome)
    renderer.me = state.me
    session = Session(link, state, renderer, options, show, ask_secret)
    show(renderer.frame(welcome) or "")
    others = sorted(state.users - {state.me}, key=str.casefold)
    show(renderer.notice("online: " + (", ".join(sanitize(u) for u in others) or "just you")))
    show(renderer.notice("type /help for commands"))
    if state.version >= 2:
        session.quiet_lists += 1
        await link.send({"type": "rooms"})  # the rooms there are, for Tab

    async def connection() -> None:
        """Receive until the end; when the connection is lost, reconnect with back-off."""
        assert session is not None
        while True:
            await session.receive()
            await session.link.close()
            if session.quitting or session.status is not None:
                return
            session.connected = False
            delay = BACKOFF_FIRST
            while True:
                show(renderer.problem(f"connection to {session.link.address} lost; reconnecting in {delay:g} s"
                                      " (Ctrl-D quits)"))
                await asyncio.sleep(delay)
                try:
                    new = await Link.open(options.host, options.port, options.tls)
                except ClientError:
                    delay = min(delay * 2, BACKOFF_MAX)
                    continue
                try:
                    again = await join(new, options.name or state.me, options, None, show)
                except ClientError as exc:
                    await new.close()
                    show(renderer.problem(exc.message))
                    delay = min(delay * 2, BACKOFF_MAX)
                    continue
                break
            await session.resume(new, again)

    receiver = asyncio.create_task(connection())

    def over(task: asyncio.Task[None]) -> None:
        if prompt.app.is_running:
            prompt.app.exit(exception=_ConnectionOver())

    receiver.add_done_callback(over)
    try:
        with patch_stdout(raw=True):
            while not receiver.done():
                try:
                    line = await prompt.prompt_async(message)
                except (EOFError, KeyboardInterrupt):
                    await session.quit()
                    break
                except _ConnectionOver:
                    break
                if not await session.handle(line):
                    break
            if session.quitting:
                if not session.connected:
                    receiver.cancel()
                    show(renderer.notice("bye"))
                    return 1  # gave up on a lost connection
                try:
                    await asyncio.wait_for(asyncio.shield(receiver), QUIT_TIMEOUT)
                except asyncio.TimeoutError:
                    receiver.cancel()
                show(renderer.notice("bye"))
                return 0
            await receiver  # it ended the session: its status stands
        return session.status if session.status is not None else 1
    finally:
        for task in (*tasks, receiver):
            task.cancel()
        await session.link.close()


# -- the plain front end: pipes, files and scripts -----------------------------------------------


def _stdin_lines(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    """Read standard input in a daemon thread: a blocking read cannot hold up the exit."""

    def pump() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="selchat-stdin", daemon=True).start()


async def run_plain(options: Options) -> int:
    if not options.name:
        raise ClientError("--name (or SELCHAT_NAME) is required when standard input is not a terminal")
    renderer = Renderer(colour=False)

    def show(text: str) -> None:
        print(text, flush=True)

    def show_problem(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    link = await Link.open(options.host, options.port, options.tls)
    try:
        welcome = await join(link, options.name, options, None, show_problem)
        state = ChatState(me=options.name)
        state.learn(welcome)
        renderer.me = state.me
        session = Session(link, state, renderer, options, show)
        show(json.dumps(welcome, ensure_ascii=False, separators=(",", ":")) if options.json_output
             else renderer.frame(welcome) or "")
        receiver = asyncio.create_task(session.receive())
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        _stdin_lines(asyncio.get_running_loop(), lines)
        pacer = Pacer(state.rate_limit, state.burst)
        while not receiver.done():
            getter = asyncio.ensure_future(lines.get())
            await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                break  # the server ended the session
            line = getter.result()
            if line is None:
                await session.quit()  # end of input
                break
            if not await session.handle(line, pacer):
                break
        if session.quitting:
            try:
                await asyncio.wait_for(asyncio.shield(receiver), QUIT_TIMEOUT)
            except asyncio.TimeoutError:
                receiver.cancel()
            return 0
        await receiver
        if session.status is None:
            show_problem(renderer.problem(f"connection to {link.address} lost"))
        return session.status if session.status is not None else 1
    finally:
        await link.close()


def run(options: Options) -> int:
    """Run a session to its end; the exit status. ClientError carries a one-line reason."""
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    main = run_interactive if interactive else run_plain
    try:
        return asyncio.run(main(options))
    except KeyboardInterrupt:
        return 0
