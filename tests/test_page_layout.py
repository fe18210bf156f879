"""The page's layout in Chromium (issue 22): at 1280x800 and at 390x844, with 200 messages of
history, the window never scrolls, the input box and the newest message are in view, scrolling
up loads the older pages to the room's beginning, new messages below are announced, days are
separated, a person's consecutive lines grouped, links made safely, and a phone's rooms and
members are drawers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from selchat.store import SaveRoom, Store
from tests.browsing import expect, open_page, pytestmark, say  # noqa: F401 - the marks apply here too
from tests.clients import RawClient
from tests.helpers import ServerProcess

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _history(start_server, count: int = 200) -> tuple[ServerProcess, RawClient]:
    server = start_server("--rate-limit", "0")
    poster = RawClient(server.address)
    poster.join("poster", version=2)
    for i in range(count):
        poster.send(type="chat", message=f"line {i:03d}")
    poster.send(type="ping", id="posted")
    poster.expect("pong")
    return server, poster


def _window_holds(page) -> None:
    """Nothing of the window scrolls; the box to type in and the newest line are on screen."""
    assert page.evaluate("document.scrollingElement.scrollHeight <= window.innerHeight")
    expect(page.locator("#line")).to_be_in_viewport()
    box = page.locator("#messages").bounding_box()
    last = page.locator("#messages li").last.bounding_box()
    assert box and last and box["y"] <= last["y"] and last["y"] + last["height"] <= box["y"] + box["height"] + 1
    viewport = page.viewport_size
    line = page.locator("#line").bounding_box()
    assert line and line["y"] + line["height"] <= viewport["height"]


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_window_holds_and_scrolling_up_reaches_the_beginning(browser, start_server, size: dict) -> None:
    server, poster = _history(start_server)
    try:
        page = open_page(browser, server, "reader", viewport=size)
        lines = page.locator("#messages li.history")
        expect(lines.last).to_contain_text("line 199")  # it opens on the newest
        _window_holds(page)
        looked_at = None
        while not page.locator("#messages li.beginning").count():
            looked_at, count = lines.first.inner_text(), lines.count()
            # to the top, and where the first line is then: in one task, before any answer can come
            y = page.locator("#messages").evaluate("""box => {
                box.scrollTop = 0; box.dispatchEvent(new Event('scroll'));
                return box.querySelector('li.history').getBoundingClientRect().y; }""")
            expect(lines).not_to_have_count(count)
            # the line looked at stays where it was: the older page went in above it
            kept = page.locator("#messages li.history", has_text=looked_at).bounding_box()
            assert abs(kept["y"] - y) < 2, (looked_at, y, kept)
        expect(lines).to_have_count(200)
        expect(lines.first).to_contain_text("line 000")
        expect(page.locator("#messages li.beginning")).to_have_text("This is the beginning of #lobby.")
        assert page.evaluate("document.scrollingElement.scrollHeight <= window.innerHeight")
        # a new message while scrolled up: the view stays, and says that something arrived below
        poster.send(type="chat", message="while you read old ones")
        expect(page.locator("#new-below")).to_be_visible()
        expect(page.locator("#messages li", has_text="while you read old ones")).not_to_be_in_viewport()
        page.click("#new-below")
        expect(page.locator("#messages li", has_text="while you read old ones")).to_be_in_viewport()
        expect(page.locator("#new-below")).to_be_hidden()
        poster.send(type="chat", message="and at the bottom")  # followed down, nothing to say
        expect(page.locator("#messages li", has_text="and at the bottom")).to_be_in_viewport()
        expect(page.locator("#new-below")).to_be_hidden()
        say(page, "typed at the bottom")
        assert poster.expect("chat", message="typed at the bottom")
        _window_holds(page)
    finally:
        poster.close()


def _two_days(path: Path) -> None:
    """A lobby with yesterday's and today's messages, as a server that ran then would have kept."""
    store = Store(str(path))
    store.write(SaveRoom("#lobby", "#lobby"))
    today = time.time() - 600
    yesterday = today - 86400
    said = [(yesterday, "amy", "good night all"), (yesterday + 30, "amy", "see you tomorrow"),
            (today, "bob", "morning! the notes are at https://example.com/notes."),
            (today + 20, "bob", "and not javascript:alert(1) or <img src=x onerror=alert(2)>"),
            (today + 40, "amy", "thanks bob")]
    for ts, who, text in said:
        store.write(("#lobby", round(ts * 1_000_000), who, text, 0))
    store.commit()
    store.close()


def test_days_groups_and_links(browser, start_server, tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    _two_days(db)
    server = start_server("--db", str(db))
    dialogs: list[str] = []
    page = open_page(browser, server, "reader", dialogs, viewport=DESKTOP)
    expect(page.locator("#messages li.day")).to_have_text(["Yesterday", "Today"])
    grouped = page.locator("#messages li.cont")
    expect(grouped).to_have_count(2)  # amy's second line, bob's second line
    expect(grouped.first).to_contain_text("see you tomorrow")
    link = page.locator("#messages a")
    expect(link).to_have_count(1)
    expect(link).to_have_attribute("href", "https://example.com/notes")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(page.locator("#messages")).to_contain_text("<img src=x onerror=alert(2)>")
    assert page.locator("#messages img").count() == 0 and dialogs == []


def test_a_phone_opens_the_rooms_and_the_members_as_drawers(browser, start_server) -> None:
    server, poster = _history(start_server, 5)
    try:
        poster.send(type="join_room", room="#elsewhere")
        poster.expect("room_joined")
        page = open_page(browser, server, "thumb", viewport=PHONE)
        rooms, members = page.locator("#rooms-pane"), page.locator("#members-pane")
        expect(rooms).not_to_be_in_viewport()
        expect(members).not_to_be_in_viewport()
        page.click("#open-members")
        expect(members).to_be_in_viewport()
        expect(members).to_contain_text("poster")
        page.click("#scrim", position={"x": 20, "y": 400})  # a tap beside the drawer closes it
        expect(members).not_to_be_in_viewport()
        page.click("#open-rooms")
        expect(rooms).to_be_in_viewport()
        rooms.locator("#all-rooms li", has_text="#elsewhere").click()
        expect(page.locator("#room-name")).to_have_text("#elsewhere")
        expect(rooms).not_to_be_in_viewport()
        _window_holds(page)
    finally:
        poster.close()
