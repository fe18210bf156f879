"""Answers larger than a client's output limit, over real sockets (issue 21, items 1 and 5): the
list of rooms and a login's kept DMs come in parts, each once the one before is written, and the
commands sent behind them wait their turn. Before, each was one answer past --max-output, and the
client asking was dropped as a slow consumer (its DMs marked delivered all the same)."""

from __future__ import annotations

import json
from collections.abc import Callable

from selchat.codec import encode
from selchat.events import Users, Who
from tests.clients import Irc, RawClient, Terminal
from tests.helpers import ServerProcess
from tests.hubdriver import Driver

ROOMS = 300
TOPIC = "t" * 250  # 300 rooms of 250-byte topics: about 80 KB of LIST against a 64 KiB limit


def _many_rooms(start_server: Callable[..., ServerProcess], sockets: list) -> ServerProcess:
    server = start_server("--max-output", "65536", "--max-rooms", "400", "--new-rooms-per-user", "0",
                          "--rate-limit", "0")
    maker = RawClient(server.address)
    sockets.append(maker)
    maker.join("maker", version=2)
    frames = []
    for i in range(ROOMS):
        frames += [{"type": "join_room", "room": f"#room{i:03d}"}, {"type": "topic", "room": f"#room{i:03d}",
                                                                  "topic": TOPIC}]
    maker.sock.sendall(b"".join(encode(f) for f in [*frames, {"type": "ping", "id": "made"}]))
    maker.expect("pong", id="made")  # the maker stays in every room, so none is forgotten
    return server


def test_irc_list_and_text_list_come_in_parts_and_what_follows_waits(start_server, sockets: list) -> None:
    server = _many_rooms(start_server, sockets)
    irc = Irc(server, "lister")
    sockets.append(irc)
    irc.expect(" 001 ")
    irc.send("LIST", "PING :after-list")  # one packet: the PING is held until the list is out
    seen = irc.upto(":after-list")
    listed = [line for line in seen if " 322 " in line]
    assert len(listed) == ROOMS + 1  # and #lobby
    assert sum(" 321 " in line for line in seen) == 1 and sum(" 323 " in line for line in seen) == 1
    assert next(i for i, line in enumerate(seen) if " 323 " in line) < len(seen) - 1  # the PONG came last
    assert all(len(line.encode()) + 2 <= 512 for line in seen)
    terminal = Terminal(server.address)
    sockets.append(terminal)
    terminal.wait("Your name:")
    terminal.say("reader")
    terminal.wait("You are in #lobby")
    terminal.say("/list")
    assert TOPIC in terminal.wait("#room299")  # the last room, after every part before it


def test_json_rooms_come_in_pages_that_follow_on(start_server, sockets: list) -> None:
    server = _many_rooms(start_server, sockets)
    asker = RawClient(server.address)
    sockets.append(asker)
    asker.join("asker", version=2)
    asker.send(type="rooms")
    page = asker.expect("rooms")
    names, pages = [r["room"] for r in page["rooms"]], 1
    assert page["more"] and len(json.dumps(page)) < 65536 // 4 + 1024  # a quarter of the limit at most
    while page["more"]:
        asker.send(type="rooms", after=names[-1])
        page = asker.expect("rooms")
        names, pages = names + [r["room"] for r in page["rooms"]], pages + 1
    assert len(names) == len(set(names)) == ROOMS + 1 and pages > 4


def test_kept_dms_come_in_pages_and_are_delivered_once(start_server, sockets: list) -> None:
    server = start_server("--max-output", "65536", "--rate-limit", "0")
    owner = RawClient(server.address)
    sockets.append(owner)
    owner.join("dana", version=2)
    owner.send(type="register", password="dana's password")
    owner.expect("registered")
    owner.close()
    for n in range(3):  # 270 DMs of 2,000 characters: 540 KB for a 64 KiB output limit
        sender = RawClient(server.address)
        sockets.append(sender)
        sender.join(f"sender{n}", version=2)
        sender.send(type="register", password="a sender's password")  # DMs are kept between accounts
        sender.expect("registered")
        sender.sock.sendall(b"".join(encode({"type": "dm", "to": "dana", "message": f"{n}:{i}:" + "z" * 1980})
                                     for i in range(90)) + encode({"type": "ping", "id": "sent"}))
        assert not [f for f in _until_pong(sender) if f["type"] == "error"]
        sender.close()
    for expected in (270, 0):
        dana = RawClient(server.address)
        sockets.append(dana)
        dana.join("dana", version=2, login="dana's password")
        dana.send(type="ping", id="after")
        dms = [f["message"] for f in _until_pong(dana) if f["type"] == "dm"]
        assert len(dms) == expected
        for n in range(3):  # each sender's in the order sent
            mine = [int(m.split(":")[1]) for m in dms if m.startswith(f"{n}:")]
            assert mine == sorted(mine) and len(mine) == expected // 3
        dana.close()


def _until_pong(client: RawClient) -> list[dict]:
    frames = []
    while (frame := client.recv(30))["type"] != "pong":
        frames.append(frame)
    return frames


def test_names_and_who_of_a_big_room_come_in_parts(start_server, sockets: list) -> None:
    """300 members with 30-character names: WHO is about 90 KB against a 64 KiB limit."""
    server = start_server("--max-output", "65536", "--max-clients", "400", "--max-per-address", "0",
                          "--connects-per-minute", "0")
    members = []
    for i in range(300):
        member = RawClient(server.address)
        sockets.append(member)
        member.send(type="join", username=f"member{i:03d}" + "x" * 21, version=2)
        members.append(member)
    members[-1].expect("welcome")
    irc = Irc(server, "counter")
    sockets.append(irc)
    irc.expect(" 001 ")
    irc.send("JOIN #lobby")
    irc.expect(" 366 ")
    irc.send("NAMES #lobby", "WHO #lobby", "PING :after")
    seen = irc.upto(":after")
    named = [n for line in seen if " 353 " in line for n in line.split(" :", 1)[1].split()]
    who = [line for line in seen if " 352 " in line]
    assert len(named) == len(set(named)) == 301 and len(who) == 301  # everyone once, and the asker
    assert sum(" 366 " in line for line in seen) == 1 and sum(" 315 " in line for line in seen) == 1
    assert seen.index(next(line for line in seen if " 366 " in line)) < seen.index(who[0])  # in order
    asker = members[0]
    asker.send(type="users", room="#lobby")
    page = asker.expect("users")
    names = page["users"]
    while page.get("more"):
        asker.send(type="users", room="#lobby", after=names[-1])
        page = asker.expect("users")
        assert page.get("continued")
        names += page["users"]
    assert len(names) == len(set(names)) == 301


def test_a_big_room_s_members_are_cut_to_one_answer_and_streamed() -> None:
    """The hub's side of NAMES, WHO and ``users``: each part within a quarter of --max-output."""
    d = Driver(rate_limit=0, max_output=64 * 1024, max_clients=2000)
    for i in range(1000):
        d.join(i + 1, f"member{i:04d}" + "y" * 20, version=2)
    d.take(1)
    d.do(1, Users("#lobby"))
    first = d.take(1)[-1]
    assert first["more"] is True and "continued" not in first and 100 < len(first["users"]) < 1000
    assert len(json.dumps(first).encode()) < 64 * 1024 // 4
    d.do(1, Users("#lobby", after=first["users"][-1]))
    second = d.take(1)[-1]
    assert second["continued"] is True and second["users"][0] > first["users"][-1]
    d.do(1, Users("#lobby", tag="who", detail=True, stream=True))  # IRC's WHO: the parts follow
    parts = d.take(1)
    assert len(parts) > 2 and sum(len(p["users"]) for p in parts) == 1000 and "more" not in parts[-1]
    d.do(1, Who("member*"))  # a mask: streamed too
    assert sum(len(p["users"]) for p in d.take(1)) == 1000
