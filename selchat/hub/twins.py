"""One person on devices on several processes at once (``--redis``, issue 24).

Each process keeps its share of the person: its own devices of the account, one session list
among them (hub/devices.py), under the name that every such process holds in Redis together
(backplane/claims.py). What the person does on one process is done on the others' devices too:

- when a process first has the person, it tells each other one, with the rooms the person is in
  and their away message; each answers with its own, and both join their devices to the rooms
  they were not yet in (``news.Twin``);
- a join or a part on one is sent to the others, which follow (``news.Twin``, ``news.TwinParted``);
- a rename and an away message cross as they do for anyone (on the lobby's channel); the
  person's other processes do them for their devices;
- a private message to or from the person, and a read marker moved, are sent to each of them.

Others see one person: each process's presence in a room is counted once (hub/shares.py), so a
room hears one join when the person's first process brings them and one leave when the last
goes. ``Twins`` keeps which processes have whom and says what to send them (the Mirror's hooks
call it); ``TwinMoves`` does here what the person did on another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from selchat import news
from selchat import outbound as ev
from selchat.answers import ReadMarker
from selchat.hub.devices import each, everywhere
from selchat.hub.effects import Ask, Effect, Presence, Relay
from selchat.hub.reads import merge_marks
from selchat.hub.shares import also_at, take_out
from selchat.hub.state import Room, Session, State, room_key
from selchat.records import ClaimName

if TYPE_CHECKING:
    from selchat.hub.names import NameManager
    from selchat.hub.rooms import RoomManager

KickHere = Callable[[Room, int, str, str, "str | None", float], list[Effect]]


class Twins:
    """Which other processes have each person who is here, and what they are sent."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.nodes: dict[str, set[str]] = {}  # a person here, by name key -> the other processes with them

    def of(self, key: str, node: str) -> Session | None:
        """The first session here of the person ``key``, if ``node`` has them too."""
        nodes = self.nodes.get(key)
        if nodes is None or node not in nodes:
            return None
        conn_id = self.state.names.get(key)
        return self.state.sessions.get(conn_id) if conn_id is not None else None

    def news_of(self, session: Session, answer: bool = False, room: Room | None = None) -> news.Twin:
        """The person is here: in all their rooms and with their away message, or (``room``) in
        one more room."""
        assert session.name is not None and session.account is not None
        if room is not None:
            return news.Twin(session.name, session.account, True, (room.name,), None, True)
        rooms = tuple(r.name for r in session.rooms.values())
        return news.Twin(session.name, session.account, True, rooms, session.away, answer)

    def admitted(self, session: Session, twins: tuple[str, ...]) -> list[Effect]:
        """The name's claim said other processes have the account under it: each new one is told
        the person is here too, with their rooms."""
        if not twins or session.name is None or session.account is None:
            return []
        known = self.nodes.setdefault(session.name.casefold(), set())
        new = [node for node in twins if node not in known]
        known.update(new)
        hello = self.news_of(session)
        return [Relay(node, hello) for node in new]

    def entered(self, session: Session, room: Room) -> list[Effect]:
        assert session.name is not None
        nodes = self.nodes.get(session.name.casefold())
        if not nodes or session.account is None:
            return []
        joined = self.news_of(session, room=room)
        return [Relay(node, joined) for node in nodes]

    def left(self, event: ev.UserLeft) -> list[Effect]:
        nodes = self.nodes.get(event.username.casefold()) if event.parted else None
        if not nodes:
            return []
        parted = news.TwinParted(event.username, event.room, event.reason, event.kicked_by)
        return [Relay(node, parted) for node in nodes]

    def forgotten(self, name: str) -> list[Effect]:
        """The person's last device here went: the other processes have them without this one."""
        nodes = self.nodes.pop(name.casefold(), None)
        gone = news.Twin(name, "", False)
        return [Relay(node, gone) for node in nodes] if nodes else []

    def renamed(self, old: str, new: str) -> None:
        nodes = self.nodes.pop(old.casefold(), None)
        if nodes is not None:
            self.nodes[new.casefold()] = nodes

    def holders(self, key: str) -> set[str]:
        """Every other process with the person ``key``: from the claim for one here, else from
        the rooms that have them."""
        nodes = self.nodes.get(key)
        if nodes is not None:
            return set(nodes)
        found: set[str] = set()
        for room in self.state.rooms.values():
            where = room.remote.get(key)
            if where is not None:
                found.add(where[1])
                if room.also and key in room.also:
                    found.update(room.also[key])
        return found

    def copies(self, name: str, dm: ev.DirectMessage, skip: str | None) -> list[Effect]:
        nodes = self.holders(name.casefold())
        nodes.discard(skip)  # type: ignore[arg-type]
        copy = replace(dm, mirrored=True)
        return [Relay(node, copy) for node in nodes]

    def mark_moved(self, session: Session, key: str, shown: str, at: int) -> list[Effect]:
        nodes = self.nodes.get(session.name.casefold()) if session.name is not None else None
        if not nodes or session.account is None:
            return []
        moved = news.MarkMoved(session.account, key, shown, at)
        return [Relay(node, moved) for node in nodes]

    def node_gone(self, node: str) -> None:
        for key in [k for k, nodes in self.nodes.items() if node in nodes]:
            take_out(self.nodes, key, node)


class TwinMoves:
    """What the person did on a device on another process, done here for their devices here."""

    def __init__(self, state: State, twins: Twins, rooms: RoomManager, names: NameManager,
                 kick_here: KickHere) -> None:
        self.state = state
        self.twins = twins
        self.rooms = rooms
        self.names = names
        self._kick_here = kick_here

    def twin(self, node: str, item: news.Twin, now: float) -> list[Effect]:
        """Another process has the person (with these rooms), or not any more."""
        key = item.name.casefold()
        if not item.here:
            take_out(self.twins.nodes, key, node)
            return []
        conn_id = self.state.names.get(key)
        session = self.state.sessions.get(conn_id) if conn_id is not None else None
        if session is None or session.account != item.account.casefold():
            return []  # gone meanwhile, or someone else under that name now
        self.twins.nodes.setdefault(key, set()).add(node)
        effects: list[Effect] = []
        for name in item.rooms:  # the rooms the person is in there: here too
            effects.extend(self.rooms.join_here(session, name, now))
            room = session.rooms.get(room_key(name))
            if room is not None:
                also_at(room, key, node)
        if item.away is not None and session.away is None:  # away there, and not said here: away here too
            effects.extend(self.names.set_away(session, item.away))
        if not item.answer:  # one who came: told what is here
            effects.append(Relay(node, self.twins.news_of(session, answer=True)))
        return effects

    def parted(self, node: str, item: news.TwinParted, now: float) -> list[Effect]:
        """The person left a room on another process (or was put out of it): here too."""
        session = self.twins.of(item.name.casefold(), node)
        room = session.rooms.get(room_key(item.room)) if session is not None else None
        if session is None or room is None:
            return []
        if item.kicked_by is not None:
            return self._kick_here(room, session.conn_id, session.name or item.name, item.kicked_by, item.reason, now)
        return self.rooms.leave_here(session, room, item.reason, now)

    def renamed(self, session: Session, event: ev.NickChanged, now: float) -> list[Effect]:
        """The person took another name on another process: so here, and the name is held here too."""
        effects = self.names.rename(session, event.new, now)
        effects.append(Ask(ClaimName(session.conn_id, event.new.casefold(), share=session.account, shown=event.new)))
        return effects

    def away(self, session: Session, event: ev.AwayChanged) -> list[Effect]:
        return self.names.set_away(session, event.message) if event.message != session.away else []

    def mark_moved(self, node: str, item: news.MarkMoved, now: float) -> list[Effect]:
        """A read marker moved on another process: kept here, and shown on each device here."""
        effects = merge_marks(self.state, item.account, ((item.target, item.at),))
        conn_id = self.state.account_sessions.get(item.account)
        session = self.state.sessions.get(conn_id) if conn_id is not None else None
        if effects and session is not None:
            effects.extend(each(everywhere(session), ReadMarker(item.shown, item.at / 1_000_000)))
        return effects

    def still_here(self, room: Room, key: str, name: str, node: str, now: float) -> list[Effect]:
        """Another process's devices of a member here left (not the room): the member is still in it
        here, and says so again for the room's list of members in Redis, which that one's leave
        may have emptied."""
        take_out(room.also, key, node)
        return [Presence(room.key, ev.UserJoined(name, room.name, now))]
