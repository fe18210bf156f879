"""Replies (issue 25): a line names the one it answers (JSON "reply_to", IRC +draft/reply, the
same msgid), kept in history; the terminal and the page quote the start of the original."""

from __future__ import annotations

from pathlib import Path

from tests.browsing import expect, open_page, pytestmark  # noqa: F401 - the marks apply here too
from tests.clients import Irc, RawClient, port_args


def _said(client: RawClient, text: str) -> dict:
    return client.expect("chat", message=text)


def test_replies_cross_protocols_and_outlast_a_restart(start_server, tmp_path: Path) -> None:
    db = str(tmp_path / "replies.db")
    server = start_server("--db", db)
    alice = RawClient(server.address)
    alice.join("alice", version=2)
    alice.join_room("#dev")
    bob = RawClient(server.address)
    bob.join("bob", version=2)
    bob.join_room("#dev")
    carol = Irc(server, "carol", caps="message-tags server-time")
    carol.send("JOIN #dev")
    carol.expect("366")
    alice.send(type="chat", room="#dev", message="ship it today?")
    asked = _said(bob, "ship it today?")
    bob.send(type="chat", room="#dev", message="yes, after lunch", reply_to=asked["timestamp"])
    answer = _said(alice, "yes, after lunch")
    assert answer["reply_to"] == asked["timestamp"]
    line = carol.expect("PRIVMSG #dev :yes, after lunch")
    msgid = str(round(asked["timestamp"] * 1_000_000))
    assert f"+draft/reply={msgid}" in line.split(" ")[0]  # the IRC msgid of alice's line
    carol.send(f"@+draft/reply={msgid} PRIVMSG #dev :+1")
    assert _said(alice, "+1")["reply_to"] == asked["timestamp"]
    for client in (alice, bob):
        client.close()
    carol.close()
    server.stop()
    again = start_server("--db", db)
    reader = RawClient(again.address)
    reader.join("reader", version=2)
    reader.join_room("#dev")
    kept = {f["message"]: f.get("reply_to") for f in reader.history("#dev", 10)}
    assert kept == {"ship it today?": None, "yes, after lunch": asked["timestamp"], "+1": asked["timestamp"]}
    reader.close()


def test_the_terminal_quotes_and_replies(spawn, start_server) -> None:
    server = start_server()
    bob = RawClient(server.address)
    bob.join("bob", version=2)
    child = spawn(*port_args(server), "--name", "alice", "--no-color")
    child.expect(r"\[#lobby\] alice>")
    bob.send(type="chat", room="#lobby", message="who has the release notes?")
    child.expect("bob: who has the release notes")
    child.sendline("/reply bob I do")
    frame = _said(bob, "I do")
    assert frame["reply_to"] > 0
    bob.send(type="chat", room="#lobby", message="thanks", reply_to=frame["reply_to"])
    child.expect("↪ bob: who has the release notes\\?")  # the start of what it answers, above it
    child.expect("bob: thanks")
    child.sendline("/reply nobody hello")
    child.expect("nobody has said nothing here to reply to")
    bob.close()


def test_the_page_quotes_and_replies(browser, server) -> None:
    bob = RawClient(server.address)
    try:
        bob.join("bob", version=2)
        page = open_page(browser, server, "page")
        bob.send(type="chat", room="#lobby", message="lunch at noon?")
        expect(page.locator("#messages li", has_text="lunch at noon?")).to_have_count(1)
        page.fill("#line", "/reply bob sounds good")
        page.press("#line", "Enter")
        reply = _said(bob, "sounds good")
        mine = page.locator("#messages li.reply", has_text="sounds good")
        expect(mine.locator(".quote")).to_have_text("↪ bob: lunch at noon?")
        bob.send(type="chat", room="#lobby", message="great", reply_to=reply["reply_to"])
        theirs = page.locator("#messages li.reply", has_text="great")
        expect(theirs.locator(".quote")).to_have_text("↪ bob: lunch at noon?")
        page.close()
    finally:
        bob.close()
