"""Several `selchat serve --redis` processes sharing rooms through a real redis-server (Debian's
package; .ci/run installs it), started by the tests on free loopback ports."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable

import pytest

from selchat.backplane import RedisUrlError, command, decode_events, encode_events, parse_url
from selchat.outbound import Message, UserLeft
from tests.clients import RawClient
from tests.helpers import DEADLINE, ServerProcess, wait_for
from tests.redisserver import REDIS, Redis, free_port


@pytest.fixture
def pair(redis: Redis, start_server: Callable[..., ServerProcess]) -> tuple[ServerProcess, ServerProcess]:
    """Two selchat processes on one Redis, each with its link up."""
    a = start_server("--redis", redis.url, "--rate-limit", "0")
    b = start_server("--redis", redis.url, "--rate-limit", "0")
    for s in (a, b):
        s.wait_log("Redis subscriptions link up")
        s.wait_log("Redis commands link up")
    return a, b


# -- the pure parts --------------------------------------------------------------------------------


def test_urls() -> None:
    assert parse_url("redis://127.0.0.1:6380/2") == parse_url("redis://127.0.0.1:6380/2")
    t = parse_url("rediss://user:p%40ss@cache.lan/3")
    assert (t.host, t.port, t.db, t.username, t.password, t.tls) == ("cache.lan", 6379, 3, "user", "p@ss", True)
    for bad in ("http://x", "redis://", "redis://h:port/0", "redis://h/zero"):
        with pytest.raises(RedisUrlError):
            parse_url(bad)


def test_events_cross_as_they_left() -> None:
    message = Message("#lobby", "alice", "hi ✓", 12.5, action=True)
    left = UserLeft("bob", "#lobby", 13.0, "server lost")
    assert decode_events(encode_events("node-1", [message, left])) == ("node-1", [message, left])
    with pytest.raises(ValueError):
        decode_events(b'["n", [["Shutdown", ["bye", 1.0]]]]')  # not an event that crosses
    with pytest.raises(ValueError):
        decode_events(b'["n", [["Message", ["too", "few"]]]]')


def test_command_encoding() -> None:
    assert command("SET", "k", 1) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n1\r\n"


# -- two and three processes -------------------------------------------------------------------------


def test_chat_crosses_processes_once_and_in_order(pair: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = pair
    alice, bob = RawClient(a.address), RawClient(b.address)
    try:
        alice.join("alice", version=2)
        welcome = bob.join("bob", version=2)
        wait_for(lambda: "alice" in _users(bob), what="bob's server to know alice")
        assert "alice" in welcome["users"] or "alice" in _users(bob)
        assert alice.expect("user_joined", username="bob")["room"] == "#lobby"
        for i in range(50):
            alice.send(type="chat", message=f"m{i}")
        got = [bob.expect("chat")["message"] for _ in range(50)]
        assert got == [f"m{i}" for i in range(50)]  # every one, once, in the order sent
        bob.send(type="chat", message="back at you")
        assert alice.expect("chat")["message"] == "back at you"
        alice.send(type="ping", id=7)
        assert not [f for f in _until(alice, "pong") if f["type"] == "chat"]  # never her own lines
    finally:
        alice.close()
        bob.close()


def test_history_and_topics_are_kept_by_every_process(pair: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = pair
    alice, watcher = RawClient(a.address), RawClient(b.address)
    try:
        alice.join("alice", version=2)
        watcher.join("watcher", version=2)
        for i in range(3):
            alice.send(type="chat", message=f"said on a {i}")
        alice.send(type="topic", room="#lobby", topic="everyone welcome")
        watcher.expect("topic", topic="everyone welcome")
    finally:
        alice.close()
    late = RawClient(b.address)  # joins on the other process after it was said
    try:
        welcome = late.join("late", version=2)
        assert welcome["topic"] == "everyone welcome"
        said = [f"said on a {i}" for i in range(3)]
        assert [f["message"] for f in _until(late, "history_end") if f["type"] == "chat"][-3:] == said  # replay
        late.send(type="history", room="#lobby", limit=10)
        assert [f["message"] for f in _until(late, "history_end") if f["type"] == "chat"][-3:] == said  # a page
    finally:
        late.close()
        watcher.close()


def test_a_rooms_history_is_redis_s_whichever_process_is_asked(redis: Redis,
                                                                start_server: Callable[..., ServerProcess]) -> None:
    """A room the other process had nobody in, and a process started afterwards: the same
    history, once each, trimmed to about --history-max."""
    flags = ("--redis", redis.url, "--rate-limit", "0", "--history-max", "100")
    a, b = start_server(*flags), start_server(*flags)
    for s in (a, b):
        s.wait_log("Redis commands link up")
    alice = RawClient(a.address)
    try:
        alice.join("alice", version=2)
        alice.send(type="join_room", room="#dev")
        _until(alice, "history_end")
        for i in range(300):
            alice.send(type="chat", room="#dev", message=f"dev {i}")
        alice.send(type="topic", room="#dev", topic="shipping")
        alice.expect("topic", topic="shipping")
        alice.send(type="history", room="#dev", limit=5)  # on the process it was said on: once each
        assert _said(_until(alice, "history_end")) == [f"dev {i}" for i in range(295, 300)]
    finally:
        alice.close()
    c = start_server(*flags)
    c.wait_log("Redis commands link up")
    for server, name in ((b, "bob"), (c, "carl")):  # b had nobody in #dev; c was not running
        bob = RawClient(server.address)
        try:
            bob.join(name, version=2)
            bob.send(type="join_room", room="#dev")
            joined = bob.expect("room_joined")
            assert joined["topic"] == "shipping"
            replay = _said(_until(bob, "history_end"))
            assert replay == [f"dev {i}" for i in range(250, 300)]  # the last --replay (50)
            bob.send(type="history", room="#dev", before=1e12, limit=200)
            page = _said(_until(bob, "history_end"))
            assert page == [f"dev {i}" for i in range(300 - len(page), 300)]
            assert 100 <= len(page) < 300  # Redis trims whole nodes of entries: about --history-max
        finally:
            bob.close()


def test_renames_and_away_messages_cross(pair: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = pair
    alice, bob, carol = RawClient(a.address), RawClient(b.address), RawClient(b.address)
    try:
        alice.join("alice", version=2)
        bob.join("bob", version=2)
        carol.join("carol", version=2)
        wait_for(lambda: "alice" in _users(bob), what="b to know alice")
        alice.send(type="nick", username="carol")  # carol is on the other process
        assert "taken on another server" in alice.error("username_taken")["message"]
        alice.send(type="nick", username="ally")
        assert alice.expect("nick")["to"] == "ally"
        got = bob.expect("nick")
        assert (got["from"], got["to"]) == ("alice", "ally")
        assert "ally" in _users(carol) and "alice" not in _users(carol)
        bob.send(type="nick", username="alice")  # the old name is free everywhere again
        assert bob.expect("nick")["to"] == "alice"
        assert alice.expect("nick")["from"] == "bob"
        alice.send(type="dm", to="alice", message="to the new alice")  # ally, on a, writes to b's alice
        assert bob.expect("dm")["message"] == "to the new alice"
        alice.send(type="away", message="lunch")
        assert carol.expect("away") == {"type": "away", "username": "ally", "message": "lunch"}
        carol.send(type="users")
        assert carol.expect("users").get("away", {}) == {"ally": "lunch"}
        carol.send(type="whois", username="ally")  # on the other process
        info = carol.expect("whois")
        assert (info["username"], info["away"], info["rooms"]) == ("ally", "lunch", ["#lobby"])
        alice.send(type="away")
        assert carol.expect("away")["message"] is None
        carol.send(type="users")
        assert carol.expect("users").get("away", {}) == {}
    finally:
        for client in (alice, bob, carol):
            client.close()


def test_rooms_lists_every_processs_rooms(pair: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = pair
    alice, bob = RawClient(a.address), RawClient(b.address)
    try:
        alice.join("alice", version=2)
        bob.join("bob", version=2)
        alice.send(type="join_room", room="#Dev")
        _until(alice, "history_end")
        alice.send(type="topic", room="#Dev", topic="release day")
        alice.expect("topic")
        # nobody on b is in #Dev. Alice's answer can reach her before a's write reaches Redis
        # (two sockets, no order between them), so b asks until Redis has the topic, or times out.
        def listed() -> dict:
            bob.send(type="rooms")
            listing = {r["room"]: (r["users"], r["topic"]) for r in bob.expect("rooms")["rooms"]}
            return listing if listing.get("#Dev", (0, ""))[1] else {}
        assert wait_for(listed, what="the topic in Redis") == {"#Dev": (1, "release day"), "#lobby": (2, "")}
        bob.send(type="topic", room="#dev")  # a question about a room nobody on b is in
        got = bob.expect("topic")
        assert (got["room"], got["topic"], got["by"]) == ("#Dev", "release day", "alice")
        bob.send(type="topic", room="#nowhere")
        assert bob.error("no_such_room")["message"] == "there is no room #nowhere"
        alice.send(type="leave_room", room="#Dev")
        alice.expect("room_left")
        def rooms() -> dict:  # empty now and without history: forgotten, topic and all (issue 21, item 1)
            bob.send(type="rooms")
            listing = {r["room"]: r["users"] for r in bob.expect("rooms")["rooms"]}
            return listing if "#Dev" not in listing else {}
        assert wait_for(rooms, what="the empty room forgotten") == {"#lobby": 2}
    finally:
        alice.close()
        bob.close()


def test_irc_and_json_users_on_two_processes_share_a_channel(pair: tuple[ServerProcess, ServerProcess]) -> None:
    """Every protocol the server speaks reaches the other process: an IRC user on one, a JSON
    user on the other; NAMES, messages, actions, CHATHISTORY, nick changes and parts cross."""
    from tests.test_irc import Irc

    a, b = pair
    jay = RawClient(b.address)
    irc = Irc(a, "ircy", caps="server-time batch draft/chathistory")
    try:
        jay.join("jay", version=2)
        jay.send(type="join_room", room="#dev")
        jay.expect("room_joined")
        _until(jay, "history_end")  # #dev's (the lobby's came before room_joined)
        jay.send(type="chat", room="#dev", message="said before ircy came")
        irc.expect(" 001 ircy ")
        irc.send("JOIN #dev")
        irc.expect(":ircy!ircy@selchat JOIN #dev")
        names = irc.expect(" 353 ").rsplit(" :", 1)[1].split()
        assert "ircy" in names and {"jay", "@jay"} & set(names)  # jay, on the other process, was there first
        assert jay.expect("user_joined")["username"] == "ircy"
        irc.send("CHATHISTORY LATEST #dev * 10")
        assert "PRIVMSG #dev :said before ircy came" in irc.expect("said before ircy came")
        irc.send("PRIVMSG #dev :hello from irc", "PRIVMSG #dev :\x01ACTION waves\x01")
        assert jay.expect("chat")["message"] == "hello from irc"
        waved = jay.expect("chat")
        assert (waved["message"], waved["action"]) == ("waves", True)
        jay.send(type="chat", room="#dev", message="hi ircy")
        assert irc.expect("hi ircy").endswith(":jay!jay@selchat PRIVMSG #dev :hi ircy")
        jay.send(type="nick", username="jaybird")
        irc.expect(":jay!jay@selchat NICK jaybird")
        irc.send("PART #dev :bye")
        left = jay.expect("user_left")
        assert (left["username"], left["room"]) == ("ircy", "#dev")
    finally:
        irc.close()
        jay.close()


def test_private_messages_cross(pair: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = pair
    alice, bob = RawClient(a.address), RawClient(b.address)
    try:
        alice.join("alice", version=2)
        bob.join("bob", version=2)
        wait_for(lambda: "bob" in _users(alice), what="alice's server to know bob")
        alice.send(type="dm", to="Bob", message="psst")
        got = bob.expect("dm")
        assert (got["from"], got["to"], got["message"]) == ("alice", "bob", "psst")
        assert alice.expect("dm")["message"] == "psst"  # the sender's own copy
        alice.send(type="dm", to="nobody", message="?")
        assert alice.error("no_such_user")["code"] == "no_such_user"
    finally:
        alice.close()
        bob.close()


def test_accounts_made_on_one_process_log_in_on_another(redis: Redis,
                                                         start_server: Callable[..., ServerProcess]) -> None:
    a = start_server("--redis", redis.url)
    b = start_server("--redis", redis.url)
    for s in (a, b):
        s.wait_log("Redis commands link up")
    alice = RawClient(a.address)
    try:
        alice.join("alice", version=2)
        alice.send(type="register", password="correct horse battery")
        assert alice.expect("registered", timeout=15)["account"] == "alice"
    finally:
        alice.close()
    wait_for(lambda: _refused_as_registered(b.address, "alice"), what="b to know alice's account")
    again = RawClient(b.address)
    try:
        welcome = again.join("alice", version=2, login="correct horse battery")
        assert welcome["account"] == "alice"
    finally:
        again.close()
    # a process that starts later learns every account from Redis
    c = start_server("--redis", redis.url)
    c.wait_log("Redis commands link up")
    wait_for(lambda: _refused_as_registered(c.address, "alice"), what="c to know alice's account")


def test_a_login_on_another_process_replaces_the_session(redis: Redis,
                                                        start_server: Callable[..., ServerProcess]) -> None:
    """As on one process: the account's owner is back, from wherever; the older session ends."""
    a, b = start_server("--redis", redis.url), start_server("--redis", redis.url)
    for s in (a, b):
        s.wait_log("Redis commands link up")
    first, watcher = RawClient(a.address), RawClient(b.address)
    again = RawClient(b.address)
    try:
        first.join("alice", version=2)
        first.send(type="register", password="correct horse battery")
        assert first.expect("registered", timeout=15)["account"] == "alice"
        watcher.join("watcher", version=2)
        wait_for(lambda: _refused_as_registered(b.address, "alice"), what="b to know alice's account")
        welcome = again.join("alice", version=2, login="correct horse battery")
        assert welcome["account"] == "alice"
        assert "on another server" in first.error("logged_in_elsewhere")["message"]
        first.wait_closed()
        left = watcher.expect("user_left", username="alice")
        assert left["reason"] == "logged in elsewhere"
        watcher.expect("user_joined", username="alice")  # back, on b
        again.send(type="chat", message="moved")
        assert watcher.expect("chat")["message"] == "moved"
    finally:
        for client in (first, watcher, again):
            client.close()


def test_a_private_message_for_an_offline_account_waits_for_its_login_anywhere(
        redis: Redis, start_server: Callable[..., ServerProcess]) -> None:
    a, b = start_server("--redis", redis.url), start_server("--redis", redis.url)
    for s in (a, b):
        s.wait_log("Redis commands link up")
    for server, name in ((a, "alice"), (b, "bob")):
        client = RawClient(server.address)
        try:
            client.join(name, version=2)
            client.send(type="register", password="correct horse battery")
            client.expect("registered", timeout=15)
        finally:
            client.close()
    wait_for(lambda: _refused_as_registered(a.address, "bob"), what="a to know bob's account")
    alice = RawClient(a.address)
    try:
        alice.join("alice", version=2, login="correct horse battery")
        wait_for(lambda: "bob" not in _users(alice), what="a to know bob has gone")
        alice.send(type="dm", to="bob", message="call me when you are back")
        assert alice.expect("dm")["offline"] is True
    finally:
        alice.close()
    wait_for(lambda: redis.query("LLEN", "selchat:dms:bob") == b":1", what="the message kept in Redis")
    bob = RawClient(b.address)
    try:
        bob.join("bob", version=2, login="correct horse battery")
        got = bob.expect("dm")
        assert (got["from"], got["message"], got["offline"]) == ("alice", "call me when you are back", True)
    finally:
        bob.close()
    assert redis.query("EXISTS", "selchat:dms:bob") == b":0"  # taken: no other process delivers it again


def _refused_as_registered(address: tuple[str, int], name: str) -> bool:
    client = RawClient(address)
    try:
        client.send(type="join", username=name, version=2)
        frame = client.recv()
        return frame["type"] == "error" and frame["code"] == "name_registered"
    finally:
        client.close()


def _until(client: RawClient, type_: str) -> list[dict]:
    """The frames before the first of ``type_``."""
    frames = []
    while (frame := client.recv())["type"] != type_:
        frames.append(frame)
    return frames


def _said(frames: list[dict]) -> list[str]:
    """The chat lines among ``frames`` (joins and leaves say things too)."""
    return [f["message"] for f in frames if f["type"] == "chat"]


def _users(client: RawClient) -> list[str]:
    client.send(type="users")
    return client.expect("users")["users"]


def test_the_link_is_counted_in_the_metrics(redis: Redis, start_server: Callable[..., ServerProcess]) -> None:
    from tests.test_metrics import _get, _metrics_address, _samples

    a = start_server("--redis", redis.url, "--metrics", "127.0.0.1:0")
    b = start_server("--redis", redis.url)
    for s in (a, b):
        s.wait_log("Redis commands link up")
    address = _metrics_address(a)
    wait_for(lambda: _samples(_get(address)[2])[("selchat_redis_up", ())] == 1, what="a's links up")
    alice, bob = RawClient(a.address), RawClient(b.address)
    try:
        alice.join("alice")
        bob.join("bob")
        alice.expect("user_joined", username="bob")
        alice.send(type="chat", message="counted")
        bob.expect("chat", message="counted")
        bob.send(type="chat", message="counted back")
        alice.expect("chat", message="counted back")
        got = _samples(_get(address)[2])
    finally:
        alice.close()
        bob.close()
    assert got[("selchat_redis_published_total", ())] >= 2  # alice's join and her message
    assert got[("selchat_redis_received_total", ())] >= 2  # bob's join and his message


def test_rooms_and_topics_cross(pair: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = pair
    alice, bob = RawClient(a.address), RawClient(b.address)
    try:
        alice.join("alice", version=2)
        bob.join("bob", version=2)
        alice.send(type="join_room", room="#dev")
        alice.expect("room_joined")
        bob.send(type="join_room", room="#dev")
        joined = bob.expect("room_joined")
        assert (joined["room"], joined["users"]) == ("#dev", ["alice", "bob"])  # alice is on the other process
        assert alice.expect("user_joined", username="bob", room="#dev")["username"] == "bob"
        alice.send(type="topic", room="#dev", topic="ship it")
        assert bob.expect("topic")["topic"] == "ship it"
        bob.send(type="chat", room="#dev", message="on it")
        assert alice.expect("chat", room="#dev")["message"] == "on it"
        bob.send(type="leave_room", room="#dev")
        assert alice.expect("user_left", username="bob", room="#dev")["username"] == "bob"
    finally:
        alice.close()
        bob.close()


def test_a_name_is_one_users_across_processes_even_when_claims_race(
        pair: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = pair
    carol = RawClient(a.address)
    try:
        carol.join("carol")
        other = RawClient(b.address)
        try:
            other.send(type="join", username="Carol")
            assert other.error("username_taken")["message"].startswith("that name is taken on another server")
        finally:
            other.close()
    finally:
        carol.close()
    for round_ in range(5):  # two joins for one name, one on each process, at the same moment
        one, two = RawClient(a.address), RawClient(b.address)
        try:
            name = f"racer{round_}"
            one.send(type="join", username=name)
            two.send(type="join", username=name)
            outcomes = sorted(c.recv()["type"] for c in (one, two))
            assert outcomes == ["error", "welcome"]
        finally:
            one.close()
            two.close()
    # carol left: her name is free everywhere again
    wait_for(lambda: _joins(b.address, "carol"), what="carol's name to be free on b")


def _joins(address: tuple[str, int], name: str) -> bool:
    client = RawClient(address)
    try:
        client.send(type="join", username=name)
        return client.recv()["type"] == "welcome"
    finally:
        client.close()


def test_a_killed_process_users_leave_everyones_lists_within_5_s(
        redis: Redis, start_server: Callable[..., ServerProcess]) -> None:
    a = start_server("--redis", redis.url)
    b = start_server("--redis", redis.url)
    c = start_server("--redis", redis.url)
    for s in (a, b, c):
        s.wait_log("Redis commands link up")
    alice, carol, eve = RawClient(a.address), RawClient(c.address), RawClient(b.address)
    try:
        alice.join("alice", version=2)
        carol.join("carol", version=2)
        eve.join("eve", version=2)
        alice.expect("user_joined", username="eve")
        carol.expect("user_joined", username="eve")
        killed_at = time.monotonic()
        b.proc.send_signal(signal.SIGKILL)
        for watcher in (alice, carol):
            left = watcher.expect("user_left", username="eve", timeout=8)
            assert left["reason"] == "server lost"
        assert time.monotonic() - killed_at < 5.5
        assert "eve" not in _users(alice)
        assert _joins(a.address, "eve")  # the dead process's claim on the name is void
    finally:
        for client in (alice, carol, eve):
            client.close()


def test_redis_going_away_is_not_a_crash(redis: Redis, pair: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = pair
    alice, ann, bob = RawClient(a.address), RawClient(a.address), RawClient(b.address)
    try:
        alice.join("alice", version=2)
        ann.join("ann", version=2)
        bob.join("bob", version=2)
        alice.expect("user_joined", username="bob")
        redis.stop()
        for client in (alice, bob):
            assert "lost the link to the other servers" in client.expect("server", timeout=8)["message"]
        alice.send(type="chat", message="still here")  # local delivery goes on
        assert ann.expect("chat")["message"] == "still here"
        ann.send(type="history", room="#lobby", limit=5)  # history is Redis's: out of reach, said so
        assert "link to it is down" in ann.error("history_unavailable")["message"]
        redis.start()  # the same port: the servers find it again by themselves
        for client in (alice, bob):
            assert "rooms are whole again" in client.expect("server", timeout=15)["message"]
        wait_for(lambda: "alice" in _users(bob), what="bob's server to know alice again")
        alice.send(type="chat", message="across again")
        assert bob.expect("chat", timeout=8)["message"] == "across again"
        assert a.proc.poll() is None and b.proc.poll() is None
    finally:
        for client in (alice, ann, bob):
            client.close()


@pytest.mark.parametrize(("url", "says"), [
    ("http://nope", "selchat: --redis: 'http://nope' is not a redis:// or rediss:// URL (redis://127.0.0.1:6379/0)"),
    ("redis://h:6380/0 --redis-cafile pyproject.toml", "selchat: --redis-cafile is for a rediss:// (TLS) URL"),
    ("rediss://h:6380/0 --redis-cafile pyproject.toml",
     "selchat: --redis-cafile: pyproject.toml holds no certificate"),
])
def test_a_bad_redis_url_is_one_line(url: str, says: str) -> None:
    from tests.helpers import selchat_cmd

    done = subprocess.run(selchat_cmd("serve", "--redis", *url.split()), capture_output=True, text=True,
                          timeout=DEADLINE, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(says), lines


def test_rediss_checks_redis_s_certificate(start_server: Callable[..., ServerProcess], tmp_path) -> None:  # type: ignore[no-untyped-def]
    from selchat.certs import write_self_signed

    if REDIS is None:
        pytest.skip("redis-server (Debian's redis-server package) is not installed; .ci/run installs it")
    cert, key = tmp_path / "redis.pem", tmp_path / "redis-key.pem"
    write_self_signed(["127.0.0.1"], cert, key)
    redis = Redis(tls=(str(cert), str(key)))
    try:
        url = f"rediss://127.0.0.1:{redis.port}/0"
        a = start_server("--redis", url, "--redis-cafile", str(cert))
        b = start_server("--redis", url, "--redis-cafile", str(cert))
        for s in (a, b):
            s.wait_log("Redis commands link up")
        alice, bob = RawClient(a.address), RawClient(b.address)
        try:
            alice.join("alice", version=2)
            bob.join("bob", version=2)
            alice.expect("user_joined", username="bob")
            bob.send(type="chat", message="over TLS")
            assert alice.expect("chat")["message"] == "over TLS"
        finally:
            alice.close()
            bob.close()
        stranger = start_server("--redis", url)  # trusts only the system's store: refused, and says why
        stranger.wait_log("Redis commands link not made: TLS handshake failed: self-signed certificate")
        assert "link up" not in stranger.log()
    finally:
        redis.stop()


def test_redis_by_name_is_resolved_off_the_loop(redis: Redis, start_server: Callable[..., ServerProcess]) -> None:
    """A name in --redis is looked up in the worker (a resolver can take seconds); one that does
    not resolve is retried, and the server serves meanwhile."""
    named = start_server("--redis", f"redis://localhost:{redis.port}/0")
    named.wait_log("Redis commands link up")
    lost = start_server("--redis", "redis://nohost.invalid:6379/0")
    lost.wait_log("cannot reach Redis at nohost.invalid:6379")
    client = RawClient(lost.address)
    try:
        client.join("alice", version=2)
        client.send(type="chat", message="alone")
        client.send(type="ping", id=1)
        assert client.expect("pong")["id"] == 1
    finally:
        client.close()


def test_a_redis_with_a_password(start_server: Callable[..., ServerProcess]) -> None:
    if REDIS is None:
        pytest.skip("redis-server (Debian's redis-server package) is not installed; .ci/run installs it")
    port = free_port()
    proc = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--requirepass", "s3cret"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"redis://:s3cret@127.0.0.1:{port}/2"
        a, b = start_server("--redis", url), start_server("--redis", url)
        for s in (a, b):
            s.wait_log("Redis commands link up")
        alice, bob = RawClient(a.address), RawClient(b.address)
        try:
            alice.join("alice")
            bob.join("bob")
            alice.expect("user_joined", username="bob")
            bob.send(type="chat", message="through a locked door")
            assert alice.expect("chat")["message"] == "through a locked door"
        finally:
            alice.close()
            bob.close()
        assert "Redis refused" not in a.log()
    finally:
        proc.kill()
        proc.wait()


def test_workers_share_one_port_and_a_dead_worker_comes_back(redis: Redis, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import re

    from tests.helpers import selchat_cmd

    log_path = tmp_path / "supervisor.log"
    with log_path.open("w") as log_file:
        sup = subprocess.Popen(selchat_cmd("serve", "--workers", "2", "--redis", redis.url, "--host", "127.0.0.1",
                                           "--port", "0", "--log-level", "INFO", "--db", str(tmp_path / "w.db")),
                               stdout=subprocess.PIPE, stderr=log_file, stdin=subprocess.DEVNULL, text=True)
    try:
        assert sup.stdout is not None
        line = sup.stdout.readline()
        match = re.match(r"selchat listening on 127\.0\.0\.1:(\d+) \(2 workers\)", line)
        assert match, line
        address = ("127.0.0.1", int(match.group(1)))
        wait_for(lambda: len(re.findall(r"worker \d is pid (\d+)", log_path.read_text())) == 2, what="two")
        pids = [int(p) for p in re.findall(r"worker \d is pid (\d+)", log_path.read_text())]
        clients = [RawClient(address) for _ in range(6)]
        try:
            for i, client in enumerate(clients):
                client.join(f"user{i}", version=2)
            wait_for(lambda: len(_users(clients[0])) == 6, what="everyone seen from one worker")
            clients[5].send(type="chat", message="to all")
            for client in clients[:5]:
                assert client.expect("chat")["message"] == "to all"
            for i in range(4):  # whichever worker a newcomer lands on: the line, once (the workers share one --db)
                late = RawClient(address)
                try:
                    late.join(f"late{i}", version=2)
                    assert _said(_until(late, "history_end")) == ["to all"]  # the replay
                    late.send(type="history", room="#lobby", limit=10)
                    assert _said(_until(late, "history_end")) == ["to all"]  # a page
                finally:
                    late.close()
        finally:
            for client in clients:
                client.close()
        os.kill(pids[0], signal.SIGKILL)
        wait_for(lambda: "restarting" in log_path.read_text(), what="the supervisor to notice")
        wait_for(lambda: len(re.findall(r"worker \d is pid (\d+)", log_path.read_text())) == 3, what="a new worker")
        after = RawClient(address)
        try:
            assert after.join("later")["type"] == "welcome"
        finally:
            after.close()
        sup.send_signal(signal.SIGINT)
        assert sup.wait(DEADLINE) == 0
        for pid in [int(p) for p in re.findall(r"worker \d is pid (\d+)", log_path.read_text())][1:]:
            wait_for(lambda pid=pid: not os.path.exists(f"/proc/{pid}") or _zombie(pid), what=f"worker {pid} gone")
    finally:
        if sup.poll() is None:  # a failed assertion: stop it as Ctrl-C would, so its workers go too
            sup.send_signal(signal.SIGINT)
            try:
                sup.wait(DEADLINE)
            except subprocess.TimeoutExpired:
                sup.kill()
                sup.wait()
        for pid in [int(p) for p in re.findall(r"worker \d is pid (\d+)", log_path.read_text())]:
            if os.path.exists(f"/proc/{pid}") and not _zombie(pid):
                os.kill(pid, signal.SIGKILL)  # ours: started by this supervisor, still running
        if sup.stdout is not None:
            sup.stdout.close()


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_workers_need_redis() -> None:
    from tests.helpers import selchat_cmd

    done = subprocess.run(selchat_cmd("serve", "--workers", "2"), capture_output=True, text=True,
                          timeout=DEADLINE, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert done.stderr.strip() == "selchat: --workers needs --redis: the workers share their rooms through it"


def test_bench_spreads_its_clients_over_several_servers(pair: tuple[ServerProcess, ServerProcess]) -> None:
    import json

    from tests.helpers import selchat_cmd

    a, b = pair
    done = subprocess.run(selchat_cmd("bench", "--host", "127.0.0.1", "--port", str(a.port), "--port", str(b.port),
                                      "--clients", "6", "--duration", "1", "--json"),
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["sent"] > 0 and result["expected"] == result["sent"] * 5
    assert result["delivered"] == result["expected"] and result["missing"] == 0  # exactly, across both
    assert f"{a.port},{b.port}" in result["server"]
