"""Counters an operator scrapes: the Prometheus text format on a listener of its own.

The hot path pays nothing for them: the counts are plain integer attributes that the reactor,
the hub, the store and the server bump where the work already is (one add per syscall, per
message, per commit, per loop turn), and this module reads and formats them only when
``GET /metrics`` asks. The text format is prometheus-client's own exposition, fed by a collector
that builds the metric families at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import h11

from selchat.wire.web import Hangup, plain, reason

MAX_REQUEST = 8 * 1024  # a scrape's request head (h11 keeps at most this much)


def parse_address(text: str) -> tuple[str, int]:
    """HOST:PORT, [IPv6]:PORT or :PORT (loopback: counters are for the operator, not the world)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r} is not HOST:PORT (127.0.0.1:9100, [::1]:9100 or :9100)")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


class Collector:
    """Builds the metric families from ``read()``, a snapshot of the server's counters."""

    def __init__(self, read: Callable[[], dict[str, Any]]) -> None:
        self.read = read

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        s = self.read()

        def counter(name: str, doc: str, value: float) -> Any:
            return CounterMetricFamily(f"selchat_{name}", doc, value=value)

        def labelled(kind: Any, name: str, doc: str, label: str, values: dict[str, float]) -> Any:
            family = kind(f"selchat_{name}", doc, labels=[label])
            for key, value in sorted(values.items()):
                family.add_metric([key], value)
            return family

        yield labelled(GaugeMetricFamily, "connections", "Connections open now, by the protocol they speak.",
                       "protocol", s["connections"])
        yield labelled(CounterMetricFamily, "connections_opened", "Connections accepted, by the protocol they "
                       "spoke.", "protocol", s["opened"])
        yield counter("connections_refused", "Connections refused because the server was full.", s["refused_full"])
        yield counter("joins", "Users who joined (were welcomed).", s["joins"])
        yield counter("messages", "Chat messages accepted into a room.", s["messages"])
        yield counter("deliveries", "Chat messages addressed to room members (one per recipient).",
                      s["deliveries"])
        yield counter("received_bytes", "Bytes read from clients.", s["bytes_in"])
        yield counter("sent_bytes", "Bytes written to clients.", s["bytes_out"])
        yield labelled(CounterMetricFamily, "closes", "Connections closed, by reason.", "reason", s["closes"])
        yield labelled(CounterMetricFamily, "errors", "Error frames sent, by code.", "code", s["errors"])
        yield counter("rate_limited", "Messages refused by flood control.", s["errors"].get("rate_limited", 0))
        yield counter("slow_consumers", "Clients dropped for falling too far behind reading.", s["slow_consumers"])
        yield GaugeMetricFamily("selchat_users", "Users online now.", value=s["users"])
        yield GaugeMetricFamily("selchat_rooms", "Rooms that exist now.", value=s["rooms"])
        yield GaugeMetricFamily("selchat_output_queued_bytes", "Bytes queued for clients, not yet written.",
                                value=s["queued"])
        yield GaugeMetricFamily("selchat_redis_up", "1 while both links to Redis (--redis) are up.",
                                value=s["redis_up"])
        yield counter("redis_published", "Events published to the other processes (--redis).", s["redis_published"])
        yield counter("redis_received", "Events received from the other processes (--redis).", s["redis_received"])
        for name, doc, hist in (("loop_turn_seconds", "Time one loop turn took, select() excluded.", s["turns"]),
                                ("db_commit_seconds", "Time one database commit took.", s["commits"])):
            yield HistogramMetricFamily(f"selchat_{name}", doc, buckets=hist.buckets(), sum_value=hist.sum)


def exposition(read: Callable[[], dict[str, Any]]) -> bytes:
    """The Prometheus text format for the counters ``read()`` returns."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collector(read))  # type: ignore[arg-type]
    return generate_latest(registry)


class MetricsCodec:
    """The metrics listener's connections: one HTTP request (h11), one answer, then close.

    Its ``feed`` gives bytes to write and then ``hangup``, the same two kinds of item the web
    codec gives, so the server handles it with no special case."""

    wire = None
    kind = "metrics"

    def __init__(self, read: Callable[[], dict[str, Any]]) -> None:
        self.read = read
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST)
        self.done = False

    def feed(self, data: bytes) -> list[Any]:
        if self.done:
            return []
        try:
            self.conn.receive_data(data)
            event = self.conn.next_event()
        except h11.RemoteProtocolError:
            return self._answer(400, b"bad request\n")
        if event is h11.NEED_DATA:
            return []
        if not isinstance(event, h11.Request):
            return self._answer(400, b"bad request\n")
        target = event.target.split(b"?", 1)[0]
        if target != b"/metrics":
            return self._answer(404, b"not found: the counters are at /metrics\n")
        if event.method not in (b"GET", b"HEAD"):
            return self._answer(405, b"GET /metrics\n", [(b"Allow", b"GET, HEAD")])
        from prometheus_client import CONTENT_TYPE_LATEST

        body = exposition(self.read)
        return self._answer(200, b"" if event.method == b"HEAD" else body,
                            [(b"Content-Type", CONTENT_TYPE_LATEST.encode())], length=len(body))

    def _answer(self, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None,
                length: int | None = None) -> list[Any]:
        self.done = True
        head = [*(headers or [(b"Content-Type", b"text/plain; charset=utf-8")]),
                (b"Content-Length", str(len(body) if length is None else length).encode()),
                (b"Connection", b"close")]
        out = b"".join((f"HTTP/1.1 {status} {reason(status)}\r\n".encode(),
                        *(name + b": " + value + b"\r\n" for name, value in head), b"\r\n", body))
        return [out, Hangup("metrics answered")]

    def ping(self, now: int) -> None:  # a scrape is not kept alive
        return None

    def error(self, exc: Any, command: Any = None) -> bytes:
        return b""

    def refuse(self, exc: Any) -> bytes:
        """A request that never finished: HTTP's 408, as the page's listener answers."""
        return plain(408, "no whole request in time") if not self.done else b""

    def welcomed(self) -> None:
        return None

    def saw(self, event: Any) -> None:
        return None

