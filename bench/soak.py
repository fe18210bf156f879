"""Soak test: hundreds of clients misbehave in every way we know while a set of well-behaved
clients checks that nothing they send each other is lost, duplicated or reordered.

One process, one selectors loop, every client a small state machine ("actor"). Kinds of actor:
chatters (well behaved: numbered messages, every receipt checked), lurkers (join and read),
garbage (random and mutated bytes), stallers (join and never read), dribblers (frames one byte
at a time), vanishers (gone mid-frame, sometimes with a reset) and flooders (far over the rate
limit). Misbehaving actors reconnect after they are done or dropped.

    python bench/soak.py --duration 600 --clients 300      # `make soak`
    python bench/soak.py --duration 20 --clients 60 --json # what CI runs
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import os
import random
import selectors
import socket
import struct
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from selchat.bench import BenchError, StartedServer, raise_fd_limit

VALID = [
    {"type": "chat", "message": "hello"},
    {"type": "users"},
    {"type": "ping", "id": 1},
    {"type": "dm", "to": "w0", "message": "hi"},
    {"type": "join", "username": "someone"},
    {"type": "quit"},
]
ODD_VALUES: list[Any] = [
    None, True, 0, -1, 2**63, 1e308, "", "x" * 3000, "\x00\x1b[2J", "\ud800", [], {}, [[[[]]]], {"a": {"b": []}},
]


def mutate(rng: random.Random) -> bytes:
    """One line of fuzz: random bytes, a damaged valid frame, or a valid frame with odd values."""
    choice = rng.random()
    if choice < 0.2:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300))) + b"\n"
    frame = dict(rng.choice(VALID))
    if choice < 0.5:
        key = rng.choice([*frame, "type", "message", "username", "to", "id", "extra"])
        frame[key] = rng.choice(ODD_VALUES)
        try:
            return json.dumps(frame).encode("utf-8", "surrogatepass") + b"\n"
        except (ValueError, TypeError):
            return b"{}\n"
    data = bytearray(json.dumps(frame).encode())
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        pos = rng.randrange(len(data) + 1)
        if op < 0.3 and data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif op < 0.5:
            data[pos:pos] = bytes([rng.choice(b'{}[]",:\\\n\r\x00\xff')])
        elif op < 0.7 and data:
            del data[pos : pos + rng.randint(1, 10)]
        elif op < 0.85:
            data[pos:pos] = data[: rng.randint(0, len(data))]
        else:
            data += b"[" * rng.randint(1, 20000)  # deep nesting or an oversized line
    return bytes(data) + b"\n"


@dataclass
class Report:
    duration: float = 0.0
    clients: int = 0
    well_behaved: int = 0
    connections: int = 0
    bytes_sent: int = 0
    messages_sent: int = 0
    messages_delivered: int = 0
    wb_expected: int = 0
    wb_received: int = 0
    wb_lost: int = 0
    wb_duplicated: int = 0
    wb_reordered: int = 0
    wb_dropped: int = 0
    wb_p99_ms: float = 0.0
    wb_max_ms: float = 0.0
    errors_seen: dict[str, int] = field(default_factory=dict)
    server_alive: bool = True
    server_tracebacks: int = 0
    server_fds_start: int = 0
    server_fds_end: int = 0
    server_rss_mb_start: float = 0.0
    server_rss_mb_end: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class Actor:
    """One client connection's behaviour. ``step`` runs when the actor's timer is due."""

    kind = "actor"
    reads = True
    speaks_json = True

    def __init__(self, soak: Soak, index: int) -> None:
        self.soak = soak
        self.index = index
        self.rng = random.Random(soak.seed * 1_000_003 + index)
        self.sock: socket.socket | None = None
        self.buf = b""
        self.joined = False
        self.back_at = 0.0
        self.name = f"{self.kind[0]}{index}"

    # -- plumbing --
    def connect(self) -> bool:
        try:
            sock = socket.create_connection(self.soak.address, timeout=5)
        except OSError:
            self.soak.later(self, 0.5)
            return False
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.buf = b""
        self.joined = False
        self.soak.report.connections += 1
        if self.reads:
            self.soak.sel.register(sock, selectors.EVENT_READ, self)
        if self.speaks_json:
            # the first line picks the protocol (wire/sniff.py): this actor is a JSON client
            self.send(b'{"type":"ping","id":"hello"}\n')
        return True

    def send(self, data: bytes) -> bool:
        if self.sock is None:
            return False
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            self.gone("send failed")
            return False
        self.soak.report.bytes_sent += sent
        return sent == len(data)

    def frame(self, **fields: Any) -> bool:
        return self.send(json.dumps(fields).encode() + b"\n")

    def close(self, reset: bool = False) -> None:
        if self.sock is None:
            return
        if reset:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if self.reads:
            try:
                self.soak.sel.unregister(self.sock)
            except (KeyError, ValueError):
                pass
        self.sock.close()
        self.sock = None

    def readable(self) -> None:
        assert self.sock is not None
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.gone("closed by the server")
            return
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        if not self.speaks_json:
            return  # its first bytes chose text mode (or IRC): readable lines, not frames
        for line in lines:
            try:
                frame = json.loads(line)
            except ValueError:
                self.soak.problem(f"{self.name}: the server sent a line that is not JSON: {line[:80]!r}")
                continue
            self.received(frame)

    def received(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "welcome":
            self.joined = True
        elif kind == "chat":
            self.soak.report.messages_delivered += 1
        elif kind == "ping":
            self.frame(type="pong", id=frame.get("id"))
        elif kind == "error":
            errors = self.soak.report.errors_seen
            errors[frame.get("code", "?")] = errors.get(frame.get("code", "?"), 0) + 1

    def gone(self, why: str) -> None:
        """The connection ended; a misbehaving actor comes back after a pause.

        Only the actor's own step chain reconnects: scheduling another step here would start a
        second chain, and each disconnect would double the actor's load.
        """
        self.close()
        self.back_at = time.monotonic() + self.rng.uniform(0.2, 2.0)

    def run_step(self) -> None:
        wait = self.back_at - time.monotonic()
        if self.sock is None and wait > 0:
            self.soak.later(self, wait)
            return
        self.step()

    def step(self) -> None:
        raise NotImplementedError


class Chatter(Actor):
    """Well behaved: numbered messages at a polite rate; checks every other chatter's numbers."""

    kind = "wchat"

    def __init__(self, soak: Soak, index: int) -> None:
        super().__init__(soak, index)
        self.name = f"w{index}"
        self.seq = 0
        self.last: dict[str, int] = {}

    def step(self) -> None:
        if self.sock is None:
            if not self.connect():
                return
            self.frame(type="join", username=self.name)
        elif (
            self.joined
            and not self.soak.stopping
            and self.soak.chatters_ready()
            and self.frame(type="chat", message=f"{self.seq}:{time.monotonic():.6f}")
        ):
            self.soak.sent_by[self.name] = self.seq + 1
            self.seq += 1
            self.soak.report.messages_sent += 1
        self.soak.later(self, self.soak.chat_interval * self.rng.uniform(0.8, 1.2))

    def received(self, frame: dict[str, Any]) -> None:
        super().received(frame)
        if frame.get("type") == "error":
            self.soak.problem(f"{self.name} (well behaved) got an error: {frame}")
        if frame.get("type") != "chat":
            return
        sender = str(frame.get("username"))
        if sender not in self.soak.chatter_names:
            return  # a fuzzer can flip its way to a name like "w1x"; only exact peers count
        seq_text, _, sent = str(frame.get("message")).partition(":")
        seq = int(seq_text)
        expected = self.last.get(sender, -1) + 1
        if sender in self.last or seq == 0:
            if seq > expected:
                self.soak.report.wb_lost += seq - expected
            elif seq < expected:
                self.soak.report.wb_duplicated += 1
        self.last[sender] = max(seq, self.last.get(sender, -1))
        self.soak.report.wb_received += 1
        self.soak.latencies.append(time.monotonic() - float(sent))

    def gone(self, why: str) -> None:
        if not self.soak.stopping:
            self.soak.report.wb_dropped += 1
            self.soak.problem(f"{self.name} (well behaved) was disconnected: {why}")
        self.close()


class Lurker(Actor):
    kind = "lurker"

    def step(self) -> None:
        if self.sock is None:
            if not self.connect():
                return  # connect() has scheduled the retry
            self.frame(type="join", username=self.name)
        elif self.rng.random() < 0.1:
            self.frame(type="users")
        self.soak.later(self, self.rng.uniform(1, 5))


class Garbage(Actor):
    kind = "garbage"

    def step(self) -> None:
        if self.sock is None:
            if not self.connect():
                return
            self.left = self.rng.randint(5, 60)
        if self.left <= 0:
            self.close(reset=self.rng.random() < 0.3)
            self.soak.later(self, self.rng.uniform(0.1, 1.0))
            return
        self.left -= 1
        data = mutate(self.rng)
        if self.rng.random() < 0.3:
            data = data[: self.rng.randint(0, len(data))]  # a line that never ends (until the next)
        self.send(data)
        self.soak.later(self, self.rng.uniform(0.0, self.soak.garbage_pause))


class FirstBytes(Garbage):
    """Garbage from the very first byte: exercises the protocol sniffing and text mode."""

    kind = "first-bytes"
    speaks_json = False


class Staller(Actor):
    """Joins and never reads: the server must drop it, not wait for it."""

    kind = "staller"
    reads = False

    def step(self) -> None:
        if self.sock is None:
            if not self.connect():
                return
            assert self.sock is not None
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            self.frame(type="join", username=self.name)
            self.until = time.monotonic() + self.rng.uniform(30, 120)
        elif time.monotonic() > self.until:
            self.close()
        else:
            # a staller still writes now and then; a dropped one finds out here
            try:
                assert self.sock is not None
                self.sock.send(b'{"type":"ping","id":0}\n')
            except BlockingIOError:
                pass
            except OSError:
                self.close()
                self.soak.report.errors_seen["staller_dropped"] = self.soak.report.errors_seen.get(
                    "staller_dropped", 0) + 1
        self.soak.later(self, self.rng.uniform(1, 3))


class Dribbler(Actor):
    kind = "dribbler"

    def step(self) -> None:
        if self.sock is None:
            if not self.connect():
                return
            lines = [json.dumps({"type": "join", "username": self.name}).encode() + b"\n"]
            lines += [json.dumps({"type": "chat", "message": f"dribble {i}"}).encode() + b"\n" for i in range(3)]
            self.pending = b"".join(lines) + b'{"type":"quit"}\n'
        if not self.pending:
            self.soak.later(self, 0.5)  # wait for the server to close after quit
            return
        self.send(self.pending[:1])
        self.pending = self.pending[1:]
        self.soak.later(self, self.rng.uniform(0.001, 0.05))


class Vanisher(Actor):
    kind = "vanisher"

    def step(self) -> None:
        if self.sock is None:
            if not self.connect():
                return
            self.frame(type="join", username=self.name)
            self.soak.later(self, self.rng.uniform(0.1, 3))
            return
        line = json.dumps({"type": "chat", "message": "about to vanish"}).encode()
        self.send(line[: self.rng.randint(1, len(line) - 1)])
        self.close(reset=self.rng.random() < 0.5)
        self.soak.later(self, self.rng.uniform(0.2, 2))


class Flooder(Actor):
    kind = "flooder"

    def step(self) -> None:
        if self.sock is None:
            if not self.connect():
                return
            self.frame(type="join", username=self.name)
        elif self.joined:
            self.send(b'{"type":"chat","message":"flood"}\n' * 20)
        self.soak.later(self, 0.05)


MIXES = {
    "soak": [(Lurker, 0.30), (Garbage, 0.10), (FirstBytes, 0.05), (Staller, 0.10), (Dribbler, 0.15),
             (Vanisher, 0.20), (Flooder, 0.10)],
    "fuzz": [(Garbage, 0.7), (FirstBytes, 0.3)],
}


class Soak:
    def __init__(self, address: tuple[str, int], clients: int, well_behaved: int, seed: int, mix: str,
                 chat_interval: float, garbage_pause: float, only: str | None = None) -> None:
        self.address = address
        self.seed = seed
        self.chat_interval = chat_interval
        self.garbage_pause = garbage_pause
        self.sel = selectors.DefaultSelector()
        self.timers: list[tuple[float, int, Actor]] = []
        self.counter = itertools.count()
        self.report = Report(clients=clients, well_behaved=well_behaved)
        self.latencies: list[float] = []
        self.sent_by: dict[str, int] = {}
        self.stopping = False
        self._ready = False
        self.actors: list[Actor] = [Chatter(self, i) for i in range(well_behaved)]
        self.chatter_names = {actor.name for actor in self.actors}
        kinds = MIXES[mix]
        if only:
            kinds = [(k, w) for k, w in MIXES["soak"] if k.kind == only]
        rng = random.Random(seed)
        for i in range(well_behaved, clients):
            cls = rng.choices([k for k, _ in kinds], [w for _, w in kinds])[0]
            self.actors.append(cls(self, i))

    def chatters_ready(self) -> bool:
        """Chatters start counting once all have joined, so every message is due to every one."""
        if not self._ready:
            self._ready = all(a.joined for a in self.actors if isinstance(a, Chatter))
        return self._ready

    def later(self, actor: Actor, delay: float) -> None:
        heapq.heappush(self.timers, (time.monotonic() + delay, next(self.counter), actor))

    def problem(self, text: str) -> None:
        if len(self.report.problems) < 50:
            self.report.problems.append(text)

    def run(self, duration: float, server_alive: Any) -> None:
        rng = random.Random(self.seed)
        for actor in self.actors:
            self.later(actor, rng.uniform(0, 1.0))
        end = time.monotonic() + duration
        while time.monotonic() < end:
            self.turn(0.05)
            if not server_alive():
                self.report.server_alive = False
                self.problem("the server process died")
                return
        self.finish()

    def turn(self, limit: float) -> None:
        now = time.monotonic()
        while self.timers and self.timers[0][0] <= now:
            _, _, actor = heapq.heappop(self.timers)
            actor.run_step()
        timeout = min(limit, max(0.0, self.timers[0][0] - time.monotonic())) if self.timers else limit
        for key, _ in self.sel.select(timeout):
            actor = key.data
            if actor.sock is not None:
                actor.readable()

    def finish(self) -> None:
        """Stop sending; let the last messages arrive; everyone leaves."""
        self.stopping = True
        self.timers.clear()
        chatters = [a for a in self.actors if isinstance(a, Chatter)]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if all(c.last.get(s, -1) + 1 >= n for c in chatters if c.sock for s, n in self.sent_by.items()
                   if s != c.name):
                break
            self.turn(0.05)
        report = self.report
        for c in chatters:
            for sender, count in self.sent_by.items():
                if sender != c.name and c.sock is not None:
                    got = c.last.get(sender, -1) + 1
                    report.wb_expected += count
                    if got < count:
                        report.wb_lost += count - got
        for actor in self.actors:
            actor.close()
        if self.latencies:
            ordered = sorted(self.latencies)
            report.wb_p99_ms = round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2)
            report.wb_max_ms = round(ordered[-1] * 1000, 2)
        if report.wb_lost:
            self.problem(f"{report.wb_lost} messages among the well behaved were lost")
        if report.wb_duplicated:
            self.problem(f"{report.wb_duplicated} messages among the well behaved were duplicated")


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def main(argv: list[str] | None = None, mix: str = "soak") -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds")
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--well-behaved", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", choices=[k.kind for k, _ in MIXES["soak"]],
                        help="only this kind of misbehaving client (to narrow a failure down)")
    args = parser.parse_args(argv)
    raise_fd_limit(args.clients * 2 + 256)
    server = StartedServer([
        sys.executable, "-m", "selchat", "serve", "--host", "127.0.0.1", "--port", "0",
        "--max-clients", str(args.clients * 2 + 64), "--max-output", "65536",
        # every client here is 127.0.0.1, well-behaved or not: the per-address limits would refuse
        # them all alike (tests/test_abuse.py and `make abuse` hold those limits)
        "--max-per-address", "0", "--connects-per-minute", "0",
        "--handshake-timeout", "5", "--ping-interval", "20", "--log-level", "INFO", "--db", ":memory:",
    ])
    pid = server.proc.pid
    soak = Soak((server.host, server.port), args.clients, args.well_behaved, args.seed, mix,
                chat_interval=0.5, garbage_pause=0.2 if mix == "soak" else 0.01, only=args.only)
    report = soak.report
    report.duration = args.duration
    report.server_fds_start = fds(pid)
    report.server_rss_mb_start = rss_mb(pid)
    try:
        soak.run(args.duration, lambda: server.proc.poll() is None)
        if report.server_alive:
            # every client has gone: the server's descriptors must come back to where they began
            deadline = time.monotonic() + 10
            while fds(pid) > report.server_fds_start and time.monotonic() < deadline:
                time.sleep(0.05)
            report.server_fds_end = fds(pid)
            report.server_rss_mb_end = rss_mb(pid)
            if report.server_fds_end > report.server_fds_start:
                soak.problem(f"server descriptors: {report.server_fds_start} at the start, "
                             f"{report.server_fds_end} at the end")
    finally:
        log = server.stop()
    report.server_tracebacks = log.count("Traceback")
    if report.server_tracebacks:
        first = log[log.index("Traceback"):][:1500]
        soak.problem(f"the server logged {report.server_tracebacks} tracebacks; the first:\n{first}")
    if args.json:
        print(json.dumps({**asdict(report), "ok": report.ok}))
    else:
        print(format_report(report, mix))
    return 0 if report.ok else 1


def format_report(r: Report, mix: str) -> str:
    lines = [
        f"selchat {mix}: {r.duration:g} s, {r.clients} clients ({r.well_behaved} well behaved)",
        f"  connections served        {r.connections:,}",
        f"  bytes sent to the server  {r.bytes_sent:,}",
        f"  chat messages delivered   {r.messages_delivered:,}",
        f"  well behaved: sent {r.messages_sent:,}, expected receipts {r.wb_expected:,}, received {r.wb_received:,}",
        f"  well behaved: lost {r.wb_lost}, duplicated {r.wb_duplicated}, disconnected {r.wb_dropped}",
        f"  well behaved latency      p99 {r.wb_p99_ms} ms, max {r.wb_max_ms} ms",
        f"  errors the server sent    {', '.join(f'{k} {v}' for k, v in sorted(r.errors_seen.items())) or 'none'}",
        f"  server                    {'up throughout' if r.server_alive else 'DIED'}, "
        f"{r.server_tracebacks} tracebacks logged",
        f"  server descriptors        {r.server_fds_start} at the start, {r.server_fds_end} at the end",
        f"  server RSS                {r.server_rss_mb_start} MB at the start, {r.server_rss_mb_end} MB at the end",
        f"  result                    {'OK' if r.ok else 'FAILED'}",
    ]
    lines += [f"  ! {p}" for p in r.problems]
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"soak: {exc}", file=sys.stderr)
        sys.exit(1)
