"""A worker process: its clients sending at the pace asked and counting what they receive;
and the login storm beside it."""

from __future__ import annotations

import json
import math
import selectors
import signal
import socket
import time
from array import array
from typing import Any

from selchat.bench.joining import _connect_all
from selchat.bench.spec import (
    CHAT_PREFIX,
    DELIVERED,
    DONE,
    IRC_END,
    JSON_END,
    LINE_END,
    MAX_SAMPLES,
    PACE_SHARE,
    RECV_SIZE,
    REFUSED,
    SAMPLERS_PER_WORKER,
    SENT,
    SLOT,
    WS_END,
    WS_MESSAGE_END,
    BenchError,
    Markers,
    Spec,
    _message,
    recipients_of,
    room_of,
    speaks_irc,
    speaks_redis,
    speaks_ws,
)


def _scan(data: bytes | bytearray, start: int, end: int, sample: bool, latencies: array, counts: list[int],
          markers: Markers, received: float, end_mark: bytes = LINE_END) -> int:
    """Chat frames in ``data[start:end]`` (whole lines), counted without decoding them."""
    chats = data.count(markers.chat, start, end)
    if sample:
        # Only sampling receivers look for other frames (a second pass over the bytes). Nothing
        # goes unreported: a dropped client is an EOF on our own socket, and a refused message
        # is a missing delivery at every receiver.
        if data.count(end_mark, start, end) != chats:
            # a refusal by flood control is counted apart (see "refused"), not as an error
            counts[0] += data.count(markers.error, start, end) - data.count(markers.refused, start, end)
            counts[1] += data.count(markers.left, start, end)
        sample_mark = markers.sample
        pos = data.find(sample_mark, start, end)
        while pos >= 0:
            stop = data.find(b"|", pos, end)
            latencies.append(received - float(data[pos + len(sample_mark) : stop]))
            pos = data.find(sample_mark, stop, end)
    return chats


def _worker(index: int, spec: Spec, first: int, count: int, senders: int, shared: Any,
            pipe: Any, go: Any, close: Any) -> None:
    """Connect, join, report, wait for the start, run the load, report the counts."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator decides when to stop
    try:
        started = time.monotonic()
        socks, tails, markers, limits = _connect_all(spec, first, count)
        timing = limits.pop("timing")
        pipe.send({"joined": count, "join_seconds": time.monotonic() - started, "limits": limits, **timing})
    except BenchError as exc:
        pipe.send({"error": str(exc)})
        return
    except Exception as exc:  # a bug: still one line for the user
        pipe.send({"error": f"worker {index} failed: {exc!r}"})
        return
    try:
        go.wait()
        pipe.send(_load(index, spec, socks, tails, markers, senders, shared, first, limits.get("rate_limit")))
        # Leave only when every worker has reported: a client leaving earlier would send
        # user_left frames into other workers' counts.
        close.wait(60)
    finally:
        for sock in socks:
            sock.close()


def _load(index: int, spec: Spec, socks: list[socket.socket], tails: list[bytes], markers: list[Markers],
          senders: int, shared: Any, first: int = 0, rate_limit: float | None = None) -> dict[str, Any]:
    return Load(index, spec, socks, tails, markers, senders, shared, first, rate_limit).run()


class Load:
    """One worker's clients under load: each turn it sends what is due, then counts what arrived.
    The per-message loops keep what they use in locals (this is the generator's hot path)."""

    def __init__(self, index: int, spec: Spec, socks: list[socket.socket], tails: list[bytes],
                 markers: list[Markers], senders: int, shared: Any, first: int, rate_limit: float | None) -> None:
        self.spec, self.socks, self.tails, self.markers, self.senders, self.shared = (
            spec, socks, tails, markers, senders, shared)
        self.workers = spec.workers
        # Under the server's flood control (its welcome says the rate), each sender keeps to 90 % of
        # it: messages refused, and clients dropped for flooding, would measure the policy, not the server.
        self.pace = 1.0 / (PACE_SHARE * rate_limit) if rate_limit else 0.0
        self.scan_refused = spec.flood_control and rate_limit != 0
        self.next_ok = [0.0] * max(1, senders)
        # messages are complete when every recipient has them: on average this many each
        own = 1 if spec.protocol == "redis" else 0  # Redis delivers a publisher its own message too
        self.recipients = (max(1.0, spec.clients / spec.rooms - 1 + own) if spec.rooms
                           else max(1, spec.clients - 1 + own))
        self.fanout = [recipients_of(spec, first + n) for n in range(len(socks))]
        self.prefixes = [_prefix(spec, first + n) for n in range(len(socks))]
        self.ends = [WS_MESSAGE_END if speaks_ws(spec, first + n) else LINE_END for n in range(len(socks))]
        self.base = index * SLOT
        self.sel = selectors.DefaultSelector()
        for n, sock in enumerate(socks):
            self.sel.register(sock, selectors.EVENT_READ, n)
        self.samplers = min(len(socks), SAMPLERS_PER_WORKER)
        self.every = 1 if spec.rate else 64
        self.my_rate = (spec.rate / self.workers) if spec.rate else 0.0
        self.sent = self.delivered = self.drops = self.refused = self.expected = 0
        self.counts = [0, 0]  # errors, user_left
        self.latencies = array("d")
        self.buf = bytearray(RECV_SIZE)  # recv_into one buffer: no allocation per read
        self.next_sender = 0

    def totals(self, field_: int) -> int:
        shared = self.shared
        return sum(shared[i * SLOT + field_] for i in range(self.workers))

    def run(self) -> dict[str, Any]:
        spec, shared, base = self.spec, self.shared, self.base
        cpu0 = time.process_time()
        clock = time.monotonic
        start = clock()
        end_send = start + spec.duration
        sending = self.senders > 0
        if not sending:
            shared[base + DONE] = 1
        while True:
            now = clock()
            timeout = 0.002
            if sending and now >= end_send:
                sending = False
                shared[base + DONE] = 1
            if sending:
                timeout = self.send(now, start, timeout)
            ready = self.sel.select(timeout)
            # Receipts are stamped when select() returned: the bytes were there by then, and the time
            # this loop takes to reach each socket is the generator's delay, not the server's.
            self.receive(ready, clock())
            shared[base + DELIVERED] = self.delivered
            if not sending and (self.all_delivered() or clock() > end_send + spec.drain):
                break
        finished = clock()
        self.sel.close()
        return {"sent": self.sent, "expected": self.expected, "delivered": self.delivered, "errors": self.counts[0],
                "refused": self.refused, "left": self.counts[1], "drops": self.drops,
                "latencies": self.latencies.tobytes(), "cpu": time.process_time() - cpu0, "start": start,
                "finished": finished}

    def all_delivered(self) -> bool:
        if not all(self.shared[i * SLOT + DONE] for i in range(self.workers)):
            return False
        total_sent = self.totals(SENT) - self.totals(REFUSED)
        return self.totals(DELIVERED) >= round(total_sent * self.recipients)

    def due(self, now: float, start: float, timeout: float) -> tuple[int, float]:
        """How many to send now (a rate, or what the shared window has room for), and the timeout."""
        spec, my_rate = self.spec, self.my_rate
        if my_rate:
            due = int((now - start) * my_rate) + 1 - self.sent
            if due <= 0:
                timeout = min(0.002, (self.sent - (now - start) * my_rate) / my_rate)
            return due, timeout
        total_sent = self.totals(SENT) - self.totals(REFUSED)
        total_done = self.totals(DELIVERED) / self.recipients
        room = spec.window - (total_sent - total_done)
        # top up in chunks, not one message per turn: a trickle of single sends would
        # measure the per-turn overhead of both sides instead of the server's capacity
        return (math.ceil(room / self.workers) if room >= max(1, spec.window // 4) else 0), timeout

    def send(self, now: float, start: float, timeout: float) -> float:
        due, timeout = self.due(now, start, timeout)
        pace, next_ok, socks, prefixes, fanout = self.pace, self.next_ok, self.socks, self.prefixes, self.fanout
        size, every, senders, clock = self.spec.size, self.every, self.senders, time.monotonic
        sent, expected, next_sender = self.sent, self.expected, self.next_sender
        for _ in range(max(0, due)):
            this = next_sender
            if pace:
                if now < next_ok[this]:
                    timeout = min(timeout, max(0.0005, next_ok[this] - now))
                    break  # round robin: the next sender's turn has not come, nor will the others'
                next_ok[this] = max(now, next_ok[this]) + pace
            next_sender = (next_sender + 1) % senders
            try:
                socks[this].send(_message(size, sent % every == 0, clock(), *prefixes[this]))
            except (BlockingIOError, InterruptedError):
                break  # this socket's buffer is full: the server is behind; try again later
            except OSError:
                self.drops += 1
                break
            sent += 1
            expected += fanout[this]
        self.sent, self.expected, self.next_sender = sent, expected, next_sender
        self.shared[self.base + SENT] = sent
        return timeout

    def receive(self, ready: list[Any], received: float) -> None:
        socks, tails, markers, buf, ends = self.socks, self.tails, self.markers, self.buf, self.ends
        latencies, counts, samplers = self.latencies, self.counts, self.samplers
        delivered = self.delivered
        for key, _ in ready:
            n = key.data
            try:
                size = socks[n].recv_into(buf)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                size = 0
            if not size:
                self.drops += 1
                self.sel.unregister(socks[n])
                continue
            end_mark = ends[n]
            last = buf.rfind(end_mark, 0, size) + 1
            if not last:
                tails[n] += buf[:size]
                continue
            sample = n < samplers and len(latencies) < MAX_SAMPLES
            tail = tails[n]
            if self.scan_refused and n < self.senders:  # a sender hears it when flood control refuses one
                self.count_refused(n, tail, size, last, end_mark)
            if tail:
                # the line that straddles two reads: scan it whole, then the rest in place
                first = buf.find(end_mark, 0, size) + 1
                piece = tail + buf[:first]
                delivered += _scan(piece, 0, len(piece), sample, latencies, counts, markers[n], received, end_mark)
                delivered += _scan(buf, first, last, sample, latencies, counts, markers[n], received, end_mark)
            else:
                delivered += _scan(buf, 0, last, sample, latencies, counts, markers[n], received, end_mark)
            tails[n] = bytes(buf[last:size])
        self.delivered = delivered

    def count_refused(self, n: int, tail: bytes, size: int, last: int, end_mark: bytes) -> None:
        buf, mark = self.buf, self.markers[n].refused
        no = buf.count(mark, buf.find(end_mark, 0, size) + 1 if tail else 0, last)
        if tail:
            no += (tail + buf[: buf.find(end_mark, 0, size) + 1]).count(mark)
        if no:
            self.refused += no
            self.expected -= no * self.fanout[n]
            self.shared[self.base + REFUSED] = self.refused


def _prefix(spec: Spec, i: int) -> tuple[bytes, bytes, bool]:
    """What client ``i``'s messages start and end with, and whether they go as WebSocket frames."""
    ws = speaks_ws(spec, i)
    if speaks_redis(spec, i):  # an inline command: the text holds no space
        return f"PUBLISH {(room_of(spec, i) or 'lobby').lstrip('#')} ".encode(), IRC_END, False
    if speaks_irc(spec, i):
        return f"PRIVMSG {room_of(spec, i) or '#lobby'} :".encode(), IRC_END, False
    if not spec.rooms:
        return (CHAT_PREFIX, WS_END, True) if ws else (CHAT_PREFIX, JSON_END, False)
    return (b'{"type":"chat","room":"' + str(room_of(spec, i)).encode() + b'","message":"',
            WS_END if ws else JSON_END, ws)


# -- a login storm beside the load ---------------------------------------------------------------

LOGIN_PASSWORD = "bench password"


def login_account(i: int) -> str:
    return f"login{i}"


def _login_storm(spec: Spec, pipe: Any, stop: Any) -> None:
    """``spec.logins`` clients that each log in to their account, quit once welcomed, and do it
    again, until told to stop: the server's worker is never idle meanwhile."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sel = selectors.DefaultSelector()
    done = 0

    def start(i: int) -> None:
        sock = socket.create_connection((spec.host, spec.port), timeout=10)
        sock.sendall(json.dumps({"type": "join", "username": login_account(i), "login": LOGIN_PASSWORD}).encode()
                     + b"\n")
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ, i)

    for i in range(spec.logins):
        start(i)
    pipe.send({"connected": spec.logins})
    while not stop.is_set():
        for key, _ in sel.select(0.1):
            sock = key.fileobj
            try:
                data = sock.recv(65536)  # type: ignore[union-attr]
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if b'"welcome"' in data:
                done += 1
                sock.sendall(b'{"type":"quit"}\n')  # type: ignore[union-attr]
            if not data:
                sel.unregister(sock)
                sock.close()  # type: ignore[union-attr]
                start(key.data)
    for key in list(sel.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    sel.close()
    pipe.send({"logins": done})


def make_login_accounts(path: str, count: int) -> None:
    """Accounts login0.. in a database file, all with one password: one argon2 hash serves them
    all (each hash carries its own salt, and any hash of the password verifies it)."""
    from selchat.passwords import hash_password
    from selchat.records import SaveAccount
    from selchat.store import Store

    store = Store(path)
    hashed = hash_password(LOGIN_PASSWORD)
    for i in range(count):
        store.write(SaveAccount(login_account(i), login_account(i), hashed, time.time()))
    store.close()


# -- the coordinator -----------------------------------------------------------------------------


