"""Text mode: a person at a plain terminal (`nc HOST 5000`), no client program at all.

Lines typed are chat in the current room, or commands as in `selchat join` (/join, /msg, /me ...);
what arrives is one readable line each: ``[12:03] #dev alice: hi``. Control characters are
stripped both ways, so nobody can send a terminal escape through the server to someone's `nc`.

A text connection keeps its own state (its name, the room it types into), so it encodes for
itself: it is its own wire, one encoding per person. People at `nc` are few; the cost is theirs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from selchat import outbound as ev
from selchat.codec import LineSplitter
from selchat.config import LOBBY_ROOM
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import (
    Away,
    Chat,
    Command,
    Dm,
    Invite,
    Join,
    JoinRoom,
    Kick,
    LeaveRoom,
    Nick,
    Quit,
    Rooms,
    SetMode,
    Topic,
    Users,
    mode_changes,
)

# C0 and C1 controls and DEL, except tab (which becomes a space): what a terminal would obey.
_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")

HELP = [
    "type a line to say it in the current room; commands:",
    "  /join #room   join a room, or switch to one you are in",
    "  /part         leave the current room",
    "  /msg NAME TEXT  a private message",
    "  /me TEXT      an action",
    "  /users        who is in the current room",
    "  /list         all rooms",
    "  /topic [TEXT] show or set the current room's topic",
    "  /nick NAME    change your name",
    "  /away [TEXT]  away (without TEXT: back)",
    "  /kick NAME [REASON]  put someone out of the room (its operators)",
    "  /op, /deop, /voice, /devoice NAME  give or take a role (operators)",
    "  /invite NAME  ask someone into the room (past +i)",
    "  /ban NAME, /unban NAME  keep someone out of the room, or let them back (m:NAME mutes)",
    "  /bans         who is banned from the room",
    "  /mode [+m +t +s +i +k WORD +l N, or -]  the room's modes",
    "  /quit         leave",
]


def clean(text: str) -> str:
    return _CONTROLS.sub("", text.replace("\t", " "))


def _hhmm(timestamp: float) -> str:
    return time.strftime("%H:%M", time.localtime(timestamp))


# Bidirectional overrides and isolates, marks and zero-width characters: a name or line shown
# with them can read backwards or hide a character (issue 21, item 18). Shown as the terminal
# client shows them, <U+202E>; the joiners (U+200C, U+200D) stay, scripts and emoji need them.
_INVISIBLE = re.compile("[\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")


def _marked(match: re.Match[str]) -> str:
    return f"<U+{ord(match.group()):04X}>"


def _line(text: str) -> bytes:
    return _INVISIBLE.sub(_marked, clean(text)).encode("utf-8", "replace") + b"\r\n"


def _block(head: str, text: str) -> bytes:
    """A message of several lines as one block: the first behind its header, the rest indented."""
    first, *rest = text.split("\n")
    return _line(head + first) + b"".join(_line("    " + more) for more in rest)


class TextCodec:
    """One person at a terminal: lines in, commands out; events in, readable lines out."""

    kind = "text"

    def __init__(self, max_frame: int, needs_password: bool) -> None:
        self.max_frame = max_frame
        self.needs_password = needs_password
        self._lines = LineSplitter(max_frame)
        self.name: str | None = None  # asked for, not yet welcomed
        self.joined = False
        self.asked = False  # a join was sent: what follows is chat (typed ahead of the welcome)
        self.server_password: str | None = None
        self.logging_in = False  # the name is an account's: the next line is its password
        self.current = LOBBY_ROOM
        self.rooms: list[str] = []

    @property
    def wire(self) -> TextCodec:
        return self

    def greeting(self) -> bytes:
        return _line("Welcome to selchat. Type /help once you are in.") + _line("Your name:")

    # -- in -------------------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[Command | ProtocolError | bytes]:
        out: list[Command | ProtocolError | bytes] = []
        for raw in self._lines.feed(data):
            if type(raw) is not bytes:
                too_long = f"line longer than {self.max_frame} bytes discarded"
                out.append(ProtocolError(ErrorCode.FRAME_TOO_LARGE, too_long))
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:  # a terminal in another encoding: said, not shown as "?"
                out.append(ProtocolError(ErrorCode.BAD_FRAME, "that line was not UTF-8 text, so nothing"
                                         " was sent; set your terminal to UTF-8 (LANG=C.UTF-8)"))
                continue
            self._line(clean(line).strip(), out)
        return out

    def _line(self, line: str, out: list[Command | ProtocolError | bytes]) -> None:
        if self.logging_in and not self.asked:
            self._login(line, out)
            return
        if not line:
            return
        if not self.joined and not self.asked:
            if self.name is None and self.needs_password:
                self.name = line
                out.append(_line("Server password:"))
                return
            if self.name is None:
                self.name = line
                out.append(Join(line, replay=True))
            else:
                self.server_password = line
                out.append(Join(self.name, password=line, replay=True))
            self.asked = True
            return
        if not line.startswith("/") or line.startswith("//"):
            out.append(Chat(line[1:] if line.startswith("//") else line, room=self.current))
            return
        word, _, rest = line.partition(" ")
        word = word.lower()
        arg = rest.strip()
        if word in ("/quit", "/exit", "/q"):
            out.append(_line(f"Goodbye, {self.name or 'you'}. The server has closed the connection."))
            out.append(Quit())
        elif word == "/help":
            out.append(b"".join(_line(h) for h in HELP))
        elif word in ("/join", "/j") and arg:
            room, _, key = arg.partition(" ")  # /join #room WORD: a room with a key (+k)
            room = room if room.startswith("#") else "#" + room
            known = next((r for r in self.rooms if r.lower() == room.lower()), None)
            if known:
                self.current = known
                out.append(_line(f"* now in {known}"))
            else:
                out.append(JoinRoom(room, key.strip() or None))
        elif word in ("/part", "/leave"):
            out.append(LeaveRoom(arg or self.current))
        elif word == "/msg" and len(arg.split(" ", 1)) == 2:
            name, text = arg.split(" ", 1)
            out.append(Dm(name, text))
        elif word == "/me" and arg:
            out.append(Chat(arg, room=self.current, action=True))
        elif word in ("/users", "/names", "/who"):
            out.append(Users(arg or self.current, stream=True))
        elif word == "/list":
            out.append(Rooms(stream=True))
        elif word == "/topic":
            out.append(Topic(self.current, arg) if arg else Users(self.current, stream=True))
        elif word == "/nick" and arg:
            out.append(Nick(arg))
        elif word == "/away":
            out.append(Away(arg or None))
        elif word in RUNNING:
            out.append(self._running(word, arg))
        else:
            out.append(_line(f"! unknown command or missing argument: {word}; type /help"))

    def _login(self, line: str, out: list[Command | ProtocolError | bytes]) -> None:
        """The line after the name of an account: its password, or nothing for another name."""
        self.logging_in = False
        if not line:
            self.name = None
            out.append(_line("Your name:"))
            return
        assert self.name is not None
        out.append(Join(self.name, password=self.server_password, login=line, replay=True))
        self.asked = True

    def _running(self, word: str, arg: str) -> Command | bytes:
        """Running a room: /kick NAME [REASON], /op /deop /voice /devoice NAME, /mode [+m -t ...]."""
        if word == "/bans":
            return SetMode(self.current, ((True, "b", None),))
        if word == "/mode":
            letters, *values = arg.split() or [""]
            changes = mode_changes(letters, values)
            if changes is None:
                return _line("! the modes are +m +t +s +i, +k WORD and +l NUMBER (and - to lift them)")
            return SetMode(self.current, changes)
        name, _, reason = arg.partition(" ")
        if not name:
            return _line(f"! {word} needs a name; type /help")
        if word == "/kick":
            return Kick(self.current, name, reason or None)
        if word in ("/ban", "/unban"):
            return SetMode(self.current, ((word == "/ban", "b", name),))
        if word == "/invite":
            return Invite(self.current, name)
        on, letter = RUNNING[word]  # type: ignore[misc]
        return SetMode(self.current, ((on, letter, name),))

    # -- out ------------------------------------------------------------------------------------
    def encode(self, event: ev.Event) -> bytes | None:
        render = _RENDER.get(type(event))
        return render(self, event) if render is not None else None  # pongs, history ends: nothing to read

    def _message(self, m: ev.Message) -> bytes:
        who = f"* {m.username} " if m.action else f"{m.username}: "
        text = "(deleted)" if m.deleted else m.text + (" (edited)" if m.edited else "")
        return _block(f"[{_hhmm(m.timestamp)}] {m.room} {who}", text)

    def _batch(self, batch: ev.HistoryBatch) -> bytes:
        return b"".join(self._message(m) for m in batch.messages)

    def _welcome(self, w: ev.Welcome) -> bytes:
        self.joined = True
        self.name = w.username
        self.rooms = [w.room]
        self.current = w.room
        lines = [w.message, *w.motd.splitlines(), f"You are in {w.room}" + (f" — {w.topic}" if w.topic else "")
                 + f". Here: {', '.join(w.users)}. Type /help for commands."]
        return b"".join(_line(x) for x in lines)

    def _joined(self, j: ev.UserJoined) -> bytes:
        return _line(f"[{_hhmm(j.timestamp)}] {j.room} * {j.username} joined")

    def _left(self, left: ev.UserLeft) -> bytes:
        why = f" ({left.reason})" if left.reason else ""
        return _line(f"[{_hhmm(left.timestamp)}] {left.room} * {left.username} left{why}")

    def _dm(self, d: ev.DirectMessage) -> bytes:
        mine = self.name is not None and d.sender.lower() == self.name.lower()
        head = f"[dm to {d.to}]" if mine else f"[dm from {d.sender}]"
        return _block(f"[{_hhmm(d.timestamp)}] {head} ", d.text)

    def _room_joined(self, r: ev.RoomJoined) -> bytes:
        if r.room not in self.rooms:
            self.rooms.append(r.room)
        self.current = r.room
        topic = f" — {r.topic}" if r.topic else ""
        return _line(f"* you joined {r.room}{topic}. Here: {', '.join(r.users)}")

    def _room_left(self, gone: ev.RoomLeft) -> bytes:
        self.rooms = [x for x in self.rooms if x != gone.room]
        if self.current == gone.room:
            self.current = self.rooms[0] if self.rooms else LOBBY_ROOM
        if gone.kicked_by:
            why = f" ({gone.reason})" if gone.reason else ""
            return _line(f"* {gone.kicked_by} put you out of {gone.room}{why}; now in {self.current}")
        why = f" ({gone.reason})" if gone.reason else ""
        return _line(f"* you left {gone.room}{why}; now in {self.current}")

    def _kicked(self, k: ev.Kicked) -> bytes | None:
        if self.name is not None and k.username.lower() == self.name.lower():
            return None  # said to them by their room_left
        why = f" ({k.reason})" if k.reason else ""
        return _line(f"[{_hhmm(k.timestamp)}] {k.room} * {k.by} put {k.username} out{why}")

    def _invited(self, i: ev.Invited) -> bytes:
        if self.name is not None and i.username.lower() == self.name.lower():
            return _line(f"* {i.by} invites you to {i.room} (/join {i.room})")
        return _line(f"* you invited {i.username} to {i.room}")

    def _modes(self, m: ev.ModeChanged) -> bytes:
        if m.by is None:
            on = [MODE_WORDS[letter] + (f" {value}" if value else "") for _, letter, value in m.changes]
            return _line(f"* {m.room} is " + (", ".join(on) if on else "open: anyone sets the topic and speaks"))
        said = [f"{'made' if on else 'took'} {who} {'an operator' if letter == 'o' else 'a voice'}"
                if letter in "ov" else f"{'banned' if on else 'unbanned'} {who}" if letter == "b"
                else f"{'set' if on else 'lifted'} {MODE_WORDS[letter]}"
                + (f" {who}" if on and who else "") for on, letter, who in m.changes]
        return _line(f"[{_hhmm(m.timestamp)}] {m.room} * {m.by} " + "; ".join(said))

    def _masks(self, ml: ev.MaskList) -> bytes:
        what = MODE_WORDS[ml.letter]
        if not ml.entries:
            return _line(f"* {ml.room} has no {what}")
        return b"".join(_line(f"* {ml.room} {what}: {mask} (by {by}, {_hhmm(at)})") for mask, by, at in ml.entries)

    def _users(self, u: ev.UserList) -> bytes:
        away = dict(u.away)
        names = ", ".join(n + (f" (away: {away[n]})" if n in away else "") for n in u.users)
        return _line(f"* {'in' if u.first else 'also in'} {u.room}: {names}" + (" ..." if u.more else ""))

    def _rooms(self, rl: ev.RoomList) -> bytes:
        return b"".join(_line(f"* {r.room} ({r.users} here)" + (f" — {r.topic}" if r.topic else ""))
                        for r in rl.rooms)

    def _topic(self, t: ev.TopicChanged) -> bytes:
        return _line(f"[{_hhmm(t.timestamp)}] {t.room} * {t.by} set the topic: {t.topic}")

    def _nick(self, n: ev.NickChanged) -> bytes:
        if self.name is not None and n.old.lower() == self.name.lower():
            self.name = n.new
        return _line(f"[{_hhmm(n.timestamp)}] * {n.old} is now known as {n.new}")

    def _away(self, a: ev.AwayChanged) -> bytes:
        return _line(f"* {a.username} is away: {a.message}" if a.message else f"* {a.username} is back")

    def _notice(self, event: ev.Announcement | ev.Shutdown) -> bytes:
        return _line(f"[{_hhmm(event.timestamp)}] *** {event.text}")

    def _registered(self, event: ev.Registered) -> bytes:
        return _line(f"* {event.account} is now your account")

    def error(self, exc: ProtocolError, command: Command | None = None) -> bytes:
        if not self.joined and self.name and exc.code is ErrorCode.NAME_REGISTERED:
            self.asked, self.logging_in = False, True  # an account: its password logs in
            return _line(f"{self.name} is an account. Its password (it shows as you type), or an empty"
                         " line to choose another name:")
        if not self.joined and exc.code is ErrorCode.ACCOUNT_REQUIRED and self.name:
            self.asked, self.logging_in = False, True
            return _line(f"! this server admits accounts only. The password of {self.name} (it shows as"
                         " you type), or an empty line to choose another name:")
        if not self.joined and exc.code in (ErrorCode.USERNAME_TAKEN, ErrorCode.INVALID_USERNAME,
                                            ErrorCode.BAD_LOGIN):
            self.name = None
            self.asked = False
            return _line(f"! {exc.message}") + _line("Your name:")
        if not self.joined and exc.code is ErrorCode.NOT_JOINED:
            return b""  # a line typed ahead of a join that failed: the name is being asked again
        return _line(f"! {exc.message}")

    def ping(self, ping_id: int) -> None:
        return None  # a person at nc cannot answer a ping: text connections are not pinged

    def refuse(self, exc: ProtocolError) -> bytes:
        return _line(f"! {exc.message}")

    def welcomed(self) -> None:
        return None  # the welcome itself, encoded, tells the codec it is in

    def saw(self, event: ev.Event) -> None:
        return None  # a text connection is its own wire: its own encode saw the rename


# what a person reads of each event, by its type (the rest, pongs and history ends, is silent)
_RENDER: dict[type, Callable[[TextCodec, Any], bytes]] = {
    ev.Message: TextCodec._message, ev.HistoryBatch: TextCodec._batch, ev.Welcome: TextCodec._welcome,
    ev.UserJoined: TextCodec._joined, ev.UserLeft: TextCodec._left, ev.DirectMessage: TextCodec._dm,
    ev.RoomJoined: TextCodec._room_joined, ev.RoomLeft: TextCodec._room_left, ev.UserList: TextCodec._users,
    ev.RoomList: TextCodec._rooms, ev.TopicChanged: TextCodec._topic, ev.NickChanged: TextCodec._nick,
    ev.MessageChanged: lambda c, e: _line(f"[{_hhmm(e.timestamp)}] * {e.by} " + (
        f"deleted a message in {e.room}" if e.text is None else f"edited a message in {e.room}: {e.text}")),
    ev.AwayChanged: TextCodec._away, ev.Announcement: TextCodec._notice, ev.Shutdown: TextCodec._notice,
    ev.Registered: TextCodec._registered, ev.Kicked: TextCodec._kicked, ev.ModeChanged: TextCodec._modes,
    ev.Invited: TextCodec._invited, ev.Opered: lambda c, o: _line("* you are a server operator now"),
    ev.MaskList: TextCodec._masks,
    ev.RoomRegistered: lambda c, r: _line(f"* {r.room} is now registered to your account, {r.founder}"),
    ev.Wallops: lambda c, w: _line(f"[{_hhmm(w.timestamp)}] ! {w.username} to the operators: {w.message}"),
}
# /op and the rest: a role given or taken (on, IRC's letter)
RUNNING: dict[str, tuple[bool, str] | None] = {"/op": (True, "o"), "/deop": (False, "o"), "/voice": (True, "v"),
                                               "/devoice": (False, "v"), "/kick": None, "/mode": None,
                                               "/invite": None, "/ban": None, "/unban": None, "/bans": None}
MODE_WORDS = {"m": "moderated (only operators and voiced members speak)", "t": "topic locked (operators set it)",
              "s": "secret (not in the list of rooms)", "i": "invite only", "k": "keyed", "l": "limited to",
              "n": "closed to messages from outside", "b": "bans", "e": "ban exceptions", "I": "invite exceptions"}
