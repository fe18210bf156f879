"""One account on several connections at once (multiclient): one person to everyone else.

The devices of an account share one list (``Session.devices``) and keep the same name, rooms, away
message and real name; each is a member of each room (``Room.add(..., again=True)``), so a room's
broadcast reaches every device of every member as it reaches anyone, and a room counts and lists
the person once. The first device is the one the name and the account point at (``State.names``,
``State.account_sessions``); when it goes, the next takes its place. Others hear one join when the
first device comes and one leave when the last goes (the hub's ``_forget``), as ergo's multiclient
shows one client however many are attached. With ``--redis`` this is each process's share of
the person, and hub/twins.py makes one person of the shares.
"""

from __future__ import annotations

from collections.abc import Callable

from selchat import outbound as ev
from selchat.hub.effects import Effect, Send
from selchat.hub.state import Session, State, ident

LINGER_AWAY = "connection lost; back soon, perhaps"
# let_go(session, now, why): a device replaced by a newer one beyond --devices
LetGo = Callable[[Session, float], list[Effect]]


def everywhere(session: Session) -> tuple[int, ...]:
    """Every connection of the person ``session`` is: itself alone, for most."""
    return tuple(session.devices) if session.devices else (session.conn_id,)


def elsewhere(session: Session) -> tuple[int, ...]:
    """The person's other connections (none for most)."""
    devices = session.devices
    if not devices:
        return ()
    return tuple(c for c in devices if c != session.conn_id)


def each(targets: tuple[int, ...], event: ev.Event) -> list[Effect]:
    """One Send a device: what a codec answers for its own connection (IRC's PART, a private
    message, MARKREAD) is encoded by each connection's codec, not once for a wire as a Send to
    several is (server/effects.py)."""
    return [Send((conn_id,), event) for conn_id in targets]


def siblings(state: State, session: Session) -> list[Session]:
    """The sessions of the person's other devices."""
    sessions = state.sessions
    return [sessions[c] for c in elsewhere(session) if c in sessions]


class DeviceManager:
    def __init__(self, state: State, shared: bool) -> None:
        self.state = state
        # with --redis these are the person's devices on this process; those on others are theirs
        # (hub/twins.py), and lingering is off (a lingering share would hold the name in Redis)
        self.shared = shared

    def first_device(self, session: Session, account: str) -> Session | None:
        """The session a login to ``account`` joins as another device, or None when it is the
        account's first (or the only one allowed: it replaces the old one)."""
        state = self.state
        if not state.config.multiclient or state.config.devices < 2:
            return None
        conn_id = state.account_sessions.get(account)
        if conn_id is None or conn_id == session.conn_id:
            return None
        first = state.sessions.get(conn_id)
        if first is None or first.name is None or first.account != account:
            return None
        return first

    def attach(self, session: Session, first: Session, user: str | None, let_go: LetGo,
               now: float) -> list[Effect]:
        """``session`` becomes another device of ``first``'s person; beyond ``--devices`` the oldest
        device is let go (a phone that changed networks leaves a dead connection behind, which must
        not lock its owner out). The new device is then told the person's rooms, and nobody else
        hears anything."""
        state = self.state
        effects: list[Effect] = []
        devices = first.devices
        if devices is None:
            devices = first.devices = [first.conn_id]
        while len(devices) >= state.config.devices:
            oldest = state.sessions[devices[0]]
            effects.extend(let_go(oldest, now))
            if oldest is first:
                first = state.sessions[devices[0]]
        devices.append(session.conn_id)
        session.devices = devices
        session.name, session.account = first.name, first.account
        session.user = ident(user or "") or first.user
        session.realname, session.away, session.bot = first.realname, first.away, first.bot or session.bot
        for key, room in first.rooms.items():  # in each of the person's rooms, as one more connection
            room.add(session.conn_id, first.name or "", again=True)
            session.rooms[key] = room
        if first.gone_until is not None:  # back within --linger: the lost connection's place is this one's
            effects.extend(self._revived(session, first))
        return effects

    # -- lingering: the last connection lost, the person stays a while (--linger) ------------------
    def may_linger(self, session: Session) -> bool:
        config = self.state.config
        return (config.linger > 0 and config.multiclient and not self.shared and session.account is not None
                and session.name is not None and len(everywhere(session)) == 1)

    def linger(self, session: Session, now: float) -> list[Effect]:
        """The session stays in its rooms without a connection until ``gone_until``, away (unless it
        said it was already) as ergo's auto-away does; what is sent to it meanwhile goes nowhere, and
        private messages wait for its return as for an account offline (messages.py)."""
        session.gone_until = now + self.state.config.linger
        if session.away is not None:
            return []
        session.away, session.auto_away = LINGER_AWAY, True
        return self._away_told(session)

    def _revived(self, session: Session, ghost: Session) -> list[Effect]:
        self.detach(ghost)
        del self.state.sessions[ghost.conn_id]
        if not ghost.auto_away:
            return []
        session.away = None
        return self._away_told(session)

    def _away_told(self, session: Session) -> list[Effect]:
        """Those who share a room hear the person's away message change (IRC's away-notify)."""
        assert session.name is not None
        mine = set(everywhere(session))
        others = tuple(c for c in self.state.sharers(session) if c not in mine)
        return [Send(others, ev.AwayChanged(session.name, session.away))] if others else []

    def detach(self, session: Session) -> bool:
        """A device has gone: True if the person is still here on another, which then holds the
        name and the account if this one did (its rooms keep the others)."""
        devices = session.devices
        if not devices or len(devices) < 2:
            return False
        devices.remove(session.conn_id)
        state = self.state
        successor = devices[0]
        assert session.name is not None
        key = session.name.casefold()
        if state.names.get(key) == session.conn_id:
            state.names[key] = successor
        if session.account is not None and state.account_sessions.get(session.account) == session.conn_id:
            state.account_sessions[session.account] = successor
        for room in session.rooms.values():
            room.remove(session.conn_id)
        session.rooms = {}
        return True

    def told_elsewhere(self, session: Session, event: ev.Event) -> list[Effect]:
        """What one device did, for the person's others to show (nothing for one device)."""
        others = elsewhere(session)
        return [Send(others, event)] if others else []
