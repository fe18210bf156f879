"""Reactions (issue 25): JSON's react and IRC's +draft/react on a line's msgid cross protocols,
are kept and counted per line, replayed with history (and from memory to newcomers); the terminal
says who reacted to what, the page shows "👍 2" and a click adds yours or takes it back."""

from __future__ import annotations

from pathlib import Path

from tests.browsing import expect, open_page, pytestmark  # noqa: F401 - the marks apply here too
from tests.clients import Irc, RawClient, port_args


def test_reactions_cross_protocols_and_are_kept(start_server, tmp_path: Path) -> None:
    db = str(tmp_path / "react.db")
    server = start_server("--db", db)
    alice = RawClient(server.address)
    alice.join("alice", version=2)
    alice.join_room("#dev")
    bob = RawClient(server.address)
    bob.join("bob", version=2)
    bob.join_room("#dev")
    carol = Irc(server, "carol", caps="message-tags")
    carol.send("JOIN #dev")
    carol.expect("366")
    alice.send(type="chat", room="#dev", message="release at five")
    line = bob.expect("chat", message="release at five")
    bob.send(type="react", room="#dev", id=line["timestamp"], reaction="👍")
    heard = alice.expect("reaction")
    assert (heard["username"], heard["reaction"], heard["on"], heard["id"]) == ("bob", "👍", True, line["timestamp"])
    msgid = str(round(line["timestamp"] * 1_000_000))
    tagged = carol.expect("TAGMSG #dev")
    assert f"+draft/react=👍;+draft/reply={msgid}" in tagged and ":bob!" in tagged
    carol.send(f"@+draft/react=👍;+draft/reply={msgid} TAGMSG #dev")
    assert alice.expect("reaction")["username"] == "carol"
    carol.send(f"@+draft/react=🎉;+draft/reply={msgid} TAGMSG #dev", "PING :sync")
    carol.expect("PONG")
    dave = RawClient(server.address)  # a newcomer: the room's recent lines come from memory
    dave.join("dave", version=2)
    dave.send(type="join_room", room="#dev")
    replayed = dave.expect("chat", message="release at five")
    assert replayed["reactions"] == {"👍": ["bob", "carol"], "🎉": ["carol"]}
    bob.send(type="react", room="#dev", id=line["timestamp"], reaction="👍", on=False)
    assert alice.expect("reaction", username="bob")["on"] is False
    bob.send(type="react", room="#dev", id=line["timestamp"], reaction="two words")
    assert bob.error("bad_frame")
    bob.send(type="ping", id="sync")
    bob.expect("pong")
    for client in (alice, bob, dave):
        client.close()
    carol.close()
    server.stop()
    again = start_server("--db", db)
    reader = RawClient(again.address)
    reader.join("reader", version=2)
    reader.join_room("#dev")
    kept = {f["message"]: f.get("reactions") for f in reader.history("#dev")}
    assert kept["release at five"] == {"👍": ["carol"], "🎉": ["carol"]}
    reader.close()


def test_the_terminal_says_who_reacted(spawn, start_server) -> None:
    server = start_server()
    bob = RawClient(server.address)
    bob.join("bob", version=2)
    child = spawn(*port_args(server), "--name", "alice", "--no-color")
    child.expect(r"\[#lobby\] alice>")
    carol = RawClient(server.address)
    carol.join("carol", version=2)
    carol.send(type="chat", room="#lobby", message="the tests are green")
    said = bob.expect("chat", message="the tests are green")
    bob.send(type="react", room="#lobby", id=said["timestamp"], reaction="🎉")
    child.expect("bob reacted 🎉 to carol: the tests are green")  # the start of the line, as it was seen
    bob.send(type="chat", room="#lobby", message="nice")
    child.expect("bob: nice")
    child.sendline("/react bob 👍")
    frame = bob.expect("reaction")
    assert (frame["username"], frame["reaction"], frame["on"]) == ("alice", "👍", True)
    bob.close()
    carol.close()


def test_the_page_counts_and_toggles(browser, start_server, tmp_path: Path) -> None:
    server = start_server("--db", str(tmp_path / "page.db"))
    bob = RawClient(server.address)
    try:
        bob.join("bob", version=2)
        bob.send(type="chat", room="#lobby", message="pizza friday?")
        bob.send(type="ping", id="said")
        bob.expect("pong")
        page = open_page(browser, server, "page")
        line = page.locator("#messages li", has_text="pizza friday?")
        expect(line).to_have_count(1)
        page.fill("#line", "/react bob 🍕")
        page.press("#line", "Enter")
        frame = bob.expect("reaction")
        assert (frame["username"], frame["reaction"], frame["on"]) == ("page", "🍕", True)
        badge = line.locator(".reactions button")
        expect(badge).to_have_text("🍕 1")
        expect(badge).to_have_attribute("aria-pressed", "true")
        bob.send(type="react", room="#lobby", id=frame["id"], reaction="🍕")
        expect(badge).to_have_text("🍕 2")
        badge.click()  # mine taken back
        assert bob.expect("reaction")["on"] is False
        expect(badge).to_have_text("🍕 1")
        expect(badge).to_have_attribute("aria-pressed", "false")
        line.hover()  # the line's ☺ opens the palette
        line.locator(".react-add").click()
        palette = page.locator("#react-palette")
        expect(palette).to_be_visible()
        palette.get_by_role("menuitem", name="🎉").click()
        frame = bob.expect("reaction")
        assert (frame["username"], frame["reaction"], frame["on"]) == ("page", "🎉", True)
        expect(palette).to_be_hidden()
        expect(line.locator(".reactions button", has_text="🎉")).to_have_text("🎉 1")
        page.close()
    finally:
        bob.close()
