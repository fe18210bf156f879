"""IRC's CHATHISTORY (IRCv3 draft/chathistory), SEARCH (soju.im/search) and REDACT
(draft/message-redaction) as the hub's commands, and the pages that answer them, each one batch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from selchat import outbound as ev
from selchat.config import HISTORY_PAGE_MAX
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import DmHistory, Edit, History, HistoryTargets, Search
from selchat.query import PAGE_MAX
from selchat.wire.irc.lines import fit, parse_time, reference, time_tag

if TYPE_CHECKING:
    from selchat.wire.irc.codec import IrcCodec


def chathistory(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    """IRCv3 draft/chathistory over a room's stored messages or a conversation's; the reply is
    one batch."""
    sub = params[0].upper() if params else ""
    if sub == "TARGETS":
        targets(c, params, out)
        return
    if sub not in ("LATEST", "BEFORE", "AFTER", "AROUND", "BETWEEN"):
        out.append(f"FAIL CHATHISTORY INVALID_PARAMS {sub or '*'} :LATEST, BEFORE, AFTER, AROUND, "
                   "BETWEEN or TARGETS\r\n".encode())
        return
    wanted = 5 if sub == "BETWEEN" else 4
    if len(params) < wanted:
        out.append(f"FAIL CHATHISTORY INVALID_PARAMS {sub} :Not enough parameters\r\n".encode())
        return
    target = params[1]
    kind: Any = History if target.startswith("#") else DmHistory  # a nick: the conversation with them
    try:
        limit = int(params[wanted - 1])
        refs = [reference(r, sub == "LATEST") for r in params[2:wanted - 1]]
    except ValueError:
        out.append(f"FAIL CHATHISTORY INVALID_PARAMS {sub} :a reference is *, msgid=ID or "
                   "timestamp=TIME, and the limit a number\r\n".encode())
        return
    limit = max(1, min(limit, HISTORY_PAGE_MAX))
    tag = f"chathistory {sub} {target}"  # the batch names the target as it was asked for
    first = refs[0]
    if sub == "LATEST":
        cmd = kind(target, None, limit, None if first is None else first[1], False, tag=tag)
    elif sub == "BEFORE":
        cmd = kind(target, first[0], limit, tag=tag)  # type: ignore[index]
    elif sub == "AFTER":
        cmd = kind(target, None, limit, first[1], True, tag=tag)  # type: ignore[index]
    elif sub == "AROUND":
        cmd = kind(target, None, limit, around=first[0], tag=tag)  # type: ignore[index]
    else:
        a, b = first, refs[1]
        assert a is not None and b is not None
        if a[0] <= b[0]:
            cmd = kind(target, b[0], limit, a[1], True, tag=tag)
        else:
            cmd = kind(target, a[0], limit, b[1], False, tag=tag)
    out.append(cmd)


def _attrs(text: str) -> dict[str, str]:
    """``key=value;key=value`` with message-tags' escapes (soju.im/search's attributes)."""
    found = {}
    for pair in text.split(";"):
        key, _, value = pair.partition("=")
        if key:
            found[key.lower()] = (value.replace("\\s", " ").replace("\\:", ";").replace("\\r", "\r")
                                  .replace("\\n", "\n").replace("\\\\", "\\"))
    return found


def search(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    """soju.im/search: ``SEARCH text=...;from=NICK;in=TARGET;after=TIME;before=TIME;limit=N`` as
    the hub's Search, whose query these words make (query.py); the answer is one batch."""
    attrs = _attrs(params[0]) if params else {}
    words = [attrs.get("text", "")]
    if attrs.get("from"):
        words.append("from:" + attrs["from"])
    if attrs.get("in"):
        target = attrs["in"]
        words.append("in:" + (target if target.startswith("#") else "@" + target))
    for key in ("after", "before"):
        if attrs.get(key):
            stamp = parse_time(attrs[key].removeprefix("timestamp="))
            if stamp is None:
                out.append(f"FAIL SEARCH INVALID_PARAMS :{key} is a time: 2026-12-01T10:00:00.000Z\r\n".encode())
                return
            words.append(f"{key}:{stamp}")
    try:
        limit = max(1, min(int(attrs.get("limit", PAGE_MAX)), PAGE_MAX))
    except ValueError:
        out.append(b"FAIL SEARCH INVALID_PARAMS :limit is a number\r\n")
        return
    out.append(Search(" ".join(word for word in words if word), limit, tag="soju.im/search"))


def targets(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    """CHATHISTORY TARGETS timestamp=A timestamp=B LIMIT: rooms and conversations by latest message."""
    try:
        if len(params) < 4:
            raise ValueError("too few")
        early, late = sorted((reference(r, False) for r in params[1:3]), key=lambda ref: ref[0])  # type: ignore
        limit = max(1, min(int(params[3]), HISTORY_PAGE_MAX))
    except ValueError:
        out.append(b"FAIL CHATHISTORY INVALID_PARAMS TARGETS :TARGETS timestamp=TIME timestamp=TIME LIMIT\r\n")
        return
    out.append(HistoryTargets(early[1], late[0], limit))  # both ends exclusive, to the millisecond


# -- the answers: one batch each ----------------------------------------------------------------
def opened(c: IrcCodec, kind: str, wanted: bool = True) -> tuple[str | None, bytes, bytes]:
    """A batch of ``kind`` (its id, the BATCH + and - lines) for a client with the batch
    capability (and when ``wanted``); none, and empty lines, otherwise."""
    if "batch" not in c.caps or not wanted:
        return None, b"", b""
    c.batches += 1
    batch = str(c.batches)
    return batch, f":{c.server} BATCH +{batch} {kind}\r\n".encode(), f":{c.server} BATCH -{batch}\r\n".encode()



def room_page(c: IrcCodec, hb: ev.HistoryBatch) -> bytes | None:
    asked = hb.tag is not None and hb.tag.startswith("chathistory")
    if not asked and "draft/chathistory" in c.caps:
        return None  # such a client asks for what it wants (as Ergo does)
    wire = c.wire
    batch, head, tail = opened(c, f"chathistory {hb.room}", asked or wire.server_time)
    body = b"".join(wire.message(m.username, m.room, m.text, m.timestamp, m.action, m.notice, True, batch)
                    for m in hb.messages if not m.deleted)  # a redacted line is left out, as the spec allows
    return head + body + tail


# the hub's refusals of a REDACT, as the spec names them (and the target alone for INVALID_TARGET)
REDACT_CODES = {ErrorCode.UNKNOWN_MESSAGE: "UNKNOWN_MSGID", ErrorCode.NOT_YOURS: "REDACT_FORBIDDEN"}


def redact_refusal(c: IrcCodec, exc: ProtocolError, command: Any) -> bytes | None:
    """FAIL REDACT for a refused REDACT, also when the refusal comes later (after a read): then
    the error says what it is about (room, msgid)."""
    if exc.code not in REDACT_CODES and type(command) is not Edit:
        return None
    target, line = exc.about[:2] if len(exc.about) >= 2 else (
        getattr(command, "room", "*"), getattr(command, "shown", None) or str(getattr(command, "line", "*")))
    code = REDACT_CODES.get(exc.code)
    if code is None:
        return fit(f":{c.server} FAIL REDACT INVALID_TARGET {target} :{exc.message}")
    return fit(f":{c.server} FAIL REDACT {code} {target} {line} :{exc.message}")


def redact(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    """IRCv3 draft/message-redaction: ``REDACT #room MSGID [:reason]`` deletes a line (one's own,
    or any as the room's operator); the msgid is the line's time in microseconds."""
    if len(params) < 2:
        out.append(b"FAIL REDACT INVALID_TARGET * :REDACT #room msgid [:reason]\r\n")
        return
    target, msgid = params[0], params[1]
    line = int(msgid) if msgid.isdigit() and len(msgid) <= 19 else 0  # 0: no line has it (the room is checked first)
    out.append(Edit(target, line, None, params[2] if len(params) > 2 else None, tag="redact", shown=msgid))


def conversation_page(c: IrcCodec, hb: ev.DmHistoryBatch) -> bytes | None:
    """A conversation's page, asked for by CHATHISTORY on a nick: one batch, as a room's."""
    if hb.tag is None or not hb.tag.startswith("chathistory"):
        return None  # JSON's conversation pages: IRC asks for its own
    wire = c.wire
    asked = hb.tag.split(" ")[2] if hb.tag.count(" ") >= 2 else hb.peer
    batch, head, tail = opened(c, f"chathistory {asked}")
    body = b"".join(wire.message(d.sender, d.to, d.text, d.timestamp, d.action, d.notice, True, batch)
                    for d in hb.dms)
    return head + body + tail


def search_page(c: IrcCodec, sr: ev.SearchResults) -> bytes:
    """A search's hits as a soju.im/search batch of PRIVMSGs, oldest first (as soju sends them)."""
    if sr.failed is not None:
        return fit(f":{c.server} FAIL SEARCH INVALID_PARAMS :{sr.failed}")
    wire = c.wire
    batch, head, tail = opened(c, "soju.im/search")
    lines = []
    me = (c.nick or "").casefold()
    for hit in reversed(sr.hits):
        target = hit.room or (hit.peer if hit.username.casefold() == me else c.nick) or "*"
        lines.append(wire.message(hit.username, target, hit.text, hit.timestamp, hit.action, False, True, batch))
    return head + b"".join(lines) + tail


def target_list(c: IrcCodec, tl: ev.HistoryTargetList) -> bytes:
    """CHATHISTORY TARGETS: a draft/chathistory-targets batch of CHATHISTORY TARGETS lines."""
    c.batches += 1
    batch = str(c.batches)
    prefix = f"@batch={batch} " if "batch" in c.caps else ""
    lines = b"".join(fit(f"{prefix}:{c.server} CHATHISTORY TARGETS {name} {time_tag(at)[5:]}")
                     for name, at in tl.targets)
    if "batch" not in c.caps:
        return lines
    return (f":{c.server} BATCH +{batch} draft/chathistory-targets\r\n".encode() + lines
            + f":{c.server} BATCH -{batch}\r\n".encode())
