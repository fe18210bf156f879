"""`make abuse`, part one: what would take the server down (issue 21, items 1, 2, 3, 7, 13, 16).

Each case tries the abuse against the running server and returns, in a line, what the server did;
a promise broken raises ``Failed``. ``t`` is the run's Target (bench/abuse.py): the server's
address, a fresh source address per attacker, the server's RSS.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from abuseclients import Failed, Irc, Json, Line, read_all
from soakwire import WsWire, ws_frame


def _answer(client: Json, *kinds: str) -> dict[str, Any]:
    """The next frame of one of ``kinds`` or an error."""
    while (frame := client.recv())["type"] not in (*kinds, "error"):
        pass
    return frame


def rooms_without_a_cap(t: Any) -> str:
    """Item 1: guests making rooms until the server is full; the list still fits; all forgotten."""
    first = Json(t.address, t.source())
    first.join("roomer0")
    answers = []
    for i in range(12):
        first.frame(type="join_room", room=f"#spam0-{i}")
        answers.append(_answer(first, "room_joined"))
    per_user = [a.get("code", "joined") for a in answers]
    if per_user[:10] != ["joined"] * 10 or set(per_user[10:]) != {"too_many_new_rooms"}:
        raise Failed(f"the per-user limit: {per_user}")
    makers, full = [first], None
    for n in range(1, 60):
        guest = Json(t.address, t.source())
        guest.join(f"roomer{n}")
        makers.append(guest)
        for i in range(10):
            guest.frame(type="join_room", room=f"#spam{n}-{i}")
            frame = _answer(guest, "room_joined")
            if frame.get("code") == "rooms_full":
                full = frame
                break
        if full:
            break
    if full is None:
        raise Failed("600 rooms were made and no rooms_full came")
    asker = Json(t.address, t.source())
    asker.join("asker")
    asker.frame(type="rooms", limit=100)  # pages as a client asks for them
    pages, listed = 1, len((page := asker.expect("rooms"))["rooms"])
    while page.get("more"):
        asker.frame(type="rooms", after=page["rooms"][-1]["room"], limit=100)
        page = asker.expect("rooms")
        pages, listed = pages + 1, listed + len(page["rooms"])
    for maker in makers:
        maker.close()
    time.sleep(0.5)
    asker.frame(type="rooms")
    left = [r["room"] for r in asker.expect("rooms")["rooms"]]
    asker.close()
    if len(left) > 10:
        raise Failed(f"{len(left)} rooms stayed after their makers left")
    return (f"10 new rooms per guest, then `too_many_new_rooms`; {listed} rooms in all, then `rooms_full` "
            f"(\"{full['message']}\"); the list in {pages} pages of 100; when the {len(makers)} makers left, "
            f"their empty rooms were forgotten: {', '.join(left)} remained")


def one_host_fills_the_server(t: Any) -> str:
    """Item 2: silent sockets from one address; reconnecting in a loop from another."""
    host = t.source()
    silent = [Line(t.address, host) for _ in range(16)]
    extra = Json(t.address, host)
    extra.frame(type="join", username="extra")
    refused = extra.error()["code"]
    if refused != "too_many_connections":
        raise Failed(f"the 17th connection from one address got {refused}")
    other = Json(t.address, t.source())
    if other.join("neighbour")["type"] != "welcome":
        raise Failed("another address was refused while one address held 16 sockets")
    for sock in [*silent, extra, other]:
        sock.close()
    looper, codes = t.source(), []
    for i in range(34):
        client = Json(t.address, looper)
        codes.append(client.join(f"loop{i}").get("code", "welcome"))
        client.close()
    if codes[:32] != ["welcome"] * 32 or codes[32] != "too_many_connections":
        raise Failed(f"a reconnect loop: {codes}")
    return ("the 17th connection from one address: too_many_connections, another address served at once; "
            "a reconnect loop: 32 a minute served, the 33rd refused")


def password_that_is_not_text(t: Any) -> str:
    """Item 3: a lone surrogate in a password must not lock the name."""
    guest = Json(t.address, t.source())
    guest.join("lockme")
    guest.frame(type="register", password="\ud800abcdefghij")
    code = guest.error()["code"]
    guest.frame(type="register", password="a fine password")
    if code != "weak_password" or guest.expect("registered")["account"] != "lockme":
        raise Failed(f"the surrogate password got {code} and the name stayed held")
    guest.close()
    return "weak_password at once; the same name registered right after"


def _slow(t: Any, protocol: str, name: str) -> socket.socket:
    if protocol == "irc":
        irc = Irc(t.address, t.source(), rcvbuf=4096)
        irc.say(f"NICK {name}", f"USER {name} 0 * :{name}", "JOIN #lobby")
        irc.expect("JOIN #lobby")
        return irc.sock
    if protocol == "text":
        text = Line(t.address, t.source(), rcvbuf=4096)
        text.send(name.encode() + b"\n")
        while not text.line().startswith(b"You are in #lobby"):
            pass
        return text.sock
    page = Line(t.address, t.source(), rcvbuf=4096)
    wire = WsWire(t.address[1])
    page.send(wire.hello(name))
    while ("welcome",) not in wire.feed(page.sock.recv(65536)):
        pass
    return page.sock


SLOW_LAST_WORDS = {"irc": b"ERROR :Closing link: you fell", "text": b"! you fell", "ws": b"\x88"}


def _drain(sock: socket.socket) -> bytes:
    """What has arrived, without waiting (a socket with a timeout would wait for it)."""
    data, timeout = b"", sock.gettimeout()
    sock.setblocking(False)
    try:
        while chunk := sock.recv(1 << 20):
            data += chunk
    except (BlockingIOError, InterruptedError):
        pass
    finally:
        sock.settimeout(timeout)
    return data


def slow_readers(t: Any) -> str:
    """Item 7: readers that stop reading are dropped, each told in its own protocol's words."""
    slow = {p: _slow(t, p, f"slow{p}") for p in SLOW_LAST_WORDS}
    talkers = []
    for n in range(20):  # each its own address, each at its rate limit: some 400 KB a second
        talker = Json(t.address, t.source())
        talker.join(f"talker{n}")
        talkers.append(talker)
    line = b'{"type":"chat","message":"%s"}\n' % (b"y" * 1900)
    slow_names = [f"slow{p}".encode() for p in slow]
    left: set[bytes] = set()
    seen = b""
    end = time.monotonic() + 60
    while len(left) < len(slow) and time.monotonic() < end:
        for talker in talkers:
            talker.send(line)
            got = _drain(talker.sock)  # the talkers read: only the three readers are slow
            if talker is talkers[0]:
                seen = (seen + got)[-(1 << 16):]
        left |= {name for name in slow_names if b'"user_left","username":"%s"' % name in seen}
        time.sleep(0.1)  # ten a second each: the rate limit, so only the readers' slowness counts
    said = {}
    for protocol, sock in slow.items():
        data = read_all(sock, 10)
        tail = data[-200:]
        if SLOW_LAST_WORDS[protocol] not in tail or (b'"type"' in tail and protocol != "ws"):
            raise Failed(f"the slow {protocol} reader's last words: {tail[-120:]!r}")
        words = tail[tail.rfind(SLOW_LAST_WORDS[protocol]):].split(b"\r\n")[0]
        if protocol == "ws":  # a Close frame: its code, then its reason
            words = b"Close %d, %s" % (int.from_bytes(words[2:4], "big"), words[4:])
        said[protocol] = words.decode("utf-8", "replace")[:72]
        sock.close()
    for talker in talkers:
        talker.close()
    return "dropped, each told in its own words: " + "; ".join(f"{p} `{w}`" for p, w in said.items())


def timers_after_close(t: Any) -> str:
    """Item 13: join and quit many times; the closed connections' timers must not keep memory."""
    before = t.rss_mb()
    cycles = 0
    for host in [t.source() for _ in range(40)]:
        for _ in range(30):  # under the 32 a minute from one address
            client = Json(t.address, host)
            client.join(f"cycler{cycles}")
            client.frame(type="quit")
            read_all(client.sock, 5)
            client.close()
            cycles += 1
    after = t.rss_mb()
    if after - before > 8:
        raise Failed(f"RSS grew from {before} to {after} MB over {cycles} join/quit cycles")
    return f"{cycles} join/quit cycles: RSS {before} MB before, {after} MB after"


def a_join_of_125_rooms(t: Any) -> str:
    """Item 16: one JOIN line naming 125 new rooms joins what the limits allow, answers the rest."""
    irc = Irc(t.address, t.source(), "joiner")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    names = [f"#{digits[i // 36]}{digits[i % 36]}" for i in range(125)]  # all 125 fit one 512-byte line
    irc.say("JOIN " + ",".join(names), "PING :after")
    seen = irc.upto(":after")
    joined = sum(" JOIN " in line for line in seen)
    refused = sum(" 405 " in line for line in seen)
    slowed = sum(" NOTICE joiner :slow down" in line for line in seen)  # the rate limit, per target
    if joined + refused + slowed != 125 or joined == 0:
        other = [line for line in seen if " JOIN " not in line and " 405 " not in line]
        raise Failed(f"of 125 rooms: {joined} joined, {refused} refused; besides: {other[:6]}")
    irc.say("QUIT")
    irc.close()
    return (f"{joined} joined (the new-rooms limit), {refused} answered 405 (that limit, and CHANLIMIT=20 a JOIN), "
            f"{slowed} a slow-down NOTICE (the rate limit); the connection kept, no flood disconnect")


def websocket_over_the_limit(t: Any) -> str:
    """Item 6: a paste over the size limit and a binary frame: Close, then silence and a hang-up,
    and the name is free again at once."""
    codes = []
    for frame in (ws_frame(b'{"type":"chat","message":"' + b"x" * 17000 + b'"}'), ws_frame(b"\0", opcode=2)):
        page = Line(t.address, t.source())
        wire = WsWire(t.address[1])
        page.send(wire.hello("paster"))
        events = []
        while ("welcome",) not in events:
            events = wire.feed(page.sock.recv(65536))
        page.send(frame)
        started = time.monotonic()
        events = wire.feed(page.until_closed(5))
        problems = [e for e in events if e[0] == "problem"]
        if problems:
            raise Failed(problems[0][1])
        codes.append(next(e[1] for e in events if e[0] == "error" and e[1].startswith("ws:")))
        waited = time.monotonic() - started
        page.close()
    again = Line(t.address, t.source())
    wire = WsWire(t.address[1])
    again.send(wire.hello("paster"))
    events = []
    while not any(e[0] in ("welcome", "error") for e in events):
        events = wire.feed(again.sock.recv(65536))
    again.close()
    if ("welcome",) not in events:
        raise Failed(f"the name was still held: {events}")
    return (f"Close {codes[0][3:]} for the paste and {codes[1][3:]} for the binary frame, no frame after it, "
            f"hung up in {waited * 1000:.0f} ms; the name came back at once")


CASES = [
    ("1", "4,000 rooms from a script", rooms_without_a_cap),
    ("2", "one host fills the server", one_host_fills_the_server),
    ("3", "a password that is not text", password_that_is_not_text),
    ("6", "a WebSocket message over the limit", websocket_over_the_limit),
    ("7", "readers that stop reading, in three protocols", slow_readers),
    ("13", "10,000 join/quit cycles (here 1,200)", timers_after_close),
    ("16", "one JOIN of 125 new rooms", a_join_of_125_rooms),
]
