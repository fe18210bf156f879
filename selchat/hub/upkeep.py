"""The operator's changes from the command line (upkeep.py), made to what the hub holds: an
account deleted or renamed, a room deleted, while people are connected."""

from __future__ import annotations

from collections.abc import Callable

from selchat import outbound as ev
from selchat.errors import ErrorCode, ProtocolError
from selchat.hooks import Outgoing
from selchat.hub.devices import everywhere
from selchat.hub.effects import Effect, Send
from selchat.hub.state import Session, State

LetGo = Callable[[Session, float, str, ProtocolError], list[Effect]]
Rename = Callable[[Session, str, float], list[Effect]]

ROOM_DELETED = "the room was deleted by the server's operator"


class UpkeepManager:
    def __init__(self, state: State, let_go: LetGo, rename: Rename) -> None:
        self.state = state
        self.let_go = let_go  # accounts.let_go: the session ends, told why
        self.rename = rename

    def account_deleted(self, key: str, now: float) -> list[Effect]:
        """Whoever is logged in to it is let go, told why; its rooms are nobody's."""
        state = self.state
        name = state.accounts.pop(key, key)
        state.waiting_dms.pop(key, None)
        self._rooms_roles(key, None)
        conn_id = state.account_sessions.get(key)
        session = state.sessions.get(conn_id) if conn_id is not None else None
        if session is None or session.name is None:
            return []
        return self.let_go(session, now, "account deleted", ProtocolError(
            ErrorCode.KICKED, f"the account {name} was deleted by the server's operator"))

    def account_renamed(self, key: str, new_name: str, now: float) -> list[Effect]:
        """Its owner, if online under the account's name, is renamed with it (as a /nick)."""
        state = self.state
        new = new_name.casefold()
        state.accounts.pop(key, None)
        state.accounts[new] = new_name
        waiting = state.waiting_dms.pop(key, None)
        if waiting is not None:
            state.waiting_dms[new] = waiting
        for senders in state.waiting_dms.values():
            if key in senders:
                senders[new] = senders.get(new, 0) + senders.pop(key)
        self._rooms_roles(key, new)
        conn_id = state.account_sessions.pop(key, None)
        session = state.sessions.get(conn_id) if conn_id is not None else None
        if session is None or session.name is None:
            return []
        for conn_id in everywhere(session):  # every device of the person
            state.sessions[conn_id].account = new
        state.account_sessions[new] = session.conn_id
        if session.name.casefold() != key:
            return []  # online under a nick of their own: it stays
        holder = state.names.get(new)
        if holder is not None and holder != session.conn_id:  # a guest has the name: the owner goes first
            return self.let_go(session, now, "account renamed", ProtocolError(
                ErrorCode.KICKED, f"your account is now {new_name}: log in to it again"))
        return self.rename(session, new_name, now)

    def room_deleted(self, key: str, now: float) -> list[Effect]:
        """Every member leaves it, told why; its history and rules go with it."""
        self.state.outgoing.pop(key, None)  # its hooks listen no more (they answer 410)
        room = self.state.rooms.pop(key, None)
        if room is None:
            return []
        effects: list[Effect] = []
        for conn_id in list(room.members):
            session = self.state.sessions.get(conn_id)
            if session is not None:
                session.rooms.pop(key, None)
            effects.append(Send((conn_id,), ev.RoomLeft(room.name, ROOM_DELETED)))
        room.members.clear()
        room.recent.clear()
        return effects

    def hook_named(self, key: str, made: Outgoing | bool) -> list[Effect]:
        """A webhook made (with its outgoing half, if it listens) or deleted: its bot's name is
        reserved, or free again, and it listens in its room, or no more."""
        state = self.state
        for room_key, listening in list(state.outgoing.items()):
            listening[:] = [h for h in listening if h.key != key]
            if not listening:
                del state.outgoing[room_key]
        if made:
            state.hook_names.add(key)
            if isinstance(made, Outgoing):
                state.outgoing.setdefault(made.room.lower(), []).append(made)
        else:
            state.hook_names.discard(key)
        return []

    def _rooms_roles(self, key: str, new: str | None) -> None:
        """Registered rooms' founder and account roles follow the account (or lose it)."""
        for room in self.state.rooms.values():
            if room.founder == key:
                room.founder = new
            role = room.account_roles.pop(key, None)
            if role is not None and new is not None:
                room.account_roles[new] = role
