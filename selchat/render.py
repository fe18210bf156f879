"""Frames as the lines a person reads: pure functions, no terminal, no network.

Everything a server relays comes from other users, so it is made inert before it reaches a
terminal: control characters and escape sequences are shown, never obeyed (a chat line must not
be able to move the cursor, retitle the window or clear the screen).
"""

from __future__ import annotations

import re
import time
import zlib
from collections import OrderedDict
from typing import Any

# C0 and C1 controls, DEL, bidirectional overrides and isolates (which can make text read
# backwards), zero-width characters, and lone surrogates (which cannot be printed at all).
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)

RESET = "\x1b[0m"
BOLD = "\x1b[1m"
DIM = "\x1b[2m"
RED = "\x1b[31m"
YELLOW = "\x1b[33m"
MAGENTA = "\x1b[35m"
CYAN = "\x1b[36m"
# Name colours: readable on dark and light backgrounds; never red (errors) or the dim grey.
NAME_COLOURS = (32, 33, 34, 35, 36, 92, 93, 94, 95, 96)


def _shown(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code < 0x20:
        return "^" + chr(code + 0x40)  # caret notation, as `cat -v` shows it: ESC is ^[
    if code == 0x7F:
        return "^?"
    if 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    return f"<U+{code:04X}>"


def sanitize(text: Any) -> str:
    """``text`` made safe to print: one line, nothing a terminal would act on."""
    text = str(text).replace("\r\n", "\n").replace("\n", " ⏎ ").replace("\t", "    ")
    return _UNSAFE.sub(_shown, text)


def block(text: Any) -> str:
    """A message of several lines made safe line by line: one block, the later lines indented."""
    return "\n    ".join(sanitize(line) for line in str(text).replace("\r\n", "\n").split("\n"))


def name_colour(name: str) -> int:
    """The same name gets the same colour in every session (a hash, not an allocation order)."""
    return NAME_COLOURS[zlib.crc32(name.casefold().encode("utf-8", "replace")) % len(NAME_COLOURS)]


SEEN_MAX = 500  # lines remembered for quoting
QUOTE_MAX = 60  # characters of the answered line shown above a reply


class Renderer:
    """Turns frames into display lines, with ANSI colours or without."""

    def __init__(self, colour: bool = True, me: str | None = None) -> None:
        self.colour = colour
        self.me = me
        # The room the user is typing into; lines from other rooms carry their room's name.
        self.current: str | None = None
        # lines seen lately, by timestamp, so that a reply can quote the start of what it answers
        self.seen: OrderedDict[float, tuple[str, str]] = OrderedDict()
        self.unread: dict[str, int] = {}  # lines unread by casefolded room (the client's state): /list says them

    def _paint(self, text: str, *codes: str) -> str:
        if not self.colour or not codes:
            return text
        return "".join(codes) + text + RESET

    def name(self, name: Any) -> str:
        shown = sanitize(name)
        return self._paint(shown, f"\x1b[{name_colour(shown)}m", BOLD)

    @staticmethod
    def clock(timestamp: Any = None) -> str:
        when = timestamp if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool) else None
        try:
            return time.strftime("%H:%M", time.localtime(when))
        except (OverflowError, OSError, ValueError):
            return time.strftime("%H:%M")

    def stamp(self, frame: dict[str, Any]) -> str:
        return self._paint(f"[{self.clock(frame.get('timestamp'))}]", DIM)

    def notice(self, text: str) -> str:
        """A line from the client itself (help, the online list, round trips)."""
        return self._paint(f"*** {text}", CYAN)

    def problem(self, text: str) -> str:
        return self._paint(f"!!! {text}", RED, BOLD)

    def own_chat(self, text: str, action: bool = False) -> str:
        if action:
            return f"{self.stamp({})} * {self.name(self.me or 'me')} {block(text)}"
        return f"{self.stamp({})} {self.name(self.me or 'me')}: {block(text)}"

    def _where(self, frame: dict[str, Any]) -> str:
        """``#dev `` before a line from a room other than the current one."""
        room = frame.get("room")
        if not isinstance(room, str) or not room.startswith("#") or self.current is None:
            return ""
        if room.casefold() == self.current.casefold():
            return ""
        return self._paint(sanitize(room), BOLD) + " "

    def chat(self, frame: dict[str, Any]) -> str:
        if frame.get("deleted"):
            frame = {**frame, "message": "(deleted)"}
        line = self._chat(frame)
        if frame.get("edited"):
            line += self._paint(" (edited)", DIM)
        stamp = frame.get("timestamp")
        if isinstance(stamp, (int, float)):
            self.seen[stamp] = (str(frame.get("username", "")), str(frame.get("message", "")))
            if len(self.seen) > SEEN_MAX:
                self.seen.popitem(last=False)
        reactions = frame.get("reactions")
        if isinstance(reactions, dict) and reactions:  # kept ones, with a line from history
            line += self._paint("  " + " ".join(f"{sanitize(r)} {len(who)}" for r, who in reactions.items()
                                                if isinstance(who, list)), DIM)
        answered = frame.get("reply_to")
        if not isinstance(answered, (int, float)):
            return line
        who, text = self.seen.get(answered, ("", ""))
        quoted = f"{sanitize(who)}: {sanitize(text.splitlines()[0] if text else '')[:QUOTE_MAX]}" if who \
            else "an earlier message"
        return self._paint(f"  ↪ {quoted}", DIM) + "\n" + line

    def _chat(self, frame: dict[str, Any]) -> str:
        get = frame.get
        if get("history"):
            # from before you arrived: dimmed, with its own time, and no colours that could be
            # mistaken for live lines
            who, text = sanitize(get("username")) + (" [bot]" if get("bot") else ""), block(get("message", ""))
            body = f"* {who} {text}" if get("action") else f"{who}: {text}"
            return self._paint(f"[{self.clock(get('timestamp'))}] {sanitize(get('room', ''))} {body}", DIM)
        head = f"{self.stamp(frame)} {self._where(frame)}"
        text = block(get("message", ""))
        who = self.name(get("username")) + (self._paint(" [bot]", DIM) if get("bot") else "")  # a program's line
        if get("action"):
            return f"{head}* {who} {text}"
        return f"{head}{who}: {text}"

    def frame(self, frame: dict[str, Any]) -> str | None:
        """The line for one received frame, or None for frames a person need not see."""
        kind = frame.get("type")
        if kind == "chat":
            return self.chat(frame)
        if kind == "dm":
            return self._dm(frame)
        if kind in ("unread", "conversations"):  # what is unread, and where
            return self._unread(frame) if kind == "unread" else self._conversations(frame)
        return self._more(frame)

    def _dm(self, frame: dict[str, Any]) -> str:
        get = frame.get
        sender, to = get("from"), get("to")
        mine = self.me is not None and str(sender).casefold() == self.me.casefold()
        head = f"[dm to {self.name(to)}]" if mine else f"[dm from {self.name(sender)}]"
        body = self._paint(block(get("message", "")), MAGENTA)
        line = f"{self.stamp(frame)} {self._paint('', MAGENTA)}{head} {body}"
        if get("offline"):
            line += self._paint(" (kept until they log in)" if mine else " (sent while you were away)", DIM)
        return line

    def _users(self, frame: dict[str, Any]) -> str:
        """Who is in a room; a big room's list comes in parts, each "continued" from the last."""
        get = frame.get
        names = get("users") or []
        away = get("away") if isinstance(get("away"), dict) else {}
        roles = get("roles") if isinstance(get("roles"), dict) else {}
        mark = {"operator": "@", "voice": "+"}
        shown = ", ".join(mark.get(roles.get(n), "") + sanitize(n) + (f" (away: {sanitize(away[n])})" if n in away
                                                                       else "") for n in names)
        where = f" in {sanitize(get('room'))}" if str(get("room", "")).startswith("#") else ""
        head = "also online" if get("continued") else "online"
        more = " (more follow)" if get("more") else ""
        return self.notice(f"{head}{where} ({len(names)}): {shown}{more}")

    def _rooms(self, frame: dict[str, Any]) -> str:
        rooms = frame.get("rooms") or []
        more = " (more follow)" if frame.get("more") else ""
        lines = [self.notice(f"{len(rooms)} room{'s' if len(rooms) != 1 else ''}{more}:")]
        for r in rooms:
            if isinstance(r, dict):
                topic = f" — {sanitize(r.get('topic'))}" if r.get("topic") else ""
                count = self.unread.get(str(r.get("room")).casefold())
                unread = f", {count} unread" if count else ""
                here = f"{sanitize(r.get('users'))} here{unread}"
                lines.append(self.notice(f"  {sanitize(r.get('room'))} ({here}){topic}"))
        return "\n".join(lines)

    def _unread(self, frame: dict[str, Any]) -> str | None:
        """What came while you were elsewhere (after a join, or asked for): rooms not on screen."""
        said = []
        for count in frame.get("rooms") or []:
            if isinstance(count, dict) and count.get("unread") and str(count.get("room")) != self.current:
                more = "+" if count.get("more") else ""
                named = f", {count.get('mentions')} naming you" if count.get("mentions") else ""
                said.append(f"{sanitize(count.get('room'))} {sanitize(count.get('unread'))}{more}{named}")
        return self.notice("unread: " + "; ".join(said)) if said else None

    def _conversations(self, frame: dict[str, Any]) -> str:
        talks = [t for t in frame.get("conversations") or [] if isinstance(t, dict)]
        if not talks:
            return self.notice("no conversations yet: /msg NAME TEXT starts one")
        lines = [self.notice(f"{len(talks)} conversation{'s' if len(talks) != 1 else ''}, the latest first:")]
        for t in talks:
            count = t.get("unread")
            unread = f", {sanitize(count)}{'+' if t.get('more') else ''} unread" if count else ""
            lines.append(self.notice(f"  {sanitize(t.get('with'))} (last at {self.clock(t.get('latest'))}{unread})"))
        return "\n".join(lines)

    def _running(self, frame: dict[str, Any]) -> str:
        """Who runs a room: someone put out, a role given or taken, the room's modes."""
        get = frame.get
        room, by = sanitize(get("room")), sanitize(get("by"))
        if get("type") == "kicked":
            why = f" ({sanitize(get('reason'))})" if get("reason") else ""
            return self._paint(f"[{self.clock(get('timestamp'))}] * {by} put {sanitize(get('username'))} out of {room}"
                               f"{why}", YELLOW)
        if get("type") == "role":
            what = "an operator" if get("role") == "operator" else "a voice"
            done = "made" if get("given") else "no longer made"
            return self._paint(f"* {by} {done} {sanitize(get('username'))} {what} in {room}", YELLOW)
        if get("type") in ("ban", "unban"):
            done = "banned" if get("type") == "ban" else "lifted the ban on"
            return self._paint(f"[{self.clock(get('timestamp'))}] * {by} {done} {sanitize(get('mask'))} in {room}",
                               YELLOW)
        if get("type") == "bans":
            masks = get("masks") if isinstance(get("masks"), list) else []
            listed = ", ".join(sanitize(m.get("mask")) for m in masks if isinstance(m, dict)) or "nobody"
            return self.notice(f"{sanitize(get('list', 'bans')).replace('_', ' ')} in {room}: {listed}")
        modes = [f"{word.replace('_', ' ')} {'on' if get(word) else 'off'}"
                 for word in ("moderated", "topic_locked", "secret", "invite_only", "no_outside") if word in frame]
        modes += [f"{word} {sanitize(get(word))}" for word in ("key", "limit") if get(word) is not None]
        return self.notice(f"{room}: " + ", ".join(modes) + (f" (set by {by})" if get("by") else ""))

    def _changed(self, frame: dict[str, Any]) -> str:
        """A line edited or deleted: which one (its start, if seen), and the new text."""
        stamp = frame.get("id")
        who, text = self.seen.get(stamp, ("", ""))  # type: ignore[arg-type]
        line = f"{sanitize(who)}'s \"{sanitize(text.splitlines()[0] if text else '')[:QUOTE_MAX]}\"" if who \
            else "an earlier message"
        by = sanitize(frame.get("by"))
        if frame.get("type") == "deleted":
            if isinstance(stamp, (int, float)):
                self.seen.pop(stamp, None)
            return self._paint(f"[{self.clock(frame.get('timestamp'))}] * {by} deleted {line}", DIM)
        if who and isinstance(stamp, (int, float)):
            self.seen[stamp] = (who, str(frame.get("message", "")))
        return self._paint(f"[{self.clock(frame.get('timestamp'))}] * {by} edited {line}: ", DIM) + \
            block(frame.get("message", ""))

    def _reaction(self, frame: dict[str, Any]) -> str:
        """Someone reacted to a line (or took it back): the start of the line, if it was seen."""
        who, text = self.seen.get(frame.get("id"), ("", ""))  # type: ignore[arg-type]
        line = f"{sanitize(who)}: {sanitize(text.splitlines()[0] if text else '')[:QUOTE_MAX]}" if who \
            else "an earlier line"
        verb = "reacted" if frame.get("on", True) else "took back"
        return self._paint(f"[{self.clock(frame.get('timestamp'))}] * {sanitize(frame.get('username'))} {verb}"
                           f" {sanitize(frame.get('reaction'))} to {line}", DIM)

    def _found(self, frame: dict[str, Any]) -> str:
        """A search's hits, newest first, each with its place and day: one block."""
        results = [r for r in frame.get("results") or [] if isinstance(r, dict)]
        query = sanitize(frame.get("query", ""))
        if not results:
            return self.notice(f"nothing found for {query}")
        lines = [self.notice(f"{len(results)}{'+' if frame.get('more') else ''} found for {query}, newest first:")]
        for hit in results:
            stamp = hit.get("timestamp")
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if isinstance(stamp, (int, float)) else "?"
            where = sanitize(hit.get("room")) if hit.get("room") else f"dm {sanitize(hit.get('with'))}"
            lines.append(f"  [{when}] {where} {sanitize(hit.get('username'))}: {block(hit.get('message', ''))}")
        return "\n".join(lines)

    def _presence(self, frame: dict[str, Any]) -> str | None:
        """Someone came or went: the room named, and a quit from several rooms said once."""
        get = frame.get
        if get("again"):
            return None  # a quit, said already for another room
        text = sanitize(get("message", ""))
        room = get("room")
        if get("type") == "user_joined" and isinstance(room, str) and room.startswith("#"):  # v2: which room
            text = f"{sanitize(get('username'))} joined {sanitize(room)}"
        if get("type") == "user_left" and get("reason"):
            text += f" ({sanitize(get('reason'))})"
        return self._paint(f"[{self.clock(get('timestamp'))}] * {text}", DIM)

    def _more(self, frame: dict[str, Any]) -> str | None:
        kind = frame.get("type")
        get = frame.get
        if kind in ("user_joined", "user_left"):
            return self._presence(frame)
        if kind == "search_results":
            return self._found(frame)
        if kind == "reaction":
            return self._reaction(frame)
        if kind in ("edited", "deleted"):
            return self._changed(frame)
        if kind == "server":
            return f"{self.stamp(frame)} " + self._paint(f"[server] {sanitize(get('message', ''))}", YELLOW, BOLD)
        if kind == "welcome":
            lines = [self.notice(sanitize(get("message", "")))]
            motd = get("motd")
            if isinstance(motd, str):  # the message of the day, a line each
                lines += [self.notice(sanitize(line)) for line in motd.splitlines() if line.strip()]
            return "\n".join(lines)
        if kind == "users":
            return self._users(frame)
        if kind == "room_joined":
            names = get("users") or []
            topic = f" — topic: {sanitize(get('topic'))}" if get("topic") else ""
            return self.notice(f"you joined {sanitize(get('room'))}{topic} ({len(names)} here: "
                               + ", ".join(sanitize(n) for n in names) + ")")
        if kind == "room_left":
            why = f": {sanitize(get('reason'))}" if get("reason") and not get("kicked_by") else ""
            return self.notice(f"you left {sanitize(get('room'))}{why}")
        if kind == "rooms":
            return self._rooms(frame)
        if kind == "invited":
            return self.notice(f"{sanitize(get('by'))} invited {sanitize(get('username'))} to {sanitize(get('room'))}")
        if kind == "room_registered":
            return self.notice(f"{sanitize(get('room'))} is now registered to your account, {sanitize(get('founder'))}")
        if kind in ("kicked", "role", "room_mode", "ban", "unban", "bans"):
            return self._running(frame)
        if kind == "topic":
            what = f"set the topic of {sanitize(get('room'))} to: {sanitize(get('topic'))}" if get("topic") else \
                f"cleared the topic of {sanitize(get('room'))}"
            return f"{self.stamp(frame)} " + self._paint(f"* {sanitize(get('by'))} {what}", YELLOW)
        if kind == "nick":
            return self._paint(f"[{self.clock(get('timestamp'))}] * {sanitize(get('from'))} is now known as "
                               f"{sanitize(get('to'))}", DIM)
        if kind == "away":
            who = sanitize(get("username"))
            text = f"{who} is away: {sanitize(get('message'))}" if get("message") else f"{who} is back"
            return self._paint(f"* {text}", DIM)
        if kind == "registered":
            return self.notice(sanitize(get("message", "registered")))
        if kind in ("history_end", "read", "typing"):  # typing: the terminal's bottom line says it
            return None
        if kind == "error":
            return self.problem(f"{sanitize(get('message', ''))} [{sanitize(get('code', ''))}]")
        if kind == "shutdown":
            return self._paint(f"*** {sanitize(get('message', 'the server is shutting down'))}", YELLOW, BOLD)
        if kind in ("ping", "pong"):
            return None
        return self.notice(f"(unknown frame {sanitize(kind)!s})")
