"""What the hub asks the server to do: the effects every handler returns.

Plain slotted dataclasses, not frozen ones: several are made per chat line, and a frozen
dataclass's ``__init__`` costs four times as much (see docs/architecture.md, hot-path costs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Union

from selchat import outbound as ev
from selchat.errors import ProtocolError
from selchat.records import Request, Write


@dataclass(slots=True)
class Send:
    """Deliver ``event`` to each connection in ``targets``, in order with earlier effects."""

    targets: tuple[int, ...]
    event: ev.Event


@dataclass(slots=True)
class Broadcast:
    """Deliver ``event`` to the first ``count`` ids of ``targets`` (a room's roster, which may
    grow after this effect is made), except ``exclude`` (one connection, the sender; or several,
    the sender's devices: hub/devices.py)."""

    targets: Sequence[int]
    count: int
    event: ev.Event
    exclude: int | tuple[int, ...] | None = None

    @property
    def audience(self) -> Sequence[int]:
        return self.targets[: self.count]

    def skips(self, conn_id: int) -> bool:
        exclude = self.exclude
        return conn_id == exclude if type(exclude) is int else exclude is not None and conn_id in exclude  # type: ignore[operator]


@dataclass(slots=True)
class Close:
    """Close a connection once its queued output is written."""

    conn_id: int
    reason: str


@dataclass(slots=True)
class Fail:
    """Tell a connection about an error that arose outside its own input (a login that failed
    in the worker, a session replaced by a login elsewhere)."""

    conn_id: int
    error: ProtocolError


@dataclass(slots=True)
class Store:
    """Keep this in the database; writes of one loop turn are committed together."""

    write: Write


@dataclass(slots=True)
class Ask:
    """A read or slow work; its result comes back through ``Hub.complete``."""

    request: Request


@dataclass(slots=True)
class Presence:
    """Several processes (``--redis``): someone entered or left a room (``event`` is the
    ``UserJoined`` or ``UserLeft``), also in a room too large to announce it; ``local`` when it
    is one of this process's users, whose news the other processes need."""

    room_key: str
    event: ev.UserJoined | ev.UserLeft
    local: bool = True
    node: str | None = None  # a leave of another process's member (one that is gone): its entry


@dataclass(slots=True)
class Relay:
    """Several processes: a private message for a user on another node."""

    node: str
    event: Any


@dataclass(slots=True)
class Everywhere:
    """Several processes: news of a user for every other process (a rename, an away message),
    which each tells its users who share a room with that user."""

    event: ev.NickChanged | ev.AwayChanged


@dataclass(slots=True)
class Then:
    """Handle ``command`` for the connection once what it has been sent so far is read (its
    output below the low-water mark): an answer too long for one part goes on in parts, each
    written before the next is made (budget.py)."""

    conn_id: int
    command: Any


@dataclass(slots=True)
class CallOut:
    """An outgoing webhook's POST (server/callouts.py): a line in ``room`` said a word its bot
    listens for. The server sends it off the loop's time, and may post the answer back."""

    hook: str  # the hook's key
    url: str
    room: str
    username: str
    text: str
    timestamp: float
    word: str  # the word that triggered it


Effect = Union[Send, Broadcast, Close, Fail, Store, Ask, Presence, Relay, Everywhere, Then, CallOut]

# The verb that carries out each effect: an interpreter has a method of that name for each, and
# ``carriers`` binds them into its table. The server (selchat/server/effects.py and shared.py) and
# the tests' hub driver both build their tables from these two, so a new effect is one entry here
# and every interpreter that lacks it fails at once instead of dropping it.
LOCAL_VERBS: dict[type, str] = {
    Broadcast: "broadcast", Send: "send", Store: "store", Ask: "ask", Fail: "fail", Close: "close", Then: "then",
    CallOut: "call_out",
}
SHARED_VERBS: dict[type, str] = {Presence: "presence", Relay: "relay", Everywhere: "everywhere"}


def carriers(owner: object, verbs: dict[type, str]) -> dict[type, Callable[[Any], None]]:
    """``owner``'s method for each effect in ``verbs`` (AttributeError names the one it lacks)."""
    return {kind: getattr(owner, verb) for kind, verb in verbs.items()}
