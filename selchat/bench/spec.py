"""What a bench run is (``Spec``), what it found (``Result``), and the bytes clients send
and look for in each protocol."""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass, field


class Markers:
    """The byte patterns to count, in the spacing the server uses (compact, or json.dumps's
    default ``": "``), learned from its welcome line."""

    def __init__(self, sep: bytes = b":") -> None:
        self.chat = b'{"type"' + sep + b'"chat"'
        self.error = b'{"type"' + sep + b'"error"'
        # only the bench's own clients leaving counts (not, say, the --logins clients coming and going)
        comma = b", " if sep == b": " else b","
        self.left = b'{"type"' + sep + b'"user_left"' + comma + b'"username"' + sep + b'"bench'
        self.sample = b'"message"' + sep + b'"S'
        self.refused = b'"code"' + sep + b'"rate_limited"'  # flood control said no: not a loss

    @classmethod
    def from_line(cls, line: bytes) -> Markers:
        return cls(b": " if line.startswith(b'{"type": ') else b":")

    @classmethod
    def irc(cls) -> Markers:
        """The same counts for an IRC client: a delivery is a PRIVMSG to a channel."""
        markers = cls()
        markers.chat = b" PRIVMSG #"
        markers.error = b":selchat NOTICE "
        markers.left = b" QUIT :"
        markers.sample = b" :S"
        markers.refused = b" :slow down: "
        return markers

    @classmethod
    def redis(cls) -> Markers:
        """The same for a Redis pub/sub subscriber (RESP3): a delivery is a ``message`` push. Each
        marker's only newline is its last byte, so a read never cuts one in two."""
        markers = cls()
        markers.chat = b"message\r\n"
        markers.error = b"-ERR"
        markers.left = b"\0none"  # nobody leaves a channel by the server's doing
        markers.sample = b"S"  # the only capital S a subscriber hears is a sampled payload's
        markers.refused = b"\0none"
        return markers

RECV_SIZE = 1 << 20
SAMPLERS_PER_WORKER = 32  # receivers per worker that parse latency samples
MAX_SAMPLES = 400_000  # per worker
JOIN_TIMEOUT = 30.0
CONNECT_READS_EVERY = 16  # connects between looks for welcomes while connecting
LISTENING = re.compile(r"listening on (?:\[([^\]]+)\]|([^\s:]+)):(\d+)")

# shared array layout: per worker [sent, delivered, done]
SENT, DELIVERED, DONE, REFUSED = 0, 1, 2, 3
PACE_SHARE = 0.9  # of the server's announced per-client rate
SLOT = 4


class BenchError(Exception):
    """A run that cannot start or cannot go on; said in one line."""


@dataclass
class Spec:
    host: str
    port: int
    clients: int
    duration: float = 10.0
    rate: float | None = None
    window: int = 128
    size: int = 64
    senders: int | None = None
    workers: int = 1
    drain: float = 5.0
    rooms: int = 0  # spread the clients over this many rooms (protocol v2); 0: all in the lobby
    db: str = ":memory:"  # the database of the server the bench starts
    logins: int = 0  # extra clients that log in to accounts, again and again, during the run
    # json, irc, mixed (every other client IRC), ws (JSON over WebSocket) or redis (Redis pub/sub: the
    # baseline, each client SUBSCRIBEd to its room's channel and PUBLISHing on the same connection, RESP3)
    protocol: str = "json"
    # a server the bench did not start may refuse floods; scanning every read for refusals costs
    # the generator (1 ms a megabyte of IRC), so a server started without flood control is spared it
    flood_control: bool = True
    ports: list[int] = field(default_factory=list)  # several servers sharing rooms: client i on ports[i % n]

    def port_of(self, i: int) -> int:
        return self.ports[i % len(self.ports)] if len(self.ports) > 1 else self.port


@dataclass
class Result:
    server: str = ""
    clients: int = 0
    senders: int = 0
    workers: int = 0
    size: int = 0
    window: int | None = None
    rate: float | None = None
    duration: float = 0.0
    joined: int = 0
    join_seconds: float = 0.0
    sent: int = 0
    sent_per_s: float = 0.0
    delivered: int = 0
    expected: int = 0
    missing: int = 0
    deliveries_per_s: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    samples: int = 0
    errors: int = 0
    drops: int = 0
    elapsed: float = 0.0
    server_cpu_s: float | None = None
    server_peak_rss_mb: float | None = None
    generator_cpu_s: float = 0.0
    bottleneck: str = ""
    rooms: int = 0
    db: str = ""
    logins: int = 0
    logins_done: int = 0
    protocol: str = "json"
    refused: int = 0  # messages flood control refused (never expected, never missing)
    rate_limit: float | None = None  # as the server's welcome announced it
    burst: int | None = None
    connect_join_s: float = 0.0  # first connect to last welcome, over every worker
    welcome_ms: dict[str, float] = field(default_factory=dict)  # each client's connect -> its welcome
    server_idle_rss_mb: float | None = None  # with every client joined and nothing sent yet
    join_cpu_s: float | None = None  # the server's CPU seconds while everyone connected and joined
    rss_per_client_kb: float | None = None  # (idle RSS - RSS before anyone connected) / clients


# -- one worker: a share of the clients ----------------------------------------------------------


CHAT_PREFIX = b'{"type":"chat","message":"'
JSON_END = b'"}\n'
IRC_END = b"\r\n"
WS_END = b'"}'
# What ends a message a client receives, for finding whole messages in a read: a line's newline, or
# for JSON over WebSocket (frames without newlines) the closing brace of the flat chat object.
LINE_END = b"\n"
WS_MESSAGE_END = b"}"


def ws_frame(payload: bytes) -> bytes:
    """A client's WebSocket text frame. Clients must mask; the key is all zeros (RFC 6455 allows
    any key), which costs the server's unmasking the same and the generator nothing."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, 0x80 | size)) + b"\0\0\0\0" + payload
    if size < 65536:
        return bytes((0x81, 0xFE)) + size.to_bytes(2, "big") + b"\0\0\0\0" + payload
    return bytes((0x81, 0xFF)) + size.to_bytes(8, "big") + b"\0\0\0\0" + payload


def speaks_ws(spec: Spec, i: int) -> bool:
    return spec.protocol == "ws"



def _message(size: int, sampled: bool, now: float, prefix: bytes = CHAT_PREFIX, end: bytes = JSON_END,
             ws: bool = False) -> bytes:
    text = f"S{now:.6f}|" if sampled else "x"
    text = (text + "." * size)[: max(size, len(text))]
    data = prefix + text.encode() + end
    return ws_frame(data) if ws else data


def speaks_redis(spec: Spec, i: int) -> bool:
    return spec.protocol == "redis"


def speaks_irc(spec: Spec, i: int) -> bool:
    return spec.protocol == "irc" or (spec.protocol == "mixed" and i % 2 == 1)


def room_of(spec: Spec, i: int) -> str | None:
    """Client ``i``'s room with ``--rooms``: round robin, so rooms differ by one member at most."""
    return f"#bench{i % spec.rooms}" if spec.rooms else None


def recipients_of(spec: Spec, i: int) -> int:
    """How many clients receive what client ``i`` sends (Redis delivers a publisher its own too)."""
    own = 1 if spec.protocol == "redis" else 0
    if not spec.rooms:
        return spec.clients - 1 + own
    share, extra = divmod(spec.clients, spec.rooms)
    return share + (1 if i % spec.rooms < extra else 0) - 1 + own


def _ran_out(spec: Spec, i: int, first: int, exc: OSError) -> str:
    """Why client ``i`` could not connect, and what to change."""
    where = f"client {i + 1} of {spec.clients} ({i - first} open in this worker)"
    if exc.errno == errno.EMFILE:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        return (f"{where}: out of open files (limit {soft}, hard limit {hard}); raise it with ulimit -n "
                f"or spread the clients over more --workers")
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{where}: out of local ports (net.ipv4.ip_local_port_range); use fewer clients"
    return f"{where}: cannot connect to {spec.host}:{spec.port}: {exc.strerror or exc}"


