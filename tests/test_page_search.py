"""Search on the page (issue 25): the box, the hits newest first, and a hit that opens its room at
the line, older pages fetched until it is there."""

from __future__ import annotations

from selchat.codec import encode
from tests.browsing import expect, open_page, pytestmark  # noqa: F401 - the marks apply here too
from tests.clients import RawClient


def test_search_opens_the_room_at_the_hit(browser, start_server, tmp_path) -> None:
    server = start_server("--db", str(tmp_path / "page.db"), "--rate-limit", "0")
    poster = RawClient(server.address)
    try:
        poster.join("poster", version=2)
        poster.join_room("#dev")
        poster.send(type="chat", room="#dev", message="the needle is here")
        poster.sock.sendall(b"".join(encode({"type": "chat", "room": "#dev", "message": f"hay {i}"})
                                     for i in range(300)))  # the hit is 300 lines back: pages away
        poster.send(type="ping", id="posted")
        poster.expect("pong")
        page = open_page(browser, server, "finder")
        page.fill("#line", "/join #dev")
        page.press("#line", "Enter")
        expect(page.locator("#room-name")).to_have_text("#dev")
        page.locator("#my-rooms li", has_text="#lobby").click()  # looking at another room
        expect(page.locator("#room-name")).to_have_text("#lobby")
        page.click("#open-search")
        page.fill("#search-query", "needle")
        page.press("#search-query", "Enter")
        expect(page.locator("#search-said")).to_have_text("1 found, newest first")
        hit = page.locator("#search-hits button")
        expect(hit).to_contain_text("in #dev")
        expect(hit).to_contain_text("the needle is here")
        hit.click()
        expect(page.locator("#room-name")).to_have_text("#dev")
        found = page.locator("#messages li.found")
        expect(found).to_contain_text("the needle is here")
        expect(found).to_be_in_viewport()
        page.click("#open-search")
        page.fill("#search-query", "before:never x")
        page.press("#search-query", "Enter")
        expect(page.locator("#search-said")).to_contain_text("not a date")
        page.close()
    finally:
        poster.close()
