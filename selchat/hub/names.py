"""Names: admitting a guest under a name, renames and away messages."""

from __future__ import annotations

from collections.abc import Callable

from selchat import outbound as ev
from selchat.config import AWAY_MAX, LOBBY_ROOM
from selchat.errors import LOG_IN_TO_IT, ErrorCode, ProtocolError
from selchat.events import Away, Join, Nick, SetBot, Setname
from selchat.hub.devices import everywhere, siblings
from selchat.hub.effects import Effect, Fail, Send
from selchat.hub.monitors import MonitorManager
from selchat.hub.rooms import RoomManager
from selchat.hub.shares import here_too
from selchat.hub.sharing import Sharing
from selchat.hub.state import LOBBY_KEY, Session, State, check_name, ident, one_line, remember_gone
from selchat.records import NameClaimed


class NameManager:
    def __init__(self, state: State, sharing: Sharing, rooms: RoomManager, monitors: MonitorManager) -> None:
        self.state = state
        self.sharing = sharing
        self.rooms = rooms
        self.monitors = monitors

    def join_guest(self, session: Session, cmd: Join, key: str, now: float) -> list[Effect]:
        state = self.state
        state.check_unreserved(key, cmd.username)
        if key in state.accounts or key in state.registering:
            raise ProtocolError(
                ErrorCode.NAME_REGISTERED,
                f"{cmd.username} is a registered account; {LOG_IN_TO_IT}, or choose another name",
            )
        if key in state.names:
            raise ProtocolError(ErrorCode.USERNAME_TAKEN, f"{cmd.username} is taken; choose another name")
        return self.claim(session, key, True, lambda: self.admit(session, cmd.username, cmd, None, now))

    def claim(self, session: Session, key: str, guest: bool, admit: Callable[[], list[Effect]],
              account: str | None = None, share: str | None = None, shown: str | None = None) -> list[Effect]:
        return self.sharing.claim(session, key, guest, admit, account, share, shown)

    def claimed(self, session: Session, result: NameClaimed, now: float) -> list[Effect]:
        """The answer to a claim in Redis: the admission it waited for, or the name is taken."""
        pending = session.claiming
        if pending is None or pending[0] != result.name_key:
            return []
        session.claiming = None
        key, guest, admit = pending
        holder = self.state.names.get(key)
        if not result.ok or (guest and holder is not None and holder not in everywhere(session)):
            where = "on another server" if not result.ok else "here"
            return [Fail(session.conn_id, ProtocolError(
                ErrorCode.USERNAME_TAKEN, f"that name is taken {where}; choose another name"))]
        session.claimed_as = result.name  # the account is under this name elsewhere: so it is here
        return [*admit(), *self.sharing.admitted(session, result.twins)]

    def admit(self, session: Session, name: str, cmd: Join, account: str | None, now: float) -> list[Effect]:
        state, config = self.state, self.state.config
        conn_id = session.conn_id
        session.name = name
        session.account = account
        session.user = ident(cmd.user or "") or name
        session.realname = one_line(cmd.realname or "")[:AWAY_MAX] or name
        state.names[name.casefold()] = conn_id
        state.peak = max(state.peak, len(state.names))
        if account is not None:
            state.account_sessions[account] = conn_id
        shown_account = account and state.accounts.get(account)
        if not cmd.lobby:  # in no room until it joins one (IRC)
            welcome = ev.Welcome(name, "", (), f"Welcome to selchat, {name}!", config.max_message,
                                 config.rate_limit, config.burst, "", shown_account, config.max_rooms, config.motd)
            return [Send((conn_id,), welcome), *self.monitors.online(name)]
        room = state.lobby
        room.add(conn_id, name)
        session.rooms[room.key] = room
        # in the lobby on another process already (another device of theirs): nobody hears them come
        known = bool(room.remote) and here_too(room, name.casefold())
        quiet = room.quiet(config.quiet_above)
        presence = self.sharing.entered(room, name, now)
        others = room.size() - 1
        plural = "s" if others != 1 else ""
        online = f"{others} other user{plural} online." if others else "You are the first one here."
        welcome = ev.Welcome(
            username=name,
            room=room.name,
            # a large room's list would be most of the welcome's cost: the count, and ask for more
            users=(name,) if quiet else tuple(room.names()),
            message=f"Welcome to selchat, {name}! {online}",
            max_message=config.max_message,
            # so that a client can pace itself (a script piping many lines, say)
            rate_limit=config.rate_limit,
            burst=config.burst,
            topic=room.topic,
            account=shown_account,
            max_rooms=config.max_rooms,
            motd=config.motd,
            user_count=room.size() if quiet else None,
            password_min=config.password_min,
        )
        effects: list[Effect] = [Send((conn_id,), welcome), *presence, *self.monitors.online(name)]
        if cmd.replay:
            effects.extend(self.rooms.replay_or_wait(session, room))
        if not quiet and not known:
            effects.append(room.broadcast(ev.UserJoined(name, room.name, now, shown_account, session.realname),
                                          conn_id))
        return effects

    def admit_device(self, session: Session, cmd: Join, now: float) -> list[Effect]:
        """Another device of someone here (hub/devices.py has made it one): its welcome under the
        person's name, then each of the person's rooms as if it had just joined them."""
        state, config = self.state, self.state.config
        name = session.name
        assert name is not None
        lobby = state.lobby if cmd.lobby and LOBBY_KEY in session.rooms else None
        devices = len(session.devices or ())
        welcome = ev.Welcome(
            name, lobby.name if lobby else "", tuple(lobby.names()) if lobby else (),
            f"Welcome back, {name}: you are connected from {devices} devices now.", config.max_message,
            config.rate_limit, config.burst, lobby.topic if lobby else "", state.accounts.get(session.account or ""),
            config.max_rooms, config.motd, password_min=config.password_min)
        effects: list[Effect] = [Send((session.conn_id,), welcome)]
        for room in session.rooms.values():
            if room is lobby:
                if cmd.replay:
                    effects.extend(self.rooms.replay_or_wait(session, room))
            else:
                effects.extend(self.rooms.replay_or_wait(session, room, joining=True))
        return effects

    def nick(self, session: Session, cmd: Nick, now: float) -> list[Effect]:
        state = self.state
        new = cmd.username
        key = check_name(new)
        old = session.name
        assert old is not None
        if new == old:
            return []
        if state.bans.name(key, now):
            raise ProtocolError(ErrorCode.INVALID_USERNAME, f"{new} is banned from this server")
        if key != session.account:
            state.check_unreserved(key, new)
        holder = state.names.get(key)
        if holder is not None and holder not in everywhere(session):
            raise ProtocolError(ErrorCode.USERNAME_TAKEN, f"{new} is taken; choose another name")
        if (key in state.accounts or key in state.registering) and key != session.account:
            raise ProtocolError(ErrorCode.NAME_REGISTERED, f"{new} is a registered account")
        self.sharing.check_rename(session, new, old)
        state.spend_token(session, now)
        return self.claim(session, key, True, lambda: self.rename(session, new, now), share=session.account,
                          shown=new)

    def rename(self, session: Session, new: str, now: float) -> list[Effect]:
        """The name is now ``new`` (a /nick that passed its checks, or the operator renaming an account)."""
        state = self.state
        old = session.name
        assert old is not None
        key = new.casefold()
        holder = state.names.get(key)
        devices = everywhere(session)
        if holder is not None and holder not in devices:  # taken here while Redis was asked
            taken = ProtocolError(ErrorCode.USERNAME_TAKEN, f"{new} is taken; choose another name")
            return [Fail(session.conn_id, taken)]
        state.names[key] = state.names.pop(old.casefold())  # the person's first device holds the name
        remember_gone(state, session, now)
        for conn_id in devices:
            state.sessions[conn_id].name = new
            for room in session.rooms.values():
                room.members[conn_id] = new  # same members: the cached tuple stays valid
        for room in session.rooms.values():
            room.renamed(old, new)
        lobby = LOBBY_ROOM if LOBBY_KEY in session.rooms else None
        renamed = ev.NickChanged(old, new, now, lobby)
        return [Send(state.sharers(session), renamed), *self.sharing.renamed(session, old, new, renamed, now),
                *(self.monitors.offline(old) + self.monitors.online(new) if key != old.casefold() else [])]

    def set_bot(self, session: Session, cmd: SetBot, now: float) -> list[Effect]:
        session.bot = cmd.bot
        assert session.name is not None
        return [Send((session.conn_id,), ev.BotChanged(session.name, cmd.bot))]

    def setname(self, session: Session, cmd: Setname, now: float) -> list[Effect]:
        realname = one_line(cmd.realname)
        if not realname or len(realname) > AWAY_MAX:  # as USER's is cut at joining
            raise ProtocolError(ErrorCode.BAD_REALNAME, f"a real name is 1 to {AWAY_MAX} characters")
        self.state.spend_token(session, now)
        for device in (session, *siblings(self.state, session)):
            device.realname = realname
        assert session.name is not None
        sharers = self.state.sharers(session)
        event = ev.RealnameChanged(session.name, realname)
        return [Send(sharers, event), *self.monitors.beyond(session, event, sharers)]

    def away(self, session: Session, cmd: Away, now: float) -> list[Effect]:
        message = one_line(cmd.message) if cmd.message is not None else None
        if message is not None and len(message) > AWAY_MAX:
            raise ProtocolError(ErrorCode.MESSAGE_TOO_LONG, f"away message is longer than {AWAY_MAX} characters")
        self.state.spend_token(session, now)
        effects = self.set_away(session, message or None)
        assert session.name is not None
        return effects + self.sharing.away_changed(ev.AwayChanged(session.name, session.away))

    def set_away(self, session: Session, message: str | None) -> list[Effect]:
        """The person is away (``message``) or back, on every device here; also when they said so on
        a device on another process (hub/twins.py)."""
        for device in (session, *siblings(self.state, session)):
            device.away = message
        assert session.name is not None
        event = ev.AwayChanged(session.name, message)
        others = self.state.sharers(session)[1:]  # the first is the session itself
        # the setter's own answer first (IRC: 305/306), then everyone who shares a room
        effects: list[Effect] = [Send((session.conn_id,), event), *([Send(others, event)] if others else [])]
        effects.extend(self.monitors.beyond(session, event, others))
        return effects
