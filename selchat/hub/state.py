"""The hub's state, at the bottom of the package: sessions, rooms and the registries of names
and accounts, with the small rules every manager shares (names, the token bucket, stamps).

Managers own behaviour and read and change this state; nothing here returns effects. A room keeps
a roster of its members' ids in joining order: a join appends to the same list, a departure
replaces it. A broadcast carries the roster and its length at that moment, so the server can
batch a turn's broadcasts to one room by the roster's identity, across joins, and give each
newcomer only the frames that came after it.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from selchat import outbound as ev
from selchat.bans import BanList
from selchat.config import LOBBY_ROOM, NAME_MAX, ROOM_MAX, ServerConfig
from selchat.errors import ErrorCode, ProtocolError
from selchat.hooks import Outgoing
from selchat.hub.effects import Broadcast
from selchat.hub.masks import MaskLists
from selchat.records import Snapshot
from selchat.roomrules import apply_rules, speech_checked

if TYPE_CHECKING:
    from selchat.events import Authenticate, Join
    from selchat.hub.effects import Effect

NAME_RE = re.compile(rf"[A-Za-z0-9_.\-]{{1,{NAME_MAX}}}")
ROOM_RE = re.compile(rf"#[A-Za-z0-9_.\-]{{1,{ROOM_MAX}}}")
LOBBY_KEY = LOBBY_ROOM


class Room:
    __slots__ = ("key", "name", "members", "remote", "_roster", "topic", "topic_by", "topic_at", "recent", "total",
                 "stored", "synced", "awaiting", "ops", "voiced", "moderated", "topic_locked", "secret", "invite_only",
                 "join_key", "limit", "invited", "no_outside", "masks", "created", "checks_speech", "founder",
                 "account_roles", "provisional", "doubles", "also")

    def __init__(self, key: str, name: str, replay: int) -> None:
        self.key = key
        self.name = name
        self.members: dict[int, str] = {}
        self.remote: dict[str, tuple[str, str]] = {}  # other processes' members: key -> (name, node)
        self._roster: list[int] | None = []
        self.topic = ""
        self.topic_by: str | None = None
        self.topic_at: float | None = None
        self.recent: deque[ev.Message] = deque(maxlen=replay)  # replayed on join, no disk read
        self.total = 0  # messages stored, as far as this process knows
        self.stored = False  # the room has a row in the database
        # with --redis: the room's recent history and topic are Redis's, as read when this
        # process last subscribed to it; until they are, newcomers wait here for their replay
        self.synced = True
        self.awaiting: list[tuple[int, bool]] = []  # (connection, whether it waits for room_joined too)
        # who runs the room (hub/roles.py): members' name keys; and its modes (IRC's +m and +t)
        self.ops: dict[str, str] = {}  # name key -> the name, so a list of roles never walks every member
        self.voiced: dict[str, str] = {}
        self.moderated = False
        self.topic_locked = False
        self.secret = False  # +s: not in the list of rooms for those outside it
        self.invite_only = False  # +i: only those invited (or its operators) come in
        self.join_key: str | None = None  # +k: the word to come in with
        self.limit = 0  # +l: at most this many members (0: no limit)
        self.invited: set[str] = set()  # name keys invited, each let in once
        self.no_outside = True  # +n: only members speak in it (-n: anyone may, from outside)
        self.masks = MaskLists()  # +b, +e, +I (hub/masks.py)
        self.created = 0.0  # when it was made (IRC's 329)
        self.checks_speech = False  # +m or a mute (m: ban): each message asks roles.may_speak
        self.founder: str | None = None  # the account that registered it (roomrules.py keeps it all)
        self.account_roles: dict[str, str] = {}  # in a registered room: account key -> "o" or "v"
        # with --redis: the name key of one made operator before this process knew who else is in
        # the room; taken back if others were (mirror.Heard.settle)
        self.provisional: str | None = None
        # members here on more devices than one (hub/devices.py): name key -> how many more
        self.doubles: dict[str, int] | None = None
        # with --redis: people here in it on more processes than one, by name key, each process
        # beside the one in ``remote`` (or, for a member here, every other one); hub/shares.py
        self.also: dict[str, set[str]] | None = None

    @property
    def roster(self) -> list[int]:
        """The members' ids in joining order. Appended to in place while nobody leaves (so a
        turn's batch of broadcasts survives a join storm); a new list once someone has left."""
        roster = self._roster
        if roster is None:
            roster = self._roster = list(self.members)  # a dict keeps joining order
        return roster

    def broadcast(self, event: ev.Event, exclude: int | None = None) -> Broadcast:
        roster = self.roster
        return Broadcast(roster, len(roster), event, exclude)

    def add(self, conn_id: int, name: str, again: bool = False) -> None:
        """A member, or (``again``) another device of a member already here: one person, who
        hears everything on each device."""
        if conn_id in self.members:
            self.members[conn_id] = name
            return
        self.members[conn_id] = name
        if self._roster is not None:
            self._roster.append(conn_id)
        if again:
            doubles = self.doubles if self.doubles is not None else {}
            key = name.casefold()
            doubles[key] = doubles.get(key, 0) + 1
            self.doubles = doubles

    def remove(self, conn_id: int) -> None:
        name = self.members.pop(conn_id, None)
        if name is not None:
            self._roster = None
            if self.doubles and name.casefold() in self.doubles:  # one of several devices: still here
                key = name.casefold()
                self.doubles[key] -= 1
                if not self.doubles[key]:
                    del self.doubles[key]
                return
            if self.ops or self.voiced:  # a role is a member's: it goes when they do
                self.ops.pop(name.casefold(), None)
                self.voiced.pop(name.casefold(), None)

    def renamed(self, old: str, new: str) -> None:
        """A member's new name keeps its roles (and its count of devices)."""
        if self.doubles and old.casefold() in self.doubles:
            self.doubles[new.casefold()] = self.doubles.pop(old.casefold())
        if self.also and old.casefold() in self.also:
            self.also[new.casefold()] = self.also.pop(old.casefold())
        for holders in (self.ops, self.voiced):
            if holders.pop(old.casefold(), None) is not None:
                holders[new.casefold()] = new

    def role(self, name: str) -> str | None:
        """"o" for an operator, "v" for a voiced member, else None."""
        key = name.casefold()
        return "o" if key in self.ops else "v" if key in self.voiced else None

    def roles(self) -> tuple[tuple[str, str], ...]:
        """(name, "o", "v" or "ov") of every member with a role, for NAMES, WHO and ``users``: the
        highest first (IRC's multi-prefix shows them all, others the first)."""
        if not (self.ops or self.voiced):
            return ()
        voiced = self.voiced
        return (*((name, "ov" if key in voiced else "o") for key, name in self.ops.items()),
                *((name, "v") for key, name in voiced.items() if key not in self.ops))

    def names(self) -> list[str]:
        names = list(dict.fromkeys(self.members.values()) if self.doubles else self.members.values())
        if self.remote:
            names.extend(name for name, _ in self.remote.values())
        return sorted(names, key=str.casefold)

    def size(self) -> int:
        """People, not connections: a member on three devices is one."""
        doubles = sum(self.doubles.values()) if self.doubles else 0
        return len(self.members) - doubles + len(self.remote)

    def recent_line(self, line: int) -> ev.Message | None:
        """The line said at ``line`` (microseconds), if it is among the recent ones in memory."""
        for message in reversed(self.recent):
            if round(message.timestamp * 1_000_000) == line:
                return message
        return None

    def quiet(self, above: int) -> bool:
        """Too large for joins and leaves to be announced (config.quiet_above)."""
        return 0 < above < self.size()

    @property
    def lasting(self) -> bool:
        """A room exists while it has members or stored history: an empty room without history is
        forgotten, topic and all, so rooms made and left cannot pile up (issue 21, item 1)."""
        return (bool(self.members) or bool(self.remote) or self.total > 0 or self.key == LOBBY_KEY
                or self.founder is not None)


class Session:
    __slots__ = ("conn_id", "address", "name", "rooms", "tokens", "refill_at", "strikes", "away",
                 "account", "logging_in", "quit_message", "spoke_at", "authed", "user", "realname", "claiming",
                 "hashing", "dms_due", "signon", "oper", "bot", "typing", "last_said", "devices", "marks",
                 "gone_until", "auto_away", "claimed_as")

    def __init__(self, conn_id: int, address: str, burst: float, now: float) -> None:
        self.conn_id = conn_id
        self.address = address
        self.name: str | None = None
        self.rooms: dict[str, Room] = {}  # key -> room, in the order joined
        self.tokens = burst
        self.refill_at = now
        self.strikes = 0
        self.away: str | None = None
        self.account: str | None = None  # the account's key, once logged in or registered
        self.logging_in: Join | Authenticate | None = None  # waiting on a password check
        self.authed: str | None = None  # the account an Authenticate logged in to, before the join
        self.user = ""
        self.realname = ""
        self.quit_message: str | None = None
        self.spoke_at = now
        self.signon = now  # when it connected (WHOIS's 317)
        self.oper = False  # a server operator (OPER): WHO and WHOIS say so
        self.bot = False  # says it is a bot (IRC's +B)
        self.typing: dict[str, tuple[float, str]] | None = None  # target -> its last typing notice (messages.py)
        self.last_said: tuple[str, int] | None = None  # (room key, stamp) of its last line: /edit, /delete
        # (name key, a guest?, the admission) while its name is claimed in Redis
        self.claiming: tuple[str, bool, Callable[[], list[Effect]]] | None = None
        self.hashing = False  # a registration's password is in the worker: one at a time
        self.dms_due: list[ev.DirectMessage] = []  # kept while offline, not yet written (in pages)
        # an account on several connections (hub/devices.py): all of them, one list they share
        self.devices: list[int] | None = None
        self.marks: dict[str, int] | None = None  # a guest's read markers (hub/reads.py; an account's are State's)
        # its connection was lost and it lingers in its rooms until then (hub/devices.py: --linger)
        self.gone_until: float | None = None
        self.claimed_as: str | None = None  # with --redis: the name its account has on another process
        self.auto_away = False  # its away message is the server's, for lingering: taken back on return


def valid_name(name: str) -> bool:
    return NAME_RE.fullmatch(name) is not None


def room_key(name: str) -> str:
    """A room's identity: ``#Dev`` and ``#dev`` are one room. Raises ``bad_room_name``."""
    if ROOM_RE.fullmatch(name) is None:
        raise ProtocolError(
            ErrorCode.BAD_ROOM_NAME,
            f"room names are # and 1-{ROOM_MAX} ASCII letters, digits, '_', '-' or '.'",
        )
    return name.lower()


WHOWAS_MAX = 100  # names given up that WHOWAS remembers (ergo's default whowas list, 100)


def remember_gone(state: State, session: Session, now: float) -> None:
    """A name given up (a quit, a new name): WHOWAS tells who had it."""
    assert session.name is not None
    state.gone.append((session.name, session.user or session.name, session.realname or session.name, now))


class State:
    """Everything the hub knows, in one place its managers share (one thread: no locks)."""

    def __init__(self, config: ServerConfig, snapshot: Snapshot | None, shared: bool) -> None:
        self.config = config
        self.sessions: dict[int, Session] = {}
        self.names: dict[str, int] = {}  # casefolded name -> connection id
        self.rooms: dict[str, Room] = {}
        self.accounts: dict[str, str] = {}  # key -> the name it was registered as
        self.account_sessions: dict[str, int] = {}  # key -> the connection logged in to it
        self.registering: set[str] = set()
        self.hook_names: set[str] = set()  # incoming webhooks' bots (hooks.py): names no guest may take
        self.outgoing: dict[str, list[Outgoing]] = {}  # room key -> the hooks that listen in it
        # read markers (hub/reads.py): account key -> room key or the other's key -> microseconds
        self.read_marks: dict[str, dict[str, int]] = {}
        # private messages kept for offline accounts: recipient key -> sender key -> how many
        self.waiting_dms: dict[str, dict[str, int]] = {}
        self.last_stamp = 0
        self.peak = 0  # most users online at once
        # with several processes a room's tail is Redis's: a room is not caught up until read
        self.new_rooms_synced = not shared
        self.messages = 0  # chat messages accepted (for the metrics endpoint)
        self.deliveries = 0  # and the recipients they were addressed to
        self.bans = BanList(snapshot.bans if snapshot is not None else ())  # names here, addresses in the server
        self.lobby = self.room(LOBBY_KEY, LOBBY_ROOM)
        # names given up, newest last (WHOWAS): (name, user, real name, when)
        self.gone: deque[tuple[str, str, str, float]] = deque(maxlen=WHOWAS_MAX)
        if snapshot is not None:
            self._load(snapshot)

    def _load(self, snapshot: Snapshot) -> None:
        for state in snapshot.rooms:
            room = self.room(state.key, state.name if state.key != LOBBY_KEY else LOBBY_ROOM)
            room.topic = state.topic
            room.topic_by = state.topic_by
            room.topic_at = state.topic_at
            room.total = state.total
            room.stored = True
            room.recent.extend(state.recent)
            if state.rules:
                apply_rules(room, state.rules)
                speech_checked(room)
        self.accounts.update(snapshot.accounts)
        self.hook_names.update(snapshot.hook_names)
        self.read_marks = {account: dict(marks) for account, marks in snapshot.read_marks.items()}
        for found in snapshot.outgoing:
            self.outgoing.setdefault(found.room.lower(), []).append(found)
        for (recipient, sender), count in snapshot.waiting_dms.items():
            self.waiting_dms.setdefault(recipient, {})[sender] = count
        self.last_stamp = round(snapshot.last_timestamp * 1_000_000)

    def room(self, key: str, name: str, now: float = 0.0) -> Room:
        """The room ``key``, made (at ``now``) when it does not exist yet."""
        room = self.rooms.get(key)
        if room is None:
            room = self.rooms[key] = Room(key, name, self.config.replay)
            room.created = now
            room.synced = self.new_rooms_synced
        return room

    def maybe_drop(self, room: Room) -> None:
        if not room.lasting:
            del self.rooms[room.key]

    def stamp(self, now: float) -> float:
        """A timestamp no message has had: unique and increasing, bursts included, as IRCv3
        chathistory servers ensure, so that paging by timestamp never skips or repeats."""
        stamp = int(now * 1_000_000)
        if stamp <= self.last_stamp:
            stamp = self.last_stamp + 1
        self.last_stamp = stamp
        return stamp / 1_000_000

    def sharers(self, session: Session) -> tuple[int, ...]:
        """Everyone who shares a room with ``session``, and the session itself (first) and its
        other devices."""
        seen = dict.fromkeys(session.devices) if session.devices else {}
        seen = {session.conn_id: None, **seen}
        for room in session.rooms.values():
            seen.update(dict.fromkeys(room.members))
        return tuple(seen)

    def my_room(self, session: Session, name: str | None) -> Room:
        """The room a command names (the lobby when it names none), which the sender must be in."""
        key = LOBBY_KEY if name is None else room_key(name)
        room = session.rooms.get(key)
        if room is None:
            raise ProtocolError(ErrorCode.NOT_IN_ROOM, f"you are not in {name or LOBBY_ROOM}; join it first")
        return room

    def room_name(self, key: str) -> str:
        room = self.rooms.get(key)
        return room.name if room else key

    @staticmethod
    def dm_key(session: Session) -> str:
        """Whose side of a conversation a session is: its account's, or for a guest, this
        connection's own (``~``), which a later account of the same name does not inherit."""
        return session.account or f"~{session.conn_id}.{round(session.signon * 1_000_000)}"

    def peer_key(self, name: str) -> tuple[str, str] | None:
        """The other side of a conversation by name: (key, name) of the one online under it,
        else of the account; None if neither."""
        key = name.casefold()
        conn_id = self.names.get(key)
        if conn_id is not None:
            session = self.sessions[conn_id]
            return self.dm_key(session), session.name or name
        return (key, self.accounts[key]) if key in self.accounts else None

    def account_name(self, session: Session) -> str | None:
        """The name of the account a session is logged in to, as it was registered."""
        return self.accounts.get(session.account) if session.account else None

    def spend_token(self, session: Session, now: float) -> None:
        """Token bucket: ``rate_limit`` messages a second, ``burst`` at once."""
        rate = self.config.rate_limit
        if rate <= 0:
            return
        elapsed = now - session.refill_at
        if elapsed > 0:
            session.tokens = min(float(self.config.burst), session.tokens + elapsed * rate)
        session.refill_at = now
        if session.tokens >= 1.0:
            session.tokens -= 1.0
            session.strikes = 0
            return
        session.strikes += 1
        if session.strikes >= self.config.flood_strikes:
            raise ProtocolError(ErrorCode.FLOODING, "disconnected for flooding")
        raise ProtocolError(
            ErrorCode.RATE_LIMITED,
            f"slow down: at most {rate:g} messages a second (bursts of {self.config.burst});"
            " that message was not delivered",
        )

    def check_unreserved(self, key: str, name: str) -> None:
        """A guest may not be a service or the server: IRC clients send NickServ passwords."""
        config = self.config
        if key in config.reserved_names or key == config.irc_name.casefold():
            raise ProtocolError(ErrorCode.INVALID_USERNAME,
                                f"{name} is reserved for the server's own use; choose another name")
        if key in self.hook_names:
            raise ProtocolError(ErrorCode.INVALID_USERNAME, f"{name} is a webhook's bot here; choose another name")

    def check_message(self, text: str) -> str:
        if len(text) > self.config.max_message:
            raise ProtocolError(
                ErrorCode.MESSAGE_TOO_LONG,
                f"message is {len(text)} characters; the limit is {self.config.max_message}",
            )
        if not text or text.isspace():
            raise ProtocolError(ErrorCode.EMPTY_MESSAGE, "message is empty")
        if "\r" in text or "\0" in text:  # lines stay lines (LF), and no NUL reaches anyone
            text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "")
        return text


# Every field a client gives that others are shown is cleaned on the way in, whatever protocol it
# came by (issue 21, item 4): a CR, LF or NUL inside a WHO reply or a topic forges a line for IRC
# clients that end lines at a lone CR, and other controls drive terminals.
_CONTROLS = re.compile("[\x00-\x1f\x7f]+")
_NOT_IDENT = re.compile(r"[^A-Za-z0-9_.\-~]")


def one_line(text: str) -> str:
    """A topic, an away message, a reason or a real name: controls become one space each run."""
    return _CONTROLS.sub(" ", text).strip()


def ident(text: str) -> str:
    """IRC's username (shown as user@host): what a hostmask may hold, at most a name's length."""
    return _NOT_IDENT.sub("", text)[:NAME_MAX]


def check_name(name: str) -> str:
    """The name's key; raises ``invalid_username`` when it is no name."""
    if not valid_name(name):
        raise ProtocolError(
            ErrorCode.INVALID_USERNAME,
            f"usernames are 1-{NAME_MAX} ASCII letters, digits, '_', '-' or '.'",
        )
    return name.casefold()
