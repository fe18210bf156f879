"""One account on the page and in the terminal at once (issue 24): the page's list of conversations
with unread counts, cleared when the terminal shows what was unread; and the page's own lines
shown on the terminal as its owner's."""

from __future__ import annotations

import os
import subprocess

from tests.browsing import expect, pytestmark  # noqa: F401 - the marks apply here too
from tests.clients import RawClient
from tests.helpers import selchat_cmd

PASSWORD = "correct horse battery"


def test_the_page_and_the_terminal_share_what_is_read(browser, start_server, spawn, tmp_path) -> None:
    db = str(tmp_path / "devices.db")
    env = {**os.environ, "SELCHAT_ACCOUNT_PASSWORD": PASSWORD}
    for name in ("alice", "bob"):
        subprocess.run(selchat_cmd("account", "add", name, "--db", db), env=env, check=True, capture_output=True,
                       timeout=60)
    server = start_server("--db", db, "--rate-limit", "0")
    bob = RawClient(server.address)
    try:
        bob.join("bob", version=2, login=PASSWORD)
        bob.send(type="dm", to="alice", message="kept for later")  # alice is offline: it waits
        bob.expect("dm")
        page = browser.new_page(viewport={"width": 1100, "height": 640})
        page.set_default_timeout(10_000)
        page.goto(f"http://127.0.0.1:{server.port}/")
        page.fill("#name", "alice")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("#chat")).to_be_visible()
        talk = page.locator("#conversations li", has_text="bob")
        expect(talk.locator(".badge")).to_have_text("1")  # unread, from the list of conversations
        bob.send(type="dm", to="alice", message="and another")
        expect(talk.locator(".badge")).to_have_text("2")

        terminal = spawn("--host", "127.0.0.1", "--port", str(server.port), "--name", "alice", "--login",
                         env={"SELCHAT_LOGIN": PASSWORD})
        terminal.expect(r"\[#lobby\]")  # the prompt: joined, a second device of the same person
        bob.send(type="dm", to="alice", message="read me on the terminal")
        terminal.expect("read me on the terminal")  # shown there: read, on every device
        expect(talk.locator(".badge")).to_have_count(0)

        page.fill("#line", "hello from the page")
        page.press("#line", "Enter")
        terminal.expect("hello from the page")  # the page's line, on the terminal too
        assert bob.expect("chat")["message"] == "hello from the page"
        bob.send(type="users", room="#lobby")
        assert bob.expect("users")["users"] == ["alice", "bob"]  # one alice, however many devices
        page.close()
    finally:
        bob.close()
