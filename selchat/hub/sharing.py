"""What the hub's managers ask about other processes, and the answer when there are none.

The hub is picked at start as one process alone (``Alone``, here) or one of several sharing
rooms through Redis (``Mirror``, in mirror.py). Managers call the same hooks either way and never
test which it is: a rule that differs between the two lives in these two classes only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from selchat import outbound as ev
from selchat.events import Rooms
from selchat.hub.effects import Effect, Store
from selchat.hub.state import Room, Session
from selchat.records import MessageRow, SaveRoom, SaveTopic


class Sharing(Protocol):
    """The hooks the managers call where one process and several differ."""

    linked: bool

    def claim(self, session: Session, key: str, guest: bool, admit: Callable[[], list[Effect]],
              account: str | None = None, share: str | None = None, shown: str | None = None) -> list[Effect]:
        """Admit a name now, or once it is claimed everywhere (and ``account``'s state is here);
        ``share``: an account whose devices on other processes may hold the name too; ``shown``:
        the name as written."""
        ...

    def admitted(self, session: Session, twins: tuple[str, ...]) -> list[Effect]:
        """A claim's admission done: the processes ``twins`` have the same person (hub/twins.py)."""
        ...

    def copies(self, name: str, dm: ev.DirectMessage, skip: str | None = None) -> list[Effect]:
        """A private message for the person ``name``'s devices on other processes (but ``skip``)."""
        ...

    def mark_moved(self, session: Session, key: str, shown: str, at: int) -> list[Effect]: ...

    def entered(self, room: Room, name: str, now: float) -> list[Effect]: ...

    def left(self, room: Room, event: ev.UserLeft) -> list[Effect]: ...

    def forgotten(self, name: str) -> list[Effect]: ...

    def kept(self, room: Room, row: MessageRow) -> list[Effect]:
        """Where a room's message is kept (the database here, Redis's stream when shared)."""
        ...

    def topic_kept(self, room: Room, topic: str, by: str, now: float) -> list[Effect]: ...

    def find_user(self, key: str) -> tuple[str, str] | None:
        """A user on another process: (name, node)."""
        ...

    def relay(self, node: str, event: ev.DirectMessage | ev.Kicked) -> list[Effect]: ...

    def topic_question(self, session: Session, key: str, found: Room | None, name: str) -> list[Effect] | None: ...

    def check_rename(self, session: Session, new: str, old: str) -> None: ...

    def renamed(self, session: Session, old: str, new: str, event: ev.NickChanged, now: float) -> list[Effect]: ...

    def away_changed(self, event: ev.AwayChanged) -> list[Effect]: ...

    def list_rooms(self, session: Session, asked: Rooms) -> list[Effect] | None: ...

    def waits(self, room: Room) -> bool:
        """Whether a newcomer's replay must wait for the room's tail."""
        ...

    def away_in(self, room: Room) -> list[tuple[str, str]]: ...

    def whois(self, key: str, tag: str | None) -> ev.UserInfo | None: ...


class Alone:
    """One process: every room is here, names are this process's to give, history the store's."""

    linked = False

    def claim(self, session: Session, key: str, guest: bool, admit: Callable[[], list[Effect]],
              account: str | None = None, share: str | None = None, shown: str | None = None) -> list[Effect]:
        return admit()

    def admitted(self, session: Session, twins: tuple[str, ...]) -> list[Effect]:
        return []

    def copies(self, name: str, dm: ev.DirectMessage, skip: str | None = None) -> list[Effect]:
        return []

    def mark_moved(self, session: Session, key: str, shown: str, at: int) -> list[Effect]:
        return []

    def entered(self, room: Room, name: str, now: float) -> list[Effect]:
        return []

    def left(self, room: Room, event: ev.UserLeft) -> list[Effect]:
        return []

    def forgotten(self, name: str) -> list[Effect]:
        return []

    def kept(self, room: Room, row: MessageRow) -> list[Effect]:
        if room.stored:
            return [Store(row)]
        room.stored = True
        return [Store(SaveRoom(room.key, room.name)), Store(row)]

    def topic_kept(self, room: Room, topic: str, by: str, now: float) -> list[Effect]:
        effects: list[Effect] = []
        if not room.stored:
            room.stored = True
            effects.append(Store(SaveRoom(room.key, room.name)))
        effects.append(Store(SaveTopic(room.key, topic, by, now)))
        return effects

    def find_user(self, key: str) -> tuple[str, str] | None:
        return None

    def relay(self, node: str, event: ev.DirectMessage | ev.Kicked) -> list[Effect]:
        raise AssertionError("no other process to relay to")

    def topic_question(self, session: Session, key: str, found: Room | None, name: str) -> list[Effect] | None:
        return None

    def check_rename(self, session: Session, new: str, old: str) -> None:
        return None

    def renamed(self, session: Session, old: str, new: str, event: ev.NickChanged, now: float) -> list[Effect]:
        return []

    def away_changed(self, event: ev.AwayChanged) -> list[Effect]:
        return []

    def list_rooms(self, session: Session, asked: Rooms) -> list[Effect] | None:
        return None

    def waits(self, room: Room) -> bool:
        return False

    def away_in(self, room: Room) -> list[tuple[str, str]]:
        return []

    def whois(self, key: str, tag: str | None) -> ev.UserInfo | None:
        return None
