"""What the hub asks of storage and of the worker, and what comes back.

The hub never waits: a write is an effect the server hands to the store, a read or a password
hash is a request whose result re-enters the hub through ``Hub.complete``, like any other input.
These are the shapes of those requests and results; store.py carries them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from selchat.answers import SearchHit, Unread
from selchat.bans import Ban
from selchat.hooks import Hook, Outgoing
from selchat.outbound import DirectMessage, Message, RoomInfo
from selchat.query import Query

# -- writes (committed together at the end of a loop turn) ----------------------------------------


@dataclass(slots=True)
class SaveRoom:
    key: str
    name: str


@dataclass(slots=True)
class SaveRoomRules:
    """A room's modes, masks, founder and account roles, as roomrules.py writes them."""

    key: str
    name: str
    rules: str  # JSON
    shared: str = ""  # the same with the members' roles, for other processes (--redis)


@dataclass(slots=True)
class SaveTopic:
    key: str
    topic: str
    by: str
    at: float


@dataclass(slots=True)
class SaveAccount:
    key: str
    name: str
    hash: str
    created: float


@dataclass(slots=True)
class SaveDm:
    sender_key: str
    recipient_key: str
    dm: DirectMessage
    delivered: bool


@dataclass(slots=True)
class DmsDelivered:
    recipient_key: str
    up_to: float  # timestamp of the newest delivered


@dataclass(slots=True)
class SaveReaction:
    """Someone's reaction to a room's line, added or (``on`` false) taken back."""

    room_key: str
    ts: int  # the line's timestamp in microseconds
    reaction: str
    username: str
    on: bool


@dataclass(slots=True)
class ChangeLine:
    """A room's line edited (``text``) or deleted (``text`` None), in the file and its index; or,
    with ``peers`` (its sender's key, the other's), a private message's."""

    room_key: str
    ts: int
    text: str | None
    at: int  # when, in microseconds
    peers: tuple[str, str] | None = None


@dataclass(slots=True)
class SaveBan:
    ban: Ban


@dataclass(slots=True)
class DeleteBan:
    target: str


# A room message is written as a plain tuple, the row itself, because one is made per chat line:
@dataclass(slots=True)
class SaveReadMark:
    """How far an account has read a room (its key) or a conversation (the other account's key);
    a marker only moves forward, in the file as in the hub."""

    account: str
    target: str
    ts: int  # microseconds


# (room key, timestamp in microseconds, username, text, 1 if an action else 0).
MessageRow = tuple[str, int, str, str, int]

Write = (SaveRoom | SaveTopic | SaveAccount | SaveDm | DmsDelivered | SaveBan | DeleteBan | SaveReaction | ChangeLine
         | SaveReadMark | MessageRow)

# -- reads and slow work: requests carry the connection they answer -------------------------------


@dataclass(slots=True)
class LoadHistory:
    conn_id: int
    room_key: str
    room: str
    before: float | None
    limit: int
    after: float | None = None
    oldest: bool = False
    around: float | None = None
    tag: str | None = None


@dataclass(slots=True)
class LoadOfflineDms:
    conn_id: int
    account_key: str


@dataclass(slots=True)
class LoadDmHistory:
    """A page of a conversation between two accounts (``peer`` as the asker named it)."""

    conn_id: int
    account_key: str
    peer_key: str
    peer: str
    before: float | None
    limit: int
    after: float | None = None
    oldest: bool = False
    around: float | None = None
    tag: str | None = None


@dataclass(slots=True)
class LoadTargets:
    """CHATHISTORY TARGETS: the conversations of ``me`` and the rooms ``rooms`` (key -> name)."""

    conn_id: int
    me: str
    rooms: dict[str, str]
    after: float
    before: float
    limit: int


@dataclass(slots=True)
class CountUnread:
    """How many lines came after the asker's read markers, in rooms (key, name, marker) and
    conversations (the other side's key, its name, marker): readmarks.py."""

    conn_id: int
    me: str  # the asker's side of its conversations (State.dm_key)
    name: str  # its name, for mentions
    rooms: tuple[tuple[str, str, int], ...] = ()
    peers: tuple[tuple[str, str, int], ...] = ()
    conversations: bool = False  # the list of one's conversations, each with its count, instead of ``peers``
    marks: dict[str, int] = field(default_factory=dict)  # with ``conversations``: the markers by the other's key


@dataclass(slots=True)
class CheckLogin:
    """Look the account's hash up and verify ``password`` against it (argon2, in the worker)."""

    conn_id: int
    account_key: str
    password: str


@dataclass(slots=True)
class HashPassword:
    conn_id: int
    account_key: str
    name: str
    password: str


@dataclass(slots=True)
class ClaimName:
    """Several processes (``--redis``): claim the name in Redis before admitting it here;
    ``displace``: an account's login, for which a session of it on another process ends."""

    conn_id: int
    name_key: str
    displace: bool = False
    account: str | None = None  # an account's login: its read markers are read from Redis first
    share: str | None = None  # an account whose other processes may hold the name too (hub/twins.py)
    shown: str = ""  # the name as written
    follow: bool = False  # an account's own name: take the name it has on another process instead


@dataclass(slots=True)
class ReleaseName:
    """The name is free again (its user left), unless someone here has taken it back meanwhile."""

    name_key: str


@dataclass(slots=True)
class ListRooms:
    """Several processes: every room, as Redis knows them (members on every process)."""

    conn_id: int
    asked: Any = None  # the Rooms command, for the page it asks for


@dataclass(slots=True)
class LoadTopic:
    """Several processes: a room's topic as Redis has it (for a room nobody here is in)."""

    conn_id: int
    room_key: str
    room: str  # as the asker wrote it


@dataclass(slots=True)
class SearchRequest:
    """A search, parsed (query.py), for the worker: the rooms and conversations it may look in."""

    conn_id: int
    query: Query
    rooms: dict[str, str]  # room key -> name: the rooms the asker is in
    me: str | None  # the asker's account key (its conversations), None for a guest
    limit: int
    before: float | None
    text: str  # the query as typed, said back with the hits
    tag: str | None = None


@dataclass(slots=True)
class LoadLine:
    """Who said a room's line that is no longer in memory, for an edit or a delete of it."""

    conn_id: int
    room_key: str
    ts: int
    change: Any  # the Edit command that asked
    peers: tuple[str, str] | None = None  # a private message between these two (keys): its sender's key is asked


@dataclass(slots=True)
class LoadHook:
    """The incoming webhook whose secret has this digest (hooks.py)."""

    conn_id: int
    digest: str
    text: str
    username: str | None


Request = (LoadHistory | LoadOfflineDms | LoadDmHistory | CheckLogin | HashPassword | ClaimName | ReleaseName
           | ListRooms | LoadTopic | LoadHook | SearchRequest | LoadLine)

# -- results --------------------------------------------------------------------------------------


@dataclass(slots=True)
class HistoryPage:
    room_key: str
    messages: tuple[Message, ...]
    more: bool
    tag: str | None = None
    oldest: bool = False  # the page runs forward from its start (a cut keeps the oldest)


@dataclass(slots=True)
class OfflineDms:
    dms: tuple[DirectMessage, ...]


@dataclass(slots=True)
class DmHistoryPage:
    peer: str
    dms: tuple[DirectMessage, ...]
    more: bool
    tag: str | None = None
    oldest: bool = False


@dataclass(slots=True)
class TargetsPage:
    targets: tuple[tuple[str, float], ...]


@dataclass(slots=True)
class LoginChecked:
    account_key: str
    ok: bool
    name: str | None = None  # the account's name as registered
    bot: bool = False  # a bot account (selchat account add --bot): its sessions are bots


@dataclass(slots=True)
class PasswordHashed:
    account_key: str
    name: str
    hash: str | None  # None: hashing failed (logged), and no account was made
    busy: bool = False  # not hashed at all: the worker had too many registrations queued


@dataclass(slots=True)
class NameClaimed:
    name_key: str
    ok: bool
    twins: tuple[str, ...] = ()  # the other processes where the same account holds the name
    name: str | None = None  # claimed instead: the account's name on another process (a nick)


@dataclass(slots=True)
class RoomsListed:
    rooms: tuple[RoomInfo, ...] | None  # None: Redis could not say (this process's own list then)
    asked: Any = None  # the Rooms command it answers


@dataclass(slots=True)
class TopicLoaded:
    room: str
    name: str | None  # the room's name; None: Redis knows no such room
    topic: tuple[str, str | None, float | None] | None
    failed: bool = False  # Redis could not say (this process's idea of it then)


@dataclass(slots=True)
class SearchFound:
    hits: tuple[SearchHit, ...]
    more: bool
    text: str
    tag: str | None = None
    failed: str | None = None  # why there are no hits to give (it took too long), in words


@dataclass(slots=True)
class LineFound:
    author: str | None  # None: no such line in the room
    change: Any


@dataclass(slots=True)
class HookFound:
    hook: Hook | None  # None: no hook has that secret
    text: str
    username: str | None


@dataclass(slots=True)
class UnreadCounted:
    """The answer to CountUnread: answers.Unread for each room and conversation asked about."""

    counts: tuple[Unread, ...]
    conversations: bool = False


Result = (HistoryPage | OfflineDms | DmHistoryPage | LoginChecked | PasswordHashed | NameClaimed | RoomsListed
          | TopicLoaded | TargetsPage | HookFound | SearchFound | LineFound | UnreadCounted)


@dataclass(slots=True)
class RoomState:
    """A stored room as loaded at start-up."""

    key: str
    name: str
    topic: str = ""
    topic_by: str | None = None
    topic_at: float | None = None
    total: int = 0
    recent: list[Message] = field(default_factory=list)
    rules: str | None = None  # its stored rules (roomrules.py), if any


@dataclass(slots=True)
class Snapshot:
    """What the hub needs from storage before it serves anyone."""

    rooms: list[RoomState] = field(default_factory=list)
    accounts: dict[str, str] = field(default_factory=dict)  # key -> name
    last_timestamp: float = 0.0
    bans: list[Ban] = field(default_factory=list)
    waiting_dms: dict[tuple[str, str], int] = field(default_factory=dict)  # (recipient, sender) -> undelivered
    hook_names: list[str] = field(default_factory=list)  # incoming webhooks' bots
    outgoing: list[Outgoing] = field(default_factory=list)  # and those that listen
    read_marks: dict[str, dict[str, int]] = field(default_factory=dict)  # account -> target key -> marker
