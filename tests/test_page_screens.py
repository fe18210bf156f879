"""The README's pictures of the page, from a chat that looks like a team's: several people over
two days, in two rooms, someone away, a link, a mention. `make screenshot` writes them to docs/
($SELCHAT_SCREENSHOTS); otherwise they go to the test's own directory and are only checked."""

from __future__ import annotations

import os
import time
from pathlib import Path

from selchat.store import SaveRoom, Store
from tests.browsing import expect, open_page, pytestmark, say  # noqa: F401 - the marks apply here too
from tests.clients import RawClient

YESTERDAY = [
    ("amy", "morning all, the release branch is cut"),
    ("bob", "nice, I'll start on the changelog"),
    ("dan", "staging is green again after the cache fix"),
    ("amy", "carol, can you look at the flaky login test when you are in?"),
    ("bob", "changelog draft: https://example.com/release/notes"),
    ("dan", "heading out, see you tomorrow"),
]
TODAY = [
    ("carol", "found it: the login test raced the token refresh"),
    ("carol", "fix is up for review, two lines"),
    ("amy", "great, approved"),
    ("bob", "release notes are final, please have a last look"),
    ("dan", "deploying to production at 11:00"),
    ("amy", "lunch at noon? the usual place"),
    ("bob", "in"),
    ("dan", "production deploy done, all checks pass"),
]


def _team_history(path: Path) -> None:
    store = Store(str(path))
    for room in ("#lobby", "#dev"):
        store.write(SaveRoom(room, room))
    now = time.time()
    midnight = time.mktime((*time.localtime(now)[:3], 0, 0, 0, 0, 0, -1))
    # today's lines between midnight and now, whatever the hour the test runs at
    today = max(now - 3 * 3600, midnight + 1)
    step = min(150.0, (now - today) / (len(TODAY) + 1))
    for day, said in ((today - 86400, YESTERDAY), (today, TODAY)):
        for i, (who, text) in enumerate(said):
            store.write(("#lobby", round((day + i * step) * 1_000_000), who, text, 0))
    dev = today - min(600, today - midnight)
    store.write(("#dev", round(dev * 1_000_000), "dan", "CI is slow today, looking", 0))
    store.commit()
    store.close()


def test_screenshots_of_a_team_s_chat(browser, start_server, tmp_path: Path) -> None:
    db = tmp_path / "team.db"
    _team_history(db)
    server = start_server("--db", str(db))
    people = [RawClient(server.address) for _ in range(3)]
    try:
        for client, name in zip(people, ("amy", "bob", "dan"), strict=True):
            client.join(name, version=2)
            client.send(type="join_room", room="#dev")
        people[2].send(type="away", message="at lunch")
        shots = Path(os.environ.get("SELCHAT_SCREENSHOTS") or tmp_path)
        sizes = (({"width": 1280, "height": 800}, "page.png"), ({"width": 390, "height": 844}, "page-phone.png"))
        for size, name in sizes:
            page = open_page(browser, server, "carol", viewport=size)
            expect(page.locator("#messages li.day")).to_have_text(["Yesterday", "Today"])
            say(page, "/join #dev")
            expect(page.locator("#room-name")).to_have_text("#dev")
            page.keyboard.press("Alt+1")  # back to the lobby
            expect(page.locator("#room-name")).to_have_text("#lobby")
            expect(page.locator("#members li")).to_have_count(4)
            say(page, "amy: thanks for the review!")
            people[0].expect("chat", message="amy: thanks for the review!")
            if name == "page.png":
                people[1].send(type="chat", room="#dev", message="carol: the CI fix is in #dev")
                expect(page.locator("#my-rooms .badge.mention")).to_have_text("1")
            page.screenshot(path=str(shots / name))
            assert (shots / name).stat().st_size > 20_000
            page.close()
    finally:
        for client in people:
            client.close()
