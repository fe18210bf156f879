"""One account on several devices with `--redis` (issue 24): devices on several processes at once
are one person to the users of every process; read markers follow the account everywhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.clients import RawClient
from tests.helpers import ServerProcess, wait_for
from tests.redisserver import Redis
from tests.test_devices import PASSWORD, accounts, irc_device, three_lines_for_alice
from tests.test_redis import _refused_as_registered


def _members(client: RawClient, room: str) -> list[str]:
    client.send(type="users", room=room)
    return sorted(client.expect("users")["users"])


def _before(client: RawClient, type_: str, **fields: Any) -> list[dict[str, Any]]:
    """The frames before the first of ``type_`` with ``fields``: what the client was told first."""
    seen = []
    while True:
        frame = client.recv()
        if frame["type"] == type_ and all(frame.get(k) == v for k, v in fields.items()):
            return seen
        seen.append(frame)


def _no_presence(frames: list[dict[str, Any]]) -> None:
    for frame in frames:
        assert frame["type"] not in ("user_joined", "user_left"), frame


def _serve(start_server: Callable[..., ServerProcess], redis: Redis, db: Path, *more: str) -> ServerProcess:
    server = start_server("--redis", redis.url, "--rate-limit", "0", "--db", str(db), *more)
    server.wait_log("Redis commands link up")
    return server


def test_devices_on_two_processes_at_once_are_one_person(redis: Redis, start_server: Callable[..., ServerProcess],
                                                       tmp_path: Path) -> None:
    """The laptop (JSON) on a, the phone (IRC) on b, a tablet later on c: one alice, in the same
    rooms on each, to carol on c and dave on a alike; she leaves only with her last device."""
    accounts(str(tmp_path / "a.db"), "alice")
    a, b, c = (_serve(start_server, redis, tmp_path / f"{n}.db") for n in "abc")
    wait_for(lambda: _refused_as_registered(b.address, "alice") and _refused_as_registered(c.address, "alice"),
             what="b and c to know alice's account")
    laptop, carol, dave = RawClient(a.address), RawClient(c.address), RawClient(a.address)
    phone = tablet = None
    try:
        assert laptop.join("alice", version=2, login=PASSWORD)["account"] == "alice"
        laptop.join_room("#dev")
        for name, other in (("carol", carol), ("dave", dave)):
            other.join(name, version=2)
            other.join_room("#dev")
        for other in (carol, dave):
            wait_for(lambda o=other: _members(o, "#dev") == ["alice", "carol", "dave"], what="#dev whole everywhere")

        phone = irc_device(b, "alice", "alice")  # the account on another process: beside the laptop
        phone.expect(":alice!alice@selchat JOIN #dev")  # in the laptop's rooms there too
        phone.send("PRIVMSG #dev :from the phone")
        mine = laptop.expect("chat", room="#dev")
        assert (mine["message"], mine.get("own")) == ("from the phone", True)
        _no_presence(_before(carol, "chat", message="from the phone"))  # no second join anywhere
        _no_presence(_before(dave, "chat", message="from the phone"))
        assert _members(carol, "#dev") == _members(dave, "#dev") == ["alice", "carol", "dave"]  # one member

        laptop.join_room("#ops")  # a join on one is a join on all
        phone.expect(":alice!alice@selchat JOIN #ops")
        carol.join_room("#ops")
        wait_for(lambda: _members(carol, "#ops") == ["alice", "carol"], what="c to see alice in #ops")
        phone.send("PART #ops :enough")  # and a part
        assert laptop.expect("room_left")["room"] == "#ops"
        assert carol.expect("user_left", room="#ops")["username"] == "alice"
        laptop.send(type="chat", room="#ops", message="still here?")
        assert laptop.error("not_in_room")

        laptop.send(type="topic", room="#dev", topic="release day")
        phone.expect("TOPIC #dev :release day")
        _no_presence(_before(carol, "topic", room="#dev", topic="release day"))  # one part, not two
        laptop.send(type="chat", room="#dev", message="from the laptop")
        phone.expect("PRIVMSG #dev :from the laptop")
        _no_presence(_before(carol, "chat", message="from the laptop"))

        phone.send("AWAY :at lunch")
        assert laptop.expect("away", username="alice")["message"] == "at lunch"
        assert carol.expect("away", username="alice")["message"] == "at lunch"
        laptop.send(type="nick", username="alicia")
        assert laptop.expect("nick")["to"] == "alicia"
        phone.expect(":alice!alice@selchat NICK alicia")
        assert carol.expect("nick", **{"from": "alice"})["to"] == "alicia"

        carol.send(type="dm", to="alicia", message="psst")  # to every device, on every process
        assert [f for f in _before(carol, "dm", message="psst") if f["type"] in ("nick", "away")] == []  # once each
        assert laptop.expect("dm")["message"] == "psst"
        phone.expect("PRIVMSG alicia :psst")
        laptop.send(type="dm", to="carol", message="hi carol")  # and the sender's others show it as theirs
        assert carol.expect("dm", message="hi carol")["from"] == "alicia"
        phone.expect("PRIVMSG carol :hi carol")
        dave.send(type="dm", to="alicia", message="from a")
        assert laptop.expect("dm", message="from a")["from"] == "dave"
        phone.expect("PRIVMSG alicia :from a")

        stamp = mine["timestamp"]
        laptop.send(type="read", room="#dev", timestamp=stamp)  # read on one: at once on the other
        assert laptop.expect("read")["timestamp"] == stamp
        phone.expect("MARKREAD #dev timestamp=")

        tablet = RawClient(c.address)  # a third device, later, on the third process: as the person is now
        assert tablet.join("alice", version=2, login=PASSWORD)["username"] == "alicia"
        joined = tablet.expect("room_joined", room="#dev")
        assert joined["read"] == stamp and joined["topic"] == "release day"
        assert sorted(joined["users"]) == ["alicia", "carol", "dave"]
        phone.send("NICK alice")  # and back, from another device: on all three
        assert laptop.expect("nick", to="alice")["from"] == "alicia"
        assert tablet.expect("nick", to="alice")["from"] == "alicia"
        assert carol.expect("nick", to="alice")["from"] == "alicia"

        laptop.close()  # one device gone, then another: nobody hears of it
        phone.send("QUIT :bye")
        phone.close()
        phone = None
        tablet.send(type="chat", room="#dev", message="last one standing")
        _no_presence(_before(dave, "chat", message="last one standing"))
        _no_presence(_before(carol, "chat", message="last one standing"))
        assert _members(carol, "#dev") == _members(dave, "#dev") == ["alice", "carol", "dave"]
        tablet.close()  # the last: now she has left, once
        assert carol.expect("user_left", room="#dev")["username"] == "alice"
        assert dave.expect("user_left", room="#dev")["username"] == "alice"
        carol.send(type="chat", room="#dev", message="gone")
        _no_presence(_before(dave, "chat", message="gone"))
        assert _members(dave, "#dev") == ["carol", "dave"]
    finally:
        for client in (laptop, carol, dave, tablet):
            if client is not None:
                client.close()
        if phone is not None:
            phone.close()


def test_multiclient_off_moves_the_account_to_the_other_process(
        redis: Redis, start_server: Callable[..., ServerProcess], tmp_path: Path) -> None:
    """With --multiclient off a login on another process takes the account there, every device."""
    accounts(str(tmp_path / "a.db"), "alice")
    a, b = (_serve(start_server, redis, tmp_path / f"{n}.db", "--multiclient", "off") for n in "ab")
    wait_for(lambda: _refused_as_registered(b.address, "alice"), what="b to know alice's account")
    laptop, carol = RawClient(a.address), RawClient(b.address)
    tablet = None
    try:
        laptop.join("alice", version=2, login=PASSWORD)
        laptop.join_room("#dev")
        carol.join("carol", version=2)
        carol.join_room("#dev")
        wait_for(lambda: _members(carol, "#dev") == ["alice", "carol"], what="b to know alice is in #dev")
        tablet = RawClient(b.address)
        assert tablet.join("alice", version=2, login=PASSWORD)["account"] == "alice"
        assert "on another server" in laptop.error("logged_in_elsewhere")["message"]
        assert carol.expect("user_left", room="#dev")["reason"] == "logged in elsewhere"
        tablet.join_room("#dev")
        tablet.send(type="chat", room="#dev", message="moved")
        assert carol.expect("chat", message="moved")["username"] == "alice"
    finally:
        for client in (laptop, carol, tablet):
            if client is not None:
                client.close()


def test_read_markers_follow_the_account_to_another_process(redis: Redis,
                                                             start_server: Callable[..., ServerProcess],
                                                             tmp_path: Path) -> None:
    """A marker moved on one process is where a login on another finds it, with the unread
    counts it gives; and the marker moved there is found back on the first, and after a restart."""
    accounts(str(tmp_path / "a.db"), "alice", "bob")

    def serve(n: str) -> ServerProcess:
        server = start_server("--redis", redis.url, "--rate-limit", "0", "--db", str(tmp_path / f"{n}.db"))
        server.wait_log("Redis commands link up")
        return server
    a, b = serve("a"), serve("b")
    wait_for(lambda: _refused_as_registered(b.address, "alice"), what="b to know alice's account")
    laptop, bob = RawClient(a.address), RawClient(a.address)
    phone = None
    try:
        stamps = three_lines_for_alice(laptop, bob)
        laptop.send(type="read", room="#dev", timestamp=stamps[0])
        assert laptop.expect("read")["timestamp"] == stamps[0]

        phone = RawClient(b.address)  # a device on the other process, which reads the markers from Redis
        phone.join("alice", version=2, login=PASSWORD)
        joined = phone.expect("room_joined", room="#dev")  # in the laptop's rooms, with its marker
        assert joined["read"] == stamps[0]
        counts = phone.expect("unread")
        assert counts["rooms"] == [{"room": "#dev", "unread": 2, "mentions": 1, "latest": stamps[2]}]
        phone.send(type="read", room="#dev", timestamp=stamps[2])
        assert phone.expect("read")["timestamp"] == stamps[2]
        assert laptop.expect("read")["timestamp"] == stamps[2]  # at once on the device on the first process
        phone.send(type="read", room="#dev", timestamp=stamps[1])  # never back, on this process either
        assert phone.expect("read")["timestamp"] == stamps[2]
        phone.close()
        laptop.close()

        laptop = RawClient(a.address)  # back on a, which kept the marker moved on b
        laptop.join("alice", version=2, login=PASSWORD)
        assert laptop.join_room("#dev")["read"] == stamps[2]
        assert laptop.expect("unread")["rooms"][0]["unread"] == 0
        kept = redis.query("EVAL", "return tonumber(redis.call('hget', KEYS[1], ARGV[1]))", "1",
                           "selchat:marks:alice", "#dev")
        assert kept == f":{round(stamps[2] * 1_000_000)}".encode()
        laptop.close()

        b.stop()  # the marker b took from Redis is in b's file too
        bob.send(type="chat", room="#dev", message="said while b was down, alice")
        b = serve("b")
        phone = RawClient(b.address)
        phone.join("alice", version=2, login=PASSWORD)
        assert phone.join_room("#dev")["read"] == stamps[2]
        counts = phone.expect("unread")["rooms"]  # right after the restart: the line said meanwhile
        assert [(c["room"], c["unread"], c["mentions"]) for c in counts] == [("#dev", 1, 1)]
    finally:
        for client in (laptop, bob, phone):
            if client is not None:
                client.close()
