"""The hub: commands, results and news in, effects out, through three doors.

``handle`` takes a client's command, ``complete`` the result of a request the hub made (a page of
history, a password check), ``hear`` news from another process. Each door is a table from the
input's type to the manager method that owns it, as ergo's irc/commands.go maps verbs to
handlers; the managers share the state below them (state.py) and never reach into each other's.
The hub never touches a socket, the disk or the wall clock (``now`` is passed in), so every rule
is a unit test; it is picked at start as one process alone or one of several (sharing.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from selchat import outbound as ev
from selchat.bans import BanList
from selchat.config import ServerConfig
from selchat.errors import JOIN_FIRST, ErrorCode, ProtocolError
from selchat.events import (
    Authenticate,
    Away,
    Chat,
    Command,
    Dm,
    DmHistory,
    Edit,
    History,
    HistoryTargets,
    HookPost,
    Invite,
    Join,
    JoinRoom,
    Kick,
    Kill,
    LeaveRoom,
    Lusers,
    MarkRead,
    Monitor,
    Nick,
    Oper,
    Ping,
    Pong,
    Quit,
    Register,
    RegisterRoom,
    Rooms,
    Search,
    SetBot,
    SetMode,
    Setname,
    StatusChat,
    TagMsg,
    Topic,
    UnreadAsk,
    Users,
    Wallops,
    Who,
    Whois,
    Whowas,
)
from selchat.hub.accounts import AccountManager
from selchat.hub.devices import DeviceManager
from selchat.hub.effects import Effect, Send
from selchat.hub.hooks import HookManager
from selchat.hub.lines import LineManager
from selchat.hub.messages import DmsWritten, MessageManager
from selchat.hub.mirror import Heard, Mirror
from selchat.hub.monitors import MonitorManager
from selchat.hub.names import NameManager
from selchat.hub.queries import QueryManager
from selchat.hub.reads import ReadManager
from selchat.hub.roles import RoleManager
from selchat.hub.rooms import RoomManager
from selchat.hub.search import SearchManager
from selchat.hub.sharing import Alone, Sharing
from selchat.hub.state import LOBBY_KEY, Session, State, remember_gone
from selchat.hub.twins import TwinMoves
from selchat.hub.upkeep import UpkeepManager
from selchat.news import News
from selchat.records import (
    DmHistoryPage,
    HistoryPage,
    HookFound,
    LineFound,
    LoginChecked,
    NameClaimed,
    OfflineDms,
    PasswordHashed,
    Result,
    RoomsListed,
    SearchFound,
    Snapshot,
    TargetsPage,
    TopicLoaded,
    UnreadCounted,
)

# what a connection may send before it has a name
BEFORE_JOINING = frozenset((Join, Ping, Pong, Quit, Authenticate, HookPost))

Handler = Callable[[Session, Any, float], list[Effect]]


class Hub:
    def __init__(self, config: ServerConfig | None = None, snapshot: Snapshot | None = None, *,
                 shared: bool = False) -> None:
        self.state = state = State(config or ServerConfig(), snapshot, shared)
        self.mirror = Mirror(state) if shared else None
        self.sharing: Sharing = self.mirror if self.mirror is not None else Alone()
        self.reads = ReadManager(state, self.sharing)
        self.rooms = RoomManager(state, self.sharing, self.reads)
        self.monitors = MonitorManager(state)
        self.names = NameManager(state, self.sharing, self.rooms, self.monitors)
        self.devices = DeviceManager(state, shared)
        self.accounts = AccountManager(state, self.names, self.devices, self._forget)
        self.roles = RoleManager(state, self.sharing)
        self.messages = MessageManager(state, self.sharing, self.roles)
        self.queries = QueryManager(state, self.sharing)
        self.hooks = HookManager(state, self.sharing)
        self.search = SearchManager(state)
        self.lines = LineManager(state)
        self.upkeep = UpkeepManager(state, self.accounts.let_go, self.names.rename)  # the operator's, from the CLI
        self.heard = Heard(state, self.mirror, self.rooms.let_in, self.accounts.displace, self.roles.kicked_here,
                           TwinMoves(state, self.mirror.twins, self.rooms, self.names, self.roles.kicked_here)
                           ) if self.mirror else None
        rooms, names, accounts, messages, queries = self.rooms, self.names, self.accounts, self.messages, self.queries
        self._handlers: dict[type, Handler] = {
            Join: accounts.join, Authenticate: accounts.authenticate, Register: accounts.register, Oper: accounts.oper,
            Nick: names.nick, Away: names.away, Setname: names.setname, SetBot: names.set_bot,
            Monitor: self.monitors.monitor,
            Chat: messages.chat, Dm: messages.dm, TagMsg: messages.tag_message,
            StatusChat: messages.status_chat, History: messages.history,
            DmHistory: messages.dm_history, HistoryTargets: messages.history_targets,
            JoinRoom: rooms.join_room, LeaveRoom: rooms.leave_room, Rooms: rooms.rooms, Users: rooms.users,
            Topic: rooms.topic,
            Whois: queries.whois, Who: queries.who, Lusers: queries.lusers, Whowas: queries.whowas,
            Kill: queries.kill, Wallops: queries.wallops,
            Ping: queries.ping, Pong: queries.pong, Quit: queries.quit,
            DmsWritten: messages.dms_written, Kick: self.roles.kick, SetMode: self.roles.set_mode,
            Invite: self.roles.invite, RegisterRoom: self.roles.register_room, HookPost: self.hooks.post,
            Search: self.search.search, Edit: self.lines.edit, MarkRead: self.reads.mark, UnreadAsk: self.reads.unread,
        }
        self._results: dict[type, Handler] = {
            HistoryPage: messages.history_page, OfflineDms: messages.offline_dms,
            DmHistoryPage: messages.dm_history_page, TargetsPage: messages.targets_page,
            LoginChecked: accounts.login_checked, PasswordHashed: accounts.password_hashed,
            NameClaimed: names.claimed, RoomsListed: rooms.rooms_listed, TopicLoaded: rooms.topic_loaded,
            HookFound: self.hooks.found, SearchFound: self.search.found,
            LineFound: self.lines.line_found, UnreadCounted: self.reads.counted,
        }

    @property
    def config(self) -> ServerConfig:
        return self.state.config

    @config.setter
    def config(self, config: ServerConfig) -> None:
        self.state.config = config

    @property
    def bans(self) -> BanList:
        return self.state.bans

    # -- the three doors ---------------------------------------------------------------------------
    def handle(self, conn_id: int, command: Command, now: float) -> list[Effect]:
        """Effects of one command; raises ``ProtocolError`` for the sender alone."""
        session = self.state.sessions[conn_id]
        kind = type(command)
        if session.name is None and kind not in BEFORE_JOINING:
            if session.logging_in is not None:
                raise ProtocolError(ErrorCode.NOT_JOINED, "wait for the answer to your login")
            raise ProtocolError(ErrorCode.NOT_JOINED, JOIN_FIRST)
        return self._handlers[kind](session, command, now)

    def complete(self, conn_id: int, result: Result, now: float) -> list[Effect]:
        """Effects of a request's result; nothing if the connection has gone meanwhile."""
        session = self.state.sessions.get(conn_id)
        if session is None:
            if type(result) is PasswordHashed:  # the account was asked for: keep it all the same
                return self.accounts.password_hashed(None, result, now)
            return []
        return self._results[type(result)](session, result, now)

    def hear(self, news: News, now: float) -> list[Effect]:
        """Effects of news from another process (selchat/news.py); only a shared hub hears any."""
        if self.heard is None:
            return []
        return self.heard.table[type(news)](news, now)

    # -- connections -------------------------------------------------------------------------------
    def connect(self, conn_id: int, now: float = 0.0, address: str = "") -> None:
        self.state.sessions[conn_id] = Session(conn_id, address, float(self.state.config.burst), now)

    def disconnect(self, conn_id: int, now: float, reason: str | None = None, lost: bool = False) -> list[Effect]:
        """Forget a connection; tell its rooms it left (``reason`` says why, when not a quit). An
        account's last connection ``lost`` (not a quit) lingers instead (``lingering``)."""
        session = self.state.sessions.get(conn_id)
        self.monitors.forget(conn_id)
        if session is None:
            return []
        if lost and self.devices.may_linger(session):
            return self.devices.linger(session, now)
        del self.state.sessions[conn_id]
        if session.name is None:
            return []
        return self._forget(session, now, reason or session.quit_message)

    def lingering(self, conn_id: int) -> bool:
        session = self.state.sessions.get(conn_id)
        return session is not None and session.gone_until is not None

    def linger_over(self, conn_id: int, now: float) -> list[Effect]:
        """A lingering session's time is up (no device came back): now it leaves."""
        session = self.state.sessions.get(conn_id)
        if session is None or session.gone_until is None:
            return []
        del self.state.sessions[conn_id]
        return self._forget(session, now, "connection lost")

    def _forget(self, session: Session, now: float, reason: str | None) -> list[Effect]:
        """A named session gives up its name, its account and its rooms."""
        state = self.state
        assert session.name is not None
        if self.devices.detach(session):  # still here on another device: nobody hears of it
            return []
        del state.names[session.name.casefold()]
        remember_gone(state, session, now)
        if session.account is not None and state.account_sessions.get(session.account) == session.conn_id:
            del state.account_sessions[session.account]
        effects = self.sharing.forgotten(session.name)
        effects.extend(self.monitors.offline(session.name))
        effects.extend(self.rooms.leave_all(session, now, reason))
        return effects

    def penalize(self, conn_id: int, now: float) -> None:
        """A protocol error costs a token like a message does, so a client that sends nothing but
        garbage is bounded by the same bucket, and dropped for flooding like a chat flooder."""
        session = self.state.sessions.get(conn_id)
        if session is None:
            return
        try:
            self.state.spend_token(session, now)
        except ProtocolError as exc:
            if exc.code is ErrorCode.FLOODING:
                raise  # otherwise only the strike counts: the error itself is the reply

    # -- the operator ------------------------------------------------------------------------------
    def announce(self, text: str, now: float) -> list[Effect]:
        everyone = tuple(cid for cid, s in self.state.sessions.items() if s.name is not None)
        return [Send(everyone, ev.Announcement(text, now))] if everyone else []

    def shutdown(self, now: float, message: str = "Server is shutting down", reconnect: bool = False) -> list[Effect]:
        return [Send(tuple(self.state.sessions), ev.Shutdown(message, now, reconnect))]

    # -- questions the server and the metrics ask --------------------------------------------------
    def usernames(self, room: str = LOBBY_KEY) -> list[str]:
        found = self.state.rooms.get(room.lower())
        return found.names() if found else []

    def online(self) -> list[str]:
        """Everyone joined, in any room or none (IRC users may be in none)."""
        return sorted((s.name for s in self.state.sessions.values() if s.name is not None), key=str.casefold)

    def name_of(self, conn_id: int) -> str | None:
        session = self.state.sessions.get(conn_id)
        return session.name if session else None

    def find(self, name: str) -> int | None:
        return self.state.names.get(name.casefold())

    def connections(self) -> tuple[int, ...]:
        return tuple(self.state.sessions)

    def logging_in(self, conn_id: int) -> bool:
        """Waiting on the server (a password check or hash, or a name claim in Redis), not on the client."""
        session = self.state.sessions.get(conn_id)
        return session is not None and (session.logging_in is not None or session.claiming is not None
                                        or session.hashing)

    def room_names(self) -> list[str]:
        return sorted((r.name for r in self.state.rooms.values() if r.lasting), key=str.casefold)

    def is_account(self, name: str) -> bool:
        return name.casefold() in self.state.accounts

    # -- what the backplane registers in Redis -----------------------------------------------------
    def local_rooms(self) -> list[str]:
        return [key for key, room in self.state.rooms.items() if room.members]

    def local_presence(self) -> list[tuple[str, str]]:
        return [(key, name) for key, room in self.state.rooms.items() for name in room.members.values()]

    def local_names(self) -> list[tuple[str, str, str]]:
        """Each name held here (key, the account its devices on other processes may hold it for, the name)."""
        config, sessions = self.state.config, self.state.sessions
        share = config.multiclient and config.devices > 1
        held = []
        for key, conn_id in self.state.names.items():
            session = sessions[conn_id]
            held.append((key, (session.account or "") if share else "", session.name or key))
        return held

    def has_local_members(self, key: str) -> bool:
        room = self.state.rooms.get(key)
        return room is not None and bool(room.members)

    def remote_nodes(self) -> set[str]:
        nodes: set[str] = set()
        for room in self.state.rooms.values():
            nodes.update(node for _, node in room.remote.values())
            if room.also:
                nodes.update(*room.also.values())
        if self.mirror is not None:
            nodes.update(*self.mirror.twins.nodes.values())
        return nodes

