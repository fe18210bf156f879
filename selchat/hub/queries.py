"""Questions about users and the server (whois, who, lusers), and the commands that keep a
connection going or end it (ping, pong, quit)."""

from __future__ import annotations

import fnmatch

from selchat import outbound as ev
from selchat.config import AWAY_MAX, NAME_MAX
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import Kill, Lusers, Ping, Pong, Quit, Wallops, Who, Whois, Whowas
from selchat.hub.budget import members_part
from selchat.hub.devices import everywhere
from selchat.hub.effects import Close, Effect, Fail, Send, Then
from selchat.hub.sharing import Sharing
from selchat.hub.state import Session, State, one_line


def who_extra(state: State, who: Session, asker: Session, now: float) -> tuple[str, str, int]:
    """WHO's more: the account, the address (for a server operator's eyes only), seconds idle."""
    return state.account_name(who) or "", who.address if asker.oper else "", int(max(0.0, now - who.spoke_at))


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
        address = who.address if session.oper else ""  # an address is for server operators' eyes
        info = ev.UserInfo(who.name, account, who.away, tuple(r.name for r in who.rooms.values()), address,
                           max(0.0, now - who.spoke_at), who.user, who.realname, cmd.tag, roles, who.signon,
                           who.oper, who.bot)
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
        by_name = {s.name: s for s in found}
        listing = ev.UserList(cmd.mask, part, tuple((n, away[n]) for n in part if n in away), cmd.tag, "",  # type: ignore[misc]
                              tuple(info[n] for n in part), more, cmd.after is None,  # type: ignore[index]
                              opers=tuple(s.name for s in found if s.oper and s.name in part),
                              extra=tuple(who_extra(state, by_name[n], session, now) for n in part),
                              bots=tuple(s.name for s in found if s.bot and s.name in part))
        effects: list[Effect] = [Send((session.conn_id,), listing)]
        if more:  # WHO is IRC's: its parts stream, each once the one before is read
            effects.append(Then(session.conn_id, Who(cmd.mask, part[-1], cmd.tag)))
        return effects

    def whowas(self, session: Session, cmd: Whowas, now: float) -> list[Effect]:
        """Who last had a name (a mask finds several), newest first."""
        pattern = cmd.username.casefold()
        found = [entry for entry in reversed(self.state.gone)
                 if fnmatch.fnmatchcase(entry[0].casefold(), pattern)]
        if cmd.count > 0:
            found = found[:cmd.count]
        return [Send((session.conn_id,), ev.WasInfo(cmd.username[:NAME_MAX], tuple(found)))]

    # -- server operators --------------------------------------------------------------------------
    @staticmethod
    def _server_operator(session: Session, what: str) -> None:
        if not session.oper:
            raise ProtocolError(ErrorCode.NO_PRIVILEGES, f"only server operators {what}")

    def kill(self, session: Session, cmd: Kill, now: float) -> list[Effect]:
        """End someone's connection: their rooms hear why, as a quit."""
        self._server_operator(session, "end others' connections")
        target = self.state.names.get(cmd.username.casefold())
        if target is None:
            raise ProtocolError(ErrorCode.NO_SUCH_USER, f"no user named {cmd.username[:NAME_MAX]!r} is online",
                                (cmd.username[:NAME_MAX],))
        why = one_line(cmd.reason or "")[:AWAY_MAX] or "no reason given"
        killed = everywhere(self.state.sessions[target])  # the person, on every device
        for conn_id in killed:
            self.state.sessions[conn_id].quit_message = f"Killed by {session.name}: {why}"
        error = ProtocolError(ErrorCode.KICKED, f"killed by {session.name}: {why}")
        return [Fail(conn_id, error) for conn_id in killed]

    def wallops(self, session: Session, cmd: Wallops, now: float) -> list[Effect]:
        self._server_operator(session, "send WALLOPS")
        text = self.state.check_message(cmd.message)
        self.state.spend_token(session, now)
        assert session.name is not None
        opers = tuple(cid for cid, s in self.state.sessions.items() if s.oper)
        return [Send(opers, ev.Wallops(session.name, text, now))]

    def ping(self, session: Session, cmd: Ping, now: float) -> list[Effect]:
        return [Send((session.conn_id,), ev.PongReply(cmd.id, now))]

    def pong(self, session: Session, cmd: Pong, now: float) -> list[Effect]:
        return []  # any frame already proves the client alive

    def quit(self, session: Session, cmd: Quit, now: float) -> list[Effect]:
        if cmd.message:
            session.quit_message = f"Quit: {one_line(cmd.message)[:AWAY_MAX]}"
        return [Close(session.conn_id, "quit")]
