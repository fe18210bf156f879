"""IRC's command table (as ergo's irc/commands.go): each verb's handler, the parameters it needs
at least, whether it may come before registration, and whether it is for registration only.
``dispatch`` checks all of that once, so a handler only does its own work: it appends to ``out``
the hub's commands and the lines the codec answers by itself.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from selchat.events import (
    Authenticate,
    Away,
    Chat,
    Dm,
    Invite,
    JoinRoom,
    Kick,
    LeaveRoom,
    Lusers,
    Nick,
    Pong,
    Quit,
    RegisterRoom,
    Rooms,
    SetBot,
    SetMode,
    Setname,
    StatusChat,
    TagMsg,
    Topic,
    Users,
    Who,
    Whois,
    mode_changes,
)
from selchat.wire.base import Labeled
from selchat.wire.irc import history, markread, multiline, replies, server_verbs
from selchat.wire.irc.lines import (
    CAPS,
    CHANLIMIT,
    CTCP,
    KICK_TARGETS,
    MAXTARGETS,
    SASL_CHUNK,
    SASL_MAX,
    SERVICES,
    fit,
    flat,
    parse_line,
)
from selchat.wire.irc.wire import IrcWire

if TYPE_CHECKING:
    from selchat.wire.irc.codec import IrcCodec

Handler = Callable[["IrcCodec", list[str], list[Any]], None]
LABEL_MAX = 64  # bytes of a client's label kept (labeled-response: a label is short; ergo keeps 64)


@dataclass(frozen=True, slots=True)
class Verb:
    handler: Handler
    min_params: int = 0  # fewer (or empty ones) get 461
    before_registration: bool = False  # allowed before the welcome (else 451)
    registration_only: bool = False  # after the welcome: 462


def dispatch(c: IrcCodec, line: str, out: list[Any]) -> None:
    """One line: its verb looked up and its checks made, then its handler."""
    parsed = parse_line(line)
    if parsed is None:
        return
    tags, name, params = parsed
    # what a client may tag its own messages with (IRCv3 message-tags): the "+" tags, relayed as written
    c.client_tags = ";".join(f"{k}={v}" if v else k for k, v in tags.items() if k[:1] == "+") \
        if tags and "message-tags" in c.caps else ""
    if "batch" in tags and (c.gathering is not None or tags["batch"] == c.dropped_batch):
        return multiline.line(c, name, tags, params, out)  # a line of a multiline message
    label = tags.get("label") if "labeled-response" in c.caps else None
    if name == "BATCH":  # a multiline batch's label goes on what the whole batch says (multiline.py)
        c.batch_label, label = label, None
    if label:  # its answers come tagged with it (server/labels.py gathers them)
        inner: list[Any] = []
        out.append(Labeled(label[:LABEL_MAX], inner))
        out = inner
    verb = COMMANDS.get(name)
    if verb is None:
        out.append(c.numeric("421", name, "Unknown command") if c.registered
                   else c.numeric("451", "You have not registered"))
        return
    # once registration is under way, what follows is handled in order after it (a client may
    # send JOIN right behind USER); if registration fails, the hub answers 451 for those
    started = c.registered or c.registering
    if not started and not verb.before_registration:
        out.append(c.numeric("451", "You have not registered"))
    elif started and verb.registration_only:
        out.append(c.numeric("462", "You may not reregister"))
    elif len(params) < verb.min_params or not all(params[:verb.min_params]):
        out.append(c.numeric("461", name, "Not enough parameters"))
    else:
        verb.handler(c, params, out)


def cap(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    sub = params[0].upper()
    target = c.nick or "*"
    if sub == "LS":
        if not c.registered:
            c.negotiating = True
        if len(params) > 1 and params[1].isdigit():
            c.cap_version = max(c.cap_version, int(params[1]))
        offered = [name if value is None or c.cap_version < 302 else f"{name}={value}"
                   for name, value in CAPS.items()]
        offered = [name.format(max_message=c.max_message) for name in offered]
        out.append(f":{c.server} CAP {target} LS :{' '.join(offered)}\r\n".encode())
    elif sub == "LIST":
        out.append(f":{c.server} CAP {target} LIST :{' '.join(sorted(c.caps))}\r\n".encode())
    elif sub == "REQ":
        if not c.registered:
            c.negotiating = True
        wanted = list(dict.fromkeys(params[1].split())) if len(params) > 1 else []  # "sasl sasl ...": once
        names = [w.lstrip("-") for w in wanted]
        if wanted and all(n in CAPS for n in names):
            for w in wanted:
                if w.startswith("-"):
                    c.caps.discard(w[1:])
                else:
                    c.caps.add(w)
            c.wire = IrcWire.for_caps(frozenset(c.caps), c.server)
            out.append(fit(f":{c.server} CAP {target} ACK :{' '.join(wanted)}"))
        else:
            # the request's own words, as sent (IRCv3: a NAK echoes the REQ's parameter exactly)
            out.append(fit(f":{c.server} CAP {target} NAK :{params[1] if len(params) > 1 else ''}"))
    elif sub == "END":
        c.negotiating = False
        c.register(out)
    else:
        out.append(c.numeric("410", params[0], "Invalid CAP command"))


def authenticate(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    """SASL PLAIN (IRCv3 sasl-3.1): the credentials go to the hub as an ``Authenticate``;
    900 and 903 follow its ``LoggedIn``, 904 its refusal."""
    arg = params[0]
    if c.account is not None:
        out.append(c.numeric("907", "You have already authenticated using SASL"))
        return
    if arg == "*":
        if c.sasl == "plain":
            c.sasl, c.sasl_data = None, ""
            out.append(c.numeric("906", "SASL authentication aborted"))
        else:
            out.append(c.numeric("904", "SASL authentication failed: nothing to abort"))
        return
    if c.sasl is None:
        if arg.upper() != "PLAIN":
            out.append(c.numeric("908", "PLAIN", "are available SASL mechanisms"))
            out.append(c.numeric("904", "SASL authentication failed: only PLAIN is offered"))
            return
        c.sasl = "plain"
        out.append(b"AUTHENTICATE +\r\n")
        return
    if c.sasl == "checking":
        out.append(c.numeric("904", "SASL authentication failed: wait for the answer"))
        return
    if len(arg) > SASL_CHUNK:
        c.sasl, c.sasl_data = None, ""
        out.append(c.numeric("905", "SASL message too long"))
        return
    if arg != "+":
        c.sasl_data += arg
    if len(c.sasl_data) > SASL_MAX:
        c.sasl, c.sasl_data = None, ""
        out.append(c.numeric("904", "SASL authentication failed: the credentials are too long"))
        return
    if len(arg) == SASL_CHUNK:
        return  # more follows (a last chunk of exactly 400 bytes is followed by "+")
    data, c.sasl_data = c.sasl_data, ""
    try:
        authzid, authcid, password = base64.b64decode(data, validate=True).decode("utf-8").split("\0")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        c.sasl = None
        out.append(c.numeric("904", "SASL authentication failed: PLAIN wants authzid NUL authcid NUL password"))
        return
    if authzid and authzid.casefold() != authcid.casefold():
        c.sasl = None
        out.append(c.numeric("904", "SASL authentication failed: you can only log in as yourself"))
        return
    c.sasl = "checking"
    out.append(Authenticate(authcid, password))


def password(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    c.password = params[0]


def nick(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    if not params or not params[0]:
        out.append(c.numeric("431", "No nickname given"))
        return
    if c.registered:
        out.append(Nick(params[0]))
        return
    c.nick = params[0]
    if c.registering:  # the first try was refused (433): this is the next one
        c.registering = False
    c.register(out)


def user(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    c.user = params[0]
    c.realname = params[3]
    c.register(out)


def ping(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    out.append(fit(f":{c.server} PONG {c.server} :{params[0]}"))


def pong(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    out.append(Pong(params[0] if params else None))


def quit_(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    out.append(b"ERROR :Closing link (quit)\r\n")
    out.append(Quit(params[0] if params else None))


def join(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    if params[0] == "0":
        out.extend(LeaveRoom(room) for room in list(c.channels))
        return
    channels = [channel for channel in params[0].split(",") if channel]
    keys = params[1].split(",") if len(params) > 1 else []  # JOIN #a,#b key-of-a,key-of-b
    out.extend(JoinRoom(channel, keys[i] if i < len(keys) and keys[i] else None)
               for i, channel in enumerate(channels[:CHANLIMIT]))
    out.extend(c.numeric("405", channel, f"at most {CHANLIMIT} channels a JOIN") for channel in channels[CHANLIMIT:])


def part(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    reason = params[1] if len(params) > 1 else None
    out.extend(LeaveRoom(room, reason) for room in params[0].split(",") if room)


def message(c: IrcCodec, params: list[str], out: list[Any], notice: bool) -> None:
    verb = "NOTICE" if notice else "PRIVMSG"
    if not params or not params[0]:
        if not notice:
            out.append(c.numeric("411", f"No recipient given ({verb})"))
        return
    if len(params) < 2 or not params[1]:
        if not notice:
            out.append(c.numeric("412", "No text to send"))
        return
    text = params[1]
    action = text.startswith(f"{CTCP}ACTION ")
    if action:
        text = text[8:].rstrip(CTCP)
    elif text.startswith(CTCP):
        return  # other CTCP (VERSION, PING ...) is not relayed
    echo = "echo-message" in c.caps
    targets = [target for target in params[0].split(",") if target]
    tags = c.client_tags
    for target in targets[:MAXTARGETS]:
        if target.startswith("#"):
            out.append(Chat(text, room=target, action=action, notice=notice, echo=echo, tags=tags))
        elif target[:1] in "@+" and target[1:2] == "#":  # STATUSMSG: the room's operators (and voiced)
            out.append(StatusChat(text, target[1:], target[0], action, notice, echo))
        elif target.casefold() == "chanserv" and text.split(" ")[0].upper() == "REGISTER" and not notice:
            room = text.split(" ")[1] if " " in text else ""
            out.append(RegisterRoom(room) if room.startswith("#") else c.wire._out(
                "ChanServ!ChanServ@services", f"NOTICE {c.nick or '*'} :Syntax: REGISTER #room"))
        elif target.casefold() in SERVICES:
            if not notice:  # IDENTIFY user password: never delivered to a guest under that name
                out.append(c.wire._out(c.server, f"NOTICE {c.nick or '*'} :There is no {flat(target)} here; "
                                       "nothing was sent. To log in to your account, use SASL PLAIN "
                                       "(your client's SASL setting) with its name and password."))
        else:
            out.append(Dm(target, text, action=action, notice=notice, tags=tags))
    out.extend(c.numeric("407", target, f"at most {MAXTARGETS} target a message; not sent there")
               for target in targets[MAXTARGETS:])


def setname(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    # an empty name is the hub's to refuse (FAIL SETNAME INVALID_REALNAME), not a missing parameter
    out.append(Setname(params[0]) if params else c.numeric("461", "SETNAME", "Not enough parameters"))


def tagmsg(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    """Only tags (IRCv3 message-tags): typing, reactions; nothing to relay without one."""
    if c.client_tags:
        echo = "echo-message" in c.caps
        out.extend(TagMsg(target, c.client_tags, echo) for target in params[0].split(",")[:MAXTARGETS] if target)


def privmsg(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    message(c, params, out, notice=False)


def notice(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    message(c, params, out, notice=True)


def topic(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    out.append(Topic(params[0], params[1] if len(params) > 1 else None))


def names(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    if not params:
        out.append(c.numeric("366", "*", "End of /NAMES list"))
        return
    rooms = [room for room in params[0].split(",") if room][:CHANLIMIT]
    # NAMES #a,#b: a 353 for each, and one 366 at the end naming them all (RFC 2812)
    out.extend(Users(room, tag="names" if len(rooms) == 1 else "names " + (",".join(rooms) if i == len(rooms) - 1
                     else ""), stream=True) for i, room in enumerate(rooms))


def rooms(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    filters = tuple(word for word in params[0].split(",") if word)[:8] if params else ()  # ELIST=MNU
    out.append(Rooms(stream=True, filters=filters))  # in parts, each once the one before is read


def who(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    # WHOX (WHO MASK %FIELDS[,TOKEN]): the fields ride in the tag, so the answer knows them
    whox = f" {params[1][:40]}" if len(params) > 1 and params[1].startswith("%") else ""
    if params and params[0].startswith("#"):
        out.append(Users(params[0], tag="who" + whox, detail=True, stream=True))
    else:
        out.append(Who(params[0] if params and params[0] else "*", tag="whomask" + whox))


def whois(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    if not params:
        out.append(c.numeric("431", "No nickname given"))
        return
    out.append(Whois(params[-1]))


def userhost(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    out.extend(Whois(nick, tag="userhost") for nick in params[:5])


def away(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    out.append(Away(params[0] if params and params[0] else None))


def lusers(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    out.append(Lusers())


def motd(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    out.extend(replies.motd(c, c.motd))


def mode(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    target = params[0]
    if target.startswith("#"):
        if len(params) > 1:
            changes = mode_changes(params[1], params[2:])
            if changes is None:
                out.append(c.numeric("472", params[1][:20], "is an unknown mode char to me"))
            else:
                out.append(SetMode(target, changes))
        else:
            out.append(SetMode(target))  # 324: what is on
    elif c.nick and target.lower() == c.nick.lower():
        letters = params[1] if len(params) > 1 else ""
        if "B" in letters:  # bot mode (IRCv3 bot-mode); other letters of one's own are as they are
            out.append(SetBot(not letters.startswith("-")))
        else:
            out.append(c.numeric("221", "+iB" if c.bot else "+i"))
    else:
        out.append(c.numeric("502", "Can't change mode for other users"))

def invite(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    if not params:  # INVITE alone: the rooms one is invited to (336, 337)
        out.append(Invite("", ""))
        return
    if len(params) < 2:
        out.append(c.numeric("461", "INVITE", "Not enough parameters"))
        return
    out.append(Invite(params[1], params[0]))


def kick(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    if len(params) < 2:
        out.append(c.numeric("461", "KICK", "Not enough parameters"))
        return
    rooms = [room for room in params[0].split(",") if room]
    nicks = [nick for nick in params[1].split(",") if nick][:KICK_TARGETS]
    reason = params[2] if len(params) > 2 else None
    if len(rooms) == len(nicks) > 1:  # KICK #a,#b bob,carol: each room with its nick (RFC 2812)
        out.extend(Kick(room, nick, reason) for room, nick in zip(rooms, nicks, strict=True))
    else:
        out.extend(Kick(rooms[0] if rooms else "", nick, reason) for nick in nicks)


COMMANDS: dict[str, Verb] = {
    "CAP": Verb(cap, 1, before_registration=True),
    "AUTHENTICATE": Verb(authenticate, 1, before_registration=True),
    "PASS": Verb(password, 1, before_registration=True, registration_only=True),
    "NICK": Verb(nick, before_registration=True),
    "USER": Verb(user, 4, before_registration=True, registration_only=True),
    "PING": Verb(ping, 1, before_registration=True),
    "PONG": Verb(pong, before_registration=True),
    "QUIT": Verb(quit_, before_registration=True),
    "CHATHISTORY": Verb(history.chathistory),
    "SEARCH": Verb(history.search),
    "REDACT": Verb(history.redact, 2),
    "MARKREAD": Verb(markread.markread),
    "JOIN": Verb(join, 1),
    "PART": Verb(part, 1),
    "PRIVMSG": Verb(privmsg),
    "NOTICE": Verb(notice),
    "TAGMSG": Verb(tagmsg, 1),
    "BATCH": Verb(multiline.batch, 1),
    "SETNAME": Verb(setname),
    "TOPIC": Verb(topic, 1),
    "NAMES": Verb(names),
    "LIST": Verb(rooms),
    "WHO": Verb(who),
    "WHOIS": Verb(whois),
    "USERHOST": Verb(userhost, 1),
    "AWAY": Verb(away),
    "LUSERS": Verb(lusers),
    "MOTD": Verb(motd),
    "MODE": Verb(mode, 1),
    "KICK": Verb(kick, 2),
    "INVITE": Verb(invite),
    "OPER": Verb(server_verbs.oper, 2),
    "KILL": Verb(server_verbs.kill, 1),
    "WALLOPS": Verb(server_verbs.wallops, 1),
    "WHOWAS": Verb(server_verbs.whowas),
    "MONITOR": Verb(server_verbs.monitor, 1),
    "REGISTER": Verb(server_verbs.register, 3, before_registration=True),
    "TIME": Verb(server_verbs.time_),
    "INFO": Verb(server_verbs.info),
    "HELP": Verb(server_verbs.help_),
    "HELPOP": Verb(server_verbs.help_),
}
