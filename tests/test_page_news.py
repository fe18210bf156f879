"""What is new, on the page (issue 22): unread and mention badges per room and conversation, the
tab's title and icon, the "new since you left" line, private messages as conversations in the
sidebar, and a desktop notification for one while the tab is hidden."""

from __future__ import annotations

import pytest

from selchat.codec import encode
from tests.browsing import WAIT_MS, expect, pytestmark, say  # noqa: F401 - the marks apply here too
from tests.clients import RawClient

# Every Notification the page makes, kept where the test can read it (the real one is made too).
RECORD_NOTES = """
window.__notes = [];
window.Notification = new Proxy(window.Notification, {
  construct(target, args) { window.__notes.push([args[0], (args[1] || {}).body]); return new target(...args); },
});
"""
HIDE = """hidden => {
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
  document.dispatchEvent(new Event('visibilitychange'));
}"""


SIZES = [{"width": 1280, "height": 800}, {"width": 390, "height": 844}]


@pytest.mark.parametrize("size", SIZES, ids=["desktop", "phone"])
def test_unread_mentions_conversations_and_a_notification(browser, start_server, size: dict) -> None:
    server = start_server("--rate-limit", "0")
    origin = f"http://127.0.0.1:{server.port}"
    context = browser.new_context(viewport=size)
    poster = RawClient(server.address)
    try:
        poster.join("poster", version=2)
        poster.sock.sendall(b"".join(encode({"type": "chat", "message": f"earlier {i}"}) for i in range(200)))
        poster.send(type="ping", id="posted")
        poster.expect("pong")  # a lobby with 200 messages of history
        context.grant_permissions(["notifications"], origin=origin)
        context.add_init_script(RECORD_NOTES)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(origin + "/")
        page.fill("#name", "reader")
        page.click("button[type=submit]")
        expect(page.locator("#chat")).to_be_visible()
        def rooms() -> None:  # on a phone the rooms are a drawer: opened to pick one
            if size["width"] < 700:
                page.click("#open-rooms")

        say(page, "/join #dev")
        expect(page.locator("#room-name")).to_have_text("#dev")
        lobby = page.locator("#my-rooms li", has_text="#lobby")
        for text in ("hello lobby", "anyone?"):
            poster.send(type="chat", room="#lobby", message=text)
        expect(lobby.locator(".badge")).to_have_text("2")
        expect(lobby).to_have_class("unread")
        expect(page).to_have_title("(2) selchat")
        assert "circle" in page.get_attribute("#favicon", "href")  # the icon has its dot
        poster.send(type="chat", room="#lobby", message="reader: look here")
        expect(lobby.locator(".badge.mention")).to_have_text("1")
        expect(page).to_have_title("(3) selchat")
        rooms()
        lobby.click()
        expect(page.locator("#room-name")).to_have_text("#lobby")
        expect(lobby.locator(".badge")).to_have_count(0)
        expect(page).to_have_title("selchat")
        marker = page.locator("#messages li.new-marker")
        expect(marker).to_have_text("new since you left")
        assert marker.evaluate("m => m.nextElementSibling.textContent").endswith("hello lobby")
        # hidden: a private message is a conversation with its badge, and a notification
        page.evaluate(HIDE, True)
        poster.send(type="dm", to="reader", message="psst")
        talk = page.locator("#conversations li", has_text="poster")
        expect(talk.locator(".badge.mention")).to_have_text("1")
        page.wait_for_function("window.__notes.length > 0")
        assert page.evaluate("window.__notes") == [["poster (private)", "psst"]]
        expect(page.locator("#messages")).not_to_contain_text("psst")  # not a line of the room on screen
        page.evaluate(HIDE, False)
        rooms()
        talk.click()
        expect(page.locator("#room-name")).to_have_text("poster")
        expect(page.locator("#messages")).to_contain_text("psst")
        say(page, "hi back")
        assert poster.expect("dm", message="hi back")["from"] == "reader"
        expect(page.locator("#messages")).to_contain_text("hi back")  # the server's receipt, in the conversation
        # a room's notifications turned off: a mention there while hidden says nothing
        rooms()
        lobby.click()
        page.click("#bell")
        expect(page.locator("#bell")).to_have_class("bell muted")
        page.evaluate(HIDE, True)
        poster.send(type="chat", room="#lobby", message="reader: muted?")
        expect(lobby.locator(".badge.mention")).to_have_text("1")
        assert page.evaluate("window.__notes.length") == 1
    finally:
        poster.close()
        context.close()


def test_a_conversation_between_accounts_has_its_history(browser, start_server) -> None:
    """Opening a conversation fetches its kept pages, up to its beginning, as a room's."""
    server = start_server("--rate-limit", "0")
    bob = RawClient(server.address)
    amy = RawClient(server.address)
    try:
        for client, name in ((amy, "amy"), (bob, "bob")):
            client.join(name, version=2)
            client.send(type="register", password=f"{name}'s password")
            client.expect("registered")
        for i in range(80):
            (amy if i % 2 else bob).send(type="dm", to="bob" if i % 2 else "amy", message=f"said {i:02d}")
        amy.send(type="ping", id="done")
        amy.expect("pong")
        amy.close()
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"http://127.0.0.1:{server.port}/")
        page.fill("#name", "amy")
        page.fill("#password", "amy's password")
        page.click("button[type=submit]")
        expect(page.locator("#chat")).to_be_visible()
        say(page, "/msg bob back again")  # opens the conversation, which fetches what was said
        expect(page.locator("#room-name")).to_have_text("bob")
        lines = page.locator("#messages li[data-msg]")
        expect(lines.last).to_contain_text("back again")
        while not page.locator("#messages li.beginning").count():
            count = lines.count()
            page.locator("#messages").evaluate("box => { box.scrollTop = 0; box.dispatchEvent(new Event('scroll')); }")
            expect(lines).not_to_have_count(count)
        expect(lines).to_have_count(81)
        expect(lines.first).to_contain_text("said 00")
        beginning = page.locator("#messages li.beginning")
        expect(beginning).to_have_text("This is the beginning of your conversation with bob.")
        page.close()
    finally:
        bob.close()
