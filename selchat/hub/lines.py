"""Editing and deleting a room's lines: one's own (edit or delete), or any (delete) as the room's
operator, as IRCv3 message-redaction lets them. The line's author is found in the room's recent
lines, else asked of the store; everyone in the room then sees it change or go."""

from __future__ import annotations

from selchat import outbound as ev
from selchat.config import NAME_MAX
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import Edit
from selchat.hub.devices import each, everywhere
from selchat.hub.effects import Ask, Effect, Fail, Store
from selchat.hub.state import Room, Session, State
from selchat.records import ChangeLine, LineFound, LoadLine


def line_changed(room: Room, changed: ev.MessageChanged) -> Store:
    """A line edited or deleted, in the room's recent lines (the replay from memory shows it too)
    and in the file: here, or heard from another process that shares the room (mirror.py)."""
    line = round(changed.line * 1_000_000)
    message = room.recent_line(line)
    if message is not None:
        message.text, message.edited = changed.text or "", changed.timestamp
        message.deleted = changed.text is None
    return Store(ChangeLine(room.key, line, changed.text, round(changed.timestamp * 1_000_000)))


class LineManager:
    def __init__(self, state: State) -> None:
        self.state = state

    def edit(self, session: Session, cmd: Edit, now: float) -> list[Effect]:
        state = self.state
        if not cmd.room.startswith("#"):  # a private message, to or from the one named
            return self._dm(session, cmd, now)
        room = state.my_room(session, cmd.room)
        state.spend_token(session, now)
        if cmd.text is not None:
            cmd.text = state.check_message(cmd.text)
        if cmd.line is None:  # one's own last line
            last = session.last_said
            if last is None or last[0] != room.key:
                raise ProtocolError(ErrorCode.UNKNOWN_MESSAGE, f"you have said nothing in {room.name} to change",
                                    (room.name, "*"))
            cmd.line = last[1]
        if cmd.line == 0:  # an id that is none (IRC's REDACT of a word): no line has it
            raise ProtocolError(ErrorCode.UNKNOWN_MESSAGE, f"{room.name} has no such message",
                                (room.name, cmd.shown or "0"))
        message = room.recent_line(cmd.line)
        if message is not None:
            return self._change(session, room, cmd, None if message.deleted else message.username, now)
        return [Ask(LoadLine(session.conn_id, room.key, cmd.line, cmd))]

    def line_found(self, session: Session, result: LineFound, now: float) -> list[Effect]:
        cmd: Edit = result.change
        if not cmd.room.startswith("#"):
            return self._dm_found(session, cmd, result.author, now)
        room = session.rooms.get(cmd.room.lower())
        if room is None:  # left the room meanwhile
            return []
        try:
            return self._change(session, room, cmd, result.author, now)
        except ProtocolError as exc:
            return [Fail(session.conn_id, exc)]

    def _change(self, session: Session, room: Room, cmd: Edit, author: str | None, now: float) -> list[Effect]:
        assert session.name is not None and cmd.line is not None
        about = (room.name, cmd.shown or str(cmd.line))
        if author is None:
            raise ProtocolError(ErrorCode.UNKNOWN_MESSAGE, f"{room.name} has no such message", about)
        own = author.casefold() == session.name.casefold() and (
            session.account is not None or cmd.line / 1_000_000 >= session.signon)  # a guest: this visit's only
        if not own and (cmd.text is not None or room.role(session.name) != "o"):
            what = "edit" if cmd.text is not None else "delete"
            raise ProtocolError(ErrorCode.NOT_YOURS, f"only its sender may {what} that message"
                                + ("" if cmd.text is not None else f", or an operator of {room.name}"), about)
        at = self.state.stamp(now)
        changed = ev.MessageChanged(room.name, cmd.line / 1_000_000, cmd.text, session.name, at, cmd.reason)
        return [line_changed(room, changed), room.broadcast(changed)]

    # -- private messages: one's own only (a conversation has no operators) ---------------------
    def _dm(self, session: Session, cmd: Edit, now: float) -> list[Effect]:
        state = self.state
        state.spend_token(session, now)
        if cmd.text is not None:
            cmd.text = state.check_message(cmd.text)
        peer = state.peer_key(cmd.room)
        if peer is None or not cmd.line:  # "last" is a room's: a message of a conversation is named by its id
            raise ProtocolError(ErrorCode.UNKNOWN_MESSAGE, f"you have no such message with {cmd.room[:NAME_MAX]}",
                                (cmd.room[:NAME_MAX], cmd.shown or str(cmd.line or "*")))
        return [Ask(LoadLine(session.conn_id, "", cmd.line, cmd, (state.dm_key(session), peer[0])))]

    def _dm_found(self, session: Session, cmd: Edit, sender: str | None, now: float) -> list[Effect]:
        state = self.state
        me, about = state.dm_key(session), (cmd.room, cmd.shown or str(cmd.line))
        if sender is None or sender != me:
            code, text = ((ErrorCode.UNKNOWN_MESSAGE, f"you have no such message with {cmd.room}") if sender is None
                          else (ErrorCode.NOT_YOURS, "only its sender may change a private message"))
            return [Fail(session.conn_id, ProtocolError(code, text, about))]
        assert session.name is not None and cmd.line is not None
        peer = state.peer_key(cmd.room) or (cmd.room.casefold(), cmd.room)
        at = state.stamp(now)
        line = cmd.line / 1_000_000
        effects: list[Effect] = [Store(ChangeLine("", cmd.line, cmd.text, round(at * 1_000_000), (me, peer[0])))]
        # IRC names the recipient on both sides (as the PRIVMSG did); JSON the other one
        effects += each(everywhere(session), ev.MessageChanged(peer[1], line, cmd.text, session.name, at, cmd.reason,
                                                               peer[1]))
        target = state.names.get(peer[1].casefold())
        other = state.sessions.get(target) if target is not None else None
        if other is not None and target not in everywhere(session):  # the other side, on each of its devices
            effects += each(everywhere(other), ev.MessageChanged(peer[1], line, cmd.text, session.name, at,
                                                                 cmd.reason, session.name))
        return effects
