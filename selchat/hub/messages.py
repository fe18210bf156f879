"""Messages: a line to a room (the hot path), private messages, and pages of history."""

from __future__ import annotations

from dataclasses import dataclass, replace

from selchat import outbound as ev
from selchat.config import DMS_WAITING_MAX, DMS_WAITING_PER_SENDER, HISTORY_PAGE_MAX, NAME_MAX
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import Chat, Dm, DmHistory, History, HistoryTargets, StatusChat, TagMsg, reaction_of, replied_to
from selchat.hub.budget import answer_budget, messages_fitting
from selchat.hub.devices import each, elsewhere, everywhere
from selchat.hub.effects import Ask, Broadcast, Effect, Send, Store, Then
from selchat.hub.hooks import calls
from selchat.hub.roles import RoleManager
from selchat.hub.sharing import Sharing
from selchat.hub.state import LOBBY_KEY, Room, Session, State, room_key
from selchat.records import (
    DmHistoryPage,
    DmsDelivered,
    HistoryPage,
    LoadDmHistory,
    LoadHistory,
    LoadTargets,
    MessageRow,
    OfflineDms,
    SaveDm,
    SaveReaction,
    TargetsPage,
)

# One typing notice a target a second at most (IRCv3 typing: clients send one every 3 s while typing,
# and paused/done as they stop): more are dropped, never answered with an error.
TYPING_EVERY = 1.0


@dataclass(slots=True)
class DmsWritten:
    """The hub's own next step after a page of kept private messages has been written."""

    up_to: float  # the newest in the page


def line_row(key: str, stamp: int, name: str, text: str, action: bool, bot: bool, tags: str) -> MessageRow:
    """A room's line as the store keeps it: said here, or heard from another process (mirror.py)."""
    row: tuple = (key, stamp, name, text, (1 if action else 0) | (2 if bot else 0))  # the action column's bits
    if tags and (reply := replied_to(tags)):
        row = (*row, reply)  # a reply's row says what it answers (store.py)
    return row


def reacted(room: Room, name: str, tags: str) -> list[Effect]:
    """A reaction to a line of the room: kept, and on the line as the room's recent lines hold it
    (so a replay from memory shows it too)."""
    found = reaction_of(tags)
    if found is None:
        return []
    reaction, on, line = found
    message = room.recent_line(line)
    if message is not None:
        who = (message.reactions or {}).get(reaction, [])
        if on and name not in who:
            message.reactions = {**(message.reactions or {}), reaction: [*who, name]}
        elif not on and name in who:
            message.reactions = {**(message.reactions or {}), reaction: [w for w in who if w != name]}
    return [Store(SaveReaction(room.key, line, reaction, name, on))]


class MessageManager:
    def __init__(self, state: State, sharing: Sharing, roles: RoleManager) -> None:
        self.state = state
        self.sharing = sharing
        self.roles = roles

    def chat(self, session: Session, cmd: Chat, now: float) -> list[Effect]:
        state = self.state
        text = state.check_message(cmd.message)
        room = session.rooms.get(LOBBY_KEY if cmd.room is None else room_key(cmd.room))
        if room is None:
            room = self.roles.from_outside(session, cmd.room)  # -n rooms hear those outside
        elif room.checks_speech:
            RoleManager.may_speak(room, session)
        name = session.name
        assert name is not None
        state.spend_token(session, now)
        stamp = int(now * 1_000_000)  # state.stamp(), inline: this is the hot path
        if stamp <= state.last_stamp:
            stamp = state.last_stamp + 1
        state.last_stamp = stamp
        message = ev.Message(room.name, name, text, stamp / 1_000_000, cmd.action, False, cmd.notice)
        if cmd.tags or session.account is not None or session.bot:  # a guest's plain line skips these
            message.tags, message.bot = cmd.tags, session.bot
            message.account = state.account_name(session)
        if cmd.joins:
            message.joins = cmd.joins
        session.spoke_at = now
        session.last_said = (room.key, stamp)
        room.recent.append(message)
        room.total += 1
        # echo-message: the sender hears its own line too, so the whole room shares one buffer
        broadcast = room.broadcast(message, None if cmd.echo else session.conn_id)
        state.messages += 1
        state.deliveries += broadcast.count - (0 if cmd.echo else 1)
        effects = [broadcast, *self.sharing.kept(room, line_row(room.key, stamp, name, text, cmd.action,
                                                                session.bot, cmd.tags))]
        if session.devices and len(session.devices) > 1:  # on several devices: the others show it as theirs
            effects.insert(1, self._mine_elsewhere(session, message, broadcast, cmd.echo))
        if state.outgoing and room.key in state.outgoing:  # a webhook listens here: does this line call it?
            effects.extend(calls(state.outgoing[room.key], message))
        return effects

    @staticmethod
    def _mine_elsewhere(session: Session, message: ev.Message, broadcast: Broadcast, echo: bool) -> Send:
        """A sender on several devices: the room's copy passes them by, and they get theirs marked
        as their own (one send a device, as for anyone else)."""
        others = elsewhere(session)
        broadcast.exclude = others if echo else (session.conn_id, *others)
        return Send(others, replace(message, own=True))

    def dm(self, session: Session, cmd: Dm, now: float) -> list[Effect]:
        state = self.state
        text = state.check_message(cmd.message)
        key = cmd.to.casefold()
        target = state.names.get(key)
        if target is None and key in state.accounts:
            target = state.account_sessions.get(key)  # its owner, online under another name
        if target is not None and state.sessions[target].gone_until is not None:
            target = None  # lingering without a connection: kept for its return, as for one offline
        assert session.name is not None
        if target is None:
            found = self.sharing.find_user(key)
            if found is not None:
                return self._elsewhere(session, cmd, found, text, now)
            return self._offline(session, cmd, key, text, now)
        state.spend_token(session, now)
        session.spoke_at = now
        recipient = state.sessions[target]
        assert recipient.name is not None
        dm = ev.DirectMessage(session.name, recipient.name, text, state.stamp(now), action=cmd.action,
                              notice=cmd.notice, away=recipient.away, tags=cmd.tags,
                              account=state.account_name(session), bot=session.bot, joins=cmd.joins)
        # one Send each: a codec may answer its own sender differently (IRC: only with echo-message)
        effects: list[Effect] = each(everywhere(recipient), dm)  # on each of the recipient's devices
        if target != session.conn_id:
            effects.append(Send((session.conn_id,), dm))
            others = elsewhere(session)
            if others and recipient.devices is not session.devices:  # and on the sender's others, as theirs
                effects.extend(each(others, replace(dm, own=True)))
        if self.sharing.linked:  # the recipient's devices on other processes, and the sender's
            effects.extend(self.sharing.copies(recipient.name, dm))
            if recipient.name != session.name:
                effects.extend(self._mine_copies(session, dm))
        # kept as a conversation: between accounts for good, a guest's while it is online (state.dm_key)
        effects.append(Store(SaveDm(state.dm_key(session), state.dm_key(recipient), dm, delivered=True)))
        return effects

    def _elsewhere(self, session: Session, cmd: Dm, found: tuple[str, str], text: str, now: float) -> list[Effect]:
        """To someone on another node: relayed there (and to their other nodes, and the sender's,
        hub/twins.py), and a copy for the sender here; kept here too between accounts."""
        state = self.state
        name, node = found
        state.spend_token(session, now)
        session.spoke_at = now
        assert session.name is not None
        dm = ev.DirectMessage(session.name, name, text, state.stamp(now), action=cmd.action, notice=cmd.notice,
                              tags=cmd.tags, account=state.account_name(session), bot=session.bot)
        effects = [*self.sharing.relay(node, dm), *self.sharing.copies(name, dm, node), Send((session.conn_id,), dm),
                   *self._mine_copies(session, dm)]
        if session.account is not None and name.casefold() in state.accounts:
            effects.append(Store(SaveDm(session.account, name.casefold(), dm, delivered=True)))
        return effects

    def _mine_copies(self, session: Session, dm: ev.DirectMessage) -> list[Effect]:
        assert session.name is not None
        return self.sharing.copies(session.name, replace(dm, own=True))

    def status_chat(self, session: Session, cmd: StatusChat, now: float) -> list[Effect]:
        """A line for the room's operators (@) or operators and voiced members (+) only."""
        state = self.state
        text = state.check_message(cmd.message)
        room = session.rooms.get(room_key(cmd.room)) or self.roles.from_outside(session, cmd.room)
        if room.checks_speech:
            RoleManager.may_speak(room, session)
        state.spend_token(session, now)
        assert session.name is not None
        message = ev.Message(room.name, session.name, text, state.stamp(now), cmd.action, False, cmd.notice,
                             status=cmd.status)
        allowed = room.ops if cmd.status == "@" else {**room.voiced, **room.ops}
        to = tuple(cid for cid, name in room.members.items() if name.casefold() in allowed
                   and (cmd.echo or cid != session.conn_id))
        return [Send(to, message)] if to else []

    def tag_message(self, session: Session, cmd: TagMsg, now: float) -> list[Effect]:
        """Only tags (typing, a reaction): to a room's members or one person online; never kept.
        Typing alone costs no chat token: it is held to one a target every TYPING_EVERY seconds
        instead (more are dropped), as IRCv3's typing spec asks clients to send no more often."""
        state = self.state
        assert session.name is not None
        typing = cmd.tags.startswith("+typing=") and ";" not in cmd.tags
        if typing and not self._typing_due(session, cmd.target.casefold(), cmd.tags, now):
            return []
        if cmd.target.startswith("#"):
            room = session.rooms.get(room_key(cmd.target)) or self.roles.from_outside(session, cmd.target)
            if room.checks_speech:
                RoleManager.may_speak(room, session)
            if not typing:
                state.spend_token(session, now)
            event = ev.TagMessage(session.name, room.name, cmd.tags, state.stamp(now))
            kept = reacted(room, session.name, cmd.tags) if "react=" in cmd.tags else []
            return [room.broadcast(event, None if cmd.echo else session.conn_id), *kept]
        target = state.names.get(cmd.target.casefold())
        if target is None:
            raise ProtocolError(ErrorCode.NO_SUCH_USER, f"no user named {cmd.target[:NAME_MAX]!r} is online")
        if not typing:
            state.spend_token(session, now)
        recipient = state.sessions[target]
        assert recipient.name is not None
        event = ev.TagMessage(session.name, recipient.name, cmd.tags, state.stamp(now))
        # with echo-message the sender hears it too, even one sent to itself (the delivery, then the echo)
        return [Send(everywhere(recipient), event), *([Send((session.conn_id,), event)] if cmd.echo else [])]

    @staticmethod
    def _typing_due(session: Session, target: str, tags: str, now: float) -> bool:
        """A change (active to done) always goes; the same again within TYPING_EVERY does not."""
        sent = session.typing
        if sent is None:
            sent = session.typing = {}
        last = sent.get(target)
        if last is not None and last[1] == tags and now - last[0] < TYPING_EVERY:
            return False
        if len(sent) > 64:  # forgotten when it grows: it only ever holds the last second or so
            sent.clear()
        sent[target] = (now, tags)
        return True

    def _offline(self, session: Session, cmd: Dm, key: str, text: str, now: float) -> list[Effect]:
        """Between accounts: kept, and delivered at the recipient's next login."""
        state = self.state
        if key not in state.accounts:
            raise ProtocolError(ErrorCode.NO_SUCH_USER, f"no user named {cmd.to[:NAME_MAX]!r} is online")
        if session.account is None:  # kept messages are between accounts: a guest's would have no sender
            raise ProtocolError(ErrorCode.NO_SUCH_USER, f"{state.accounts[key]} is not online, and only accounts"
                                " can leave messages for later: register (/register) to keep one for them")
        waiting = state.waiting_dms.setdefault(key, {})
        name = state.accounts[key]
        if sum(waiting.values()) >= DMS_WAITING_MAX:
            raise ProtocolError(ErrorCode.DMS_FULL, f"{name} has {DMS_WAITING_MAX} private messages waiting, the"
                                " most kept; it was not delivered (try again once they have logged in)")
        if waiting.get(session.account, 0) >= DMS_WAITING_PER_SENDER:
            raise ProtocolError(ErrorCode.DMS_FULL, f"{DMS_WAITING_PER_SENDER} of your private messages are"
                                f" waiting for {name}, the most kept from one sender; it was not delivered")
        state.spend_token(session, now)
        assert session.name is not None
        waiting[session.account] = waiting.get(session.account, 0) + 1
        dm = ev.DirectMessage(session.name, name, text, state.stamp(now), offline=True)
        return [Send((session.conn_id,), dm), Store(SaveDm(session.account, key, dm, delivered=False))]

    # -- what was kept for an account while it was offline: in pages, each marked once written ----
    def offline_dms(self, session: Session, result: OfflineDms, now: float) -> list[Effect]:
        if not result.dms or session.account is None:
            return []
        session.dms_due = list(result.dms)
        return self._dms_page(session)

    def _dms_page(self, session: Session) -> list[Effect]:
        due = session.dms_due
        count = messages_fitting(due, answer_budget(self.state.config.max_output))
        page, session.dms_due = due[:count], due[count:]
        me = (session.conn_id,)
        effects: list[Effect] = [Send(me, dm) for dm in page]
        effects.append(Then(session.conn_id, DmsWritten(page[-1].timestamp)))
        return effects

    def dms_written(self, session: Session, cmd: DmsWritten, now: float) -> list[Effect]:
        """A page has been written: it is delivered (a login cut short before gets it again)."""
        if session.account is None:
            return []
        effects: list[Effect] = [Store(DmsDelivered(session.account, cmd.up_to))]
        if session.dms_due:
            effects.extend(self._dms_page(session))
        else:  # all of them: the account's box is empty again
            self.state.waiting_dms.pop(session.account, None)
        return effects

    def history(self, session: Session, cmd: History, now: float) -> list[Effect]:
        room = self.state.my_room(session, cmd.room)
        self.state.spend_token(session, now)
        limit = min(cmd.limit, HISTORY_PAGE_MAX)
        return [Ask(LoadHistory(session.conn_id, room.key, room.name, cmd.before, limit, cmd.after, cmd.oldest,
                                cmd.around, cmd.tag))]

    def history_page(self, session: Session, result: HistoryPage, now: float) -> list[Effect]:
        """The page, cut to what one answer holds (budget.py): the client pages on from its
        last message as it would anyway, so nothing is skipped."""
        name = result.messages[0].room if result.messages else self.state.room_name(result.room_key)
        messages, more = result.messages, result.more
        fit = messages_fitting(messages, answer_budget(self.state.config.max_output), not result.oldest)
        if fit < len(messages):
            messages, more = (messages[:fit] if result.oldest else messages[-fit:]), True
        return [Send((session.conn_id,), ev.HistoryBatch(name, messages, more, result.tag))]

    # -- a private conversation's pages (a guest's side is its connection's: state.dm_key) --------------
    def dm_history(self, session: Session, cmd: DmHistory, now: float) -> list[Effect]:
        state = self.state
        state.spend_token(session, now)
        peer = state.peer_key(cmd.peer)
        if peer is None:  # nobody by that name, online or with an account: nothing to page
            return [Send((session.conn_id,), ev.DmHistoryBatch(cmd.peer[:NAME_MAX], (), False, cmd.tag))]
        limit = min(cmd.limit, HISTORY_PAGE_MAX)
        return [Ask(LoadDmHistory(session.conn_id, state.dm_key(session), peer[0], peer[1], cmd.before,
                                  limit, cmd.after, cmd.oldest, cmd.around, cmd.tag))]

    def history_targets(self, session: Session, cmd: HistoryTargets, now: float) -> list[Effect]:
        self.state.spend_token(session, now)
        rooms = {key: room.name for key, room in session.rooms.items()}
        return [Ask(LoadTargets(session.conn_id, self.state.dm_key(session), rooms, cmd.after, cmd.before,
                                min(cmd.limit, HISTORY_PAGE_MAX)))]

    def targets_page(self, session: Session, result: TargetsPage, now: float) -> list[Effect]:
        return [Send((session.conn_id,), ev.HistoryTargetList(result.targets))]

    def dm_history_page(self, session: Session, result: DmHistoryPage, now: float) -> list[Effect]:
        """Cut to one answer, keeping the newest (the client pages on from its oldest)."""
        dms, more = result.dms, result.more
        fit = messages_fitting(dms, answer_budget(self.state.config.max_output), newest=True)
        if fit < len(dms):
            dms, more = dms[len(dms) - fit:], True
        return [Send((session.conn_id,), ev.DmHistoryBatch(result.peer, dms, more, result.tag))]
