"""Questions about users and the server (whois, who, lusers), and the commands that keep a
connection going or end it (ping, pong, quit)."""

from __future__ import annotations

import fnmatch

from selchat import outbound as ev
from selchat.config import AWAY_MAX, NAME_MAX
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import Lusers, Ping, Pong, Quit, Who, Whois
from selchat.hub.budget import members_part
from selchat.hub.effects import Close, Effect, Send, Then
from selchat.hub.sharing import Sharing
from selchat.hub.state import Session, State, one_line


class QueryManager:
    def __init__(self, state: State, sharing: Sharing) -> None:
        self.state = state
        self.sharing = sharing

    def whois(self, session: Session, cmd: Whois, now: float) -> list[Effect]:
        state = self.state
        key = cmd.username.casefold()
        target = state.names.get(key)
        if target is None:
            elsewhere = self.sharing.whois(key, cmd.tag)
            if elsewhere is not None:
                return [Send((session.conn_id,), elsewhere)]
            raise ProtocolError(ErrorCode.NO_SUCH_USER, f"no user named {cmd.username[:NAME_MAX]!r} is online")
        who = state.sessions[target]
        assert who.name is not None
        account = state.accounts.get(who.account) if who.account else None
        roles = tuple((r.name, role) for r in who.rooms.values() if (role := r.role(who.name)) is not None)
        info = ev.UserInfo(who.name, account, who.away, tuple(r.name for r in who.rooms.values()), who.address,
                           max(0.0, now - who.spoke_at), who.user, who.realname, cmd.tag, roles, who.signon,
                           who.oper)
        return [Send((session.conn_id,), info)]

    def lusers(self, session: Session, cmd: Lusers, now: float) -> list[Effect]:
        state = self.state
        rooms = sum(1 for r in state.rooms.values() if r.lasting)
        stats = ev.ServerStats(len(state.names), rooms, len(state.sessions), state.peak)
        return [Send((session.conn_id,), stats)]

    def who(self, session: Session, cmd: Who, now: float) -> list[Effect]:
        state = self.state
        pattern = cmd.mask.casefold()
        if pattern == "0":
            pattern = "*"
        if "*" in pattern or "?" in pattern:
            # a mask finds only those who share a room with the asker (IRC's +i, which everyone
            # here has); an exact name finds its user anywhere, like WHOIS
            candidates = [state.sessions[cid] for cid in state.sharers(session)]
            found = [s for s in candidates if s.name is not None and fnmatch.fnmatchcase(s.name.casefold(), pattern)]
        else:
            target = state.names.get(pattern)
            found = [state.sessions[target]] if target is not None else []
        found.sort(key=lambda s: s.name.casefold())  # type: ignore[union-attr]
        names = [s.name for s in found]
        away = {s.name: s.away for s in found if s.away is not None}
        info = {s.name: (s.user, s.realname) for s in found}
        part, more = members_part(names, cmd.after, away, info, state.config.max_output)  # type: ignore[arg-type]
        listing = ev.UserList(cmd.mask, part, tuple((n, away[n]) for n in part if n in away), "whomask", "",  # type: ignore[misc]
                              tuple(info[n] for n in part), more, cmd.after is None,  # type: ignore[index]
                              opers=tuple(s.name for s in found if s.oper and s.name in part))
        effects: list[Effect] = [Send((session.conn_id,), listing)]
        if more:  # WHO is IRC's: its parts stream, each once the one before is read
            effects.append(Then(session.conn_id, Who(cmd.mask, part[-1])))
        return effects

    def ping(self, session: Session, cmd: Ping, now: float) -> list[Effect]:
        return [Send((session.conn_id,), ev.PongReply(cmd.id, now))]

    def pong(self, session: Session, cmd: Pong, now: float) -> list[Effect]:
        return []  # any frame already proves the client alive

    def quit(self, session: Session, cmd: Quit, now: float) -> list[Effect]:
        if cmd.message:
            session.quit_message = f"Quit: {one_line(cmd.message)[:AWAY_MAX]}"
        return [Close(session.conn_id, "quit")]
