"""The server's own terminal: type text to announce it, or an operator's command."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from selchat.bans import BanError, describe, parse_duration, parse_target
from selchat.server.session import host_of

if TYPE_CHECKING:
    from selchat.server.app import ChatServer

CONSOLE_HELP = (
    "console: type text to announce it to everyone; /users, /stats, /kick NAME, "
    "/ban NAME|ADDRESS[/PREFIX] [DURATION] [REASON], /unban NAME|ADDRESS, /bans, /shutdown, /help"
)


class Console:
    def __init__(self, server: ChatServer) -> None:
        self.server = server
        self._buf = b""
        self.commands = {
            "/users": self._users, "/kick": self._kick, "/ban": self._ban, "/unban": self._unban,
            "/bans": self._bans, "/stats": self._stats, "/shutdown": self._shutdown, "/help": self._help,
        }
        self._needs_arg = frozenset(("/kick", "/ban", "/unban"))

    def print(self, text: str) -> None:
        print(text, file=self.server.out, flush=True)

    def line(self, line: str) -> None:
        """One line typed at the server's terminal."""
        line = line.strip()
        if not line:
            return
        if not line.startswith("/"):
            self.server.announce(line)
            self.print(f"announced to {len(self.server.hub.online())} users")
            return
        command, _, arg = line.partition(" ")
        arg = arg.strip()
        handler = self.commands.get(command)
        if handler is None or (command in self._needs_arg and not arg):
            self.print(f"unknown command {command}; {CONSOLE_HELP}")
            return
        handler(arg)

    def readable(self) -> None:
        try:
            data = os.read(sys.stdin.fileno(), 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.server.reactor.remove_reader(sys.stdin.fileno())  # Ctrl-D: the console closes, serving goes on
            return
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        for raw in lines:
            self.line(raw.decode("utf-8", "replace"))

    # -- the commands ------------------------------------------------------------------------------
    def _users(self, arg: str) -> None:
        names = self.server.hub.online()
        self.print(f"{len(names)} online: {', '.join(names) if names else '(nobody)'}")

    def _kick(self, arg: str) -> None:
        self.print(f"kicked {arg}" if self.server.operator.kick(arg) else f"no user named {arg} is online")

    def _unban(self, arg: str) -> None:
        try:
            lifted = self.server.operator.unban(arg)
        except BanError as exc:
            self.print(str(exc))
            return
        self.print(f"lifted the ban on {lifted.shown}" if lifted else f"{arg} is not banned")

    def _bans(self, arg: str) -> None:
        now = self.server.wall_clock()
        bans = self.server.bans.active(now)
        self.print(f"{len(bans)} ban{'s' if len(bans) != 1 else ''}" + "".join(
            f"\n  {describe(b, now)}" + (" [config]" if b.from_config else "") for b in bans))

    def _stats(self, arg: str) -> None:
        self.print(self.server.stats())

    def _shutdown(self, arg: str) -> None:
        self.print("shutting down")
        self.server.shutdown(reconnect=False)  # for good: clients do not come back

    def _help(self, arg: str) -> None:
        self.print(CONSOLE_HELP)

    def _ban(self, arg: str) -> None:
        """/ban TARGET [DURATION] [REASON]: a name (and, if online, their address) or an address."""
        server, operator = self.server, self.server.operator
        target, _, rest = arg.partition(" ")
        first, _, more = rest.strip().partition(" ")
        duration = None
        if first:
            try:
                parse_duration(first)
                duration, rest = first, more
            except BanError:
                pass
        try:
            parse_target(target)
            online = server.hub.find(target)
            conn = server.reactor.conns.get(online) if online is not None else None
            ban = operator.ban(target, duration, rest.strip())
            extra = ""
            if conn is not None and not ban.is_address:
                # their address too, for new connections (others already there from it stay)
                also = operator.ban(host_of(conn.peer), duration, rest.strip(), drop=False)
                extra = f" and the address {also.shown}"
        except BanError as exc:
            self.print(str(exc))
            return
        span = f" for {duration}" if duration else ""
        if ban.is_address or conn is not None:
            self.print(f"banned {ban.shown}{extra}{span}")
        else:
            self.print(f"banned the name {ban.shown}{span} (nobody by that name is online)")
