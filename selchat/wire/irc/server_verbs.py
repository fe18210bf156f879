"""IRC verbs about the server rather than its rooms: TIME, INFO and HELP (answered by the codec
itself), WHOWAS, and the server operators' OPER, KILL and WALLOPS (the hub's). Handlers as
commands.py's table takes them."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from selchat.events import Kill, Monitor, Oper, Register, Wallops, Whowas
from selchat.wire.irc.help import help_lines
from selchat.wire.irc.lines import VERSION, fit, flat

if TYPE_CHECKING:
    from selchat.wire.irc.codec import IrcCodec

INFO = (f"{VERSION}: a chat server in one Python event loop, speaking IRC, JSON lines, text and the web",
        "on one port, with rooms and their history kept.", "https://github.com/selchat/selchat (MIT licence)")


def time_(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    now = time.time()
    out.append(c.numeric("391", c.server, str(int(now)), "0", time.strftime("%A %B %d %Y -- %H:%M:%S +00:00",
                                                                            time.gmtime(now))))


def info(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    out.extend(c.numeric("371", line) for line in INFO)
    out.append(c.numeric("374", "End of /INFO list"))


def help_(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    out.extend(help_lines(c, params[0] if params and params[0] else None))


def whowas(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    if not params or not params[0]:
        out.append(c.numeric("431", "No nickname given"))
        return
    count = params[1] if len(params) > 1 else "0"
    out.append(Whowas(params[0], int(count) if count.lstrip("-").isdigit() else 0))


def monitor(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    """MONITOR + a,b | - a,b | C | L | S (IRCv3): the hub keeps the list."""
    action = params[0].upper()
    if action not in ("+", "-", "C", "L", "S"):
        out.append(c.numeric("421", f"MONITOR {params[0][:10]}", "Unknown MONITOR subcommand"))
        return
    names = tuple(n for n in params[1].split(",") if n) if len(params) > 1 and action in "+-" else ()
    out.append(Monitor(action, names))


def register(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    """REGISTER ACCOUNT EMAIL PASSWORD (IRCv3 draft/account-registration): the current nick made
    an account, as JSON's register does; no e-mail is asked for."""
    if not c.registered:
        out.append(fit(f":{c.server} FAIL REGISTER COMPLETE_CONNECTION_REQUIRED * :Register once you are"
                       " connected (after the welcome)"))
        return
    account = params[0]
    if account != "*" and c.nick is not None and account.casefold() != c.nick.casefold():
        out.append(fit(f":{c.server} FAIL REGISTER ACCOUNT_NAME_MUST_BE_NICK {flat(account)} :An account"
                       " here is your nick: change your nick to it first"))
        return
    out.append(Register(params[2]))


def oper(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    out.append(Oper(params[0], params[1]))


def kill(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    out.append(Kill(params[0], params[1] if len(params) > 1 else None))


def wallops(c: IrcCodec, params: list[str], out: list[Any]) -> None:
    out.append(Wallops(params[0]))
