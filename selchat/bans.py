"""Bans: by name or by address (a network prefix), for a while or for good.

Pure: the time is passed in, and the list knows nothing of sockets or the database; the server
keeps it in the store and the hub asks it at join. An address ban is a network (``10.0.0.0/8``,
``2001:db8::/32``, or one address), matched the way a firewall would; a name ban is a name
compared case-insensitively, like every name here.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from selchat.config import NAME_MAX

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAME_RE = re.compile(rf"[A-Za-z0-9_.\-]{{1,{NAME_MAX}}}")
# "30s", "10m", "2h", "7d", "2w", and sums of them ("1h30m"), as in fail2ban's bantime and
# InspIRCd's ban durations.
_DOTTED_RE = re.compile(r"[\d.]+")
_DURATION_RE = re.compile(r"(\d+)([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class BanError(ValueError):
    """A ban that cannot be made; the message is one line for the operator."""


@dataclass(frozen=True, slots=True)
class Ban:
    target: str  # a name's casefold, or a network in its canonical form
    shown: str  # as the operator wrote it (a name's own case)
    until: float | None  # wall-clock time it ends; None: for good
    reason: str = ""
    created: float = 0.0
    from_config: bool = False  # from the configuration file: reloaded with it, not stored

    @property
    def is_address(self) -> bool:
        return "/" in self.target

    def active(self, now: float) -> bool:
        return self.until is None or now < self.until


def parse_duration(text: str) -> float:
    """Seconds in "90s", "10m", "2h", "7d", "2w" or a sum like "1h30m"."""
    text = text.strip().lower()
    pos, total = 0, 0
    for match in _DURATION_RE.finditer(text):
        if match.start() != pos:
            break
        total += int(match.group(1)) * _UNIT[match.group(2)]
        pos = match.end()
    if not text or pos != len(text) or total <= 0:
        raise BanError(f"{text!r} is not a duration: say 30m, 2h, 7d or 1h30m")
    return float(total)


def parse_target(text: str) -> tuple[str, str]:
    """(target key, as shown) for a name, an address or an ADDRESS/PREFIX network."""
    text = text.strip()
    # digits and dots alone are an address (a name could be "10.1.2.3", but a ban of it would be a mistake)
    if _NAME_RE.fullmatch(text) and not _DOTTED_RE.fullmatch(text):
        return text.casefold(), text
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise BanError(f"{text!r} is neither a name nor an address (10.1.2.3, 10.0.0.0/8, 2001:db8::/32)")
    return str(network), str(network)


def make_ban(target: str, now: float, duration: str | None = None, reason: str = "",
             from_config: bool = False) -> Ban:
    key, shown = parse_target(target)
    until = now + parse_duration(duration) if duration else None
    return Ban(key, shown, until, reason, now, from_config)


def parse_config_ban(text: str, now: float) -> Ban:
    """A ban as the configuration file writes it: "TARGET" or "TARGET DURATION"."""
    target, _, duration = text.strip().partition(" ")
    return make_ban(target, now, duration.strip() or None, "from the configuration", from_config=True)


class BanList:
    """The bans in force, looked up by name in one dict and by address over the networks."""

    def __init__(self, bans: list[Ban] | tuple[Ban, ...] = ()) -> None:
        self._names: dict[str, Ban] = {}
        self._networks: dict[Network, Ban] = {}
        for ban in bans:
            self.add(ban)

    def add(self, ban: Ban) -> None:
        if ban.is_address:
            self._networks[ipaddress.ip_network(ban.target)] = ban
        else:
            self._names[ban.target] = ban

    def remove(self, target: str) -> Ban | None:
        """Lift the ban on ``target`` (a name or a network as it was banned)."""
        key, _ = parse_target(target)
        if "/" in key:
            return self._networks.pop(ipaddress.ip_network(key), None)
        return self._names.pop(key, None)

    def replace_config(self, bans: list[Ban]) -> None:
        """The configuration file's bans, anew (SIGHUP): the operator's own are kept."""
        for table in (self._names, self._networks):
            for key in [k for k, b in table.items() if b.from_config]:
                del table[key]  # type: ignore[arg-type]
        for ban in bans:
            self.add(ban)

    def name(self, name: str, now: float) -> Ban | None:
        ban = self._names.get(name.casefold())
        return ban if ban is not None and ban.active(now) else None

    def address(self, host: str, now: float) -> Ban | None:
        if not self._networks:
            return None
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:10.1.2.3 is 10.1.2.3
        for network, ban in self._networks.items():
            if ip.version == network.version and ip in network and ban.active(now):
                return ban
        return None

    def expired(self, now: float) -> list[Ban]:
        """Bans whose time is up: dropped from the list, for the caller to forget in the store."""
        gone = []
        for table in (self._names, self._networks):
            for key, ban in list(table.items()):
                if not ban.active(now):
                    del table[key]  # type: ignore[arg-type]
                    gone.append(ban)
        return gone

    def active(self, now: float) -> list[Ban]:
        bans = [b for b in (*self._names.values(), *self._networks.values()) if b.active(now)]
        return sorted(bans, key=lambda b: (b.is_address, b.target))


def describe(ban: Ban, now: float) -> str:
    """One line for /bans."""
    left = "for good" if ban.until is None else f"{_span(ban.until - now)} left"
    kind = "address" if ban.is_address else "name"
    extra = f", {ban.reason}" if ban.reason else ""
    return f"{kind} {ban.shown} ({left}{extra})"


def _span(seconds: float) -> str:
    """2d3h, 5h20m, 12m30s: the two largest units."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    first = next((i for i, (n, _) in enumerate(units) if n), 3)
    return "".join(f"{n}{u}" for n, u in units[first:first + 2] if n) or "0s"
