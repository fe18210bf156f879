"""The page in a real browser: Playwright driving Debian's Chromium (`.ci/run` installs it) against
a real `selchat serve`, beside a `selchat join` user in a real terminal."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.browsing import expect, open_page, pytestmark, say  # noqa: F401 - the marks apply here too
from tests.clients import RawClient, finished, port_args
from tests.helpers import ServerProcess


def test_two_pages_and_a_terminal_user_chat_in_one_room(browser, spawn, server: ServerProcess) -> None:
    terminal = spawn(*port_args(server), "--name", "termy", "--no-color")
    terminal.expect(r"\[#lobby\] termy>")
    ann = open_page(browser, server, "ann")
    ben = open_page(browser, server, "ben")
    expect(ann.locator("#members")).to_contain_text("ben")
    say(ann, "hello from ann")
    expect(ben.locator("#messages")).to_contain_text("hello from ann")
    terminal.expect("ann: hello from ann")
    terminal.sendline("hi pages")
    expect(ann.locator("#messages")).to_contain_text("hi pages")
    expect(ben.locator("#messages")).to_contain_text("hi pages")
    say(ben, "/join #web")
    expect(ben.locator("#room-name")).to_have_text("#web")
    say(ben, "/topic the web room")
    expect(ben.locator("#topic")).to_contain_text("the web room")
    say(ann, "/me waves at ben")
    expect(ben.locator("#my-rooms")).to_contain_text("#lobby")
    ben.click("#my-rooms li:has-text('#lobby')")
    expect(ben.locator("#messages")).to_contain_text("ann waves at ben")
    say(ann, "ben: are you there?")
    expect(ben.locator("#messages li.mention").last).to_contain_text("are you there?")
    shot = Path(server.log_file.name).parent / "selchat-page.png"  # the README's pictures: test_page_screens.py
    ben.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    terminal.sendline("/quit")
    assert finished(terminal) == 0


def test_history_on_entering_and_text_stays_text(browser, server: ServerProcess) -> None:
    poster = RawClient(server.address)
    try:
        poster.join("poster", version=2)
        for i in range(3):
            poster.send(type="chat", message=f"earlier {i}")
        poster.send(type="chat", message="<img src=x onerror=alert(1)><script>alert(2)</script>")
        poster.send(type="ping", id=1)
        poster.expect("pong")
        dialogs: list[str] = []
        page = open_page(browser, server, "reader", dialogs)
        history = page.locator("#messages li.history")
        expect(history).to_have_count(4)
        expect(history.nth(0)).to_contain_text("earlier 0")
        expect(history.nth(3)).to_contain_text("<img src=x onerror=alert(1)><script>alert(2)</script>")
        poster.send(type="chat", message='<b onmouseover="alert(3)">bold?</b>')
        expect(page.locator("#messages")).to_contain_text('<b onmouseover="alert(3)">bold?</b>')
        assert page.locator("#messages img, #messages script, #messages b").count() == 0
        page.hover("#messages li:last-child")
        assert dialogs == []  # nothing ran
    finally:
        poster.close()


def test_the_page_reconnects_after_a_restart_and_fills_the_gap(browser, start_server, tmp_path: Path) -> None:
    db = str(tmp_path / "chat.db")
    server = start_server("--db", db)
    page = open_page(browser, server, "stayer")
    say(page, "before the restart")
    expect(page.locator("#messages")).to_contain_text("before the restart")
    port = server.port
    server.stop(signal.SIGTERM)
    expect(page.locator("#status")).to_contain_text("reconnecting")
    again = start_server("--db", db, "--port", str(port))
    other = RawClient(again.address)
    try:
        other.join("other", version=2)
        other.send(type="chat", message="said while you were away")
        expect(page.locator("#status")).to_have_text("")  # back
        expect(page.locator("#messages")).to_contain_text("said while you were away")
        expect(page.locator("#members")).to_contain_text("other")
    finally:
        other.close()


def test_older_pages_when_scrolling_up_and_a_phone_sized_screen(browser, start_server) -> None:
    server = start_server("--rate-limit", "0", "--replay", "20")
    poster = RawClient(server.address)
    try:
        poster.join("poster", version=2)
        for i in range(60):
            poster.send(type="chat", message=f"line {i:02d}")
        poster.send(type="ping", id=1)
        poster.expect("pong")
        page = open_page(browser, server, "scroller")
        lines = page.locator("#messages li.history")
        expect(lines.last).to_contain_text("line 59")  # the replay on entering (20), newest last
        # the older page comes on scrolling up, or at once when the replay does not fill the list
        page.locator("#messages").evaluate("box => { box.scrollTop = 0; box.dispatchEvent(new Event('scroll')); }")
        expect(lines).to_have_count(60)  # the older page (up to 50): all there is
        expect(lines.first).to_contain_text("line 00")
        page.set_viewport_size({"width": 390, "height": 740})  # a phone: the members are a closed drawer
        expect(page.locator("#members-pane")).not_to_be_in_viewport()
        expect(page.locator("#line")).to_be_in_viewport()
        say(page, "from a phone")
        poster.expect("chat", message="from a phone")
    finally:
        poster.close()


def test_a_paste_too_long_is_kept_and_explained_not_sent(browser, start_server) -> None:
    """Before: a 17 KB paste went out, the server closed the WebSocket (1009) and the page could
    not come back under its name."""
    server = start_server("--max-message", "500")
    listener = RawClient(server.address)
    try:
        listener.join("listener", version=2)
        page = open_page(browser, server, "paster")
        paste = "long line " * 1700  # 17,000 characters
        say(page, paste)
        expect(page.locator("#messages li.error").last).to_contain_text("at most 500")
        assert page.input_value("#line") == paste  # kept, to shorten
        say(page, "a short one")
        assert listener.expect("chat")["message"] == "a short one"  # the paste never went
    finally:
        listener.close()
