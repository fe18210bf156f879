"""What a person types: the commands the client knows, a typed line as an ``Action`` (pure),
and the one-line error a front end ends with."""

from __future__ import annotations

from typing import NamedTuple

from selchat.render import sanitize

COMMANDS = {
    "/help": "this list",
    "/join #ROOM [KEY]": "join a room (with its key, if it has one), or switch to one you are in (also Alt-1..9)",
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
    "/reply NAME TEXT": "answer NAME's last line in the current room (it is quoted above yours)",
    "/react NAME 👍": "react to NAME's last line in the current room (again: take it back)",
    "/edit TEXT": "change your last line in the current room to TEXT, for everyone",
    "/delete": "delete your last line in the current room, for everyone",
    "/dms": "your private conversations, the latest first, with what is unread in each",
    "/search WORDS": 'find messages in your rooms and conversations: words, "a phrase", from:NAME, in:#ROOM, '
                     "before:2026-12-01, after:...",
    "/op NAME, /deop NAME": "make someone an operator of the current room, or not (operators)",
    "/voice NAME, /devoice NAME": "let someone speak in a moderated room, or not (operators)",
    "/kick NAME [REASON]": "put someone out of the current room (operators)",
    "/invite NAME": "ask someone into the current room (past +i)",
    "/ban NAME, /unban NAME": "keep someone out of the current room, or let them back (m:NAME only mutes them)",
    "/bans": "who is banned from the current room",
    "/register-room": "make the current room, which you run, your account's: its modes, bans and operators are kept",
    "/mode [+m +t +s +i ...]": "the room's modes: moderated, topic locked, secret, invite only (without: show them)",
    "/ping": "the round trip to the server, in milliseconds",
    "/quit": "leave (also /exit, /q, Ctrl-D or Ctrl-C)",
}
COMMAND_WORDS = ("/help", "/join", "/part", "/list", "/dms", "/names", "/users", "/topic", "/me", "/msg", "/nick",
                 "/away", "/register", "/ping", "/quit", "/exit", "/q", "/op", "/deop", "/voice", "/devoice", "/kick",
                 "/mode", "/invite", "/ban", "/unban", "/bans", "/register-room", "/search", "/reply", "/react",
                 "/edit", "/delete")


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


# commands that take nothing after them, and what each asks for
BARE = {"/quit": "quit", "/exit": "quit", "/q": "quit", "/help": "help", "/users": "users", "/ping": "ping",
        "/list": "list", "/dms": "dms", "/register": "register"}


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
    if word in BARE:
        return Action(BARE[word])
    if word == "/msg":
        name, _, text = rest.strip().partition(" ")
        if not name or not text.strip():
            return Action("invalid", text="usage: /msg NAME TEXT")
        return Action("dm", name, text)
    arg = rest.strip()
    if word in ("/join", "/j"):
        room, _, key = arg.partition(" ")  # /join #ROOM WORD: a room with a key
        if not room or " " in key.strip():
            return Action("invalid", text="usage: /join #ROOM [KEY]")
        return Action("join", room if room.startswith("#") else "#" + room, key.strip())
    if word in ("/part", "/leave"):
        return Action("part", arg)
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
    if word in ANSWERING:
        return _answering(word, arg)
    if word in RUNNING:
        return _running(word, arg)
    return Action("invalid", text=f"unknown command {sanitize(word)}; type /help for the list")


# what answers or finds lines: /reply NAME TEXT, /react NAME REACTION, /search WORDS
ANSWERING = ("/reply", "/react", "/search", "/edit", "/delete")


def _answering(word: str, arg: str) -> Action:
    if word == "/search":
        return Action("search", text=arg) if arg else Action("invalid", text="usage: /search WORDS")
    if word == "/edit":
        return Action("edit", text=arg) if arg else Action("invalid", text="usage: /edit NEW TEXT")
    if word == "/delete":
        return Action("delete")
    name, _, text = arg.partition(" ")
    if not name or not text.strip():
        return Action("invalid", text=f"usage: {word} NAME {'TEXT' if word == '/reply' else 'REACTION'}")
    return Action(word[1:], name.lstrip("@"), text.strip())


# running a room (its operators): the frame's role, or "kick" / "mode"
RUNNING = {"/op": "operator", "/deop": "-operator", "/voice": "voice", "/devoice": "-voice", "/kick": "kick",
           "/mode": "mode", "/invite": "invite", "/ban": "ban", "/unban": "unban", "/bans": "bans",
           "/register-room": "register_room"}


def _running(word: str, arg: str) -> Action:
    if word in ("/mode", "/bans", "/register-room"):
        return Action(RUNNING[word], text=arg)
    name, _, reason = arg.partition(" ")
    if not name:
        return Action("invalid", text=f"usage: {word} NAME" + (" [REASON]" if word == "/kick" else ""))
    if word in ("/invite", "/ban", "/unban"):
        return Action(RUNNING[word], name)
    return Action("kick" if word == "/kick" else "role", name, reason if word == "/kick" else RUNNING[word])


def help_lines() -> list[str]:
    width = max(map(len, COMMANDS))
    lines = [f"{cmd.ljust(width)}  {what}" for cmd, what in COMMANDS.items()]
    lines.append("anything else is sent to the room; start a line with // to send one that begins with /")
    return lines


