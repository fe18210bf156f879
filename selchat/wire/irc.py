"""IRC (RFC 1459/2812 as modern clients speak it, and the IRCv3 capabilities selchat offers):
bytes in, the hub's commands out; the hub's events in, IRC lines out. Sans-I/O, like the JSON
codec: nothing here touches a socket or a clock.

Two halves, for speed. ``IrcWire`` renders what a whole room hears (a PRIVMSG, a JOIN, a topic)
and is shared by every connection with the same capabilities, so a broadcast is encoded once per
capability set, not once per person. ``IrcCodec`` is one connection: its parser, its registration,
its nick, and the replies only it gets (numerics name their recipient).
"""

from __future__ import annotations

import time
from typing import Any

from selchat import outbound as ev
from selchat.config import NAME_MAX, ROOM_MAX, TOPIC_MAX
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import (
    Away,
    Chat,
    Command,
    Dm,
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
    Whois,
)

SERVER = "selchat"
VERSION = "selchat-0.2"
# RFC 1459: a line is at most 512 bytes with its CR LF; IRCv3 message-tags allows 4094 more bytes
# of client tags (8191 in all) in front of it.
LINE_MAX = 512
TAGS_MAX = 8191
# The capabilities offered (IRCv3). sasl and draft/chathistory are not offered yet.
CAPS = ("away-notify", "echo-message", "message-tags", "server-time")
ISUPPORT = (
    f"CASEMAPPING=ascii CHANTYPES=# CHANLIMIT=#:20 NICKLEN={NAME_MAX} CHANNELLEN={ROOM_MAX + 1} "
    f"TOPICLEN={TOPIC_MAX} AWAYLEN={TOPIC_MAX} MAXTARGETS=1 NETWORK=selchat CHANMODES=,,,nt PREFIX=() "
    "STATUSMSG= UTF8ONLY"
)
CTCP = "\x01"


def _time_tag(timestamp: float) -> str:
    millis = int(timestamp * 1000) % 1000
    return "time=" + time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp)) + f".{millis:03d}Z"


def _flat(text: str) -> str:
    """One IRC line's worth of text: no CR, LF or NUL."""
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\0", "")


def mask(nick: str) -> str:
    return f"{nick}!{nick}@{SERVER}"


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


class IrcWire:
    """What a room hears, rendered once per capability set."""

    _interned: dict[frozenset[str], IrcWire] = {}

    def __init__(self, caps: frozenset[str]) -> None:
        self.caps = caps
        self.server_time = "server-time" in caps

    @classmethod
    def for_caps(cls, caps: frozenset[str]) -> IrcWire:
        wire = cls._interned.get(caps)
        if wire is None:
            wire = cls._interned[caps] = cls(caps)
        return wire

    def _out(self, source: str, rest: str, timestamp: float | None = None) -> bytes:
        head = f"@{_time_tag(timestamp)} " if self.server_time and timestamp is not None else ""
        return f"{head}:{source} {rest}\r\n".encode("utf-8", "replace")

    def message(self, sender: str, target: str, text: str, timestamp: float, action: bool, notice: bool,
                history: bool = False) -> bytes:
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
            out.append(self._out(mask(sender), prefix + piece.decode("utf-8", "replace") + suffix, timestamp))
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
                return self._out(mask(left.username), f"PART {left.room}", left.timestamp)
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
            return self._out(SERVER, f"NOTICE * :{_flat(an.text)}", an.timestamp)
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

    def __init__(self, max_frame: int) -> None:
        self.max_frame = max(max_frame, TAGS_MAX + LINE_MAX)
        self._buf = b""
        self._discarding = False
        self.caps: set[str] = set()
        self.wire = IrcWire.for_caps(frozenset())
        self.negotiating = False  # CAP LS until CAP END holds registration back
        self.nick: str | None = None
        self.user: str | None = None
        self.password: str | None = None
        self.registering = False  # a Join was sent, the welcome not yet seen
        self.registered = False
        self.channels: list[str] = []

    # -- in -------------------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[Command | ProtocolError | bytes]:
        out: list[Command | ProtocolError | bytes] = []
        buf = self._buf + data
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                break
            raw, buf = buf[:nl], buf[nl + 1 :]
            if self._discarding:
                self._discarding = False
                continue
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            body = raw.split(b" ", 1)[1] if raw.startswith(b"@") and b" " in raw else raw
            if len(body) + 2 > LINE_MAX or len(raw) + 2 > self.max_frame:
                out.append(self._numeric("417", "Input line was too long"))
                continue
            try:
                self._command(raw.decode("utf-8"), out)
            except UnicodeDecodeError:
                self._command(raw.decode("latin-1"), out)  # what older clients send; shown as is
        if len(buf) > self.max_frame:
            buf = b""
            self._discarding = True
            out.append(self._numeric("417", "Input line was too long"))
        self._buf = buf
        return out

    def _numeric(self, number: str, *params: str) -> bytes:
        *middle, last = params
        target = self.nick if self.registered and self.nick else "*"
        return f":{SERVER} {number} {' '.join([target, *middle])} :{last}\r\n".encode("utf-8", "replace")

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
                "CAP", "NICK", "USER", "PASS", "PING", "PONG", "QUIT"):
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
        out.append(Join(self.nick, password=self.password, version=2))

    def _cmd_cap(self, params: list[str], out: list[Any]) -> None:
        if not self._need(params, 1, "CAP", out):
            return
        sub = params[0].upper()
        target = self.nick or "*"
        if sub == "LS":
            if not self.registered:
                self.negotiating = True
            out.append(f":{SERVER} CAP {target} LS :{' '.join(CAPS)}\r\n".encode())
        elif sub == "LIST":
            out.append(f":{SERVER} CAP {target} LIST :{' '.join(sorted(self.caps))}\r\n".encode())
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
                self.wire = IrcWire.for_caps(frozenset(self.caps))
                out.append(f":{SERVER} CAP {target} ACK :{' '.join(wanted)}\r\n".encode())
            else:
                out.append(f":{SERVER} CAP {target} NAK :{' '.join(wanted)}\r\n".encode())
        elif sub == "END":
            self.negotiating = False
            self._register(out)
        else:
            out.append(self._numeric("410", params[0], "Invalid CAP command"))

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
            self._register(out)

    def _cmd_ping(self, params: list[str], out: list[Any]) -> None:
        if self._need(params, 1, "PING", out):
            out.append(f":{SERVER} PONG {SERVER} :{params[0]}\r\n".encode("utf-8", "replace"))

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
            out.extend(LeaveRoom(c) for c in params[0].split(",") if c)

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
            out.append(self._numeric("315", params[0] if params else "*", "End of WHO list"))

    def _cmd_whois(self, params: list[str], out: list[Any]) -> None:
        if not params:
            out.append(self._numeric("431", "No nickname given"))
            return
        out.append(Whois(params[-1]))

    def _cmd_away(self, params: list[str], out: list[Any]) -> None:
        out.append(Away(params[0] if params and params[0] else None))

    def _cmd_lusers(self, params: list[str], out: list[Any]) -> None:
        out.append(Lusers())

    def _cmd_motd(self, params: list[str], out: list[Any]) -> None:
        out.append(self._numeric("422", "MOTD File is missing"))

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
                    + self._names(r.room, r.users))
        if kind is ev.RoomLeft:
            gone: ev.RoomLeft = event  # type: ignore[assignment]
            self.channels = [c for c in self.channels if c.lower() != gone.room.lower()]
            assert self.nick is not None
            return self.wire._out(mask(self.nick), f"PART {gone.room}")
        if kind is ev.HistoryEnd:
            return None
        if kind is ev.DirectMessage:
            d: ev.DirectMessage = event  # type: ignore[assignment]
            mine = self.nick is not None and d.sender.lower() == self.nick.lower()
            if mine and d.to.lower() != d.sender.lower() and "echo-message" not in self.caps:
                return None  # the sender's receipt: only with echo-message
            return self.wire.message(d.sender, d.to, d.text, d.timestamp, d.action, d.notice)
        if kind is ev.UserList:
            u: ev.UserList = event  # type: ignore[assignment]
            if u.tag == "who":
                away = dict(u.away)
                lines = [self._numeric("352", u.room, n, SERVER, SERVER, n, "G" if n in away else "H",
                                       f"0 {n}") for n in u.users]
                return b"".join(lines) + self._numeric("315", u.room, "End of WHO list")
            return self._names(u.room, u.users)
        if kind is ev.RoomList:
            rl: ev.RoomList = event  # type: ignore[assignment]
            return (self._numeric("321", "Channel", "Users  Name")
                    + b"".join(self._numeric("322", r.room, str(r.users), _flat(r.topic)) for r in rl.rooms)
                    + self._numeric("323", "End of /LIST"))
        if kind is ev.TopicIs:
            ti: ev.TopicIs = event  # type: ignore[assignment]
            return self._topic_lines(ti.room, ti.topic, ti.by, ti.at, quiet=False)
        if kind is ev.UserInfo:
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
            return self.wire._out(SERVER, f"NOTICE {self.nick} :You are now logged in to the account "
                                          f"{event.account}")  # type: ignore[union-attr]
        return self.wire.encode(event)

    def _welcome(self, w: ev.Welcome) -> bytes:
        self.registered = True
        self.registering = False
        self.nick = w.username
        self.channels = [w.room]
        created = "This server speaks selchat's rooms as channels"
        lines = [
            self._numeric("001", f"Welcome to selchat, {w.username}"),
            self._numeric("002", f"Your host is {SERVER}, running version {VERSION}"),
            self._numeric("003", created),
            self._numeric("004", SERVER, VERSION, "i", "nt", "-"),
            self._numeric("005", *ISUPPORT.split(" "), "are supported by this server"),
            self._numeric("422", "MOTD File is missing"),
            self.wire._out(mask(w.username), f"JOIN {w.room}"),
            self._topic_lines(w.room, w.topic, None, None, quiet=True),
            self._names(w.room, w.users),
        ]
        return b"".join(lines)

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
        for name in users:
            chunk.append(name)
            if len(" ".join(chunk)) > 400:
                lines += self._numeric("353", "=", room, " ".join(chunk))
                chunk = []
        if chunk:
            lines += self._numeric("353", "=", room, " ".join(chunk))
        return lines + self._numeric("366", room, "End of /NAMES list")

    def _whois(self, info: ev.UserInfo) -> bytes:
        n = info.username
        lines = self._numeric("311", n, n, SERVER, "*", n)
        if info.rooms:
            lines += self._numeric("319", n, " ".join(info.rooms))
        lines += self._numeric("312", n, SERVER, "selchat")
        if info.away:
            lines += self._numeric("301", n, _flat(info.away))
        if info.account:
            lines += self._numeric("330", n, info.account, "is logged in as")
        lines += self._numeric("317", n, str(int(info.idle)), "seconds idle")
        return lines + self._numeric("318", n, "End of /WHOIS list")

    def _lusers(self, st: ev.ServerStats) -> bytes:
        return (self._numeric("251", f"There are {st.users} users and 0 invisible on 1 servers")
                + self._numeric("252", "0", "operator(s) online")
                + self._numeric("253", str(max(0, st.connections - st.users)), "unknown connection(s)")
                + self._numeric("254", str(st.rooms), "channels formed")
                + self._numeric("255", f"I have {st.connections} clients and 0 servers"))

    def error(self, exc: ProtocolError, command: Command | None = None) -> bytes:
        if exc.closes:
            return (self._numeric("464", "Password incorrect") if exc.code is ErrorCode.BAD_PASSWORD else b"") + \
                f"ERROR :Closing link: {_flat(exc.message)}\r\n".encode("utf-8", "replace")
        found = NUMERICS.get(exc.code)
        if exc.code is ErrorCode.NOT_IN_ROOM and type(command) is Chat:
            found = ("404", "room")  # ERR_CANNOTSENDTOCHAN
        if found is None:
            return self.wire._out(SERVER, f"NOTICE {self.nick or '*'} :{_flat(exc.message)}")
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

    def saw(self, event: ev.Event) -> None:
        """An event this connection heard through the shared wire that changes what it is."""
        if type(event) is ev.NickChanged and self.nick is not None and event.old.lower() == self.nick.lower():
            self.nick = event.new
