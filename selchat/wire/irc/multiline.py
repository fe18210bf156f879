"""IRCv3 draft/multiline: a client's BATCH of PRIVMSG lines gathered into one message, and one
message written out as such a batch, or line by line for a client without the capability.

A message is its text with LF between lines; where a client continued a line over several
PRIVMSGs (``draft/multiline-concat``), the offsets of those joins travel with it (``joins``), so
other multiline clients get the lines as they were sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from selchat.events import Chat, Dm
from selchat.wire.base import Labeled
from selchat.wire.irc.lines import MULTILINE_LINES, fit, msgid

if TYPE_CHECKING:
    from selchat.wire.irc.codec import IrcCodec
    from selchat.wire.irc.wire import IrcWire

CAP = "draft/multiline"
CONCAT = "draft/multiline-concat"


@dataclass(slots=True)
class Gathering:
    """A client's open multiline batch: its lines so far, sent as one message at BATCH -."""

    ref: str
    target: str
    label: str | None
    tags: str  # the client-only tags of the BATCH line, which the whole message carries
    verb: str = ""  # PRIVMSG or NOTICE, fixed by the first line
    parts: list[str] = field(default_factory=list)
    joins: list[int] = field(default_factory=list)  # where in the text a line was continued
    length: int = 0  # characters of the text so far, its line breaks counted
    size: int = 0  # and its bytes


def batch(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    """BATCH +ref draft/multiline target (opens) or BATCH -ref (sends what was gathered)."""
    ref = params[0] if params else ""
    if ref[:1] == "+" and len(ref) > 1:
        if c.gathering is not None:  # the open one is dropped; the new one's lines will be too
            c.gathering = None
            c.dropped_batch = ref[1:]
            _fail(c, out, "MULTILINE_INVALID", "A multiline batch is already open; both were dropped")
        elif CAP not in c.caps:
            _fail(c, out, "MULTILINE_INVALID", f"Ask for the {CAP} capability first")
        elif len(params) < 3 or params[1] != CAP or not params[2]:
            out.append(fit(f":{c.server} FAIL BATCH INVALID_TYPE :Only {CAP} batches with a target are taken"))
        else:
            c.gathering = Gathering(ref[1:], params[2], c.batch_label, c.client_tags)
        return
    gathering = c.gathering
    if ref[:1] != "-" or gathering is None or ref[1:] != gathering.ref:
        if ref[1:] != c.dropped_batch:  # the end of a batch already refused is not refused again
            _fail(c, out, "MULTILINE_INVALID", "There is no open batch by that reference")
        c.dropped_batch = None
        return
    c.gathering = None
    if not any(part.strip() for part in gathering.parts):
        _fail(c, out, "MULTILINE_INVALID", "A multiline message needs at least one line that is not blank")
        return
    inner: list[Any] = out
    if gathering.label:
        inner = []
        out.append(Labeled(gathering.label, inner))
    text = "\n".join(gathering.parts)
    notice = gathering.verb == "NOTICE"
    joins = tuple(gathering.joins)
    if gathering.target.startswith("#"):
        inner.append(Chat(text, room=gathering.target, notice=notice, echo="echo-message" in c.caps,
                          tags=gathering.tags, joins=joins))
    else:
        inner.append(Dm(gathering.target, text, notice=notice, tags=gathering.tags, joins=joins))


def line(c: IrcCodec, name: str, tags: dict[str, str], params: list[str], out: list[Any]) -> None:
    """One line tagged with the open batch's reference: a PRIVMSG or NOTICE to its target."""
    g = c.gathering
    if g is None:
        return None  # the rest of a batch already refused: dropped, as what was gathered was
    if tags.get("batch") != g.ref:
        return _drop(c, out, "MULTILINE_INVALID", "That line names a batch that is not the open one")
    if name not in ("PRIVMSG", "NOTICE") or (g.verb and name != g.verb):
        return _drop(c, out, "MULTILINE_INVALID", "A multiline batch holds PRIVMSGs or NOTICEs, not both")
    if len(params) < 2 or params[0].casefold() != g.target.casefold():
        target = params[0] if params else "*"
        return _drop(c, out, "MULTILINE_INVALID_TARGET", "Every line goes to the batch's target",
                     g.target, target)
    text = params[1]
    concat = CONCAT in tags
    if concat and not text:
        return _drop(c, out, "MULTILINE_INVALID", "A blank line cannot continue the one before it")
    g.verb = name
    if concat and g.parts:
        g.joins.append(g.length)
        g.parts[-1] += text
    else:
        if g.parts:  # the line break
            g.length += 1
            g.size += 1
        g.parts.append(text)
    g.length += len(text)
    g.size += len(text.encode())
    if len(g.parts) > MULTILINE_LINES:
        return _drop(c, out, "MULTILINE_MAX_LINES", "Too many lines in one message", str(MULTILINE_LINES))
    if g.size > c.max_message:
        return _drop(c, out, "MULTILINE_MAX_BYTES", "That message is too long", str(c.max_message))
    return None


def _drop(c: IrcCodec, out: list[Any], code: str, text: str, *params: str) -> None:
    assert c.gathering is not None
    c.dropped_batch = c.gathering.ref
    c.gathering = None
    _fail(c, out, code, text + "; nothing was sent", *params)


def _fail(c: IrcCodec, out: list[Any], code: str, text: str, *params: str) -> None:
    out.append(fit(" ".join([f":{c.server} FAIL BATCH {code}", *params]) + f" :{text}"))


# -- out ------------------------------------------------------------------------------------------
def pieces(text: str, joins: tuple[int, ...], room: int) -> list[tuple[str, bool]]:
    """The text as IRC lines of at most ``room`` bytes each: (the line, whether it continues the
    one before). A blank line stays (the batch carries it; the fallback skips it)."""
    out: list[tuple[str, bool]] = []
    start = 0
    for written_line in text.split("\n"):
        end = start + len(written_line)
        at, first = start, True
        for cut in [*sorted(j for j in set(joins) if start < j < end), end]:
            for chunk in _by_bytes(text[at:cut], room):
                out.append((chunk, not first))
                first = False
            at = cut
        start = end + 1
    return out


def _by_bytes(text: str, room: int) -> Iterator[str]:
    """``text`` in chunks of at most ``room`` UTF-8 bytes, never cutting a character in two."""
    data = text.encode()
    if len(data) <= room:
        yield text
        return
    while data:
        cut = min(room, len(data))
        while 0 < cut < len(data) and data[cut] & 0xC0 == 0x80:  # a continuation byte: back off
            cut -= 1
        cut = cut or room
        yield data[:cut].decode("utf-8", "replace")
        data = data[cut:]


def as_batch(wire: IrcWire, source: str, prefix: str, suffix: str, lines: list[tuple[str, bool]],
             timestamp: float, outer: str | None, tags: str, account: str | None, bot: bool) -> bytes:
    """One message as a draft/multiline batch: the tags that describe the whole message (msgid,
    time, account, the sender's own) on its BATCH line, each line tagged only with the batch."""
    ref = "m" + msgid(timestamp)
    target = prefix.split(" ", 2)[1]
    head = wire._out(source, f"BATCH +{ref} {CAP} {target}", timestamp, outer, True, tags, account, bot)
    body = b"".join(fit(f"@batch={ref}{';' + CONCAT if concat else ''} :{source} {prefix}{piece}{suffix}")
                    for piece, concat in lines)
    tail = fit(f"{'@batch=' + outer + ' ' if outer else ''}:{source} BATCH -{ref}")
    return head + body + tail
