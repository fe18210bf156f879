"""One account on several devices with `--redis` (issue 24): the devices share one process, one
person to the users of every process; a login on another process takes the account there, every
device of it with it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.clients import RawClient
from tests.helpers import ServerProcess, wait_for
from tests.redisserver import Redis
from tests.test_devices import PASSWORD, accounts, irc_device, nothing_more, three_lines_for_alice
from tests.test_redis import _refused_as_registered


def _members(client: RawClient, room: str) -> list[str]:
    client.send(type="users", room=room)
    return sorted(client.expect("users")["users"])


def test_devices_on_one_process_are_one_person_to_another(redis: Redis, start_server: Callable[..., ServerProcess],
                                                          tmp_path: Path) -> None:
    accounts(str(tmp_path / "a.db"), "alice")
    a, b = (start_server("--redis", redis.url, "--rate-limit", "0", "--db", str(tmp_path / f"{n}.db"))
            for n in ("a", "b"))
    for s in (a, b):
        s.wait_log("Redis commands link up")
    wait_for(lambda: _refused_as_registered(b.address, "alice"), what="b to know alice's account")
    laptop, carol = RawClient(a.address), RawClient(b.address)
    phone = tablet = None
    try:
        assert laptop.join("alice", version=2, login=PASSWORD)["account"] == "alice"
        laptop.join_room("#dev")
        carol.join("carol", version=2)
        carol.join_room("#dev")
        wait_for(lambda: _members(carol, "#dev") == ["alice", "carol"], what="b to know alice is in #dev")
        phone = irc_device(a, "phone", "alice")  # a second device, IRC, on the same process
        phone.expect(":alice!alice@selchat JOIN #dev")
        nothing_more(carol)  # no second join, on the other process either
        phone.send("PRIVMSG #dev :from the phone")
        mine = laptop.expect("chat", room="#dev")
        assert (mine["message"], mine.get("own")) == ("from the phone", True)
        assert carol.expect("chat", room="#dev")["message"] == "from the phone"
        carol.send(type="dm", to="alice", message="psst")  # from the other process: to every device
        assert laptop.expect("dm")["message"] == "psst"
        phone.expect(":carol!carol@selchat PRIVMSG alice :psst")
        assert _members(carol, "#dev") == ["alice", "carol"]  # one member
        laptop.close()
        nothing_more(carol)  # one device gone: nobody hears of it
        laptop = RawClient(a.address)
        laptop.join("alice", version=2, login=PASSWORD)  # back, beside the phone
        nothing_more(carol)
        tablet = RawClient(b.address)  # the account on the other process: it moves there, whole
        assert tablet.join("alice", version=2, login=PASSWORD)["account"] == "alice"
        assert "on another server" in laptop.error("logged_in_elsewhere")["message"]
        phone.expect("logged in on another server")
        assert carol.expect("user_left", room="#dev")["reason"] == "logged in elsewhere"
        carol.send(type="ping", id="sync")
        while (frame := carol.recv())["type"] != "pong":  # once, for both devices (and alice is back in #lobby)
            assert frame["type"] != "user_left" or frame["room"] != "#dev", frame
        tablet.join_room("#dev")
        tablet.send(type="chat", room="#dev", message="moved")
        assert carol.expect("chat", message="moved")["username"] == "alice"
    finally:
        for client in (laptop, carol, tablet):
            if client is not None:
                client.close()
        if phone is not None:
            phone.close()


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

        phone = RawClient(b.address)  # the account moves to the other process, which reads its markers
        phone.join("alice", version=2, login=PASSWORD)
        laptop.error("logged_in_elsewhere")
        joined = phone.join_room("#dev")
        assert joined["read"] == stamps[0]
        counts = phone.expect("unread")
        assert counts["rooms"] == [{"room": "#dev", "unread": 2, "mentions": 1, "latest": stamps[2]}]
        phone.send(type="read", room="#dev", timestamp=stamps[2])
        assert phone.expect("read")["timestamp"] == stamps[2]
        phone.send(type="read", room="#dev", timestamp=stamps[1])  # never back, on this process either
        assert phone.expect("read")["timestamp"] == stamps[2]

        laptop = RawClient(a.address)  # and back: a knew stamps[0]; Redis has the further one
        laptop.join("alice", version=2, login=PASSWORD)
        phone.error("logged_in_elsewhere")
        assert laptop.join_room("#dev")["read"] == stamps[2]
        assert laptop.expect("unread")["rooms"][0]["unread"] == 0
        kept = redis.query("EVAL", "return tonumber(redis.call('hget', KEYS[1], ARGV[1]))", "1",
                           "selchat:marks:alice", "#dev")
        assert kept == f":{round(stamps[2] * 1_000_000)}".encode()
        laptop.close()

        b.stop()  # the marker b took from Redis is in b's file too
        b = serve("b")
        phone = RawClient(b.address)
        phone.join("alice", version=2, login=PASSWORD)
        assert phone.join_room("#dev")["read"] == stamps[2]
    finally:
        for client in (laptop, bob, phone):
            if client is not None:
                client.close()
