"""The operator's powers: kick, ban and unban (names and addresses), the ban sweep, and a
configuration reload on SIGHUP. Shared by the console and the signals."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING

from selchat.bans import Ban, make_ban
from selchat.config import ServerConfig
from selchat.errors import ErrorCode, ProtocolError
from selchat.records import DeleteBan, SaveBan
from selchat.server.session import ConnState, host_of

if TYPE_CHECKING:
    from selchat.server.app import ChatServer

log = logging.getLogger("selchat.server")

# How often bans whose time is up are forgotten in the database (a lookup ignores them at once).
BAN_SWEEP = 60.0
# settings that take effect only when the server starts: a reload keeps the running value
RESTART_ONLY = ("host", "port", "tls_cert", "tls_key", "db", "replay", "history_max", "metrics", "redis",
                "search")


def config_bans(config: ServerConfig) -> list[Ban]:
    now = time.time()
    return [make_ban(target, now, reason="from the configuration", from_config=True) for target in config.bans]


class Operator:
    def __init__(self, server: ChatServer) -> None:
        self.server = server

    def kick(self, name: str, *, ban: bool = False) -> bool:
        """Drop the user ``name``; with ``ban``, for good, with their address (as /ban NAME does)."""
        server = self.server
        conn_id = server.hub.find(name)
        conn = server.reactor.conns.get(conn_id) if conn_id is not None else None
        if ban:
            self.ban(name)
            if conn is not None:
                self.ban(host_of(conn.peer), drop=False)
        if conn is None or conn.closing:
            return False
        if not ban:
            server.connections.error(conn, ProtocolError(ErrorCode.KICKED, "you were kicked by the operator"))
        return True

    def ban(self, target: str, duration: str | None = None, reason: str = "", *, drop: bool = True) -> Ban:
        """Ban a name or an address (ADDRESS/PREFIX), kept in the database; whoever it matches
        is dropped now (with ``drop``). ``BanError`` if the target or the duration is not one."""
        server = self.server
        ban = make_ban(target, server.wall_clock(), duration, reason)
        server.bans.add(ban)
        server.store.write(SaveBan(ban))
        if drop:
            self.drop_banned()
        log.info("banned %s %s%s", "address" if ban.is_address else "name", ban.shown,
                 f" until {time.strftime('%Y-%m-%d %H:%M', time.localtime(ban.until))}" if ban.until else "")
        return ban

    def unban(self, target: str) -> Ban | None:
        ban = self.server.bans.remove(target)
        if ban is not None:
            self.server.store.write(DeleteBan(ban.target))
            log.info("lifted the ban on %s", ban.shown)
        return ban

    def drop_banned(self) -> None:
        """Close every connection that a ban now in force matches, by name or by address."""
        server = self.server
        now = server.wall_clock()
        for conn in list(server.reactor.conns.values()):
            ctx: ConnState | None = conn.ctx
            if conn.closing or ctx is None or ctx.refused is not None:
                continue
            name = server.hub.name_of(conn.id)
            if (name is not None and server.bans.name(name, now)) or server.bans.address(host_of(conn.peer), now):
                server.connections.error(conn, ProtocolError(ErrorCode.BANNED, "you were banned by the operator"))

    def expire_bans(self) -> None:
        """Forget, in the database too, the bans whose time is up (a lookup ignores them already)."""
        server = self.server
        for ban in server.bans.expired(server.wall_clock()):
            if not ban.from_config:
                server.store.write(DeleteBan(ban.target))
                log.info("the ban on %s has ended", ban.shown)
        server.reactor.call_later(BAN_SWEEP, self.expire_bans)

    def reload_config(self) -> None:
        """SIGHUP: read the configuration again (``server.reload`` builds it) and apply what can
        change while serving; say in the log what changed and what needs a restart."""
        server = self.server
        if server.reload is None:
            log.info("no --config file to reload")
            return
        try:
            new = server.reload()
        except Exception as exc:  # a bad file: keep serving as before, and say why
            log.error("reload failed, nothing changed: %s", exc)
            return
        old = server.config
        changed, kept = [], []
        for name in ServerConfig.__dataclass_fields__:
            before, after = getattr(old, name), getattr(new, name)
            if before == after:
                continue
            if name in RESTART_ONLY:
                kept.append(name)
                new = dataclasses.replace(new, **{name: before})
            elif name in ("password", "motd"):
                changed.append(f"{name} changed")
            else:
                changed.append(f"{name} {before!r} -> {after!r}")
        server.config = new
        if new.bans != old.bans:
            server.bans.replace_config(config_bans(new))
            self.drop_banned()
        logging.getLogger().setLevel(new.log_level.upper())
        log.info("reloaded the configuration: %s", ", ".join(changed) or "nothing changed")
        if kept:
            log.warning("%s changed in the configuration: %s after a restart", ", ".join(kept),
                        "it takes effect" if len(kept) == 1 else "they take effect")
