"""IRC's lines and words: the server's constants, parsing a line, the values IRCv3 tags carry,
and ProtocolError codes as numerics. Pure functions, shared by the codec's parts."""

from __future__ import annotations

import calendar
import time

from selchat import __version__, config
from selchat.config import HISTORY_PAGE_MAX, LIST_MAX, MONITOR_MAX, NAME_MAX, ROOM_MAX, TOPIC_MAX
from selchat.errors import ErrorCode
from selchat.events import in_time_range

SERVER = "selchat"  # the server name, unless the operator gives another (--irc-name)
HOST = config.USER_HOST  # the host part of every user mask
VERSION = f"selchat-{__version__}"  # one version everywhere: pyproject.toml's
# RFC 1459: a line is at most 512 bytes with its CR LF; IRCv3 message-tags allows 4094 more bytes
# of client tags (8191 in all) in front of it.
LINE_MAX = 512
TAGS_MAX = 8191
CLIENT_TAGS_MAX = 4096
MULTILINE_LINES = 100  # lines in one draft/multiline message: ergo's default max-lines
# The capabilities offered (IRCv3), with their values for CAP LS 302.
CAPS = {"account-notify": None, "account-tag": None, "away-notify": None, "batch": None, "cap-notify": None,
        "chghost": None, "draft/account-registration": None, "draft/chathistory": None,
        "draft/message-redaction": None,
        # what one message may hold: the hub's limit (the codec fills it in), and at most so many lines
        "draft/multiline": f"max-bytes={{max_message}},max-lines={MULTILINE_LINES}", "draft/read-marker": None,
        "echo-message": None,
        "extended-join": None,
        "extended-monitor": None,
        "invite-notify": None, "labeled-response": None, "message-tags": None, "multi-prefix": None,
        "no-implicit-names": None, "sasl": "PLAIN", "server-time": None, "setname": None,
        "soju.im/search": None, "standard-replies": None, "userhost-in-names": None}
# Channels one JOIN line may ask for, and targets one PRIVMSG may name: what 005 promises is
# what the codec holds a line to (issue 21, item 16); the rest are answered, not flooded in.
CHANLIMIT = 20
MAXTARGETS = 1
KICK_TARGETS = 4  # nicks one KICK may name (ergo's and InspIRCd's TARGMAX for KICK)
# The usual services' names: a guest may not take them, and what clients send them on connect
# (IDENTIFY user password) is answered with how to log in here, never delivered (item 11).
SERVICES = frozenset(name.casefold() for name in config.SERVICES)
ISUPPORT = (
    f"CASEMAPPING=ascii CHANTYPES=# CHANLIMIT=#:{CHANLIMIT} NICKLEN={NAME_MAX} CHANNELLEN={ROOM_MAX + 1} "
    f"TOPICLEN={TOPIC_MAX} AWAYLEN={TOPIC_MAX} MAXTARGETS={MAXTARGETS} NETWORK=selchat CHANMODES=beI,k,l,imnst "
    f"EXCEPTS=e INVEX=I EXTBAN=,am ACCOUNTEXTBAN=a MAXLIST=beI:{LIST_MAX} "
    f"PREFIX=(ov)@+ STATUSMSG=@+ UTF8ONLY CHATHISTORY={HISTORY_PAGE_MAX} MSGREFTYPES=msgid,timestamp WHOX "
    f"MONITOR={MONITOR_MAX} BOT=B ELIST=MNU "
    f"TARGMAX=JOIN:{CHANLIMIT},PART:{CHANLIMIT},NAMES:{CHANLIMIT},KICK:{KICK_TARGETS},PRIVMSG:{MAXTARGETS},"
    f"NOTICE:{MAXTARGETS},TAGMSG:{MAXTARGETS},WHOIS:1,MONITOR:{MONITOR_MAX}"
)
ISUPPORT_TOKENS = ISUPPORT.split(" ")
SASL_CHUNK = 400  # AUTHENTICATE carries base64 in chunks of 400 bytes
SASL_MAX = 8192  # bytes of base64 in all: a name and the longest account password, with room
CTCP = "\x01"


def time_tag(timestamp: float) -> str:
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


def flat(text: str) -> str:
    """One IRC line's worth of text: no CR, LF or NUL."""
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\0", "")


def fit(line: str) -> bytes:
    """One line, CR LF added, its part after the tags cut to IRC's 512 bytes on a character
    boundary: a reply that carries what a client sent (PONG, a numeric naming its channel, a
    relayed message behind the sender's mask) would otherwise pass it, and UTF8ONLY promises
    whole characters."""
    data = line.encode("utf-8", "replace")
    start = data.index(b" ") + 1 if data.startswith(b"@") and b" " in data else 0
    if len(data) - start <= LINE_MAX - 2:
        return data + b"\r\n"
    return data[:start + LINE_MAX - 2].decode("utf-8", "ignore").encode() + b"\r\n"


def tag(line: bytes, item: bytes) -> bytes:
    """A line with one more tag (``key=value``), after any it has."""
    return b"@" + item + b";" + line[1:] if line.startswith(b"@") else b"@" + item + b" " + line


def has_batch(line: bytes) -> bool:
    """Whether a line is in a batch already (a chathistory batch inside a labeled one)."""
    if not line.startswith(b"@"):
        return False
    tags = line[1:line.find(b" ")]
    return tags.startswith(b"batch=") or b";batch=" in tags


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


def reference(text: str, star: bool) -> tuple[float, float] | None:
    """A CHATHISTORY reference as (upper bound, lower bound), both exclusive: what lies before
    it and what lies after it. A msgid is exact; a timestamp has millisecond precision, so the
    messages "after" it start at the next millisecond. None for ``*`` where that is allowed."""
    if text == "*" and star:
        return None
    kind, _, value = text.partition("=")
    # a msgid is a stamp in microseconds; either kind outside the times a server keeps is refused
    if kind == "msgid" and value.isdigit() and len(value) <= 19:
        stamp = int(value) / 1_000_000
        if in_time_range(stamp):
            return stamp, stamp
    if kind == "timestamp":
        at = parse_time(value)
        if at is not None and in_time_range(at):
            return at, at + 0.000999
    raise ValueError(text)


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
    ErrorCode.ROOMS_FULL: ("405", "room"),
    ErrorCode.TOO_MANY_NEW_ROOMS: ("405", "room"),
    ErrorCode.EMPTY_MESSAGE: ("412", None),
    ErrorCode.MESSAGE_TOO_LONG: ("417", None),
    ErrorCode.FRAME_TOO_LARGE: ("417", None),
    ErrorCode.NOT_JOINED: ("451", None),
    ErrorCode.ALREADY_JOINED: ("462", None),
    ErrorCode.BAD_PASSWORD: ("464", None),
    ErrorCode.NOT_OPERATOR: ("482", "room"),
    ErrorCode.MODERATED: ("404", "room"),
    ErrorCode.NOT_A_MEMBER: ("441", "room"),
    ErrorCode.UNKNOWN_MODE: ("472", None),
    ErrorCode.INVITE_ONLY: ("473", "room"),
    ErrorCode.BAD_ROOM_KEY: ("475", "room"),
    ErrorCode.ROOM_LIMIT: ("471", "room"),
    ErrorCode.NOT_SERVER_OPERATOR: ("491", None),
    ErrorCode.OPER_FAILED: ("464", None),
    ErrorCode.NO_PRIVILEGES: ("481", None),
    ErrorCode.BAD_MODE_VALUE: ("696", "room"),  # ERR_INVALIDMODEPARAM <channel> <mode> <value>
    ErrorCode.USER_IN_ROOM: ("443", "nick+room"),  # ERR_USERONCHANNEL <nick> <channel>
    ErrorCode.BANNED_FROM_ROOM: ("474", "room"),
    ErrorCode.LIST_FULL: ("478", "room"),  # ERR_BANLISTFULL <channel> <mode>
}
