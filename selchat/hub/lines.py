"""Editing and deleting a room's lines: one's own (edit or delete), or any (delete) as the room's
operator, as IRCv3 message-redaction lets them. The line's author is found in the room's recent
lines, else asked of the store; everyone in the room then sees it change or go."""

from __future__ import annotations

from selchat import outbound as ev
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import Edit
from selchat.hub.effects import Ask, Effect, Fail, Store
from selchat.hub.state import Room, Session, State
from selchat.records import ChangeLine, LineFound, LoadLine


class LineManager:
    def __init__(self, state: State) -> None:
        self.state = state

    def edit(self, session: Session, cmd: Edit, now: float) -> list[Effect]:
        state = self.state
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
        for message in reversed(room.recent):
            if round(message.timestamp * 1_000_000) == cmd.line:
                return self._change(session, room, cmd, None if message.deleted else message.username, now)
        return [Ask(LoadLine(session.conn_id, room.key, cmd.line, cmd))]

    def line_found(self, session: Session, result: LineFound, now: float) -> list[Effect]:
        cmd: Edit = result.change
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
        for message in reversed(room.recent):  # the replay from memory shows the change too
            if round(message.timestamp * 1_000_000) == cmd.line:
                message.text, message.edited = (cmd.text, at) if cmd.text is not None else ("", at)
                message.deleted = cmd.text is None
                break
        changed = ev.MessageChanged(room.name, cmd.line / 1_000_000, cmd.text, session.name, at, cmd.reason)
        return [Store(ChangeLine(room.key, cmd.line, cmd.text, round(at * 1_000_000))), room.broadcast(changed)]
