"""What the server counts and how it tells it: the metrics endpoint's counters and the
console's /stats paragraph, both read when asked so serving pays nothing for them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selchat.server.app import ChatServer


@dataclass
class Tally:
    """Counters bumped where the work already is (one integer add)."""

    opened: dict[str, int] = field(default_factory=dict)  # connections by the protocol they spoke
    joins: int = 0
    closes: dict[str, int] = field(default_factory=dict)  # by reason
    errors: dict[str, int] = field(default_factory=dict)  # by code


def connections_by_kind(server: ChatServer) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for conn in server.reactor.conns.values():
        codec = conn.ctx.codec if conn.ctx is not None else None
        kind = codec.kind if codec is not None else "undecided"
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def counters(server: ChatServer) -> dict[str, Any]:
    """Everything the metrics endpoint shows, read now (nothing is counted twice for it)."""
    reactor, state, tally = server.reactor, server.hub.state, server.tally
    up, published, received = server.services.redis_counters()
    return {
        "connections": connections_by_kind(server), "opened": dict(tally.opened),
        "refused_full": reactor.refused_full, "joins": tally.joins, "messages": state.messages,
        "deliveries": state.deliveries, "bytes_in": reactor.bytes_in, "bytes_out": reactor.output.bytes_out,
        "closes": dict(tally.closes), "errors": dict(tally.errors), "slow_consumers": reactor.output.slow_consumers,
        "users": len(server.hub.online()), "rooms": len(server.hub.room_names()),
        "queued": sum(conn.out_bytes for conn in reactor.conns.values()),
        "turns": reactor.turns, "commits": server.store.commit_times,
        "redis_up": up, "redis_published": published, "redis_received": received,
    }


def summary(server: ChatServer) -> str:
    """What the server holds now, at a glance: the same counters as the metrics endpoint, in
    one paragraph."""
    c = counters(server)
    kinds = c["connections"]
    by_kind = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
    rss = rss_mb()
    turns = c["turns"]
    turn_count = sum(turns.counts)
    mean = f"{turns.sum / turn_count * 1e6:.0f} µs" if turn_count else "n/a"
    closes = ", ".join(f"{n} {r}" for r, n in sorted(c["closes"].items(), key=lambda kv: -kv[1])[:4]) or "none"
    return (f"connections {len(server.reactor.conns)} ({by_kind}) of {server.config.max_clients}; "
            f"users {c['users']}; rooms {c['rooms']}; "
            f"output queued {c['queued']:,} bytes; database writes pending {server.store.pending}; "
            f"up {duration(server.reactor.clock() - server.started)}" + (f"; RSS {rss:.1f} MB" if rss else "")
            + f"\nsince start: joins {c['joins']:,}; messages {c['messages']:,}; deliveries {c['deliveries']:,}; "
            f"bytes in {c['bytes_in']:,}, out {c['bytes_out']:,}; rate-limited "
            f"{c['errors'].get('rate_limited', 0):,}; slow consumers {c['slow_consumers']:,}; "
            f"refused (full) {c['refused_full']:,}; closes: {closes}; loop turns {turn_count:,} "
            f"(mean {mean}); commits {sum(c['commits'].counts):,}")


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def rss_mb() -> float | None:
    """The resident set size now (Linux /proc), in MB."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return None
