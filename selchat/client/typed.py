"""A typed line, carried out: each kind of ``Action`` (words.py) has its handler in a table,
so a new command is one entry, not another branch."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from selchat.client.link import Pacer
from selchat.client.words import Action, help_lines, parse_input
from selchat.render import sanitize

if TYPE_CHECKING:
    from selchat.client.session import Session

JOIN_WAIT = 5.0  # the most a line after /join waits for the join's answer

Act = Callable[["Session", Action, "Pacer | None"], Awaitable[None]]


async def handle(session: Session, line: str, pacer: Pacer | None = None) -> bool:
    """Act on one typed line; False once the user asked to quit."""
    action = parse_input(line)
    kind = action.kind
    if kind == "nothing":
        return True
    if kind == "invalid":
        session.out(session.renderer.problem(action.text))
        return True
    if kind == "help":
        for text in help_lines():
            session.out(session.renderer.notice(text))
        return True
    if kind == "quit":
        await session.quit()
        return False
    if session.joining is not None:  # a line after /join goes where the join went
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(session.joining.wait(), JOIN_WAIT)
        session.joining = None
    if not session.connected:
        session.out(session.renderer.problem("not connected; reconnecting (Ctrl-D quits)"))
        return True
    await ACTIONS.get(kind, say)(session, action, pacer)
    return True


async def users(session: Session, action: Action, pacer: Pacer | None) -> None:
    await session.link.send({"type": "users"})


async def ping(session: Session, action: Action, pacer: Pacer | None) -> None:
    state = session.state
    ping_id = state.next_ping
    state.next_ping += 1
    state.pings[ping_id] = time.monotonic()
    await session.link.send({"type": "ping", "id": ping_id})


async def join(session: Session, action: Action, pacer: Pacer | None) -> None:
    if session.v2() and not session.switch(action.target):
        session.joining = asyncio.Event()
        await session.link.send({"type": "join_room", "room": action.target,
                                 **({"key": action.text} if action.text else {})})


async def part(session: Session, action: Action, pacer: Pacer | None) -> None:
    if session.v2():
        await session.link.send({"type": "leave_room", "room": action.target or session.state.current})


async def rooms(session: Session, action: Action, pacer: Pacer | None) -> None:
    if session.v2():
        await session.link.send({"type": "rooms"})


async def dms(session: Session, action: Action, pacer: Pacer | None) -> None:
    if session.v2():
        await session.link.send({"type": "conversations"})


async def names(session: Session, action: Action, pacer: Pacer | None) -> None:
    state = session.state
    await session.link.send({"type": "users", "room": action.target or state.current} if state.version >= 2
                            else {"type": "users"})


async def topic(session: Session, action: Action, pacer: Pacer | None) -> None:
    state = session.state
    if not session.v2():
        return
    if action.text:
        await session.link.send({"type": "topic", "room": state.current, "topic": action.text})
        return
    now = state.topics.get(state.current.casefold())
    session.out(session.renderer.notice(f"topic of {sanitize(state.current)}: {sanitize(now)}" if now
                                        else f"{sanitize(state.current)} has no topic"))


async def nick(session: Session, action: Action, pacer: Pacer | None) -> None:
    if session.v2():
        await session.link.send({"type": "nick", "username": action.target})


async def away(session: Session, action: Action, pacer: Pacer | None) -> None:
    if session.v2():
        await session.link.send({"type": "away", "message": action.text} if action.text else {"type": "away"})


async def register(session: Session, action: Action, pacer: Pacer | None) -> None:
    await session.register()


async def say(session: Session, action: Action, pacer: Pacer | None) -> None:
    """A line for the room (or an action), or a private message."""
    state = session.state
    text = action.text
    if len(text) > state.max_message:
        session.out(session.renderer.problem(
            f"not sent: that line is {len(text)} characters; the server's limit is {state.max_message}"))
        return
    if pacer is not None:
        await pacer.wait()
    if action.kind == "dm":
        await session.link.send({"type": "dm", "to": action.target, "message": text})
        return
    frame: dict[str, Any] = {"type": "chat", "message": text}
    if state.version >= 2:
        frame["room"] = state.current
    if action.kind == "reply":
        answered = state.last_said.get((state.current.casefold(), action.target.casefold()))
        if answered is None:
            session.out(session.renderer.problem(f"{sanitize(action.target)} has said nothing here to reply to"))
            return
        frame["reply_to"] = answered
    if action.kind == "action":
        frame["action"] = True
    await session.link.send(frame)
    if not session.options.json_output and pacer is None:
        # the server echoes nothing to the sender
        session.out(session.renderer.own_chat(text, action=action.kind == "action"))


async def kick(session: Session, action: Action, pacer: Pacer | None) -> None:
    if session.v2():
        await session.link.send({"type": "kick", "room": session.state.current, "username": action.target,
                                 **({"reason": action.text} if action.text else {})})


async def role(session: Session, action: Action, pacer: Pacer | None) -> None:
    if session.v2():
        taken = action.text.startswith("-")
        await session.link.send({"type": "role", "room": session.state.current, "username": action.target,
                                 "role": None if taken else action.text})


async def invite(session: Session, action: Action, pacer: Pacer | None) -> None:
    if session.v2():
        await session.link.send({"type": "invite", "room": session.state.current, "username": action.target})


async def masks(session: Session, action: Action, pacer: Pacer | None) -> None:
    """/ban NAME, /unban NAME, /bans (the current room's ban list) and /register-room."""
    if session.v2():
        frame: dict[str, Any] = {"type": action.kind, "room": session.state.current}
        if action.kind in ("ban", "unban"):
            frame["mask"] = action.target
        await session.link.send(frame)


# /mode's words: +m moderated, +t topic locked, +s secret, +i invite only
MODE_FLAGS = {"m": "moderated", "t": "topic_locked", "s": "secret", "i": "invite_only", "n": "no_outside"}


async def mode(session: Session, action: Action, pacer: Pacer | None) -> None:
    if not session.v2():
        return
    frame: dict[str, Any] = {"type": "room_mode", "room": session.state.current}
    for part in action.text.split():
        for letter in part[1:]:
            if part[:1] in "+-" and letter in MODE_FLAGS:
                frame[MODE_FLAGS[letter]] = part[0] == "+"
    await session.link.send(frame)


async def react(session: Session, action: Action, pacer: Pacer | None) -> None:
    """/react NAME REACTION: on NAME's last line here; the same again takes it back."""
    state = session.state
    line = state.last_said.get((state.current.casefold(), action.target.casefold()))
    if not session.v2():
        return
    if line is None:
        session.out(session.renderer.problem(f"{sanitize(action.target)} has said nothing here to react to"))
        return
    mine = (state.current.casefold(), line, action.text)
    on = mine not in state.reacted
    state.reacted.symmetric_difference_update({mine})
    await session.link.send({"type": "react", "room": state.current, "id": line, "reaction": action.text, "on": on})


async def edit(session: Session, action: Action, pacer: Pacer | None) -> None:
    """/edit TEXT and /delete: one's own last line here (the server knows which)."""
    if session.v2():
        frame: dict[str, Any] = {"type": action.kind, "room": session.state.current, "id": "last"}
        if action.kind == "edit":
            frame["message"] = action.text
        await session.link.send(frame)


async def search(session: Session, action: Action, pacer: Pacer | None) -> None:
    if session.v2():
        await session.link.send({"type": "search", "query": action.text})


ACTIONS: dict[str, Act] = {
    "users": users, "ping": ping, "join": join, "part": part, "list": rooms, "names": names, "topic": topic,
    "nick": nick, "away": away, "register": register, "kick": kick, "role": role, "mode": mode,
    "invite": invite, "ban": masks, "unban": masks, "bans": masks, "register_room": masks, "search": search,
    "react": react, "edit": edit, "delete": edit, "dms": dms,
}
