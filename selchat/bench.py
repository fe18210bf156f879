"""`selchat bench`: a load generator for protocol v1 chat servers.

Clients are spread over worker processes, each a selectors loop, so the generator can use every
core the server does not. Workers publish their sent and delivered counts in a shared array
(one writer per slot, no lock), so each can see how many messages are in flight in total: a
message is in flight until every other client has received it, and deliveries / (clients - 1)
messages are complete. Deliveries are counted without decoding: ``bytes.count`` of the chat
frame's prefix over whole lines. Only sampled messages, at a few receivers per worker, have
their send time (carried in the message text) parsed for latency.
"""

from __future__ import annotations

import base64
import errno
import json
import math
import multiprocessing
import os
import re
import selectors
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from dataclasses import asdict, dataclass, field
from typing import Any

from selchat.fdlimit import raise_open_file_limit


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
    protocol: str = "json"  # json, irc, mixed (every other client IRC) or ws (JSON over WebSocket)
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


def speaks_irc(spec: Spec, i: int) -> bool:
    return spec.protocol == "irc" or (spec.protocol == "mixed" and i % 2 == 1)


def room_of(spec: Spec, i: int) -> str | None:
    """Client ``i``'s room with ``--rooms``: round robin, so rooms differ by one member at most."""
    return f"#bench{i % spec.rooms}" if spec.rooms else None


def recipients_of(spec: Spec, i: int) -> int:
    """How many clients receive what client ``i`` sends."""
    if not spec.rooms:
        return spec.clients - 1
    share, extra = divmod(spec.clients, spec.rooms)
    return share + (1 if i % spec.rooms < extra else 0) - 1


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


def _connect_all(spec: Spec, first: int,
                 count: int) -> tuple[list[socket.socket], list[bytes], list[Markers], dict[str, Any]]:
    socks: list[socket.socket] = []
    markers = [Markers.irc() if speaks_irc(spec, first + n) else Markers() for n in range(count)]
    upgrading: set[int] = set()  # WebSocket clients waiting for 101 Switching Protocols
    limits: dict[str, Any] = {}  # the flood control the server's welcome announces
    connected_at: list[float] = []
    welcomed_at = [0.0] * count
    tails = [b""] * count
    waiting: set[int] = set()
    sel = selectors.DefaultSelector()

    def on_ready(n: int, received: float) -> None:
        try:
            data = socks[n].recv(RECV_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            raise BenchError(f"client {first + n} lost its connection while joining: {exc}")
        if not data:
            raise BenchError(f"the server closed client {first + n}'s connection while it joined")
        data = tails[n] + data
        if n in upgrading:
            head_end = data.find(b"\r\n\r\n")
            if head_end < 0:
                tails[n] = data
                return
            if not data.startswith(b"HTTP/1.1 101 "):
                raise BenchError(f"client {first + n}: no WebSocket at /ws: {data[:head_end][:200]!r}")
            upgrading.discard(n)
            room = room_of(spec, first + n)
            join = {"type": "join", "username": f"bench{first + n}", "version": 2}
            socks[n].sendall(ws_frame(json.dumps(join).encode())
                             + (ws_frame(json.dumps({"type": "join_room", "room": room}).encode())
                                if room else b""))
            data = data[head_end + 4:]
        if speaks_ws(spec, first + n):
            cut = data.rfind(WS_MESSAGE_END) + 1
            tails[n] = data[cut:]
            if n in waiting:
                done = b'"type":"room_joined"' if room_of(spec, first + n) else b'"type":"welcome"'
                if done in data[:cut]:
                    waiting.discard(n)
                    welcomed_at[n] = received
                elif b'"type":"error"' in data[:cut]:
                    raise BenchError(f"client {first + n} could not join over WebSocket: "
                                     f"{data[:cut][-200:]!r}")
            return
        cut = data.rfind(b"\n") + 1
        tails[n] = data[cut:]
        if n in waiting and speaks_irc(spec, first + n):
            room = room_of(spec, first + n)
            done = f" 366 bench{first + n} {room or '#lobby'} "
            if done.encode() in data[:cut]:
                waiting.discard(n)
                welcomed_at[n] = received
            elif b" 433 " in data[:cut] or b"ERROR :" in data[:cut]:
                raise BenchError(f"client {first + n} could not join over IRC: {data[:cut][-200:]!r}")
            return
        if n in waiting:
            for line in data[:cut].splitlines():
                frame = json.loads(line)
                if frame.get("type") == "welcome":
                    markers[n] = Markers.from_line(line)
                    limits["rate_limit"] = frame.get("rate_limit")
                    limits["burst"] = frame.get("burst")
                    if not spec.rooms:
                        waiting.discard(n)
                        welcomed_at[n] = received
                        break
                if frame.get("type") == "room_joined":
                    waiting.discard(n)
                    welcomed_at[n] = received
                    break
                if frame.get("type") == "error":
                    code = frame.get("code")
                    if code == "server_full":
                        where = f"{spec.host}:{spec.port}"
                        raise BenchError(f"the server at {where} is full: {frame.get('message')}")
                    raise BenchError(f"client {first + n} could not join: {code}: {frame.get('message')}")

    def read_ready(timeout: float) -> None:
        ready = sel.select(timeout)
        received = time.monotonic()
        for key, _ in ready:
            on_ready(key.data, received)

    try:
        for i in range(first, first + count):
            if socks and (i - first) % CONNECT_READS_EVERY == 0:
                read_ready(0)  # welcomes are read as they come, so each is timed from its own connect
            try:
                connected_at.append(time.monotonic())
                sock = socket.create_connection((spec.host, spec.port_of(i)), timeout=10)
            except ConnectionRefusedError:
                raise BenchError(f"cannot connect to {spec.host}:{spec.port_of(i)}: connection refused")
            except OSError as exc:
                raise BenchError(_ran_out(spec, i, first, exc))
            socks.append(sock)
            waiting.add(i - first)
            sel.register(sock, selectors.EVENT_READ, i - first)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            room = room_of(spec, i)
            if speaks_ws(spec, i):
                key = base64.b64encode(os.urandom(16)).decode()
                sock.sendall(f"GET /ws HTTP/1.1\r\nHost: {spec.host}:{spec.port}\r\nUpgrade: websocket\r\n"
                             f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                             "Sec-WebSocket-Version: 13\r\n\r\n".encode())
                upgrading.add(i - first)
                sock.setblocking(False)
                continue
            if speaks_irc(spec, i):
                # IRC users start in no channel: the lobby is joined like any room
                sock.sendall(f"NICK bench{i}\r\nUSER b 0 * :bench\r\nJOIN {room or '#lobby'}\r\n".encode())
                sock.setblocking(False)
                continue
            join: dict[str, Any] = {"type": "join", "username": f"bench{i}"}
            if room:
                join["version"] = 2
            sock.sendall(json.dumps(join).encode() + b"\n")
            if room:
                sock.sendall(json.dumps({"type": "join_room", "room": room}).encode() + b"\n")
            sock.setblocking(False)
        deadline = time.monotonic() + JOIN_TIMEOUT
        while waiting:
            if time.monotonic() > deadline:
                raise BenchError(f"{len(waiting)} clients got no welcome within {JOIN_TIMEOUT:g} s")
            read_ready(1.0)
        sel.close()
        timing = {"connected_at": connected_at[0] if connected_at else 0.0,
                  "welcomed_at": max(welcomed_at, default=0.0),
                  "waits": array("d", (w - c for w, c in zip(welcomed_at, connected_at, strict=True))).tobytes()}
        return socks, tails, markers, {**limits, "timing": timing}
    except BaseException:
        sel.close()
        for sock in socks:
            sock.close()
        raise


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
    workers = spec.workers
    # Under the server's flood control (its welcome says the rate), each sender keeps to 90 % of
    # it: messages refused, and clients dropped for flooding, would measure the policy, not the server.
    pace = 1.0 / (PACE_SHARE * rate_limit) if rate_limit else 0.0
    scan_refused = spec.flood_control and rate_limit != 0
    next_ok = [0.0] * max(1, senders)
    # messages are complete when every recipient has them: on average this many each
    recipients = max(1.0, spec.clients / spec.rooms - 1) if spec.rooms else max(1, spec.clients - 1)
    fanout = [recipients_of(spec, first + n) for n in range(len(socks))]
    prefixes = [
        (f"PRIVMSG {room_of(spec, first + n) or '#lobby'} :".encode(), IRC_END, False) if speaks_irc(spec, first + n)
        else (CHAT_PREFIX, JSON_END, False) if not spec.rooms and not speaks_ws(spec, first + n)
        else (CHAT_PREFIX, WS_END, True) if not spec.rooms
        else (b'{"type":"chat","room":"' + str(room_of(spec, first + n)).encode() + b'","message":"',
              WS_END if speaks_ws(spec, first + n) else JSON_END, speaks_ws(spec, first + n))
        for n in range(len(socks))
    ]
    ends = [WS_MESSAGE_END if speaks_ws(spec, first + n) else LINE_END for n in range(len(socks))]
    expected = 0
    base = index * SLOT
    sel = selectors.DefaultSelector()
    for n, sock in enumerate(socks):
        sel.register(sock, selectors.EVENT_READ, n)
    samplers = min(len(socks), SAMPLERS_PER_WORKER)
    every = 1 if spec.rate else 64
    my_rate = (spec.rate / workers) if spec.rate else 0.0
    sent = delivered = drops = refused = 0
    counts = [0, 0]  # errors, user_left
    latencies = array("d")
    buf = bytearray(RECV_SIZE)  # recv_into one buffer: no allocation per read
    next_sender = 0
    cpu0 = time.process_time()
    start = time.monotonic()
    end_send = start + spec.duration
    sending = senders > 0
    if not sending:
        shared[base + DONE] = 1
    clock = time.monotonic
    while True:
        now = clock()
        timeout = 0.002
        if sending and now >= end_send:
            sending = False
            shared[base + DONE] = 1
        if sending:
            if my_rate:
                due = int((now - start) * my_rate) + 1 - sent
                if due <= 0:
                    timeout = min(0.002, (sent - (now - start) * my_rate) / my_rate)
            else:
                total_sent = sum(shared[i * SLOT + SENT] - shared[i * SLOT + REFUSED] for i in range(workers))
                total_done = sum(shared[i * SLOT + DELIVERED] for i in range(workers)) / recipients
                room = spec.window - (total_sent - total_done)
                # top up in chunks, not one message per turn: a trickle of single sends would
                # measure the per-turn overhead of both sides instead of the server's capacity
                due = math.ceil(room / workers) if room >= max(1, spec.window // 4) else 0
            for _ in range(max(0, due)):
                this = next_sender
                if pace:
                    if now < next_ok[this]:
                        timeout = min(timeout, max(0.0005, next_ok[this] - now))
                        break  # round robin: the next sender's turn has not come, nor will the others'
                    next_ok[this] = max(now, next_ok[this]) + pace
                sock = socks[this]
                next_sender = (next_sender + 1) % senders
                try:
                    sock.send(_message(spec.size, sent % every == 0, clock(), *prefixes[this]))
                except (BlockingIOError, InterruptedError):
                    break  # this socket's buffer is full: the server is behind; try again later
                except OSError:
                    drops += 1
                    break
                sent += 1
                expected += fanout[this]
            shared[base + SENT] = sent
        ready = sel.select(timeout)
        # Receipts are stamped when select() returned: the bytes were there by then, and the time
        # this loop takes to reach each socket is the generator's delay, not the server's.
        received = clock()
        for key, _ in ready:
            n = key.data
            try:
                size = socks[n].recv_into(buf)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                size = 0
            if not size:
                drops += 1
                sel.unregister(socks[n])
                continue
            end_mark = ends[n]
            last = buf.rfind(end_mark, 0, size) + 1
            if not last:
                tails[n] += buf[:size]
                continue
            sample = n < samplers and len(latencies) < MAX_SAMPLES
            tail = tails[n]
            if scan_refused and n < senders:  # a sender hears it when flood control refuses one of its messages
                mark = markers[n].refused
                no = buf.count(mark, buf.find(end_mark, 0, size) + 1 if tail else 0, last)
                if tail:
                    no += (tail + buf[: buf.find(end_mark, 0, size) + 1]).count(mark)
                if no:
                    refused += no
                    expected -= no * fanout[n]
                    shared[base + REFUSED] = refused
            if tail:
                # the line that straddles two reads: scan it whole, then the rest in place
                first = buf.find(end_mark, 0, size) + 1
                piece = tail + buf[:first]
                delivered += _scan(piece, 0, len(piece), sample, latencies, counts, markers[n], received, end_mark)
                delivered += _scan(buf, first, last, sample, latencies, counts, markers[n], received, end_mark)
            else:
                delivered += _scan(buf, 0, last, sample, latencies, counts, markers[n], received, end_mark)
            tails[n] = bytes(buf[last:size])
        shared[base + DELIVERED] = delivered
        if not sending:
            if all(shared[i * SLOT + DONE] for i in range(workers)):
                total_sent = sum(shared[i * SLOT + SENT] - shared[i * SLOT + REFUSED] for i in range(workers))
                total_delivered = sum(shared[i * SLOT + DELIVERED] for i in range(workers))
                if total_delivered >= round(total_sent * recipients):
                    break
            if clock() > end_send + spec.drain:
                break
    finished = clock()
    sel.close()
    return {
        "sent": sent,
        "expected": expected,
        "delivered": delivered,
        "errors": counts[0],
        "refused": refused,
        "left": counts[1],
        "drops": drops,
        "latencies": latencies.tobytes(),
        "cpu": time.process_time() - cpu0,
        "start": start,
        "finished": finished,
    }


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


def _receive(proc: Any, pipe: Any, timeout: float, progress: Any = None, shared: Any = None,
             workers: int = 0) -> dict[str, Any]:
    """A worker's next report; BenchError if it died or went silent."""
    deadline = time.monotonic() + timeout
    while not pipe.poll(0.5):
        if not proc.is_alive():
            raise BenchError(f"a load-generator worker died (exit status {proc.exitcode})")
        if time.monotonic() > deadline:
            raise BenchError(f"a load-generator worker did not report within {timeout:g} s")
        if progress:
            progress(shared, workers, time.monotonic())
    return pipe.recv()


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def _proc_cpu(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _proc_rss_mb(pid: int) -> float | None:
    return _proc_status_mb(pid, "VmRSS:")


def _proc_peak_rss_mb(pid: int) -> float | None:
    return _proc_status_mb(pid, "VmHWM:")


def _proc_status_mb(pid: int, key: str) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def raise_fd_limit(needed: int) -> None:
    raise_open_file_limit(needed)  # a shortfall shows up as a connect error, said in one line


class StartedServer:
    """A server process the bench started on a free loopback port, and stops afterwards."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        # The log goes to a file, not a pipe: a pipe nobody reads during the run fills up, and
        # then the server blocks on its next log line.
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = LISTENING.search(line)
        if not match:
            err = self.stop()
            raise BenchError(f"the server did not start: {shlex.join(command)}: {(line + err).strip()[:300]}")
        self.host = match.group(1) or match.group(2)
        self.port = int(match.group(3))
        self.base_rss_mb = _proc_rss_mb(self.proc.pid)  # listening, nobody connected yet

    def stop(self) -> str:
        """Stop the server; its log."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.communicate()
        self.log.seek(0)
        text = self.log.read()
        self.log.close()
        return text


def selchat_server_command(clients: int, db: str = ":memory:") -> list[str]:
    return [
        sys.executable, "-m", "selchat", "serve", "--host", "127.0.0.1", "--port", "0",
        "--max-clients", str(clients + 16), "--rate-limit", "0", "--max-output", str(256 << 20),
        "--handshake-timeout", "60", "--ping-interval", "600", "--log-level", "WARNING", "--db", db,
        "--max-rooms", "1000",
    ]


def run_bench(spec: Spec, *, server: StartedServer | None = None, label: str = "",
              progress: Any = None) -> Result:
    """Run one load; the caller owns ``server`` (if any) and stops it."""
    senders = spec.clients if spec.senders is None else min(spec.senders, spec.clients)
    workers = max(1, min(spec.workers, spec.clients))
    spec.workers = workers
    spec.flood_control = server is None  # the servers the bench starts run with --rate-limit 0
    # every worker holds its share of the sockets; say so before connecting if they cannot fit
    per_worker = math.ceil(spec.clients / workers) + 64
    soft = raise_open_file_limit(spec.clients + 256)
    if soft is not None and soft < per_worker:
        raise BenchError(f"{spec.clients} clients over {workers} worker{'s' if workers > 1 else ''} need "
                         f"{per_worker} open files each, and the limit is {soft}: raise it (ulimit -n) or "
                         "add --workers")
    context = multiprocessing.get_context("spawn")
    shared = context.RawArray("q", workers * SLOT)
    go = context.Event()
    close = context.Event()
    procs = []
    pipes = []
    storm: Any = None
    share, extra = divmod(spec.clients, workers)
    sender_share, sender_extra = divmod(senders, workers)
    first = 0
    cpu_start = _proc_cpu(server.proc.pid) if server else None
    started = time.monotonic()
    try:
        for w in range(workers):
            count = share + (1 if w < extra else 0)
            my_senders = sender_share + (1 if w < sender_extra else 0)
            parent, child = context.Pipe()
            proc = context.Process(
                target=_worker, args=(w, spec, first, count, my_senders, shared, child, go, close), daemon=True
            )
            proc.start()
            child.close()
            procs.append(proc)
            pipes.append(parent)
            first += count
        limits: dict[str, Any] = {}
        joins = []
        for proc, pipe in zip(procs, pipes, strict=True):
            message = _receive(proc, pipe, JOIN_TIMEOUT + 30)
            if "error" in message:
                raise BenchError(message["error"])
            limits = limits or message.get("limits") or {}
            joins.append(message)
        join_seconds = time.monotonic() - started
        idle_rss = _proc_rss_mb(server.proc.pid) if server else None
        cpu_joined = _proc_cpu(server.proc.pid) if server else None
        if spec.logins:
            storm_pipe, storm_child = context.Pipe()
            storm = context.Process(target=_login_storm, args=(spec, storm_child, close), daemon=True)
            storm.start()
            storm_child.close()
            _receive(storm, storm_pipe, JOIN_TIMEOUT)  # its clients are connected
        cpu_before = _proc_cpu(server.proc.pid) if server else None
        go.set()
        results = []
        for proc, pipe in zip(procs, pipes, strict=True):
            results.append(_receive(proc, pipe, spec.duration + spec.drain + 60, progress, shared, workers))
        cpu_after = _proc_cpu(server.proc.pid) if server else None
        logins_done = 0
        if storm is not None:
            close.set()
            logins_done = _receive(storm, storm_pipe, 30)["logins"]
            storm_pipe.close()
    except BaseException:
        for proc in [*procs, storm]:
            if proc is not None:
                proc.kill()  # a worker may be waiting for a start that will never come
        raise
    finally:
        close.set()
        for proc in [*procs, *([storm] if storm is not None else [])]:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for pipe in pipes:
            pipe.close()
    start = min(r["start"] for r in results)
    end = max(r["finished"] for r in results)
    elapsed = max(1e-9, end - start)
    sent = sum(r["sent"] for r in results)
    delivered = sum(r["delivered"] for r in results)
    expected = sum(r["expected"] for r in results)
    lat = array("d")
    for r in results:
        lat.frombytes(r["latencies"])
    ordered = sorted(lat)
    waits = array("d")
    for j in joins:
        waits.frombytes(j["waits"])
    ordered_waits = sorted(waits)
    result = Result(
        server=label,
        clients=spec.clients,
        senders=senders,
        workers=workers,
        size=spec.size,
        window=None if spec.rate else spec.window,
        rate=spec.rate,
        duration=spec.duration,
        joined=spec.clients,
        join_seconds=round(join_seconds, 3),
        sent=sent,
        sent_per_s=round(sent / min(elapsed, spec.duration), 1),
        delivered=delivered,
        expected=expected,
        missing=max(0, expected - delivered),
        deliveries_per_s=round(delivered / elapsed, 1),
        latency_ms={
            name: round(_percentile(ordered, q) * 1000, 3)
            for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
        } if ordered else {},
        samples=len(ordered),
        errors=sum(r["errors"] for r in results),
        drops=sum(r["drops"] + r["left"] for r in results),
        elapsed=round(elapsed, 3),
        generator_cpu_s=round(sum(r["cpu"] for r in results), 2),
        rooms=spec.rooms,
        db=spec.db,
        logins=spec.logins,
        logins_done=logins_done,
        protocol=spec.protocol,
        refused=sum(r["refused"] for r in results),
        rate_limit=limits.get("rate_limit"),
        burst=limits.get("burst"),
        connect_join_s=round(max(j["welcomed_at"] for j in joins) - min(j["connected_at"] for j in joins), 3),
        welcome_ms={name: round(_percentile(ordered_waits, q) * 1000, 1)
                    for name, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0))} if ordered_waits else {},
    )
    if cpu_start is not None and cpu_joined is not None:
        result.join_cpu_s = round(cpu_joined - cpu_start, 2)
    if server is not None and idle_rss is not None:
        result.server_idle_rss_mb = round(idle_rss, 1)
        if server.base_rss_mb is not None:
            result.rss_per_client_kb = round((idle_rss - server.base_rss_mb) * 1024 / spec.clients, 2)
    if server is not None and cpu_before is not None and cpu_after is not None:
        result.server_cpu_s = round(cpu_after - cpu_before, 2)
        result.server_peak_rss_mb = _proc_peak_rss_mb(server.proc.pid)
        if result.server_peak_rss_mb is not None:
            result.server_peak_rss_mb = round(result.server_peak_rss_mb, 1)
    result.bottleneck = _bottleneck(result)
    return result


def _bottleneck(r: Result) -> str:
    """Which side ran out of CPU: the server's one thread, or the generator's workers."""
    gen = r.generator_cpu_s / (r.elapsed * r.workers)
    if r.refused:
        return "the server's flood control (see refused)"
    if r.server_cpu_s is None:
        return "generator" if gen > 0.9 else "not the generator (the server's CPU is not measured)"
    srv = r.server_cpu_s / r.elapsed
    if srv > 0.9 and gen > 0.9:
        return "both (each at its CPU limit)"
    if srv > 0.9:
        return "server"
    if gen > 0.9:
        return "generator"
    return "neither (bound by the window or rate)"


def progress_printer(spec: Spec, started: float) -> Any:
    last = [0.0, 0, 0]

    def show(shared: Any, workers: int, now: float) -> None:
        sent = sum(shared[i * SLOT + SENT] for i in range(workers))
        delivered = sum(shared[i * SLOT + DELIVERED] for i in range(workers))
        dt = now - last[0] if last[0] else 0.5
        rate = (delivered - last[2]) / dt if dt > 0 else 0
        last[:] = [now, sent, delivered]
        sys.stderr.write(
            f"\r  {min(now - started, spec.duration):5.1f}s  sent {sent:,}  delivered {delivered:,}"
            f"  ({rate / 1e6:.2f}M deliveries/s)   "
        )
        sys.stderr.flush()

    return show


def format_table(r: Result) -> str:
    lat = r.latency_ms
    mode = f"rate {r.rate:g} msg/s" if r.rate else f"window {r.window}"
    rows = [
        f"selchat bench: {r.clients} clients ({r.senders} sending), {r.size}-byte messages, {mode}, "
        f"{r.duration:g} s, {r.workers} worker{'s' if r.workers != 1 else ''}",
        f"server: {r.server}",
        f"  clients joined     {r.joined:,} in {r.join_seconds:.2f} s"
        + (f" (first connect to last welcome {r.connect_join_s:.2f} s; each welcomed after p50 "
           f"{r.welcome_ms['p50']:.1f} ms, p99 {r.welcome_ms['p99']:.1f}, max {r.welcome_ms['max']:.1f})"
           if r.welcome_ms else ""),
        f"  messages sent      {r.sent:,}  ({r.sent_per_s:,.0f}/s)",
        f"  deliveries         {r.delivered:,}  ({r.deliveries_per_s / 1e6:.2f}M/s)"
        f"  expected {r.expected:,}, missing {r.missing:,}",
        "  latency (ms)       "
        + (f"p50 {lat['p50']:.2f}  p90 {lat['p90']:.2f}  p99 {lat['p99']:.2f}  max {lat['max']:.2f}"
           f"  ({r.samples:,} samples)" if lat else "no samples"),
        f"  errors / drops     {r.errors:,} / {r.drops:,}",
    ]
    if r.rate_limit:
        rows.append(f"  flood control      the server allows {r.rate_limit:g} messages a second per client: each "
                    f"sender kept to {PACE_SHARE * r.rate_limit:g}/s, so this measures the policy, not the server "
                    "(start it with --rate-limit 0 for that)")
    if r.refused:
        rows.append(f"  refused            {r.refused:,} messages by flood control: not expected anywhere, not missing")
    if r.rooms:
        rows.insert(2, f"  rooms              {r.rooms} (each message to one room)")
    if r.protocol != "json":
        mixed = " (every other client IRC)" if r.protocol == "mixed" else ""
        rows.insert(2, f"  protocol           {r.protocol}{mixed}")
    if r.db:
        rows.insert(2, f"  database           {r.db}")
    if r.logins:
        rows.append(f"  logins             {r.logins_done:,} by {r.logins} clients during the run")
    if r.server_idle_rss_mb is not None:
        per = f", {r.rss_per_client_kb:.1f} KB a client" if r.rss_per_client_kb is not None else ""
        rows.append(f"  server RSS idle    {r.server_idle_rss_mb:.1f} MB with everyone joined{per}")
    if r.join_cpu_s is not None:
        rows.append(f"  server CPU joining {r.join_cpu_s:.2f} s")
    if r.server_cpu_s is not None:
        rss = f", peak RSS {r.server_peak_rss_mb:.1f} MB" if r.server_peak_rss_mb else ""
        rows.append(f"  server CPU         {r.server_cpu_s:.2f} s ({r.server_cpu_s / r.elapsed:.0%} of a core){rss}")
    rows.append(
        f"  generator CPU      {r.generator_cpu_s:.2f} s ({r.generator_cpu_s / (r.elapsed * r.workers):.0%}"
        f" of {r.workers} core{'s' if r.workers != 1 else ''})"
    )
    rows.append(f"  bottleneck         {r.bottleneck}")
    return "\n".join(rows)


def main(spec: Spec, *, server_cmd: str | None, target_given: bool, json_output: bool) -> Result:
    server: StartedServer | None = None
    shown_ports = ",".join(map(str, spec.ports)) if len(spec.ports) > 1 else str(spec.port)
    label = f"{spec.host}:{shown_ports} (already running)"
    scratch: tempfile.TemporaryDirectory[str] | None = None
    if spec.logins and (target_given or server_cmd):
        raise BenchError("--logins needs the bench to start its own selchat (it creates the accounts)")
    if not target_given:
        raise_fd_limit(spec.clients + spec.logins + 256)
        if server_cmd:
            command = [*shlex.split(server_cmd), "--host", "127.0.0.1", "--port", "0"]
            name = os.path.basename(shlex.split(server_cmd)[-1])
        else:
            db = spec.db
            if spec.logins and db == ":memory:":
                scratch = tempfile.TemporaryDirectory(prefix="selchat-bench-")
                db = spec.db = os.path.join(scratch.name, "bench.db")
            if spec.logins:
                make_login_accounts(db, spec.logins)
            command = selchat_server_command(spec.clients + spec.logins, db)
            name = "selchat"
        server = StartedServer(command)
        spec.host, spec.port = server.host, server.port
        label = f"{name} (started by the bench, pid {server.proc.pid})"
    try:
        show = progress_printer(spec, time.monotonic()) if sys.stderr.isatty() and not json_output else None
        result = run_bench(spec, server=server, label=label, progress=show)
        if show:
            sys.stderr.write("\r" + " " * 90 + "\r")
        return result
    finally:
        if server is not None:
            server.stop()
        if scratch is not None:
            scratch.cleanup()


def to_json(result: Result) -> str:
    return json.dumps(asdict(result))
