"""How many connections one address may hold and open: the guard against one host filling the
server (issue 21, item 2). Pure: the session layer asks and tells it; no socket here.

An address is counted by its group (hosts.py: an IPv6 address by its /64). Loopback is not
exempt: a test speaks from 127.0.0.1 as an abuser would.
"""

from __future__ import annotations

from selchat.errors import ErrorCode, ProtocolError
from selchat.hosts import group

# Connections one address may hold at once: ergo's connection-limits (max-connections: 16 per
# IPv4 address or IPv6 /64); ngIRCd allows 5 (MaxConnectionsIP). 0 turns it off.
MAX_PER_ADDRESS = 16
# New connections one address may open a minute: ergo's connection-throttling allows 32 per
# window (its window is 10 minutes); a minute lets a flaky network reconnect. 0 turns it off.
CONNECTS_PER_MINUTE = 32
WINDOW = 60.0
MAX_BUCKETS = 4096  # addresses remembered before the refilled ones are swept


class AddressGate:
    """Open connections per address group, and a token bucket of new ones per group. The limits
    are passed at each ask, so a reloaded configuration holds from the next connection."""

    def __init__(self) -> None:
        self.open: dict[str, int] = {}
        self.buckets: dict[str, tuple[float, float]] = {}  # group -> (tokens, at)

    def admit(self, host: str, now: float, max_open: int, per_minute: int) -> tuple[str | None, ProtocolError | None]:
        """(the group to release at close, None when refused) and the refusal, None when admitted."""
        key = group(host)
        if max_open and self.open.get(key, 0) >= max_open:
            return None, ProtocolError(ErrorCode.TOO_MANY_CONNECTIONS,
                                       f"at most {max_open} connections at once from one address")
        if per_minute and not self._spend(key, now, per_minute):
            return None, ProtocolError(ErrorCode.TOO_MANY_CONNECTIONS,
                                       f"at most {per_minute} new connections a minute from one address; "
                                       "try again in a minute")
        self.open[key] = self.open.get(key, 0) + 1
        return key, None

    def release(self, key: str) -> None:
        left = self.open.get(key, 0) - 1
        if left > 0:
            self.open[key] = left
        else:
            self.open.pop(key, None)

    def _spend(self, key: str, now: float, per_minute: int) -> bool:
        if len(self.buckets) > MAX_BUCKETS:
            self._forget_full(now, per_minute)
        full = float(per_minute)
        tokens, at = self.buckets.get(key, (full, now))
        tokens = min(full, tokens + (now - at) * full / WINDOW)
        if tokens < 1:
            self.buckets[key] = (tokens, now)
            return False
        self.buckets[key] = (tokens - 1, now)
        return True

    def _forget_full(self, now: float, per_minute: int) -> None:
        """Drop the buckets that have refilled: a full bucket is what an unknown address gets."""
        full = float(per_minute)
        self.buckets = {k: (t, at) for k, (t, at) in self.buckets.items() if t + (now - at) * full / WINDOW < full}
