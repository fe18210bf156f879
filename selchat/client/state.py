"""What the client knows of the chat: its rooms, users, topics and newest messages, learned
from the frames it receives (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TYPING_LASTS = 6.0  # seconds an "active" typing notice holds (IRCv3 typing: 6 s without a renewal)


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
    password_min: int = 8  # the server's rule for an account password, said before /register asks
    last_said: dict[tuple[str, str], float] = field(default_factory=dict)  # (room, name) -> newest line: /reply
    reacted: set[tuple[str, float, str]] = field(default_factory=set)  # (room, line, reaction): /react's own
    rooms: list[str] = field(default_factory=list)  # the rooms we are in, in the order joined
    current: str = "#lobby"
    topics: dict[str, str] = field(default_factory=dict)  # casefolded room -> topic
    known_rooms: set[str] = field(default_factory=set)  # every room heard of (for Tab)
    oldest: dict[str, float] = field(default_factory=dict)  # oldest message shown, for scroll-back
    newest: dict[str, float] = field(default_factory=dict)  # newest message seen, for gap filling
    # lines not yet read (shown while another room was current), by casefolded room: counts, and
    # those naming me; the server's counts after a join, kept current here (issue 24)
    unread: dict[str, int] = field(default_factory=dict)
    mentions: dict[str, int] = field(default_factory=dict)
    # who is typing where (casefolded room, or "@name" for a conversation): name -> until (monotonic)
    typing: dict[str, dict[str, float]] = field(default_factory=dict)

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
            self._welcome(frame)
        elif kind == "users":  # a big room's members come in parts: "continued" adds to the one before
            part = {str(u) for u in get("users") or []}
            self.users = self.users | part if get("continued") else part
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
            who = (str(get("room")).casefold(), str(get("username", "")).casefold())
            self.last_said[who] = max(self.last_said.get(who, 0.0), float(get("timestamp")))
            if not get("history"):
                self._count(frame)
                self.typing.get(str(get("room")).casefold(), {}).pop(str(get("username", "")), None)
        elif kind in ("unread", "read"):
            self._counts(frame)
        elif kind == "typing":
            self._typing(frame)
        if kind == "room_left":
            self.unread.pop(str(get("room")).casefold(), None)

    def _welcome(self, frame: dict[str, Any]) -> None:
        get = frame.get
        self.me = str(get("username", self.me))
        self.users = {str(u) for u in get("users") or []}
        if isinstance(get("max_message"), int):
            self.max_message = get("max_message")
        if isinstance(get("rate_limit"), (int, float)):
            self.rate_limit = float(get("rate_limit"))
        if isinstance(get("burst"), int):
            self.burst = get("burst")
        if isinstance(get("password_min"), int):
            self.password_min = get("password_min")
        self.version = get("version") if isinstance(get("version"), int) else 1
        self.account = get("account") if isinstance(get("account"), str) else None
        room = str(get("room") or "") if self.version >= 2 else "#lobby"
        if not room:  # another device of someone in no lobby: its rooms follow, each joined
            return
        if not self.in_room(room):
            self.rooms.insert(0, room)
        self.topics[room.casefold()] = str(get("topic") or "")
        self.known_rooms.add(room)

    def _count(self, frame: dict[str, Any]) -> None:
        """A live line in a room that is not on screen is unread (one's own, from another device, is not)."""
        room = str(frame.get("room")).casefold()
        if room == self.current.casefold() or frame.get("own") or str(frame.get("username")) == self.me:
            return
        self.unread[room] = self.unread.get(room, 0) + 1
        if self.me and self.me.casefold() in str(frame.get("message", "")).casefold():
            self.mentions[room] = self.mentions.get(room, 0) + 1

    def _counts(self, frame: dict[str, Any]) -> None:
        """The server's counts (after a join, or asked for), or a room read on another device."""
        if frame.get("type") == "read":
            room, at = str(frame.get("room", "")).casefold(), frame.get("timestamp")
            if isinstance(at, (int, float)) and at >= self.newest.get(room, 0.0):
                self.unread.pop(room, None)
                self.mentions.pop(room, None)
            return
        for count in frame.get("rooms") or []:
            if isinstance(count, dict) and isinstance(count.get("unread"), int):
                room = str(count.get("room")).casefold()
                self.unread[room] = count["unread"]
                self.mentions[room] = count.get("mentions") if isinstance(count.get("mentions"), int) else 0

    def _typing(self, frame: dict[str, Any]) -> None:
        """IRCv3 typing: "active" lasts 6 seconds unless renewed; "paused" and "done" end it."""
        import time

        who = str(frame.get("username", ""))
        where = str(frame.get("room") or "@" + who).casefold()
        names = self.typing.setdefault(where, {})
        if frame.get("state") == "active" and who != self.me:
            names[who] = time.monotonic() + TYPING_LASTS
        else:
            names.pop(who, None)

    def typing_in(self, room: str, now: float) -> list[str]:
        """Who is typing in ``room`` now."""
        return sorted(n for n, until in self.typing.get(room.casefold(), {}).items() if until > now)

    def read(self, room: str) -> float | None:
        """The room is on screen: its lines are read; the newest one's time, for the server."""
        key = room.casefold()
        self.unread.pop(key, None)
        self.mentions.pop(key, None)
        return self.newest.get(key)

    def unread_rooms(self) -> list[tuple[str, int, int]]:
        """(room, unread, mentions) of each room one is in with lines unread, in the order joined."""
        return [(room, self.unread[room.casefold()], self.mentions.get(room.casefold(), 0))
                for room in self.rooms if self.unread.get(room.casefold())]


