"""The part both front ends share: frames received and shown, a lost connection resumed,
scroll-back, and how the session ends. Typed lines are typed.py's."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from selchat.client import typed
from selchat.client.joining import Asker, Options
from selchat.client.link import Link, Pacer
from selchat.client.state import ChatState
from selchat.render import Renderer, sanitize

# Scroll-back: messages asked for per PageUp.
PAGE = 20
# A room or conversation on screen is marked read on the server at most this often (each mark
# costs a message's token, and a busy room brings many lines a second).
READ_EVERY = 1.0
# Reconnecting: the first wait, doubled after each failure up to the last.
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0



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
        self.begun: set[str] = set()  # rooms paged back to their first line
        # after a reconnect: the newest message seen per room before it, and how many are new
        self.resuming: dict[str, float] = {}
        self.missed: dict[str, int] = {}
        self.keep_current: str | None = None  # the room to stay in while rooms are rejoined
        self.quiet_lists = 0  # `rooms` answers fetched for Tab completion, not to be shown
        # a /join sent and not yet answered: the next line waits for it, so that a line typed (or
        # piped) after "/join #dev" goes to #dev, as it reads
        self.joining: asyncio.Event | None = None
        self.reconnects = False  # the terminal reconnects after a restart; piped input ends with it
        self.read_at: dict[str, float] = {}  # when each target's marker was last sent (monotonic)
        self.read_marked: dict[str, float] = {}  # and up to which line
        self.read_later: dict[str, asyncio.TimerHandle] = {}
        self.sending: set[asyncio.Task[Any]] = set()
        renderer.current = state.current
        renderer.unread = state.unread

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
            self.renderer.me = self.state.me  # after a /nick, one's own lines carry the new name
            self.renderer.current = self.state.current
            if self.joining is not None and kind in ("room_joined", "error"):
                self.joining.set()
            if kind == "ping":
                await self.link.send({"type": "pong", "id": frame.get("id")})
            if kind in ("rooms", "users"):
                await self._next_page(frame)
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
            self._maybe_read(frame)
            if kind == "shutdown":
                if not (frame.get("reconnect") and self.reconnects):
                    self.status = 0  # for good (or piped input): the session is over
                return  # a restart: connection() reconnects, with back-off, and fills the gap

    def _maybe_read(self, frame: dict[str, Any]) -> None:
        """What is shown of the current room, and private messages (every one is shown), is read."""
        kind, room = frame.get("type"), frame.get("room")
        if kind in ("chat", "history_end") and isinstance(room, str):
            if room.casefold() == self.state.current.casefold() and room.casefold() not in self.resuming:
                self.on_screen(room)
        elif kind == "dm" and not frame.get("history"):
            mine = str(frame.get("from")).casefold() == self.state.me.casefold()
            peer, at = frame.get("to") if mine else frame.get("from"), frame.get("timestamp")
            if isinstance(peer, str) and isinstance(at, (int, float)):
                self.on_screen(peer, float(at))

    def on_screen(self, target: str, at: float | None = None) -> None:
        """``target`` (a room, or a person's conversation) is read up to its newest line (or ``at``):
        the server hears it at once, or within READ_EVERY of the last time it did."""
        if self.state.version < 2:
            return
        key = target.casefold()
        if target.startswith("#"):
            at = self.state.read(target)
        if at is None or at <= self.read_marked.get(key, 0.0):
            return
        self.read_marked[key] = at
        if key in self.read_later:
            return
        wait = self.read_at.get(key, -READ_EVERY) + READ_EVERY - time.monotonic()
        if wait <= 0:
            self._send_read(target)
        else:
            self.read_later[key] = asyncio.get_running_loop().call_later(wait, self._send_read, target)

    def _send_read(self, target: str) -> None:
        key = target.casefold()
        self.read_later.pop(key, None)
        if not self.connected:
            return
        self.read_at[key] = time.monotonic()
        where = {"room": target} if target.startswith("#") else {"with": target}
        task = asyncio.ensure_future(self.link.send({"type": "read", **where, "timestamp": self.read_marked[key]}))
        self.sending.add(task)
        task.add_done_callback(self.sending.discard)

    async def _next_page(self, frame: dict[str, Any]) -> None:
        """A list of many rooms, or of a big room's members, comes in pages: ask for the next
        one (shown, or kept quiet, as the first was)."""
        if not frame.get("more"):
            return
        rooms, users = frame.get("rooms"), frame.get("users")
        if isinstance(rooms, list) and rooms and isinstance(rooms[-1], dict):
            if self.quiet_lists:
                self.quiet_lists += 1
            await self.link.send({"type": "rooms", "after": str(rooms[-1].get("room"))})
        elif isinstance(users, list) and users:
            await self.link.send({"type": "users", "room": frame.get("room"), "after": str(users[-1])})

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
                shown = sanitize(frame.get("room"))
                if frame.get("more"):
                    self.out(self.renderer.notice(f"end of the older lines of {shown}; PageUp again for earlier ones"))
                else:
                    self.begun.add(room)
                    self.out(self.renderer.notice(f"that is the beginning of {shown}: nothing is older"))
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
        self.on_screen(joined)
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
        if key in self.begun:  # said once with the page that reached it: no empty page, no header
            self.out(self.renderer.notice(f"nothing older in {sanitize(room)}: its beginning is shown above"))
            return
        self.paging.add(key)
        frame: dict[str, Any] = {"type": "history", "room": room, "limit": PAGE}
        if key in self.state.oldest:
            frame["before"] = self.state.oldest[key]
        # a terminal prints below what is there: say that these lines come from before the ones above
        self.out(self.renderer.notice(f"older lines of {sanitize(room)}, oldest first (they come before"
                                      " everything above this line):"))
        await self.link.send(frame)

    async def handle(self, line: str, pacer: Pacer | None = None) -> bool:
        """Act on one typed line; False once the user asked to quit."""
        return await typed.handle(self, line, pacer)

    def v2(self) -> bool:
        """Rooms and accounts are protocol v2's: say so once asked of a v1 server."""
        if self.state.version >= 2:
            return True
        self.out(self.renderer.problem("this server speaks protocol v1: one room, no rooms or accounts"))
        return False

    async def register(self) -> None:
        if not self.v2():
            return
        if self.state.account is not None:
            self.out(self.renderer.problem(f"you are logged in to the account {sanitize(self.state.account)} already"))
            return
        if self.ask_secret is None:
            self.out(self.renderer.problem("/register asks for a password: it needs a terminal"))
            return
        shortest = self.state.password_min
        self.out(self.renderer.notice(f"an account password is at least {shortest} characters; it is not shown"
                                      " as you type"))
        first = await self.ask_secret(f"New password for {self.state.me}: ")
        if not first:
            self.out(self.renderer.notice("not registered"))
            return
        if len(first) < shortest:  # said now, not after asking for it twice
            self.out(self.renderer.problem(f"that is {len(first)} characters, fewer than {shortest}; not registered"))
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


