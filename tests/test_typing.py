"""Typing (issue 25): JSON's typing frame and IRC's +typing TAGMSG cross protocols, cost no chat
token, are held to one a target a second, are never kept; the page says who is typing and tells
others while its box is being written in."""

from __future__ import annotations

from selchat.errors import ErrorCode
from selchat.events import Chat, JoinRoom, TagMsg
from tests.browsing import expect, open_page, pytestmark  # noqa: F401 - the marks apply here too
from tests.clients import Irc, RawClient
from tests.hubdriver import Driver


def test_typing_is_relayed_held_back_and_free() -> None:
    d = Driver(burst=1)
    d.join(1, "alice", version=2)
    d.join(2, "bob", version=2)
    for cid in (1, 2):
        d.do(cid, JoinRoom("#dev"))
    d.take(1), d.take(2)
    d.do(1, TagMsg("#dev", "+typing=active"))  # the joins spent the bucket of one: typing needs none
    d.do(1, TagMsg("#dev", "+typing=active"))  # again within the second: dropped
    assert [f for f in d.take(2) if f["type"] == "typing"] == [
        {"type": "typing", "username": "alice", "room": "#dev", "state": "active", "timestamp": d.now}]
    assert d.error(1, Chat("x", room="#dev")).code is ErrorCode.RATE_LIMITED  # a line would have been refused
    d.do(1, TagMsg("bob", "+typing=done"))  # to a person: its own target
    d.do(1, TagMsg("#dev", "+typing=done"))  # a change goes at once
    d.do(1, TagMsg("#dev", "+typing=done"))
    assert [(f.get("room"), f["state"]) for f in d.take(2)] == [(None, "done"), ("#dev", "done")]
    d.now += 1.5
    d.do(1, TagMsg("#dev", "+typing=done"))  # the same, a second later: it goes again
    assert [f["state"] for f in d.take(2)] == ["done"]
    assert d.stored == []  # never kept


def test_typing_crosses_json_and_irc(start_server) -> None:
    server = start_server()
    alice = RawClient(server.address)
    alice.join("alice", version=2)
    alice.join_room("#dev")
    carol = Irc(server, "carol", caps="message-tags")
    carol.send("JOIN #dev")
    carol.expect("366")
    alice.send(type="typing", room="#dev", state="active")
    line = carol.expect("TAGMSG #dev")
    assert line.startswith("@+typing=active") and ":alice!" in line
    carol.send("@+typing=paused TAGMSG #dev")
    frame = alice.expect("typing")
    assert (frame["username"], frame["room"], frame["state"]) == ("carol", "#dev", "paused")
    alice.send(type="typing", room="#dev", state="bored")
    assert alice.error("bad_frame")["message"] == '"state" is "active", "paused" or "done"'
    alice.close()
    carol.close()


def test_the_page_says_who_is_typing(browser, server) -> None:
    watcher = RawClient(server.address)
    carol = Irc(server, "carol", caps="message-tags")
    try:
        watcher.join("watcher", version=2)
        carol.send("JOIN #lobby")
        carol.expect("366")
        page = open_page(browser, server, "typist")
        carol.send("@+typing=active TAGMSG #lobby")
        expect(page.locator("#typing")).to_have_text("carol is typing…")
        carol.send("PRIVMSG #lobby :done now")
        expect(page.locator("#typing")).to_have_text("")  # who spoke has stopped typing
        page.fill("#line", "")
        page.type("#line", "hel")
        frame = watcher.expect("typing", username="typist")  # (carol's came first)
        assert (frame["room"], frame["state"]) == ("#lobby", "active")
        page.press("#line", "Enter")
        assert watcher.expect("typing", username="typist")["state"] == "done"
        page.close()
    finally:
        watcher.close()
        carol.close()
