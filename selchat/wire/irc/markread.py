"""IRCv3 draft/read-marker: MARKREAD in (set or ask), MARKREAD out (to the asker, each device of
the account, and on joining a room before its names), and its refusals as FAIL MARKREAD."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from selchat.answers import ReadMarker
from selchat.errors import ProtocolError
from selchat.events import MarkRead, in_time_range
from selchat.wire.irc.lines import fit, flat, parse_time

if TYPE_CHECKING:
    from selchat.wire.irc.codec import IrcCodec

CAP = "draft/read-marker"
USAGE = "MARKREAD target [timestamp=YYYY-MM-DDThh:mm:ss.sssZ]"


def markread(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    if not params:
        out.append(fit(f":{c.server} FAIL MARKREAD NEED_MORE_PARAMS :{USAGE}"))
        return
    target = params[0]
    if len(params) == 1:
        out.append(MarkRead(target))
        return
    value = params[1]
    at = parse_time(value[len("timestamp="):]) if value.startswith("timestamp=") else None
    if at is None or not in_time_range(at):  # "*" too: only the server says "never"
        out.append(fit(f":{c.server} FAIL MARKREAD INVALID_PARAMS {flat(target)} :{USAGE}"))
        return
    out.append(MarkRead(target, at))


def value(timestamp: float | None) -> str:
    """The marker as MARKREAD says it: timestamp=... to the millisecond, or * for never."""
    if timestamp is None:
        return "*"
    seconds, micros = divmod(round(timestamp * 1_000_000), 1_000_000)
    return "timestamp=" + time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros // 1000:03d}Z"


def marker(c: IrcCodec, m: ReadMarker) -> bytes | None:
    return fit(f":{c.server} MARKREAD {m.target} {value(m.timestamp)}") if CAP in c.caps else None


def on_join(c: IrcCodec, room: str, read: float | None) -> bytes:
    """The marker a JOIN brings, before the names (the spec asks for it before 366)."""
    return fit(f":{c.server} MARKREAD {room} {value(read)}") if CAP in c.caps else b""


def refusal(c: IrcCodec, exc: ProtocolError, command: Any) -> bytes | None:
    if type(command) is not MarkRead:
        return None
    return fit(f":{c.server} FAIL MARKREAD INVALID_PARAMS {flat(command.target)} :{flat(exc.message)}")
