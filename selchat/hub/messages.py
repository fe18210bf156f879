"""Messages: a line to a room (the hot path), private messages, and pages of history."""

from __future__ import annotations

from selchat import outbound as ev
from selchat.config import HISTORY_PAGE_MAX, NAME_MAX
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import Chat, Dm, History
from selchat.hub.effects import Ask, Effect, Send, Store
from selchat.hub.sharing import Sharing
from selchat.hub.state import Session, State
from selchat.records import DmsDelivered, HistoryPage, LoadHistory, OfflineDms, SaveDm


class MessageManager:
    def __init__(self, state: State, sharing: Sharing) -> None:
        self.state = state
        self.sharing = sharing

    def chat(self, session: Session, cmd: Chat, now: float) -> list[Effect]:
        state = self.state
        text = state.check_message(cmd.message)
        room = state.my_room(session, cmd.room)
        state.spend_token(session, now)
        name = session.name
        assert name is not None
        stamp = int(now * 1_000_000)  # state.stamp(), inline: this is the hot path
        if stamp <= state.last_stamp:
            stamp = state.last_stamp + 1
        state.last_stamp = stamp
        message = ev.Message(room.name, name, text, stamp / 1_000_000, cmd.action, False, cmd.notice)
        session.spoke_at = now
        room.recent.append(message)
        room.total += 1
        # echo-message: the sender hears its own line too, so the whole room shares one buffer
        broadcast = room.broadcast(message, None if cmd.echo else session.conn_id)
        state.messages += 1
        state.deliveries += broadcast.count - (0 if cmd.echo else 1)
        return [broadcast, *self.sharing.kept(room, (room.key, stamp, name, text, 1 if cmd.action else 0))]

    def dm(self, session: Session, cmd: Dm, now: float) -> list[Effect]:
        state = self.state
        text = state.check_message(cmd.message)
        key = cmd.to.casefold()
        target = state.names.get(key)
        if target is None and key in state.accounts:
            target = state.account_sessions.get(key)  # its owner, online under another name
        assert session.name is not None
        if target is None:
            found = self.sharing.find_user(key)
            if found is not None:  # on another node: relayed there, and a copy for the sender here
                name, node = found
                state.spend_token(session, now)
                session.spoke_at = now
                dm = ev.DirectMessage(session.name, name, text, state.stamp(now), action=cmd.action,
                                      notice=cmd.notice)
                return [*self.sharing.relay(node, dm), Send((session.conn_id,), dm)]
            return self._offline(session, cmd, key, text, now)
        state.spend_token(session, now)
        session.spoke_at = now
        recipient = state.sessions[target]
        assert recipient.name is not None
        dm = ev.DirectMessage(session.name, recipient.name, text, state.stamp(now), action=cmd.action,
                              notice=cmd.notice, away=recipient.away)
        # one Send each: a codec may answer its own sender differently (IRC: only with echo-message)
        effects: list[Effect] = [Send((target,), dm)]
        if target != session.conn_id:
            effects.append(Send((session.conn_id,), dm))
        if session.account is not None and recipient.account is not None:
            effects.append(Store(SaveDm(session.account, recipient.account, dm, delivered=True)))
        return effects

    def _offline(self, session: Session, cmd: Dm, key: str, text: str, now: float) -> list[Effect]:
        """Between accounts: kept, and delivered at the recipient's next login."""
        state = self.state
        if session.account is None or key not in state.accounts:
            raise ProtocolError(ErrorCode.NO_SUCH_USER, f"no user named {cmd.to[:NAME_MAX]!r} is online")
        state.spend_token(session, now)
        assert session.name is not None
        dm = ev.DirectMessage(session.name, state.accounts[key], text, state.stamp(now), offline=True)
        return [Send((session.conn_id,), dm), Store(SaveDm(session.account, key, dm, delivered=False))]

    def offline_dms(self, session: Session, result: OfflineDms, now: float) -> list[Effect]:
        if not result.dms or session.account is None:
            return []
        me = (session.conn_id,)
        effects: list[Effect] = [Send(me, dm) for dm in result.dms]
        effects.append(Store(DmsDelivered(session.account, result.dms[-1].timestamp)))
        return effects

    def history(self, session: Session, cmd: History, now: float) -> list[Effect]:
        room = self.state.my_room(session, cmd.room)
        self.state.spend_token(session, now)
        limit = min(cmd.limit, HISTORY_PAGE_MAX)
        return [Ask(LoadHistory(session.conn_id, room.key, room.name, cmd.before, limit, cmd.after, cmd.oldest,
                                cmd.around, cmd.tag))]

    def history_page(self, session: Session, result: HistoryPage, now: float) -> list[Effect]:
        name = result.messages[0].room if result.messages else self.state.room_name(result.room_key)
        return [Send((session.conn_id,), ev.HistoryBatch(name, result.messages, result.more, result.tag))]
