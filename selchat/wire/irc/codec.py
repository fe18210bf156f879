"""One IRC connection (``IrcCodec``): its parser, its registration, its nick and capabilities.
The verbs are commands.py's table, the replies replies.py's, the room's lines the shared
``IrcWire``'s; this object holds the state they share and the face every codec shows."""

from __future__ import annotations

from typing import Any

from selchat import outbound as ev
from selchat.codec import LineSplitter
from selchat.config import MAX_MESSAGE
from selchat.errors import ProtocolError
from selchat.events import Command, Join
from selchat.wire.base import Labeled
from selchat.wire.irc import commands, multiline, replies
from selchat.wire.irc.lines import CLIENT_TAGS_MAX, LINE_MAX, SERVER, TAGS_MAX, fit, flat, has_batch, parse_line, tag
from selchat.wire.irc.wire import IrcWire


class IrcCodec:
    """One IRC connection."""

    kind = "irc"

    def __init__(self, max_frame: int, server: str = SERVER, max_message: int = MAX_MESSAGE) -> None:
        self.max_frame = max(max_frame, TAGS_MAX + LINE_MAX)
        self.max_message = max_message  # the hub's limit, which draft/multiline's max-bytes says
        self.server = server
        self._lines = LineSplitter(self.max_frame)
        self.caps: set[str] = set()
        self.wire = IrcWire.for_caps(frozenset(), server)
        self.realname: str | None = None
        self.negotiating = False  # CAP LS until CAP END holds registration back
        self.nick: str | None = None
        self.user: str | None = None
        self.password: str | None = None
        self.registering = False  # a Join was sent, the welcome not yet seen
        self.registered = False
        self.channels: list[str] = []
        self.cap_version = 301
        self.sasl: str | None = None  # "plain": waiting for the credentials; "checking": sent on
        self.sasl_data = ""
        self.account: str | None = None
        self.batches = 0
        self.motd = ""
        self.client_tags = ""  # the line being handled's "+" tags (commands.dispatch)
        self.bot = False  # its own +B
        self.gathering: multiline.Gathering | None = None  # an open draft/multiline batch
        self.batch_label: str | None = None  # the label of the BATCH line being handled
        self.dropped_batch: str | None = None  # a batch refused: its later lines are dropped unanswered

    # -- in -------------------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[Command | ProtocolError | bytes]:
        out: list[Command | ProtocolError | bytes] = []
        for raw in self._lines.feed(data):
            if type(raw) is not bytes:  # longer than max_frame: discarded
                out.append(self.numeric("417", "Input line was too long"))
                continue
            body = raw.split(b" ", 1)[1] if raw.startswith(b"@") and b" " in raw else raw
            if self._too_long(len(body), len(raw), out):
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:  # 005 says UTF8ONLY: refused, never relayed re-decoded
                out.append(self._invalid_utf8(raw))
                continue
            commands.dispatch(self, line, out)
        return out

    def message(self, text: str) -> list[Command | ProtocolError | bytes]:
        """One line that arrived whole and decoded (a WebSocket message): parsed as it is."""
        out: list[Command | ProtocolError | bytes] = []
        line = text.replace("\r", "").replace("\n", " ")
        body = line.split(" ", 1)[1] if line.startswith("@") and " " in line else line
        # the sizes IRC counts are bytes
        sizes = (len(body), len(line)) if line.isascii() else (len(body.encode()), len(line.encode()))
        if not self._too_long(*sizes, out):
            commands.dispatch(self, line, out)
        return out

    def _invalid_utf8(self, raw: bytes) -> bytes:
        """IRCv3 utf8-only: FAIL naming the command, which is read from the line's ASCII part."""
        parsed = parse_line(raw.decode("ascii", "replace"))
        command = parsed[1] if parsed is not None and parsed[1].isalpha() else "*"
        return fit(f":{self.server} FAIL {command} INVALID_UTF8 :That line was not UTF-8 text, which this"
                   " server takes only; set your client's encoding to UTF-8. Nothing was sent.")

    def _too_long(self, body: int, whole: int, out: list[Any]) -> bool:
        # IRCv3 message-tags: a client's tags take at most 4096 bytes with the "@" and the space
        if body + 2 > LINE_MAX or whole - body > CLIENT_TAGS_MAX or whole + 2 > self.max_frame:
            out.append(self.numeric("417", "Input line was too long"))
            return True
        return False

    def labeled(self, item: Labeled, data: bytes, more: bool) -> bytes:
        """The answers to a labeled line (IRCv3 labeled-response): ACK for none, the label on a
        lone line, else a labeled-response batch, opened as soon as answers span more than one
        turn (``more``) and closed with the last of them."""
        label = b"label=" + item.label.encode()
        lines = [line + b"\r\n" for line in data.split(b"\r\n") if line]
        if len(lines) == 2 and lines[0] == lines[1] and item.batch is None and not more:
            return lines[0] + tag(lines[1], label)  # a message to oneself: only the echo answers it
        if item.batch is None and not more and one_batch(lines):
            return tag(lines[0], label) + b"".join(lines[1:])  # a batch answers it: the label on its start
        if item.batch is None:
            if more and not lines:
                return b""  # nothing yet: the answers are still to come
            if not more and len(lines) <= 1:
                return tag(lines[0], label) if lines else b"@" + label + b" :" + self.server.encode() + b" ACK\r\n"
            if "batch" not in self.caps:
                return b"".join(lines)  # a batch needs the batch capability: the lines, untagged
            self.batches += 1
            item.batch = f"L{self.batches}"
            head = b"@" + label + f" :{self.server} BATCH +{item.batch} labeled-response\r\n".encode()
        else:
            head = b""
        inside = b"batch=" + item.batch.encode()
        body = b"".join(line if has_batch(line) else tag(line, inside) for line in lines)
        tail = b"" if more else f":{self.server} BATCH -{item.batch}\r\n".encode()
        return head + body + tail

    def numeric(self, number: str, *params: str) -> bytes:
        """A numeric reply to this connection: it names its recipient, so it is never shared."""
        *middle, last = params
        target = self.nick if self.registered and self.nick else "*"
        return fit(f":{self.server} {number} {' '.join([target, *middle])} :{last}")

    def register(self, out: list[Any]) -> None:
        """NICK and USER given and CAP negotiation over: the hub is asked for the name."""
        if self.registered or self.registering or self.negotiating or not self.nick or not self.user:
            return
        self.registering = True
        out.append(Join(self.nick, password=self.password, lobby=False, user=self.user,
                        realname=self.realname))

    # -- out ------------------------------------------------------------------------------------
    def encode(self, event: ev.Event) -> bytes | None:
        return replies.encode(self, event)

    def error(self, exc: ProtocolError, command: Command | None = None) -> bytes:
        return replies.error(self, exc, command)

    def ping(self, ping_id: int) -> bytes:
        return f"PING :{ping_id}\r\n".encode()

    def refuse(self, exc: ProtocolError) -> bytes:
        return fit(f"ERROR :Closing link: {flat(exc.message)}")

    def welcomed(self) -> None:
        return None  # IRC has one version; its numerics came with the welcome

    def saw(self, event: ev.Event) -> None:
        """An event this connection heard through the shared wire that changes what it is."""
        if type(event) is ev.NickChanged and self.nick is not None and event.old.lower() == self.nick.lower():
            self.nick = event.new


def one_batch(lines: list[bytes]) -> bool:
    """Whether these lines are one multiline message (its echo), which IRCv3 labeled-response
    labels on its BATCH + line rather than wrapping it in another batch (as ergo and irctest do)."""
    if len(lines) < 2:
        return False
    start = lines[0].split(b" ", 5)
    at = 2 if start[0].startswith(b"@") else 1
    if len(start) <= at + 2 or start[at] != b"BATCH" or start[at + 2] != b"draft/multiline":
        return False
    return lines[-1].rstrip(b"\r\n").endswith(b" BATCH -" + start[at + 1][1:])
