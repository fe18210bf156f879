"""A room's lines across `--redis` processes (issue 25): search on each process finds what every
process said in the rooms it hears; edits, deletes, reactions and typing cross, and a page of
history read from Redis shows them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.clients import Irc, RawClient
from tests.helpers import ServerProcess, wait_for
from tests.redisserver import Redis


@pytest.fixture
def pair(redis: Redis, start_server: Callable[..., ServerProcess], tmp_path: Path) -> tuple[ServerProcess, ...]:
    """Two processes on one Redis, each with a file of its own (as two machines would have)."""
    servers = tuple(start_server("--redis", redis.url, "--rate-limit", "0", "--db", str(tmp_path / f"{n}.db"))
                    for n in ("a", "b"))
    for s in servers:
        s.wait_log("Redis subscriptions link up")
        s.wait_log("Redis commands link up")
    return servers


def _search(client: RawClient, query: str) -> list[tuple[str, str]]:
    client.send(type="search", query=query)
    while (frame := client.recv())["type"] not in ("search_results", "error"):
        pass
    assert frame["type"] == "search_results", frame
    return [(hit["username"], hit["message"]) for hit in frame["results"]]


def _in_dev(address: tuple[str, int], name: str) -> RawClient:
    client = RawClient(address)
    client.join(name, version=2)
    client.join_room("#dev")
    return client


def test_search_finds_what_every_process_said(pair: tuple[ServerProcess, ...]) -> None:
    a, b = pair
    alice, bob = _in_dev(a.address, "alice"), _in_dev(b.address, "bob")
    try:
        wait_for(lambda: _members(bob) == ["alice", "bob"], what="b to know alice is in #dev")
        alice.send(type="chat", room="#dev", message="the build failed on main")
        bob.expect("chat", message="the build failed on main")
        bob.send(type="chat", room="#dev", message="build fixed by a revert")
        alice.expect("chat", message="build fixed by a revert")
        both = [("bob", "build fixed by a revert"), ("alice", "the build failed on main")]
        for client in (alice, bob):  # each process's own copy: its own lines and those it heard
            wait_for(lambda c=client: _search(c, "build") == both, what="both lines found")  # type: ignore[misc]
        assert _search(bob, "build from:alice") == [("alice", "the build failed on main")]
        assert _search(alice, '"a revert"') == [("bob", "build fixed by a revert")]
    finally:
        alice.close()
        bob.close()


def test_edits_deletes_and_reactions_cross_and_stay(redis: Redis, pair: tuple[ServerProcess, ...]) -> None:
    a, b = pair
    alice, bob = _in_dev(a.address, "alice"), _in_dev(b.address, "bob")  # alice first: #dev's operator
    carol = Irc(b, "carol", caps="message-tags draft/message-redaction")
    try:
        carol.send("JOIN #dev")
        carol.expect("366")
        wait_for(lambda: _members(alice) == ["alice", "bob", "carol"], what="a to know #dev's members")
        alice.send(type="chat", room="#dev", message="teh release is at five")
        line = bob.expect("chat", message="teh release is at five")
        alice.send(type="edit", room="#dev", id="last", message="the release is at five")
        edited = bob.expect("edited")
        assert (edited["id"], edited["message"], edited["by"]) == (line["timestamp"], "the release is at five", "alice")
        bob.send(type="react", room="#dev", id=line["timestamp"], reaction="👍")
        heard = alice.expect("reaction")
        assert (heard["username"], heard["reaction"], heard["on"]) == ("bob", "👍", True)
        line_id = str(round(line["timestamp"] * 1_000_000))
        carol.send(f"@+draft/react=🎉;+draft/reply={line_id} TAGMSG #dev")
        assert alice.expect("reaction")["username"] == "carol"
        carol.send(f"@+draft/unreact=🎉;+draft/reply={line_id} TAGMSG #dev")  # and taken back
        assert alice.expect("reaction")["on"] is False
        bob.send(type="typing", room="#dev", state="active")
        assert alice.expect("typing")["username"] == "bob"
        bob.send(type="chat", room="#dev", message="my password is hunter2")
        leak = alice.expect("chat", message="my password is hunter2")
        alice.send(type="delete", room="#dev", id=leak["timestamp"], reason="a password")  # as the operator
        assert bob.expect("deleted")["id"] == leak["timestamp"]
        msgid = str(round(leak["timestamp"] * 1_000_000))
        assert carol.expect("REDACT #dev").split(" REDACT #dev ", 1)[1].startswith(msgid)  # IRC on the other side
        for client in (alice, bob):
            wait_for(lambda c=client: _search(c, "password") == [], what="the deleted line unfound")  # type: ignore[misc]
            assert _search(client, "release") == [("alice", "the release is at five")]
            assert _search(client, "teh") == []
    finally:
        alice.close()
        bob.close()
        carol.close()
    assert redis.query("XLEN", "selchat:history:#dev") == b":1"  # the deleted line is gone from Redis at once
    for server in (b, a):  # a newcomer on either process: the page from Redis shows the line as it is now
        reader = RawClient(server.address)
        try:
            reader.join(f"reader{server.port}", version=2)
            reader.join_room("#dev")
            page = reader.history("#dev")
            said = [f for f in page if f.get("username") in ("alice", "bob")]
            # the deleted line is out of the stream (as IRC's pages leave a redacted line out)
            assert [(f["message"], f.get("edited", 0) > 0) for f in said] == [("the release is at five", True)]
            assert said[0].get("reactions") == {"👍": ["bob"]}
        finally:
            reader.close()


def _members(client: RawClient) -> list[str]:
    client.send(type="users", room="#dev")
    return sorted(client.expect("users")["users"])


def test_what_changes_a_line_is_kept_beside_the_stream() -> None:
    from selchat import outbound as ev
    from selchat import shared_changes as sc
    from selchat.shared_history import entries

    edit = ev.MessageChanged("#dev", 1.5, "new text", "alice", 2.25)
    assert sc.change_args("#dev", edit, 100)[5:] == ("1500-0", "edit", "new text", "2.25", 100)  # type: ignore[index]
    gone = ev.MessageChanged("#dev", 1.5, None, "alice", 3.0)
    assert sc.change_args("#dev", gone, 100)[5:] == ("1500-0", "delete", 100)  # type: ignore[index]
    assert sc.change_args("#dev", ev.MessageChanged("bob", 1.5, "x", "alice", 3.0, peer="bob"), 100) is None
    react = ev.TagMessage("bob", "#dev", "+draft/react=👍;+draft/reply=1500000", 4.0)
    assert sc.change_args("#dev", react, 100)[5:] == ("1500-0", "react", "👍", "bob", "1", 100)  # type: ignore[index]
    typing = ev.TagMessage("bob", "#dev", "+typing=active", 4.0)
    assert sc.changes_of("#dev", [typing, ev.Message("#dev", "a", "hi", 5.0)], 100) == []
    said = b'["#dev","alice","old text",1.5,false,false]'
    changed = b'{"t":"new text","e":"2.25","r":{"\xf0\x9f\x91\x8d":["bob"],"x":{}}}'
    (_, line), = entries([[b"1500-0", [b"m", said, b"c", changed]]])
    assert (line.text, line.edited, line.reactions) == ("new text", 2.25, {"👍": ["bob"]})
    (_, line), = entries([[b"1500-0", [b"m", said, b"c", b"not json"]]])
    assert (line.text, line.edited) == ("old text", 0.0)  # a field not ours: the line as it was said
