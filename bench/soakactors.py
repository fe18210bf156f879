"""The soak's clients, each a small state machine ("actor") over one connection in one protocol.

Chatters are well behaved: numbered messages at a polite rate, every receipt from every other
chatter checked for loss, duplicates and order. The rest misbehave: lurkers (join and read),
garbage (fuzz from soakfuzz.py in their protocol), first-bytes (fuzz from the very first byte),
stallers (join and never read), dribblers (one byte at a time), vanishers (gone mid-frame,
sometimes with a reset) and flooders (far over the rate limit). They come back after they are
done or dropped. ``step`` runs when the actor's timer is due; ``readable`` when its socket is.
"""

from __future__ import annotations

import random
import selectors
import socket
import struct
import time
from typing import TYPE_CHECKING, Any

from soakfuzz import UNITS
from soakwire import CHAT_WIRES, WIRES, Event, Wire

if TYPE_CHECKING:
    from soak import Soak


class Actor:
    kind = "actor"
    reads = True

    def __init__(self, soak: Soak, index: int, wire: str) -> None:
        self.soak = soak
        self.index = index
        self.wire_name = wire
        self.rng = random.Random(soak.seed * 1_000_003 + index)
        self.sock: socket.socket | None = None
        self.wire: Wire = WIRES[wire](soak.address[1]) if wire in WIRES else Wire(soak.address[1])
        self.joined = False
        self.back_at = 0.0
        self.name = f"{self.kind[0]}{index}"

    # -- plumbing --
    def connect(self, greet: bool = True) -> bool:
        try:
            sock = socket.create_connection(self.soak.address, timeout=5)
        except OSError:
            self.soak.later(self, 0.5)
            return False
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.wire = WIRES[self.wire_name](self.soak.address[1]) if self.wire_name in WIRES else Wire(0)
        self.joined = False
        self.soak.counted(self.wire_name)
        if self.reads:
            self.soak.sel.register(sock, selectors.EVENT_READ, self)
        if greet:
            self.send(self.wire.hello(self.name))
        return True

    def send(self, data: bytes) -> bool:
        if self.sock is None or not data:
            return False
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            self.gone("send failed")
            return False
        self.soak.sent_bytes(self.wire_name, sent)
        return sent == len(data)

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
        for event in self.wire.feed(data):
            self.received(event)

    def received(self, event: Event) -> None:
        kind = event[0]
        if kind == "welcome":
            self.joined = True
        elif kind == "chat":
            self.soak.report.messages_delivered += 1
        elif kind == "reply":
            self.send(event[1])
        elif kind == "error":
            self.soak.error_seen(event[1])
        elif kind == "problem":
            self.soak.problem(f"{self.name} ({self.wire_name}): {event[1]}")

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

    def __init__(self, soak: Soak, index: int, wire: str) -> None:
        super().__init__(soak, index, wire)
        self.name = f"w{index}"
        self.seq = 0
        self.last: dict[str, int] = {}

    def step(self) -> None:
        if self.sock is None:
            if not self.connect():
                return
        elif (
            self.joined
            and not self.soak.stopping
            and self.soak.chatters_ready()
            and self.send(self.wire.chat(f"{self.seq}:{time.monotonic():.6f}"))
        ):
            self.soak.sent_by[self.name] = self.seq + 1
            self.seq += 1
            self.soak.report.messages_sent += 1
        self.soak.later(self, self.soak.chat_interval * self.rng.uniform(0.8, 1.2))

    def received(self, event: Event) -> None:
        super().received(event)
        if event[0] == "error":
            self.soak.problem(f"{self.name} (well behaved, {self.wire_name}) got an error: {event[1]}")
        if event[0] != "chat":
            return
        sender, text = event[1], event[2]
        if sender not in self.soak.chatter_names or sender == self.name:
            return  # a fuzzer can flip its way to a name like "w1x"; only exact peers count
        seq_text, _, sent = text.partition(":")
        try:
            seq, sent_at = int(seq_text), float(sent)
        except ValueError:
            self.soak.problem(f"{self.name} ({self.wire_name}) got a damaged message from {sender}: {text!r}")
            return
        expected = self.last.get(sender, -1) + 1
        if sender in self.last or seq == 0:
            if seq > expected:
                self.soak.report.wb_lost += seq - expected
            elif seq < expected:
                self.soak.report.wb_duplicated += 1
        self.last[sender] = max(seq, self.last.get(sender, -1))
        self.soak.report.wb_received += 1
        self.soak.latencies.append(time.monotonic() - sent_at)

    def gone(self, why: str) -> None:
        if not self.soak.stopping:
            self.soak.report.wb_dropped += 1
            self.soak.problem(f"{self.name} (well behaved, {self.wire_name}) was disconnected: {why}")
        self.close()


class Lurker(Actor):
    kind = "lurker"

    def step(self) -> None:
        if self.sock is None and not self.connect():
            return  # connect() has scheduled the retry
        self.soak.later(self, self.rng.uniform(1, 5))


class Garbage(Actor):
    """Logs in, then sends fuzz of its own protocol (soakfuzz.py) until it is done or dropped."""

    kind = "garbage"
    greets = True

    def step(self) -> None:
        if self.sock is None:
            # HTTP answers one request and hangs up: the fuzzed request is the first thing it gets
            if not self.connect(greet=self.greets and self.wire_name != "http"):
                return
            self.left = self.rng.randint(5, 60)
        if self.left <= 0:
            self.close(reset=self.rng.random() < 0.3)
            self.soak.later(self, self.rng.uniform(0.1, 1.0))
            return
        self.left -= 1
        data = UNITS[self.fuzz_codec()](self.rng)
        if self.rng.random() < 0.3:
            data = data[: self.rng.randint(0, len(data))]  # a unit that never ends (until the next)
        self.send(data)
        self.soak.later(self, self.rng.uniform(0.0, self.soak.garbage_pause))

    def fuzz_codec(self) -> str:
        return self.wire_name


class FirstBytes(Garbage):
    """Fuzz from the very first byte, of any codec: exercises the protocol sniffing and text mode."""

    kind = "first-bytes"
    greets = False

    def fuzz_codec(self) -> str:
        return self.rng.choice(list(UNITS))


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
            self.until = time.monotonic() + self.rng.uniform(30, 120)
        elif time.monotonic() > self.until:
            self.close()
        else:
            # a staller still writes now and then; a dropped one finds out here
            try:
                assert self.sock is not None
                self.sock.send(self.wire.chat("still here"))
            except BlockingIOError:
                pass
            except OSError:
                self.close()
                self.soak.error_seen("staller_dropped")
        self.soak.later(self, self.rng.uniform(1, 3))


class Dribbler(Actor):
    """Its login, three lines and its goodbye, one byte at a time."""

    kind = "dribbler"

    def step(self) -> None:
        if self.sock is None:
            if not self.connect(greet=False):
                return
            chats = b"".join(self.wire.chat(f"dribble {i}") for i in range(3))
            self.pending = self.wire.hello(self.name) + chats + self.wire.quit()
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
            self.soak.later(self, self.rng.uniform(0.1, 3))
            return
        line = self.wire.chat("about to vanish")
        self.send(line[: self.rng.randint(1, len(line) - 1)])
        self.close(reset=self.rng.random() < 0.5)
        self.soak.later(self, self.rng.uniform(0.2, 2))


class Flooder(Actor):
    kind = "flooder"

    def step(self) -> None:
        if self.sock is None:
            if not self.connect():
                return
        elif self.joined:
            self.send(self.wire.chat("flood") * 20)
        self.soak.later(self, 0.05)


# (kind, share of the misbehaving clients, the protocols it comes in)
ANY = (*CHAT_WIRES, "http")
MIXES: dict[str, list[tuple[type[Actor], float, tuple[str, ...]]]] = {
    "soak": [(Lurker, 0.25, CHAT_WIRES), (Garbage, 0.15, ANY), (FirstBytes, 0.05, ("raw",)),
             (Staller, 0.10, CHAT_WIRES), (Dribbler, 0.15, ANY), (Vanisher, 0.20, CHAT_WIRES),
             (Flooder, 0.10, CHAT_WIRES)],
    "fuzz": [(Garbage, 0.8, ANY), (FirstBytes, 0.2, ("raw",))],
}
KINDS = sorted({k.kind for mix in MIXES.values() for k, _, _ in mix})


def cast(soak: Soak, mix: str, clients: int, well_behaved: int, only: str | None, rng: random.Random) -> list[Any]:
    """The actors of one run: the chatters spread over the four chat protocols, then the rest."""
    actors: list[Actor] = [Chatter(soak, i, CHAT_WIRES[i % len(CHAT_WIRES)]) for i in range(well_behaved)]
    kinds = [k for k in MIXES["soak"] + MIXES["fuzz"] if k[0].kind == only][:1] if only else MIXES[mix]
    for i in range(well_behaved, clients):
        cls, _, wires = rng.choices(kinds, [w for _, w, _ in kinds])[0]
        actors.append(cls(soak, i, rng.choice(wires)))
    return actors
