"""IRC's replies: what one connection alone is told, by the type of the hub's event (a table,
as the wire's), the numerics they are made of, and errors as numerics, FAIL or ERROR."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from selchat import outbound as ev
from selchat.errors import JOIN_FIRST, LOG_IN_TO_IT, ErrorCode, ProtocolError
from selchat.events import (
    Authenticate,
    Away,
    Chat,
    Command,
    Dm,
    History,
    Invite,
    JoinRoom,
    Kick,
    Kill,
    Nick,
    Register,
    Search,
    SetMode,
    Setname,
    TagMsg,
    Topic,
    Users,
    Whois,
)
from selchat.wire.irc import history, markread
from selchat.wire.irc.lines import HOST, ISUPPORT_TOKENS, NUMERICS, VERSION, fit, flat, mask

if TYPE_CHECKING:
    from selchat.wire.irc.codec import IrcCodec


# Errors IRC says only as standard replies (their specifications define these codes), and the
# verb each command is in IRC, which a FAIL names.
STANDARD_ONLY = {ErrorCode.BAD_REALNAME: "INVALID_REALNAME", ErrorCode.BAD_SEARCH: "INVALID_PARAMS",
                 ErrorCode.SEARCH_OFF: "TEMPORARILY_UNAVAILABLE"}
VERBS: dict[type, str] = {Setname: "SETNAME", SetMode: "MODE", Topic: "TOPIC", JoinRoom: "JOIN", Nick: "NICK",
                          Kick: "KICK", Invite: "INVITE", Chat: "PRIVMSG", Dm: "PRIVMSG", TagMsg: "TAGMSG",
                          Away: "AWAY", History: "CHATHISTORY", Whois: "WHOIS", Users: "NAMES", Kill: "KILL",
                          Search: "SEARCH"}

# The hub's protocol-neutral words as IRC says them (errors.py: JOIN_FIRST and the rest).
IRC_PHRASES = {JOIN_FIRST: "You have not registered"}


def encode(c: IrcCodec, event: ev.Event) -> bytes | None:
    """An event for this connection alone (a reply, a private message, a replayed line)."""
    reply = REPLIES.get(type(event))
    return reply(c, event) if reply is not None else c.wire.encode(event)


def room_joined(c: IrcCodec, r: ev.RoomJoined) -> bytes:
    if r.room not in c.channels:
        c.channels.append(r.room)
    assert c.nick is not None
    join = f"JOIN {r.room} {c.account or '*'} :{flat(c.realname or c.nick)}" if c.wire.extended_join \
        else f"JOIN {r.room}"
    listed = b"" if "no-implicit-names" in c.caps else names(c, r.room, r.users, roles=r.roles, secret=r.secret)
    return (c.wire._out(mask(c.nick), join) + topic_lines(c, r.room, r.topic, r.topic_by, r.topic_at, quiet=True)
            + markread.on_join(c, r.room, r.read) + listed + quiet_note(c, r.room, r.user_count))


def room_left(c: IrcCodec, gone: ev.RoomLeft) -> bytes | None:
    c.channels = [room for room in c.channels if room.lower() != gone.room.lower()]
    if gone.kicked_by:
        return None  # the room's KICK said it
    assert c.nick is not None
    reason = f" :{flat(gone.reason)}" if gone.reason else ""
    return c.wire._out(mask(c.nick), f"PART {gone.room}{reason}")


def logged_in(c: IrcCodec, event: ev.LoggedIn) -> bytes:
    c.sasl = None
    c.account = event.account
    nick = c.nick or "*"
    return (c.numeric("900", f"{nick}!{nick}@{HOST}", c.account, f"You are now logged in as {c.account}")
            + c.numeric("903", "SASL authentication successful"))


def direct(c: IrcCodec, d: ev.DirectMessage) -> bytes | None:
    mine = c.nick is not None and d.sender.lower() == c.nick.lower()
    away = b""
    if mine and d.away and not d.notice and d.to.lower() != d.sender.lower():
        away = c.numeric("301", d.to, flat(d.away))
    echo = "echo-message" in c.caps or d.own  # another device's line is shown as one's own
    if mine and d.to.lower() != d.sender.lower() and not echo:
        return away or None  # the sender's receipt: only with echo-message
    line = c.wire.message(d.sender, d.to, d.text, d.timestamp, d.action, d.notice, tags=d.tags, account=d.account,
                          bot=d.bot, joins=d.joins)
    if mine and echo and d.to.lower() == d.sender.lower():
        return line + line  # to oneself: the delivery, and the echo (codec.labeled labels the echo)
    return away + line


def user_list(c: IrcCodec, u: ev.UserList) -> bytes:
    """One part of NAMES or WHO: 366 or 315 ends the last part only."""
    kind, spaced, whox = (u.tag or "").partition(" ")
    if kind not in ("who", "whomask"):
        if spaced:  # one of several rooms' NAMES: only the last ends, naming them all
            return names(c, u.room, u.users, end=not u.more and bool(whox), roles=u.roles, secret=u.secret,
                         ended=whox)
        return names(c, u.room, u.users, end=not u.more, roles=u.roles, secret=u.secret)
    away = dict(u.away)
    info = u.info or tuple((n, n) for n in u.users)
    channel = u.room if kind == "who" else "*"
    prefix = prefixes(c, u.roles)
    opers = set(u.opers)  # "*": a server operator, between the away flag and the room role
    bots = set(u.bots)

    def flags(n: str) -> str:
        return ("G" if n in away else "H") + ("*" if n in opers else "") + prefix.get(n, "") + \
            ("B" if n in bots else "")
    if whox:
        extra = u.extra or tuple(("", "", 0) for _ in u.users)
        lines = [whox_row(c, whox, channel, n, user, real, flags(n), more)
                 for n, (user, real), more in zip(u.users, info, extra, strict=True)]
    else:
        lines = [c.numeric("352", channel, user, HOST, c.server, n, flags(n), f"0 {real}")
                 for n, (user, real) in zip(u.users, info, strict=True)]
    return b"".join(lines) + (b"" if u.more else c.numeric("315", u.room, "End of WHO list"))


WHOX_ORDER = "tcuihsnfdlaor"  # the fields of a 354, always in this order (ircu's WHOX)


def whox_row(c: IrcCodec, asked: str, channel: str, nick: str, user: str, real: str, flags: str,
             extra: tuple[str, str, int]) -> bytes:
    """One 354: the fields asked for (%tcuihsnfdlaor), the token after a comma."""
    fields, _, token = asked[1:].partition(",")
    account, address, idle = extra
    values = {"t": token or "0", "c": channel, "u": user, "i": address or "255.255.255.255", "h": HOST,
              "s": c.server, "n": nick, "f": flags, "d": "0", "l": str(idle), "a": account or "0",
              "o": "n/a", "r": real}
    row = [values[f] for f in WHOX_ORDER if f in fields]
    return c.numeric("354", *row) if row else b""


def room_list(c: IrcCodec, rl: ev.RoomList) -> bytes:
    """One part of LIST: 321 starts the first, 323 ends the last."""
    return ((c.numeric("321", "Channel", "Users  Name") if rl.first else b"")
            + b"".join(c.numeric("322", r.room, str(r.users), flat(r.topic)) for r in rl.rooms
                       if r.users)  # IRC channels exist while someone is in them
            + (b"" if rl.more else c.numeric("323", "End of /LIST")))


def topic_is(c: IrcCodec, ti: ev.TopicIs) -> bytes:
    return topic_lines(c, ti.room, ti.topic, ti.by, ti.at, quiet=False)


def user_info(c: IrcCodec, ui: ev.UserInfo) -> bytes:
    if ui.tag == "userhost":
        return c.numeric("302", f"{ui.username}={'-' if ui.away else '+'}{ui.user}@{HOST}")
    return whois(c, ui)


def away_changed(c: IrcCodec, a: ev.AwayChanged) -> bytes | None:
    if c.nick is not None and a.username.lower() == c.nick.lower():
        return (c.numeric("306", "You have been marked as being away") if a.message
                else c.numeric("305", "You are no longer marked as being away"))
    return c.wire.encode(a)


def nick_changed(c: IrcCodec, n: ev.NickChanged) -> bytes | None:
    line = c.wire.encode(n)
    if c.nick is not None and n.old.lower() == c.nick.lower():
        c.nick = n.new
    return line


def registered(c: IrcCodec, r: ev.Registered) -> bytes:
    c.account = r.account
    if "draft/account-registration" in c.caps:  # REGISTER's own answer, then logged in (900)
        nick = c.nick or "*"
        return (fit(f":{c.server} REGISTER SUCCESS {r.account} :Account created")
                + c.numeric("900", f"{nick}!{nick}@{HOST}", r.account, f"You are now logged in as {r.account}"))
    return c.wire._out(c.server, f"NOTICE {c.nick} :You are now logged in to the account {r.account}")


# REGISTER's refusals as draft/account-registration names them
REGISTER_CODES = {ErrorCode.WEAK_PASSWORD: "WEAK_PASSWORD", ErrorCode.NAME_REGISTERED: "ACCOUNT_EXISTS",
                  ErrorCode.ALREADY_REGISTERED: "ALREADY_AUTHENTICATED",
                  ErrorCode.RATE_LIMITED: "TEMPORARILY_UNAVAILABLE",
                  ErrorCode.TOO_MANY_REGISTRATIONS: "TEMPORARILY_UNAVAILABLE"}


def nothing(c: IrcCodec, event: Any) -> None:
    return None


def welcome(c: IrcCodec, w: ev.Welcome) -> bytes:
    c.registered = True
    c.registering = False
    c.nick = w.username
    c.channels = [w.room] if w.room else []
    c.motd = w.motd
    created = "This server speaks selchat's rooms as channels"
    lines = [
        c.numeric("001", f"Welcome to selchat, {w.username}"),
        c.numeric("002", f"Your host is {c.server}, running version {VERSION}"),
        c.numeric("003", created),
        c.numeric("004", c.server, VERSION, "io", "beIiklmnostv", "beIklov"),
        *(c.numeric("005", *ISUPPORT_TOKENS[i:i + 12], "are supported by this server")
          for i in range(0, len(ISUPPORT_TOKENS), 12)),  # at most 15 parameters a line
        *motd(c, w.motd),
    ]
    if w.room:
        lines += [c.wire._out(mask(w.username), f"JOIN {w.room}"),
                  topic_lines(c, w.room, w.topic, None, None, quiet=True), names(c, w.room, w.users),
                  quiet_note(c, w.room, w.user_count)]
    return b"".join(lines)


def quiet_note(c: IrcCodec, room: str, count: int | None) -> bytes:
    """A large room's NAMES lists only you (as Twitch's do): say how many are there."""
    if count is None:
        return b""
    return c.wire._out(c.server, f"NOTICE {c.nick or '*'} :{room} has {count} users; joins and "
                                       "leaves are not shown in a room this large (/names lists everyone)")


def motd(c: IrcCodec, motd: str) -> list[bytes]:
    if not motd:
        return [c.numeric("422", "MOTD File is missing")]
    return [c.numeric("375", f"- {c.server} Message of the day -"),
            *(c.numeric("372", f"- {flat(line)}") for line in motd.splitlines()),
            c.numeric("376", "End of /MOTD command.")]


def topic_lines(c: IrcCodec, room: str, topic: str, by: str | None, at: float | None, quiet: bool) -> bytes:
    if not topic:
        return b"" if quiet else c.numeric("331", room, "No topic is set")
    lines = c.numeric("332", room, flat(topic))
    if by:
        lines += c.numeric("333", room, by, str(int(at or 0)))
    return lines


PREFIXES = {"o": "@", "v": "+"}


def prefixes(c: IrcCodec, roles: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """Each member's prefix: the highest, or all of them with multi-prefix (``@+bob``)."""
    every = "multi-prefix" in c.caps
    return {name: "".join(PREFIXES[letter] for letter in (letters if every else letters[0])) for name, letters in roles}


def names(c: IrcCodec, room: str, users: tuple[str, ...], end: bool = True,
          roles: tuple[tuple[str, str], ...] = (), secret: bool = False, ended: str = "") -> bytes:
    lines = b""
    chunk: list[str] = []
    full = "userhost-in-names" in c.caps
    prefix = prefixes(c, roles)
    for name in users:
        chunk.append(prefix.get(name, "") + (mask(name) if full else name))
        if len(" ".join(chunk)) > 400:
            lines += c.numeric("353", "@" if secret else "=", room, " ".join(chunk))
            chunk = []
    if chunk:
        lines += c.numeric("353", "@" if secret else "=", room, " ".join(chunk))
    return lines + (c.numeric("366", ended or room, "End of /NAMES list") if end else b"")


def whois(c: IrcCodec, info: ev.UserInfo) -> bytes:
    n = info.username
    lines = c.numeric("311", n, info.user or n, HOST, "*", info.realname or n)
    if info.rooms:
        prefix = {room: PREFIXES[letter] for room, letter in info.roles}
        lines += c.numeric("319", n, " ".join(prefix.get(room, "") + room for room in info.rooms))
    lines += c.numeric("312", n, c.server, "selchat")
    if info.oper:
        lines += c.numeric("313", n, "is an IRC operator")
    if info.bot:
        lines += c.numeric("335", n, "is a bot")
    if info.address:  # to a server operator only
        lines += c.numeric("338", n, info.address, "actually using host")
    if info.away:
        lines += c.numeric("301", n, flat(info.away))
    if info.account:
        lines += c.numeric("330", n, info.account, "is logged in as")
    lines += c.numeric("317", n, str(int(info.idle)), str(int(info.signon)), "seconds idle, signon time")
    return lines + c.numeric("318", n, "End of /WHOIS list")


def lusers(c: IrcCodec, st: ev.ServerStats) -> bytes:
    unknown = max(0, st.connections - st.users)
    return (c.numeric("251", f"There are {st.users} users and 0 invisible on 1 servers")
            + c.numeric("252", "0", "operator(s) online")
            + (c.numeric("253", str(unknown), "unknown connection(s)") if unknown else b"")
            + c.numeric("254", str(st.rooms), "channels formed")
            + c.numeric("255", f"I have {st.users} clients and 0 servers")
            + c.numeric("265", str(st.users), str(st.peak), f"Current local users {st.users}, max {st.peak}")
            + c.numeric("266", str(st.users), str(st.peak), f"Current global users {st.users}, max {st.peak}"))


def error(c: IrcCodec, exc: ProtocolError, command: Command | None = None) -> bytes:
    kind = type(command)
    if kind is Authenticate or (command is None and c.sasl == "checking" and exc.code in (
            ErrorCode.BAD_LOGIN, ErrorCode.TOO_MANY_LOGINS)):
        c.sasl = None
        if exc.code is ErrorCode.ALREADY_JOINED:
            return c.numeric("907", "You have already authenticated using SASL")
        return c.numeric("904", f"SASL authentication failed: {flat(exc.message)}")
    if kind is Register and not exc.closes:
        code = REGISTER_CODES.get(exc.code, "TEMPORARILY_UNAVAILABLE")
        return fit(f":{c.server} FAIL REGISTER {code} {c.nick or '*'} :{flat(exc.message)}")
    if (refused := history.redact_refusal(c, exc, command) or markread.refusal(c, exc, command)) is not None:
        return refused
    if kind is History:
        sub = command.tag.split(" ")[1] if command.tag else "LATEST"  # type: ignore[union-attr]
        code = "INVALID_TARGET" if exc.code in (ErrorCode.NOT_IN_ROOM, ErrorCode.BAD_ROOM_NAME,
                                                ErrorCode.NO_SUCH_ROOM) else "MESSAGE_ERROR"
        return fit(f"FAIL CHATHISTORY {code} {sub} {flat(command.room)} :"  # type: ignore[union-attr]
                   f"{flat(exc.message)}")
    if kind in (Chat, Dm) and command.notice and not exc.closes:  # type: ignore[union-attr]
        return b""  # NOTICE is never answered, not even with an error (RFC 2812 3.3.2)
    if kind is Users and (command.tag or "").startswith("names") and exc.code in (  # type: ignore[union-attr]
            ErrorCode.NO_SUCH_ROOM, ErrorCode.BAD_ROOM_NAME):
        return c.numeric("366", flat(command.room or "*"), "End of /NAMES list")  # type: ignore[union-attr]
    if kind is Whois and exc.code is ErrorCode.NO_SUCH_USER:
        nick = flat(command.username)  # type: ignore[union-attr]
        if command.tag == "userhost":  # type: ignore[union-attr]
            return c.numeric("302", "")
        return c.numeric("401", nick, flat(exc.message)) + c.numeric("318", nick, "End of /WHOIS list")
    if exc.closes:
        return (c.numeric("464", "Password incorrect") if exc.code is ErrorCode.BAD_PASSWORD else b"") + \
            fit(f"ERROR :Closing link: {flat(exc.message)}")
    found = NUMERICS.get(exc.code)
    exc = ProtocolError(exc.code, IRC_PHRASES.get(exc.message, exc.message.replace(
        LOG_IN_TO_IT, "log in to it with SASL")), exc.about)  # the hub's words, IRC's way
    if exc.code is ErrorCode.NOT_IN_ROOM and type(command) is Chat:
        found = ("404", "room")  # ERR_CANNOTSENDTOCHAN
    if found is None:
        if "standard-replies" in c.caps or exc.code in STANDARD_ONLY:  # IRCv3 FAIL VERB CODE :words
            verb = VERBS.get(type(command), "*")
            return fit(f":{c.server} FAIL {verb} {STANDARD_ONLY.get(exc.code, exc.code.value.upper())}"
                       f" :{flat(exc.message)}")
        return c.wire._out(c.server, f"NOTICE {c.nick or '*'} :{flat(exc.message)}")
    number, about = found
    params: list[str] = []
    if exc.about and about is not None:  # what the hub says it is about: the nick, or the mode and its value
        if about == "room" or about == "nick+room":
            params.append(str(getattr(command, "room", None) or "*"))
        params = [*exc.about, *params] if about == "nick+room" else [*params, *exc.about]
    elif about == "nick":
        name = getattr(command, "username", None) or getattr(command, "to", None) or c.nick or "*"
        params.append(str(name))
        if exc.code in (ErrorCode.USERNAME_TAKEN, ErrorCode.NAME_REGISTERED, ErrorCode.INVALID_USERNAME) \
                and not c.registered:
            c.registering = False  # the client will send another NICK
    elif about in ("room", "nick+room"):
        params.append(str(getattr(command, "room", None) or "*"))
    return c.numeric(number, *params, flat(exc.message))

def modes(c: IrcCodec, m: ev.ModeChanged) -> bytes:
    """324: the modes that are on, then the key's and the limit's values (a question's answer;
    changes are the room's, in wire.py)."""
    letters = "+" + "".join(sorted(letter for _, letter, _ in m.changes))
    values = [value for _, letter, value in m.changes if letter in "kl" and value is not None]
    created = c.numeric("329", m.room, str(int(m.created))) if m.created else b""
    return c.numeric("324", m.room, letters, *values) + created


# a list's entries and its end: (entry, end, the end's words)
LIST_NUMERICS = {"b": ("367", "368", "End of channel ban list"), "e": ("348", "349", "End of channel exception list"),
                 "I": ("346", "347", "End of channel invite list")}


def mask_list(c: IrcCodec, ml: ev.MaskList) -> bytes:
    entry, end, words = LIST_NUMERICS[ml.letter]
    return b"".join(c.numeric(entry, ml.room, mask_, by, str(int(at))) for mask_, by, at in ml.entries) \
        + c.numeric(end, ml.room, words)


def opered(c: IrcCodec, o: ev.Opered) -> bytes:
    return c.numeric("381", "You are now an IRC operator") + c.wire._out(mask(o.username), f"MODE {o.username} +o")


def invited(c: IrcCodec, i: ev.Invited) -> bytes:
    """The one invited hears INVITE; the one inviting, 341."""
    if c.nick is not None and i.username.lower() == c.nick.lower():
        return c.wire._out(mask(i.by), f"INVITE {i.username} {i.room}", i.timestamp, account=i.account)
    return c.numeric("341", i.username, i.room)


def was_info(c: IrcCodec, w: ev.WasInfo) -> bytes:
    """WHOWAS: 314 and 312 for each who had the name, newest first; 406 if nobody did; then 369."""
    lines = b"".join(c.numeric("314", name, user, HOST, "*", real)
                     + c.numeric("312", name, c.server, time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(at)))
                     for name, user, real, at in w.entries)
    if not w.entries:
        lines = c.numeric("406", w.username, "There was no such nickname")
    return lines + c.numeric("369", w.username, "End of WHOWAS")


def listed(c: IrcCodec, number: str, items: list[str]) -> bytes:
    """Comma-separated items in as many lines as IRC's 512 bytes need."""
    lines, chunk = b"", []
    for item in items:
        chunk.append(item)
        if len(",".join(chunk)) > 400:
            lines += c.numeric(number, ",".join(chunk))
            chunk = []
    return lines + (c.numeric(number, ",".join(chunk)) if chunk else b"")


def monitored(c: IrcCodec, m: ev.Monitored) -> bytes:
    return listed(c, "730", [mask(n) for n in m.online]) + listed(c, "731", list(m.offline))


def bot_changed(c: IrcCodec, b: ev.BotChanged) -> bytes:
    c.bot = b.bot
    return c.wire._out(mask(b.username), f"MODE {b.username} {'+' if b.bot else '-'}B")


def monitor_full(c: IrcCodec, m: ev.MonitorFull) -> bytes:
    return c.numeric("734", str(m.limit), ",".join(m.names)[:300], "Monitor list is full")


REPLIES: dict[type, Callable[[IrcCodec, Any], bytes | None]] = {
    ev.Welcome: welcome, ev.RoomJoined: room_joined, ev.RoomLeft: room_left, ev.HistoryBatch: history.room_page,
    ev.LoggedIn: logged_in, ev.DirectMessage: direct, ev.UserList: user_list, ev.RoomList: room_list,
    ev.TopicIs: topic_is, ev.UserInfo: user_info, ev.ServerStats: lusers, ev.PongReply: nothing,
    ev.AwayChanged: away_changed, ev.NickChanged: nick_changed, ev.Registered: registered,
    ev.DmHistoryBatch: history.conversation_page, ev.HistoryTargetList: history.target_list,
    ev.SearchResults: history.search_page,
    ev.ModeChanged: lambda c, m: modes(c, m) if m.by is None else c.wire.encode(m), ev.Invited: invited,
    ev.Opered: opered, ev.MaskList: mask_list, ev.WasInfo: was_info, ev.Monitored: monitored,
    ev.MonitorList: lambda c, m: listed(c, "732", list(m.names)) + c.numeric("733", "End of MONITOR list"),
    ev.MonitorFull: monitor_full, ev.BotChanged: bot_changed, ev.ReadMarker: markread.marker,
    ev.Invitations: lambda c, i: b"".join(c.numeric("336", room) for room in i.rooms)
    + c.numeric("337", "End of /INVITE list"),
    ev.RoomRegistered: lambda c, r: c.wire._out("ChanServ!ChanServ@services", f"NOTICE {c.nick} :{r.room} is now"
                                                f" registered to your account, {r.founder}"),
    ev.Watched: lambda c, w: c.wire.encode(w.event) if "extended-monitor" in c.caps else None,
    ev.Wallops: lambda c, w: c.wire._out(mask(w.username), f"WALLOPS :{flat(w.message)}", w.timestamp),
}
