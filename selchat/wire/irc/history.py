"""IRC's CHATHISTORY (IRCv3 draft/chathistory): its subcommands and references as the hub's
``History``; the page comes back as one batch (replies.history)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from selchat.config import HISTORY_PAGE_MAX
from selchat.events import History
from selchat.wire.irc.lines import fit, flat, reference

if TYPE_CHECKING:
    from selchat.wire.irc.codec import IrcCodec


def chathistory(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    """IRCv3 draft/chathistory over a room's stored messages; the reply is one batch."""
    sub = params[0].upper() if params else ""
    if sub not in ("LATEST", "BEFORE", "AFTER", "AROUND", "BETWEEN"):
        out.append(f"FAIL CHATHISTORY INVALID_PARAMS {sub or '*'} :LATEST, BEFORE, AFTER, AROUND "
                   "or BETWEEN\r\n".encode())
        return
    wanted = 5 if sub == "BETWEEN" else 4
    if len(params) < wanted:
        out.append(f"FAIL CHATHISTORY INVALID_PARAMS {sub} :Not enough parameters\r\n".encode())
        return
    target = params[1]
    if not target.startswith("#"):
        out.append(fit(f"FAIL CHATHISTORY INVALID_TARGET {sub} {flat(target)} :only rooms keep history here"))
        return
    try:
        limit = int(params[wanted - 1])
        refs = [reference(r, sub == "LATEST") for r in params[2:wanted - 1]]
    except ValueError:
        out.append(f"FAIL CHATHISTORY INVALID_PARAMS {sub} :a reference is *, msgid=ID or "
                   "timestamp=TIME, and the limit a number\r\n".encode())
        return
    limit = max(1, min(limit, HISTORY_PAGE_MAX))
    tag = f"chathistory {sub}"
    first = refs[0]
    if sub == "LATEST":
        cmd = History(target, None, limit, None if first is None else first[1], False, tag=tag)
    elif sub == "BEFORE":
        cmd = History(target, first[0], limit, tag=tag)  # type: ignore[index]
    elif sub == "AFTER":
        cmd = History(target, None, limit, first[1], True, tag=tag)  # type: ignore[index]
    elif sub == "AROUND":
        cmd = History(target, None, limit, around=first[0], tag=tag)  # type: ignore[index]
    else:
        a, b = first, refs[1]
        assert a is not None and b is not None
        if a[0] <= b[0]:
            cmd = History(target, b[0], limit, a[1], True, tag=tag)
        else:
            cmd = History(target, a[0], limit, b[1], False, tag=tag)
    out.append(cmd)
