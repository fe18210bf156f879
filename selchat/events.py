"""Typed commands: what a client may ask of the server, whatever its protocol (frames.py makes
them from JSON frames, the IRC and text codecs from their own lines).

Small dataclasses with ``__slots__``, as in h11 and wsproto (treated as immutable, not frozen:
see outbound.py for the cost); the hub dispatches on ``type(command)``. A field's type is checked
in frames.py; its meaning (is the room name valid, is the user in that room) is the hub's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union


@dataclass(slots=True)
class Join:
    username: str
    password: str | None = None
    login: str | None = None  # an account's password: join as that account
    lobby: bool = True  # start in the lobby (IRC clients start in no channel and join themselves)
    replay: bool = False  # hear the lobby's recent messages on joining it
    user: str | None = None  # IRC's username and real name, shown by WHO and WHOIS
    realname: str | None = None


@dataclass(slots=True)
class Chat:
    message: str
    room: str | None = None  # None: the lobby
    action: bool = False  # /me
    notice: bool = False  # IRC's NOTICE: never to be answered automatically
    echo: bool = False  # the sender wants its own message back (IRCv3 echo-message)
    tags: str = ""  # client-only tags, relayed as written (IRCv3 message-tags)
    joins: tuple[int, ...] = ()  # where a line was continued (IRC's multiline-concat), kept for IRC readers


@dataclass(slots=True)
class Dm:
    to: str
    message: str
    action: bool = False
    notice: bool = False
    tags: str = ""
    joins: tuple[int, ...] = ()  # Chat's


@dataclass(slots=True)
class Monitor:
    """Watch names (IRCv3 MONITOR): "+" add, "-" remove, "C" clear, "L" list, "S" status."""

    action: str
    names: tuple[str, ...] = ()


@dataclass(slots=True)
class RegisterRoom:
    """Make a room one runs one's account's (IRC: /msg ChanServ REGISTER #room)."""

    room: str


@dataclass(slots=True)
class SetBot:
    """Say one is a bot, or not (IRC's user mode +B): others see it in WHOIS, WHO and a tag."""

    bot: bool


@dataclass(slots=True)
class Setname:
    """A new real name (IRC's SETNAME): those who share a room hear it."""

    realname: str


@dataclass(slots=True)
class StatusChat:
    """A line for a room's operators only ("@"), or its operators and voiced members ("+"):
    IRC's STATUSMSG (PRIVMSG @#room). Never kept in the room's history."""

    message: str
    room: str
    status: str  # "@" or "+"
    action: bool = False
    notice: bool = False
    echo: bool = False


@dataclass(slots=True)
class TagMsg:
    """Only client tags, to a room (#...) or a person: relayed, never kept (IRC's TAGMSG)."""

    target: str
    tags: str
    echo: bool = False


@dataclass(slots=True)
class Users:
    """Who is in a room: the members after ``after`` by name, as many as one answer holds.
    ``stream``: the rest follows in parts by itself (IRC's NAMES and WHO, text mode's /users)."""

    room: str | None = None
    tag: str | None = None  # copied into the answer, so a codec knows which question it answers
    detail: bool = False  # each member's user and real name too (IRC's WHO shows them)
    after: str | None = None
    stream: bool = False


@dataclass(slots=True)
class Ping:
    id: Any = None


@dataclass(slots=True)
class Pong:
    id: Any = None


@dataclass(slots=True)
class Quit:
    message: str | None = None  # told to the others as the reason


@dataclass(slots=True)
class JoinRoom:
    room: str
    key: str | None = None  # a room with +k asks for it


@dataclass(slots=True)
class LeaveRoom:
    room: str
    message: str | None = None  # told to the room as the reason


@dataclass(slots=True)
class Rooms:
    """A page of the list of rooms, by name: those after ``after``, at most ``limit`` (0: as many
    as one answer holds). ``stream``: the rest follows in parts by itself (IRC's LIST)."""

    after: str | None = None
    limit: int = 0
    stream: bool = False
    # IRC's ELIST: "#a*" names like it, "!#a*" names unlike it, ">N" / "<N" more or fewer members
    filters: tuple[str, ...] = ()


@dataclass(slots=True)
class Oper:
    """Become a server operator: an account named in --operators, with its password (IRC's OPER)."""

    name: str
    password: str


@dataclass(slots=True)
class Kill:
    """A server operator ends ``username``'s connection (IRC's KILL), saying why."""

    username: str
    reason: str | None = None


@dataclass(slots=True)
class Wallops:
    """A server operator's word to the other server operators (IRC's WALLOPS)."""

    message: str


@dataclass(slots=True)
class Whowas:
    """Who last had the name ``username``: the newest first, at most ``count`` (0: all kept)."""

    username: str
    count: int = 0


@dataclass(slots=True)
class Kick:
    """Put ``username`` out of ``room`` (its operators only)."""

    room: str
    username: str
    reason: str | None = None


@dataclass(slots=True)
class Invite:
    """Ask ``username`` into ``room``: it is let in once, past +i (and it is told). Both empty:
    the rooms one is invited to."""

    room: str
    username: str


@dataclass(slots=True)
class SetMode:
    """Change a room's modes or its members' roles; no changes: ask what they are.
    Each change is (on, letter, the member it is about): "m" moderated, "t" topic locked,
    "o" operator, "v" voice (IRC's letters; JSON says them in words)."""

    room: str
    changes: tuple[tuple[bool, str, str | None], ...] = ()


@dataclass(slots=True)
class DmHistory:
    """A page of one's private conversation with ``peer``, as ``History`` pages a room: the
    newest before ``before`` (None: now), or those after ``after``, or ``around`` a time."""

    peer: str
    before: float | None = None
    limit: int = 50
    after: float | None = None
    oldest: bool = False
    around: float | None = None
    tag: str | None = None


@dataclass(slots=True)
class HistoryTargets:
    """One's rooms and conversations with a message between ``after`` and ``before``, by their
    latest (IRC's CHATHISTORY TARGETS)."""

    after: float
    before: float
    limit: int = 50


@dataclass(slots=True)
class History:
    """A page of a room's stored messages strictly between ``after`` and ``before`` (either may be
    None: open). ``oldest``: the page next to ``after``, else the page next to ``before``.
    ``around``: half the page before this timestamp, half from it on (the others are unused)."""

    room: str
    before: float | None = None  # a timestamp; None: the newest messages
    limit: int = 50
    after: float | None = None
    oldest: bool = False
    around: float | None = None
    tag: str | None = None  # copied into the answer


@dataclass(slots=True)
class Topic:
    room: str
    topic: str | None  # None: what is it?


@dataclass(slots=True)
class Nick:
    username: str


@dataclass(slots=True)
class Away:
    message: str | None = None  # None: back


@dataclass(slots=True)
class Register:
    password: str


@dataclass(slots=True)
class Whois:
    username: str
    tag: str | None = None  # copied into the answer


@dataclass(slots=True)
class Lusers:
    pass


@dataclass(slots=True)
class Who:
    """Who is online under names matching ``mask`` (``*`` and ``?`` wildcards)."""

    mask: str
    after: str | None = None  # the part after this name (WHO streams its parts: hub/effects.Then)
    tag: str = "whomask"  # copied into the answer (IRC's WHOX keeps its fields here)


@dataclass(slots=True)
class Authenticate:
    """Log in to an account before joining (IRC's SASL): the join that follows is that account's."""

    account: str
    password: str


@dataclass(slots=True)
class Search:
    """Look for messages in one's rooms and conversations (query.py says what a query can say)."""

    query: str
    limit: int = 20
    before: float | None = None  # the next page: hits older than this timestamp
    tag: str | None = None  # copied into the answer


@dataclass(slots=True)
class Edit:
    """Edit (``text``) or delete (``text`` None) a line of a room: one's own, or (deleting) any as
    the room's operator. ``line``: its id in microseconds, or None for one's own last line."""

    room: str
    line: int | None
    text: str | None = None
    reason: str | None = None
    tag: str | None = None  # what asked (IRC's REDACT), for the wire that phrases the refusal
    shown: str | None = None  # the id as the client wrote it, said back in a refusal


@dataclass(slots=True)
class HookPost:
    """A webhook's post (hooks.py): the secret from its URL, and what its body said."""

    secret: str
    text: str
    username: str | None = None  # the name the post asks its line be said under


@dataclass(slots=True)
class MarkRead:
    """Read up to ``timestamp`` in ``target`` (a room, or a person's conversation); without a
    timestamp, a question: how far was it read (IRCv3 draft/read-marker's MARKREAD)."""

    target: str
    timestamp: float | None = None


@dataclass(slots=True)
class UnreadAsk:
    """How many lines are unread in each of one's rooms, or (``conversations``) the list of one's
    conversations with theirs."""

    conversations: bool = False


Command = Union[Join, Chat, Dm, Users, Ping, Pong, Quit, JoinRoom, LeaveRoom, Rooms, History, DmHistory, Topic, Nick,
                Away, Register, Whois, Lusers, Authenticate, Who, Kick, SetMode, Invite, Oper, Kill, Wallops, Whowas,
                TagMsg, Setname, Monitor, HistoryTargets, RegisterRoom, SetBot,
                StatusChat, HookPost, Search, Edit, MarkRead, UnreadAsk]

# Commands a JSON client must have joined with "version": 2 to use (its codec refuses them).
V2_COMMANDS = frozenset({JoinRoom, LeaveRoom, Rooms, History, DmHistory, Topic, Nick, Away, Register, Whois, Lusers,
                         Who, Kick, SetMode, Invite, Oper, Kill, Wallops, Whowas, TagMsg,
                         Setname, Monitor, HistoryTargets, RegisterRoom,
                         SetBot, StatusChat, Search, Edit, MarkRead, UnreadAsk})

MAX_TIMESTAMP = 1_000_000_000_000


def in_time_range(value: float) -> bool:
    return 0 <= value <= MAX_TIMESTAMP


# the channel modes selchat has: flags m n t s i, k and l with a value, o and v with a nick, and
# the lists b e I with a mask (alone: show the list)
MODE_LETTERS = frozenset("mntsikl" "ov" "beI")


def mode_changes(letters: str, args: list[str]) -> tuple[tuple[bool, str, str | None], ...] | None:
    """``+mo-v bob carol`` as changes: (on, letter, nick or None); None for a letter we lack."""
    changes: list[tuple[bool, str, str | None]] = []
    on, given = True, iter(args)
    for letter in letters:
        if letter in "+-":
            on = letter == "+"
        elif letter not in MODE_LETTERS:
            return None
        else:
            takes = letter in "oveIb" or (on and letter in "kl") or (letter == "k" and not on)
            arg = next(given, None) if takes else None
            changes.append((on, letter, None if letter == "k" and not on else arg))
    return tuple(changes)


def replied_to(tags: str) -> int | None:
    """The msgid (a timestamp in microseconds) an IRCv3 +draft/reply tag names, or None."""
    for tag in tags.split(";"):
        key, _, value = tag.partition("=")
        if key == "+draft/reply" and value.isdigit() and len(value) <= 19:
            return int(value)
    return None


REACTION_MAX = 32  # characters of one reaction (an emoji, or a short word)


def reaction_of(tags: str) -> tuple[str, bool, int] | None:
    """(reaction, added?, the msgid it is on) from IRCv3 +draft/react (or +draft/unreact) and
    +draft/reply tags, or None when the tags are no reaction."""
    found: dict[str, str] = {}
    for tag in tags.split(";"):
        key, _, value = tag.partition("=")
        found[key] = value
    reaction = found.get("+draft/react") or found.get("+draft/unreact")
    on_line = replied_to(tags)
    if not reaction or on_line is None or len(reaction) > REACTION_MAX or any(c in reaction for c in " \\;"):
        return None
    return reaction, "+draft/react" in found, on_line
