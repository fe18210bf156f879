"""IRC (RFC 1459/2812 as modern clients speak it, and the IRCv3 capabilities selchat offers):
bytes in, the hub's commands out; the hub's events in, IRC lines out. Sans-I/O, like the JSON
codec: nothing here touches a socket or a clock.

Two halves, for speed. ``IrcWire`` renders what a whole room hears (a PRIVMSG, a JOIN, a topic)
and is shared by every connection with the same capabilities, so a broadcast is encoded once per
capability set, not once per person. ``IrcCodec`` is one connection: its parser, its registration,
its nick, and the replies only it gets (numerics name their recipient).
"""

from __future__ import annotations

import base64
import binascii
import calendar
import time
from typing import Any

from selchat import outbound as ev
from selchat.codec import LineSplitter
from selchat.config import HISTORY_PAGE_MAX, NAME_MAX, ROOM_MAX, TOPIC_MAX
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import (
    Authenticate,
    Away,
    Chat,
    Command,
    Dm,
    History,
    Join,
    JoinRoom,
    LeaveRoom,
    Lusers,
    Nick,
    Pong,
    Quit,
    Rooms,
    Topic,
    Users,
    Who,
    Whois,
)

SERVER = "selchat"  # the server name, unless the operator gives another (--irc-name)
HOST = "selchat"  # the host part of every user mask
VERSION = "selchat-0.2"
# RFC 1459: a line is at most 512 bytes with its CR LF; IRCv3 message-tags allows 4094 more bytes
# of client tags (8191 in all) in front of it.
LINE_MAX = 512
TAGS_MAX = 8191
CLIENT_TAGS_MAX = 4096
# The capabilities offered (IRCv3), with their values for CAP LS 302.
CAPS = {"away-notify": None, "batch": None, "draft/chathistory": None, "echo-message": None,
        "message-tags": None, "multi-prefix": None, "sasl": "PLAIN", "server-time": None,
        "userhost-in-names": None}
ISUPPORT = (
    f"CASEMAPPING=ascii CHANTYPES=# CHANLIMIT=#:20 NICKLEN={NAME_MAX} CHANNELLEN={ROOM_MAX + 1} "
    f"TOPICLEN={TOPIC_MAX} AWAYLEN={TOPIC_MAX} MAXTARGETS=1 NETWORK=selchat CHANMODES=,,,nt PREFIX= "
    f"STATUSMSG= UTF8ONLY CHATHISTORY={HISTORY_PAGE_MAX} MSGREFTYPES=msgid,timestamp"
)
ISUPPORT_TOKENS = ISUPPORT.split(" ")
SASL_CHUNK = 400  # AUTHENTICATE carries base64 in chunks of 400 bytes
SASL_MAX = 8192  # bytes of base64 in all: a name and the longest account password, with room
CTCP = "\x01"


def _time_tag(timestamp: float) -> str:
    millis = int(timestamp * 1000) % 1000
    return "time=" + time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp)) + f".{millis:03d}Z"


def msgid(timestamp: float) -> str:
    """A message's id: its timestamp in microseconds, which the hub makes unique, so an id found
    in a CHATHISTORY reference needs no lookup."""
    return str(round(timestamp * 1_000_000))


def parse_time(text: str) -> float | None:
    """An IRCv3 server-time value (2026-11-24T19:03:07.123Z) as a Unix timestamp."""
    head, dot, frac = text.rstrip("Z").partition(".")
    try:
        whole = time.strptime(head, "%Y-%m-%dT%H:%M:%S")
        fraction = float("0." + frac) if dot and frac.isdigit() else 0.0
    except ValueError:
        return None
    return calendar.timegm(whole) + fraction


def _flat(text: str) -> str:
    """One IRC line's worth of text: no CR, LF or NUL."""
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\0", "")


def mask(nick: str) -> str:
    return f"{nick}!{nick}@{HOST}"


def parse_line(line: str) -> tuple[dict[str, str], str, list[str]] | None:
    """(tags, command, params) of one IRC line, or None for an empty one."""
    tags: dict[str, str] = {}
    if line.startswith("@"):
        raw, _, line = line.partition(" ")
        for item in raw[1:].split(";"):
            key, _, value = item.partition("=")
            if key:
                tags[key] = value
    line = line.lstrip(" ")
    if line.startswith(":"):
        _, _, line = line.partition(" ")  # a prefix from a client is ignored
    trailing = None
    if " :" in line:
        line, _, trailing = line.partition(" :")
    elif line.startswith(":"):
        trailing, line = line[1:], ""
    words = [w for w in line.split(" ") if w]
    if not words:
        return None
    params = words[1:]
    if trailing is not None:
        params.append(trailing)
    return tags, words[0].upper(), params


def _reference(text: str, star: bool) -> tuple[float, float] | None:
    """A CHATHISTORY reference as (upper bound, lower bound), both exclusive: what lies before
    it and what lies after it. A msgid is exact; a timestamp has millisecond precision, so the
    messages "after" it start at the next millisecond. None for ``*`` where that is allowed."""
    if text == "*" and star:
        return None
    kind, _, value = text.partition("=")
    if kind == "msgid" and value.isdigit():
        stamp = int(value) / 1_000_000
        return stamp, stamp
    if kind == "timestamp":
        at = parse_time(value)
        if at is not None:
            return at, at + 0.000999
    raise ValueError(text)


class IrcWire:
    """What a room hears, rendered once per capability set."""

    _interned: dict[tuple[frozenset[str], str], IrcWire] = {}

    def __init__(self, caps: frozenset[str], server: str = SERVER) -> None:
        self.caps = caps
        self.server = server
        self.server_time = "server-time" in caps
        self.tags = "message-tags" in caps

    @classmethod
    def for_caps(cls, caps: frozenset[str], server: str = SERVER) -> IrcWire:
        wire = cls._interned.get((caps, server))
        if wire is None:
            wire = cls._interned[(caps, server)] = cls(caps, server)
        return wire

    def _out(self, source: str, rest: str, timestamp: float | None = None, batch: str | None = None,
             ident: bool = False) -> bytes:
        tags = []
        if batch is not None:
            tags.append(f"batch={batch}")
        if self.server_time and timestamp is not None:
            tags.append(_time_tag(timestamp))
        if ident and self.tags and timestamp is not None:
            tags.append(f"msgid={msgid(timestamp)}")
        head = f"@{';'.join(tags)} " if tags else ""
        return f"{head}:{source} {rest}\r\n".encode("utf-8", "replace")

    def message(self, sender: str, target: str, text: str, timestamp: float, action: bool, notice: bool,
                history: bool = False, batch: str | None = None) -> bytes:
        verb = "NOTICE" if notice else "PRIVMSG"
        text = _flat(text)
        if history and not self.server_time:
            text = f"[{time.strftime('%H:%M', time.localtime(timestamp))}] {text}"
        prefix = f"{verb} {target} :" + (f"{CTCP}ACTION " if action else "")
        suffix = CTCP if action else ""
        # keep each line within 512 bytes, as the recipient's client counts them
        room = LINE_MAX - len(f":{mask(sender)} {prefix}{suffix}\r\n".encode()) - 8
        out = []
        data = text.encode("utf-8", "replace")
        while True:
            piece = data[:room]
            while piece and len(piece) < len(data):  # do not cut a UTF-8 sequence in two
                try:
                    piece.decode("utf-8")
                    break
                except UnicodeDecodeError:
                    piece = piece[:-1]
            out.append(self._out(mask(sender), prefix + piece.decode("utf-8", "replace") + suffix, timestamp,
                                 batch, True))
            data = data[len(piece):]
            if not data or not piece:
                break
        return b"".join(out)

    def encode(self, event: ev.Event) -> bytes | None:
        kind = type(event)
        if kind is ev.Message:
            m: ev.Message = event  # type: ignore[assignment]
            return self.message(m.username, m.room, m.text, m.timestamp, m.action, m.notice, m.history)
        if kind is ev.UserJoined:
            j: ev.UserJoined = event  # type: ignore[assignment]
            return self._out(mask(j.username), f"JOIN {j.room}", j.timestamp)
        if kind is ev.UserLeft:
            left: ev.UserLeft = event  # type: ignore[assignment]
            if left.parted:
                reason = f" :{_flat(left.reason)}" if left.reason else ""
                return self._out(mask(left.username), f"PART {left.room}{reason}", left.timestamp)
            if left.again:
                return None  # QUIT is said once, whatever rooms were shared
            return self._out(mask(left.username), f"QUIT :{_flat(left.reason or 'Quit')}", left.timestamp)
        if kind is ev.TopicChanged:
            t: ev.TopicChanged = event  # type: ignore[assignment]
            return self._out(mask(t.by), f"TOPIC {t.room} :{_flat(t.topic)}", t.timestamp)
        if kind is ev.NickChanged:
            n: ev.NickChanged = event  # type: ignore[assignment]
            return self._out(mask(n.old), f"NICK {n.new}", n.timestamp)
        if kind is ev.AwayChanged:
            a: ev.AwayChanged = event  # type: ignore[assignment]
            if "away-notify" not in self.caps:
                return None
            return self._out(mask(a.username), f"AWAY :{_flat(a.message)}" if a.message else "AWAY")
        if kind is ev.Announcement:
            an: ev.Announcement = event  # type: ignore[assignment]
            return self._out(self.server, f"NOTICE * :{_flat(an.text)}", an.timestamp)
        if kind is ev.Shutdown:
            sd: ev.Shutdown = event  # type: ignore[assignment]
            return f"ERROR :{_flat(sd.text)}\r\n".encode()
        return None


# ProtocolError codes as IRC numerics: (numeric, the parameter it names, the text); a parameter of
# None names nothing. Codes not here become a NOTICE, and closing codes an ERROR.
NUMERICS: dict[ErrorCode, tuple[str, str | None]] = {
    ErrorCode.USERNAME_TAKEN: ("433", "nick"),
    ErrorCode.NAME_REGISTERED: ("433", "nick"),
    ErrorCode.INVALID_USERNAME: ("432", "nick"),
    ErrorCode.NO_SUCH_USER: ("401", "nick"),
    ErrorCode.NOT_IN_ROOM: ("442", "room"),
    ErrorCode.NO_SUCH_ROOM: ("403", "room"),
    ErrorCode.BAD_ROOM_NAME: ("403", "room"),
    ErrorCode.TOO_MANY_ROOMS: ("405", "room"),
    ErrorCode.EMPTY_MESSAGE: ("412", None),
    ErrorCode.MESSAGE_TOO_LONG: ("417", None),
    ErrorCode.FRAME_TOO_LARGE: ("417", None),
    ErrorCode.NOT_JOINED: ("451", None),
    ErrorCode.ALREADY_JOINED: ("462", None),
    ErrorCode.BAD_PASSWORD: ("464", None),
}


class IrcCodec:
    """One IRC connection."""

    kind = "irc"

    def __init__(self, max_frame: int, server: str = SERVER) -> None:
        self.max_frame = max(max_frame, TAGS_MAX + LINE_MAX)
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
        self._sasl_data = ""
        self.account: str | None = None
        self._batches = 0
        self.motd = ""

    # -- in -------------------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[Command | ProtocolError | bytes]:
        out: list[Command | ProtocolError | bytes] = []
        for raw in self._lines.feed(data):
            if type(raw) is not bytes:  # longer than max_frame: discarded
                out.append(self._numeric("417", "Input line was too long"))
                continue
            body = raw.split(b" ", 1)[1] if raw.startswith(b"@") and b" " in raw else raw
            # IRCv3 message-tags: a client's tags take at most 4096 bytes with the "@" and the space
            if len(body) + 2 > LINE_MAX or len(raw) - len(body) > CLIENT_TAGS_MAX or len(raw) + 2 > self.max_frame:
                out.append(self._numeric("417", "Input line was too long"))
                continue
            try:
                self._command(raw.decode("utf-8"), out)
            except UnicodeDecodeError:
                self._command(raw.decode("latin-1"), out)  # what older clients send; shown as is
        return out

    def _numeric(self, number: str, *params: str) -> bytes:
        *middle, last = params
        target = self.nick if self.registered and self.nick else "*"
        return f":{self.server} {number} {' '.join([target, *middle])} :{last}\r\n".encode("utf-8", "replace")

    def _command(self, line: str, out: list[Command | ProtocolError | bytes]) -> None:
        parsed = parse_line(line)
        if parsed is None:
            return
        _tags, verb, params = parsed
        handler = getattr(self, f"_cmd_{verb.lower()}", None) if verb.isalpha() else None
        if handler is None:
            if not self.registered:
                out.append(self._numeric("451", "You have not registered") if verb not in ("QUIT",) else Quit())
            else:
                out.append(self._numeric("421", verb, "Unknown command"))
            return
        # once registration is under way, what follows is handled in order after it (a client may
        # send JOIN right behind USER); if registration fails, the hub answers 451 for those
        if not (self.registered or self.registering) and verb not in (
                "CAP", "NICK", "USER", "PASS", "PING", "PONG", "QUIT", "AUTHENTICATE"):
            out.append(self._numeric("451", "You have not registered"))
            return
        handler(params, out)

    def _need(self, params: list[str], count: int, verb: str, out: list[Any]) -> bool:
        if len(params) >= count and all(params[:count]):
            return True
        out.append(self._numeric("461", verb, "Not enough parameters"))
        return False

    def _register(self, out: list[Any]) -> None:
        if self.registered or self.registering or self.negotiating or not self.nick or not self.user:
            return
        self.registering = True
        out.append(Join(self.nick, password=self.password, version=2, lobby=False, user=self.user,
                        realname=self.realname))

    def _cmd_cap(self, params: list[str], out: list[Any]) -> None:
        if not self._need(params, 1, "CAP", out):
            return
        sub = params[0].upper()
        target = self.nick or "*"
        if sub == "LS":
            if not self.registered:
                self.negotiating = True
            if len(params) > 1 and params[1].isdigit():
                self.cap_version = max(self.cap_version, int(params[1]))
            offered = [name if value is None or self.cap_version < 302 else f"{name}={value}"
                       for name, value in CAPS.items()]
            out.append(f":{self.server} CAP {target} LS :{' '.join(offered)}\r\n".encode())
        elif sub == "LIST":
            out.append(f":{self.server} CAP {target} LIST :{' '.join(sorted(self.caps))}\r\n".encode())
        elif sub == "REQ":
            if not self.registered:
                self.negotiating = True
            wanted = params[1].split() if len(params) > 1 else []
            names = [w.lstrip("-") for w in wanted]
            if wanted and all(n in CAPS for n in names):
                for w in wanted:
                    if w.startswith("-"):
                        self.caps.discard(w[1:])
                    else:
                        self.caps.add(w)
                self.wire = IrcWire.for_caps(frozenset(self.caps), self.server)
                out.append(f":{self.server} CAP {target} ACK :{' '.join(wanted)}\r\n".encode())
            else:
                out.append(f":{self.server} CAP {target} NAK :{' '.join(wanted)}\r\n".encode())
        elif sub == "END":
            self.negotiating = False
            self._register(out)
        else:
            out.append(self._numeric("410", params[0], "Invalid CAP command"))

    def _cmd_authenticate(self, params: list[str], out: list[Any]) -> None:
        """SASL PLAIN (IRCv3 sasl-3.1): the credentials go to the hub as an ``Authenticate``;
        900 and 903 follow its ``LoggedIn``, 904 its refusal."""
        if not self._need(params, 1, "AUTHENTICATE", out):
            return
        arg = params[0]
        if self.account is not None:
            out.append(self._numeric("907", "You have already authenticated using SASL"))
            return
        if arg == "*":
            if self.sasl == "plain":
                self.sasl, self._sasl_data = None, ""
                out.append(self._numeric("906", "SASL authentication aborted"))
            else:
                out.append(self._numeric("904", "SASL authentication failed: nothing to abort"))
            return
        if self.sasl is None:
            if arg.upper() != "PLAIN":
                out.append(self._numeric("908", "PLAIN", "are available SASL mechanisms"))
                out.append(self._numeric("904", "SASL authentication failed: only PLAIN is offered"))
                return
            self.sasl = "plain"
            out.append(b"AUTHENTICATE +\r\n")
            return
        if self.sasl == "checking":
            out.append(self._numeric("904", "SASL authentication failed: wait for the answer"))
            return
        if len(arg) > SASL_CHUNK:
            self.sasl, self._sasl_data = None, ""
            out.append(self._numeric("905", "SASL message too long"))
            return
        if arg != "+":
            self._sasl_data += arg
        if len(self._sasl_data) > SASL_MAX:
            self.sasl, self._sasl_data = None, ""
            out.append(self._numeric("904", "SASL authentication failed: the credentials are too long"))
            return
        if len(arg) == SASL_CHUNK:
            return  # more follows (a last chunk of exactly 400 bytes is followed by "+")
        data, self._sasl_data = self._sasl_data, ""
        try:
            authzid, authcid, password = base64.b64decode(data, validate=True).decode("utf-8").split("\0")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            self.sasl = None
            out.append(self._numeric("904", "SASL authentication failed: PLAIN wants authzid NUL authcid NUL password"))
            return
        if authzid and authzid.casefold() != authcid.casefold():
            self.sasl = None
            out.append(self._numeric("904", "SASL authentication failed: you can only log in as yourself"))
            return
        self.sasl = "checking"
        out.append(Authenticate(authcid, password))

    def _cmd_chathistory(self, params: list[str], out: list[Any]) -> None:
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
            out.append(f"FAIL CHATHISTORY INVALID_TARGET {sub} {_flat(target)} :only rooms keep history "
                       "here\r\n".encode("utf-8", "replace"))
            return
        try:
            limit = int(params[wanted - 1])
            refs = [_reference(r, sub == "LATEST") for r in params[2:wanted - 1]]
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

    def _cmd_pass(self, params: list[str], out: list[Any]) -> None:
        if self.registered or self.registering:
            out.append(self._numeric("462", "You may not reregister"))
        elif self._need(params, 1, "PASS", out):
            self.password = params[0]

    def _cmd_nick(self, params: list[str], out: list[Any]) -> None:
        if not params or not params[0]:
            out.append(self._numeric("431", "No nickname given"))
            return
        if self.registered:
            out.append(Nick(params[0]))
            return
        self.nick = params[0]
        if self.registering:  # the first try was refused (433): this is the next one
            self.registering = False
        self._register(out)

    def _cmd_user(self, params: list[str], out: list[Any]) -> None:
        if self.registered or self.registering:
            out.append(self._numeric("462", "You may not reregister"))
            return
        if self._need(params, 4, "USER", out):
            self.user = params[0]
            self.realname = params[3]
            self._register(out)

    def _cmd_ping(self, params: list[str], out: list[Any]) -> None:
        if self._need(params, 1, "PING", out):
            out.append(f":{self.server} PONG {self.server} :{params[0]}\r\n".encode("utf-8", "replace"))

    def _cmd_pong(self, params: list[str], out: list[Any]) -> None:
        out.append(Pong(params[0] if params else None))

    def _cmd_quit(self, params: list[str], out: list[Any]) -> None:
        out.append(b"ERROR :Closing link (quit)\r\n")
        out.append(Quit(params[0] if params else None))

    def _cmd_join(self, params: list[str], out: list[Any]) -> None:
        if not self._need(params, 1, "JOIN", out):
            return
        if params[0] == "0":
            out.extend(LeaveRoom(c) for c in list(self.channels))
            return
        for channel in params[0].split(","):
            if channel:
                out.append(JoinRoom(channel))

    def _cmd_part(self, params: list[str], out: list[Any]) -> None:
        if self._need(params, 1, "PART", out):
            reason = params[1] if len(params) > 1 else None
            out.extend(LeaveRoom(c, reason) for c in params[0].split(",") if c)

    def _message(self, params: list[str], out: list[Any], notice: bool) -> None:
        verb = "NOTICE" if notice else "PRIVMSG"
        if not params or not params[0]:
            if not notice:
                out.append(self._numeric("411", f"No recipient given ({verb})"))
            return
        if len(params) < 2 or not params[1]:
            if not notice:
                out.append(self._numeric("412", "No text to send"))
            return
        text = params[1]
        action = text.startswith(f"{CTCP}ACTION ")
        if action:
            text = text[8:].rstrip(CTCP)
        elif text.startswith(CTCP):
            return  # other CTCP (VERSION, PING ...) is not relayed
        echo = "echo-message" in self.caps
        for target in params[0].split(","):
            if target.startswith("#"):
                out.append(Chat(text, room=target, action=action, notice=notice, echo=echo))
            elif target:
                out.append(Dm(target, text, action=action, notice=notice))

    def _cmd_privmsg(self, params: list[str], out: list[Any]) -> None:
        self._message(params, out, notice=False)

    def _cmd_notice(self, params: list[str], out: list[Any]) -> None:
        self._message(params, out, notice=True)

    def _cmd_topic(self, params: list[str], out: list[Any]) -> None:
        if self._need(params, 1, "TOPIC", out):
            out.append(Topic(params[0], params[1] if len(params) > 1 else None))

    def _cmd_names(self, params: list[str], out: list[Any]) -> None:
        if not params:
            out.append(self._numeric("366", "*", "End of /NAMES list"))
            return
        out.extend(Users(c, tag="names") for c in params[0].split(",") if c)

    def _cmd_list(self, params: list[str], out: list[Any]) -> None:
        out.append(Rooms())

    def _cmd_who(self, params: list[str], out: list[Any]) -> None:
        if params and params[0].startswith("#"):
            out.append(Users(params[0], tag="who"))
        else:
            out.append(Who(params[0] if params and params[0] else "*"))

    def _cmd_whois(self, params: list[str], out: list[Any]) -> None:
        if not params:
            out.append(self._numeric("431", "No nickname given"))
            return
        out.append(Whois(params[-1]))

    def _cmd_userhost(self, params: list[str], out: list[Any]) -> None:
        if self._need(params, 1, "USERHOST", out):
            out.extend(Whois(nick, tag="userhost") for nick in params[:5])

    def _cmd_away(self, params: list[str], out: list[Any]) -> None:
        out.append(Away(params[0] if params and params[0] else None))

    def _cmd_lusers(self, params: list[str], out: list[Any]) -> None:
        out.append(Lusers())

    def _cmd_motd(self, params: list[str], out: list[Any]) -> None:
        out.extend(self._motd(self.motd))

    def _cmd_mode(self, params: list[str], out: list[Any]) -> None:
        if not self._need(params, 1, "MODE", out):
            return
        target = params[0]
        if target.startswith("#"):
            if len(params) > 1 and params[1] in ("b", "+b"):
                out.append(self._numeric("368", target, "End of channel ban list"))
            elif len(params) > 1:
                out.append(self._numeric("482", target, "Channel modes are fixed on selchat (+nt)"))
            else:
                out.append(self._numeric("324", target, "+nt"))
        elif self.nick and target.lower() == self.nick.lower():
            out.append(self._numeric("221", "+i"))
        else:
            out.append(self._numeric("502", "Can't change mode for other users"))

    # -- out ------------------------------------------------------------------------------------
    def encode(self, event: ev.Event) -> bytes | None:
        """An event for this connection alone (a reply, a private message, a replayed line)."""
        kind = type(event)
        if kind is ev.Welcome:
            return self._welcome(event)  # type: ignore[arg-type]
        if kind is ev.RoomJoined:
            r: ev.RoomJoined = event  # type: ignore[assignment]
            if r.room not in self.channels:
                self.channels.append(r.room)
            assert self.nick is not None
            return (self.wire._out(mask(self.nick), f"JOIN {r.room}")
                    + self._topic_lines(r.room, r.topic, r.topic_by, r.topic_at, quiet=True)
                    + self._names(r.room, r.users) + self._quiet_note(r.room, r.user_count))
        if kind is ev.RoomLeft:
            gone: ev.RoomLeft = event  # type: ignore[assignment]
            self.channels = [c for c in self.channels if c.lower() != gone.room.lower()]
            assert self.nick is not None
            reason = f" :{_flat(gone.reason)}" if gone.reason else ""
            return self.wire._out(mask(self.nick), f"PART {gone.room}{reason}")
        if kind is ev.HistoryBatch:
            return self._history(event)  # type: ignore[arg-type]
        if kind is ev.LoggedIn:
            self.sasl = None
            self.account = event.account  # type: ignore[union-attr]
            nick = self.nick or "*"
            return (self._numeric("900", f"{nick}!{nick}@{HOST}", self.account,
                                  f"You are now logged in as {self.account}")
                    + self._numeric("903", "SASL authentication successful"))
        if kind is ev.DirectMessage:
            d: ev.DirectMessage = event  # type: ignore[assignment]
            mine = self.nick is not None and d.sender.lower() == self.nick.lower()
            away = b""
            if mine and d.away and not d.notice and d.to.lower() != d.sender.lower():
                away = self._numeric("301", d.to, _flat(d.away))
            if mine and d.to.lower() != d.sender.lower() and "echo-message" not in self.caps:
                return away or None  # the sender's receipt: only with echo-message
            return away + self.wire.message(d.sender, d.to, d.text, d.timestamp, d.action, d.notice)
        if kind is ev.UserList:
            u: ev.UserList = event  # type: ignore[assignment]
            if u.tag in ("who", "whomask"):
                away = dict(u.away)
                info = u.info or tuple((n, n) for n in u.users)
                channel = u.room if u.tag == "who" else "*"
                lines = [self._numeric("352", channel, user, HOST, self.server, n, "G" if n in away else "H",
                                       f"0 {real}") for n, (user, real) in zip(u.users, info, strict=True)]
                return b"".join(lines) + self._numeric("315", u.room, "End of WHO list")
            return self._names(u.room, u.users)
        if kind is ev.RoomList:
            rl: ev.RoomList = event  # type: ignore[assignment]
            return (self._numeric("321", "Channel", "Users  Name")
                    + b"".join(self._numeric("322", r.room, str(r.users), _flat(r.topic)) for r in rl.rooms
                               if r.users)  # IRC channels exist while someone is in them
                    + self._numeric("323", "End of /LIST"))
        if kind is ev.TopicIs:
            ti: ev.TopicIs = event  # type: ignore[assignment]
            return self._topic_lines(ti.room, ti.topic, ti.by, ti.at, quiet=False)
        if kind is ev.UserInfo:
            if event.tag == "userhost":  # type: ignore[union-attr]
                ui: ev.UserInfo = event  # type: ignore[assignment]
                return self._numeric("302", f"{ui.username}={'-' if ui.away else '+'}{ui.user}@{HOST}")
            return self._whois(event)  # type: ignore[arg-type]
        if kind is ev.ServerStats:
            st: ev.ServerStats = event  # type: ignore[assignment]
            return self._lusers(st)
        if kind is ev.PongReply:
            return None
        if kind is ev.AwayChanged:
            a: ev.AwayChanged = event  # type: ignore[assignment]
            if self.nick is not None and a.username.lower() == self.nick.lower():
                return (self._numeric("306", "You have been marked as being away") if a.message
                        else self._numeric("305", "You are no longer marked as being away"))
            return self.wire.encode(event)
        if kind is ev.NickChanged:
            n: ev.NickChanged = event  # type: ignore[assignment]
            line = self.wire.encode(event)
            if self.nick is not None and n.old.lower() == self.nick.lower():
                self.nick = n.new
            return line
        if kind is ev.Registered:
            return self.wire._out(self.server, f"NOTICE {self.nick} :You are now logged in to the account "
                                          f"{event.account}")  # type: ignore[union-attr]
        return self.wire.encode(event)

    def _history(self, hb: ev.HistoryBatch) -> bytes | None:
        asked = hb.tag is not None and hb.tag.startswith("chathistory")
        if not asked and "draft/chathistory" in self.caps:
            return None  # such a client asks for what it wants (as Ergo does)
        wire = self.wire
        batch = None
        head = tail = b""
        if "batch" in self.caps and (asked or wire.server_time):
            self._batches += 1
            batch = str(self._batches)
            head = f":{self.server} BATCH +{batch} chathistory {hb.room}\r\n".encode()
            tail = f":{self.server} BATCH -{batch}\r\n".encode()
        body = b"".join(wire.message(m.username, m.room, m.text, m.timestamp, m.action, m.notice, True, batch)
                        for m in hb.messages)
        return head + body + tail

    def _welcome(self, w: ev.Welcome) -> bytes:
        self.registered = True
        self.registering = False
        self.nick = w.username
        self.channels = [w.room] if w.room else []
        self.motd = w.motd
        created = "This server speaks selchat's rooms as channels"
        lines = [
            self._numeric("001", f"Welcome to selchat, {w.username}"),
            self._numeric("002", f"Your host is {self.server}, running version {VERSION}"),
            self._numeric("003", created),
            self._numeric("004", self.server, VERSION, "i", "nt"),
            *(self._numeric("005", *ISUPPORT_TOKENS[i:i + 12], "are supported by this server")
              for i in range(0, len(ISUPPORT_TOKENS), 12)),  # at most 15 parameters a line
            *self._motd(w.motd),
        ]
        if w.room:
            lines += [self.wire._out(mask(w.username), f"JOIN {w.room}"),
                      self._topic_lines(w.room, w.topic, None, None, quiet=True), self._names(w.room, w.users),
                      self._quiet_note(w.room, w.user_count)]
        return b"".join(lines)

    def _quiet_note(self, room: str, count: int | None) -> bytes:
        """A large room's NAMES lists only you (as Twitch's do): say how many are there."""
        if count is None:
            return b""
        return self.wire._out(self.server, f"NOTICE {self.nick or '*'} :{room} has {count} users; joins and "
                                           "leaves are not shown in a room this large (/names lists everyone)")

    def _motd(self, motd: str) -> list[bytes]:
        if not motd:
            return [self._numeric("422", "MOTD File is missing")]
        return [self._numeric("375", f"- {self.server} Message of the day -"),
                *(self._numeric("372", f"- {_flat(line)}") for line in motd.splitlines()),
                self._numeric("376", "End of /MOTD command.")]

    def _topic_lines(self, room: str, topic: str, by: str | None, at: float | None, quiet: bool) -> bytes:
        if not topic:
            return b"" if quiet else self._numeric("331", room, "No topic is set")
        lines = self._numeric("332", room, _flat(topic))
        if by:
            lines += self._numeric("333", room, by, str(int(at or 0)))
        return lines

    def _names(self, room: str, users: tuple[str, ...]) -> bytes:
        lines = b""
        chunk: list[str] = []
        full = "userhost-in-names" in self.caps
        for name in users:
            chunk.append(mask(name) if full else name)
            if len(" ".join(chunk)) > 400:
                lines += self._numeric("353", "=", room, " ".join(chunk))
                chunk = []
        if chunk:
            lines += self._numeric("353", "=", room, " ".join(chunk))
        return lines + self._numeric("366", room, "End of /NAMES list")

    def _whois(self, info: ev.UserInfo) -> bytes:
        n = info.username
        lines = self._numeric("311", n, info.user or n, HOST, "*", info.realname or n)
        if info.rooms:
            lines += self._numeric("319", n, " ".join(info.rooms))
        lines += self._numeric("312", n, self.server, "selchat")
        if info.away:
            lines += self._numeric("301", n, _flat(info.away))
        if info.account:
            lines += self._numeric("330", n, info.account, "is logged in as")
        lines += self._numeric("317", n, str(int(info.idle)), "seconds idle")
        return lines + self._numeric("318", n, "End of /WHOIS list")

    def _lusers(self, st: ev.ServerStats) -> bytes:
        unknown = max(0, st.connections - st.users)
        return (self._numeric("251", f"There are {st.users} users and 0 invisible on 1 servers")
                + self._numeric("252", "0", "operator(s) online")
                + (self._numeric("253", str(unknown), "unknown connection(s)") if unknown else b"")
                + self._numeric("254", str(st.rooms), "channels formed")
                + self._numeric("255", f"I have {st.users} clients and 0 servers")
                + self._numeric("265", str(st.users), str(st.peak), f"Current local users {st.users}, max {st.peak}")
                + self._numeric("266", str(st.users), str(st.peak), f"Current global users {st.users}, max {st.peak}"))

    def error(self, exc: ProtocolError, command: Command | None = None) -> bytes:
        kind = type(command)
        if kind is Authenticate or (command is None and self.sasl == "checking" and exc.code in (
                ErrorCode.BAD_LOGIN, ErrorCode.TOO_MANY_LOGINS)):
            self.sasl = None
            if exc.code is ErrorCode.ALREADY_JOINED:
                return self._numeric("907", "You have already authenticated using SASL")
            return self._numeric("904", f"SASL authentication failed: {_flat(exc.message)}")
        if kind is History:
            sub = command.tag.split(" ")[1] if command.tag else "LATEST"  # type: ignore[union-attr]
            code = "INVALID_TARGET" if exc.code in (ErrorCode.NOT_IN_ROOM, ErrorCode.BAD_ROOM_NAME,
                                                    ErrorCode.NO_SUCH_ROOM) else "MESSAGE_ERROR"
            return (f"FAIL CHATHISTORY {code} {sub} {_flat(command.room)} :"  # type: ignore[union-attr]
                    f"{_flat(exc.message)}\r\n").encode("utf-8", "replace")
        if kind in (Chat, Dm) and command.notice and not exc.closes:  # type: ignore[union-attr]
            return b""  # NOTICE is never answered, not even with an error (RFC 2812 3.3.2)
        if kind is Users and command.tag == "names" and exc.code in (  # type: ignore[union-attr]
                ErrorCode.NO_SUCH_ROOM, ErrorCode.BAD_ROOM_NAME):
            return self._numeric("366", _flat(command.room or "*"), "End of /NAMES list")  # type: ignore[union-attr]
        if kind is Whois and exc.code is ErrorCode.NO_SUCH_USER:
            nick = _flat(command.username)  # type: ignore[union-attr]
            if command.tag == "userhost":  # type: ignore[union-attr]
                return self._numeric("302", "")
            return self._numeric("401", nick, _flat(exc.message)) + self._numeric("318", nick, "End of /WHOIS list")
        if exc.closes:
            return (self._numeric("464", "Password incorrect") if exc.code is ErrorCode.BAD_PASSWORD else b"") + \
                f"ERROR :Closing link: {_flat(exc.message)}\r\n".encode("utf-8", "replace")
        found = NUMERICS.get(exc.code)
        if exc.code is ErrorCode.NOT_IN_ROOM and type(command) is Chat:
            found = ("404", "room")  # ERR_CANNOTSENDTOCHAN
        if found is None:
            return self.wire._out(self.server, f"NOTICE {self.nick or '*'} :{_flat(exc.message)}")
        number, about = found
        params: list[str] = []
        if about == "nick":
            name = getattr(command, "username", None) or getattr(command, "to", None) or self.nick or "*"
            params.append(str(name))
            if exc.code in (ErrorCode.USERNAME_TAKEN, ErrorCode.NAME_REGISTERED, ErrorCode.INVALID_USERNAME) \
                    and not self.registered:
                self.registering = False  # the client will send another NICK
        elif about == "room":
            params.append(str(getattr(command, "room", None) or "*"))
        return self._numeric(number, *params, _flat(exc.message))

    def ping(self, ping_id: int) -> bytes:
        return f"PING :{ping_id}\r\n".encode()

    def refuse(self, exc: ProtocolError) -> bytes:
        return f"ERROR :Closing link: {_flat(exc.message)}\r\n".encode("utf-8", "replace")

    def welcomed(self, version: int) -> None:
        return None  # IRC has one version; its numerics came with the welcome

    def saw(self, event: ev.Event) -> None:
        """An event this connection heard through the shared wire that changes what it is."""
        if type(event) is ev.NickChanged and self.nick is not None and event.old.lower() == self.nick.lower():
            self.nick = event.new
