"""A message of several lines on the page (issue 25): Shift+Enter and a paste keep their lines,
Enter sends them as one message, and a message of several lines from IRC shows as one block."""

from __future__ import annotations

from tests.browsing import expect, open_page, pytestmark  # noqa: F401 - the marks apply here too
from tests.clients import Irc, RawClient

MULTI = "message-tags batch server-time draft/multiline"


def test_shift_enter_and_a_paste_make_one_message_of_several_lines(browser, server) -> None:
    watcher = RawClient(server.address)
    irc = Irc(server, "ircer", MULTI)
    try:
        watcher.join("watcher")
        irc.expect(" 001 ")
        irc.send("JOIN #lobby")
        irc.expect(" 366 ")
        page = open_page(browser, server, "typist")
        box = page.locator("#line")
        box.type("first line")
        box.press("Shift+Enter")
        box.type("second line")
        height = box.bounding_box()["height"]
        box.press("Enter")
        assert watcher.expect("chat", username="typist")["message"] == "first line\nsecond line"
        assert irc.expect(" draft/multiline #lobby").startswith("@")
        assert page.input_value("#line") == ""
        mine = page.locator("#messages li", has_text="first line")
        expect(mine).to_have_count(1)
        assert "second line" in mine.inner_text()
        assert box.bounding_box()["height"] < height  # the box shrinks back once sent
        page.evaluate("""() => { const box = document.getElementById("line"); box.focus();
            document.execCommand("insertText", false, "pasted one\\npasted two"); }""")
        box.press("Enter")
        assert watcher.expect("chat", username="typist")["message"] == "pasted one\npasted two"
        irc.send("BATCH +x draft/multiline #lobby", "@batch=x PRIVMSG #lobby :from irc",
                 "@batch=x PRIVMSG #lobby :and on", "BATCH -x")
        theirs = page.locator("#messages li", has_text="from irc")
        expect(theirs).to_have_count(1)
        assert theirs.inner_text().split("from irc")[1].strip() == "and on"
    finally:
        watcher.close()
        irc.close()
