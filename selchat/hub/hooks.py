"""The rules of an incoming webhook's post (hooks.py): its body read, its hook found by the
secret's digest, its bucket, then one line in the room as the hook's bot, kept like any other.
Every answer is an HTTP status and a line, and the connection closes after it."""

from __future__ import annotations

import re

from selchat import outbound as ev
from selchat.errors import ProtocolError
from selchat.events import HookPost
from selchat.hooks import BURST, RATE, Outgoing, digest
from selchat.hub.effects import Ask, CallOut, Close, Effect, Send
from selchat.hub.sharing import Sharing
from selchat.hub.state import Session, State, check_name, room_key
from selchat.records import HookFound, LoadHook

WORD = re.compile(r"[\w.-]+")


def calls(listening: list[Outgoing], message: ev.Message) -> list[Effect]:
    """A POST for each hook whose word (or bot's name) the line says, as a whole word."""
    said = set(WORD.findall(message.text.casefold()))
    found: list[Effect] = []
    for hook in listening:
        hit = hook.words & said
        if hit and message.username.casefold() != hook.key:
            found.append(CallOut(hook.key, hook.url, message.room, message.username, message.text,
                                 message.timestamp, min(hit)))
    return found


def answer(session: Session, status: int, text: str, retry_after: int = 0) -> list[Effect]:
    return [Send((session.conn_id,), ev.HookAnswer(status, text, retry_after)),
            Close(session.conn_id, f"webhook answered {status}")]


class HookManager:
    def __init__(self, state: State, sharing: Sharing) -> None:
        self.state = state
        self.sharing = sharing
        self.buckets: dict[str, tuple[float, float]] = {}  # hook key -> (tokens, when counted)

    def post(self, session: Session, cmd: HookPost, now: float) -> list[Effect]:
        """The text first (no database read for one that cannot post), then the hook."""
        try:
            text = self.state.check_message(cmd.text)
        except ProtocolError as exc:
            return answer(session, 400, exc.message)
        return [Ask(LoadHook(session.conn_id, digest(cmd.secret), text, cmd.username))]

    def found(self, session: Session, result: HookFound, now: float) -> list[Effect]:
        hook = result.hook
        if hook is None:  # as Slack answers a URL it does not know: nothing says the secret was close
            return answer(session, 404, "no webhook has this URL; the operator makes one with selchat hook add")
        if hook.gone:
            return answer(session, 410, f"the room {hook.room} was deleted; this webhook posts nowhere")
        wait = self._spend(hook.key, now)
        if wait:
            return answer(session, 429, f"{hook.name} posts at most {RATE:g} message a second", wait)
        name = hook.name
        if result.username and hook.username_allowed:
            try:
                check_name(result.username)
            except ProtocolError as exc:
                return answer(session, 400, f"the username asked for: {exc.message}")
            name = result.username
        return [*self._say(hook.room, name, result.text, now), *answer(session, 200, "ok")]

    def replied(self, hook_key: str, room_key: str, text: str, now: float) -> list[Effect]:
        """An outgoing hook's answer (the text its response gave): said in the room as its bot,
        within the same bucket as its posts. Nothing if the hook is gone meanwhile."""
        hook = next((h for h in self.state.outgoing.get(room_key, ()) if h.key == hook_key), None)
        if hook is None or self._spend(hook_key, now):
            return []
        try:
            text = self.state.check_message(text)
        except ProtocolError:
            return []
        return self._say(hook.room, hook.name, text, now)

    def _spend(self, key: str, now: float) -> int:
        """0 when the hook may post now (a token is spent), else the seconds until it may."""
        tokens, then = self.buckets.get(key, (float(BURST), now))
        tokens = min(float(BURST), tokens + (now - then) * RATE)
        if tokens < 1:
            self.buckets[key] = (tokens, now)
            return max(1, round((1 - tokens) / RATE))
        self.buckets[key] = (tokens - 1, now)
        return 0

    def _say(self, room_name: str, name: str, text: str, now: float) -> list[Effect]:
        """One line in the room from a bot, as messages.chat says a member's: heard, and kept."""
        state = self.state
        room = state.room(room_key(room_name), room_name, now)
        message = ev.Message(room.name, name, text, state.stamp(now))
        message.bot = True
        room.recent.append(message)
        room.total += 1
        broadcast = room.broadcast(message)
        state.messages += 1
        state.deliveries += broadcast.count
        row = (room.key, round(message.timestamp * 1_000_000), name, text, 2)  # 2: a bot's (store.py)
        return [broadcast, *self.sharing.kept(room, row)]
