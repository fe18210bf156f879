"""The page's commands and keys (issue 22): the terminal's words, a password asked for in password
fields, the keyboard between rooms, a draft per room, the login form's refusals, the themes."""

from __future__ import annotations

from tests.browsing import expect, open_page, pytestmark, say  # noqa: F401 - the marks apply here too
from tests.clients import RawClient, get, http


def test_commands_in_the_terminal_s_words_and_register_in_password_fields(browser, server) -> None:
    watcher = RawClient(server.address)
    try:
        watcher.join("watcher", version=2)
        page = open_page(browser, server, "typist")
        say(page, "/help")
        expect(page.locator("#messages li.notice", has_text="/list — every room")).to_have_count(1)
        say(page, "/away lunch")
        assert watcher.expect("away")["message"] == "lunch"
        say(page, "/away")  # alone: back, as in the terminal
        assert watcher.expect("away")["message"] is None
        say(page, "/join #side")
        expect(page.locator("#room-name")).to_have_text("#side")
        say(page, "/list")
        expect(page.locator("#all-rooms")).to_contain_text("#side")
        say(page, "/ping")
        expect(page.locator("#messages li.notice", has_text="pong from the server")).to_contain_text(" ms")
        say(page, "/register hunter22")  # a password typed in the box is not sent
        expect(page.locator("#register")).to_be_visible()
        expect(page.locator("#messages")).to_contain_text("not typed in the box")
        page.fill("#register-pw", "a long password")
        page.fill("#register-again", "another one")
        page.click("#register button[type=submit]")
        expect(page.locator("#register-error")).to_have_text("The two are not the same.")
        page.fill("#register-again", "a long password")
        page.click("#register button[type=submit]")
        expect(page.locator("#register")).to_be_hidden()
        expect(page.locator("#messages")).to_contain_text("typist")  # the server's "registered" notice
        expect(page.locator("#messages li.notice").last).to_contain_text("account")
    finally:
        watcher.close()


def test_keys_between_rooms_a_draft_per_room_and_the_last_line_again(browser, server) -> None:
    page = open_page(browser, server, "keyboard")
    for name in ("#one", "#two"):
        say(page, f"/join {name}")
        expect(page.locator("#room-name")).to_have_text(name)
    page.fill("#line", "half a thought in #two")
    page.keyboard.press("Alt+1")
    expect(page.locator("#room-name")).to_have_text("#lobby")
    assert page.input_value("#line") == ""  # the draft stayed with #two
    page.keyboard.press("Alt+ArrowUp")  # from the first: round to the last
    expect(page.locator("#room-name")).to_have_text("#two")
    assert page.input_value("#line") == "half a thought in #two"
    page.keyboard.press("Alt+ArrowUp")
    expect(page.locator("#room-name")).to_have_text("#one")
    page.keyboard.press("Control+k")
    expect(page.locator("#jump")).to_be_visible()
    page.fill("#jump-to", "lob")
    page.press("#jump-to", "Enter")
    expect(page.locator("#room-name")).to_have_text("#lobby")
    say(page, "a line with a typo")
    page.press("#line", "ArrowUp")
    assert page.input_value("#line") == "a line with a typo"


def test_the_login_form_says_what_a_refusal_means(browser, server) -> None:
    holder = RawClient(server.address)
    try:
        holder.join("taken", version=2)
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{server.port}/")
        expect(page.locator(".hint")).to_contain_text("Needed")
        page.fill("#name", "taken")
        page.click("button[type=submit]")
        expect(page.locator("#login-error")).to_contain_text("Someone is using that name right now")
        page.close()
    finally:
        holder.close()


def test_a_dark_theme_an_icon_and_a_manifest(browser, server) -> None:
    page = browser.new_page(color_scheme="dark")
    page.goto(f"http://127.0.0.1:{server.port}/")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(22, 23, 24)", background
    page.close()
    for path, kind in (("/favicon.ico", "image/svg+xml"), ("/favicon.svg", "image/svg+xml"),
                       ("/manifest.webmanifest", "application/manifest+json")):
        status, headers, _ = http(server, get(path))
        assert status == 200 and headers["content-type"] == kind, path


def test_markup_in_every_field_a_person_writes_stays_text(browser, server) -> None:
    evil = "<img src=x onerror=alert(1)>"
    mallory = RawClient(server.address)
    try:
        refused = RawClient(server.address)
        refused.send(type="join", username=evil, version=2)  # a name: refused by the server itself
        assert refused.error("invalid_username")
        refused.close()
        mallory.join("mallory", version=2)
        mallory.send(type="join_room", room="#" + evil)  # a room's name: the same
        assert mallory.error("bad_room_name")
        mallory.send(type="topic", room="#lobby", topic=evil)
        mallory.send(type="away", message=evil)
        mallory.send(type="ping", id=1)
        mallory.expect("pong")
        dialogs: list[str] = []
        page = open_page(browser, server, "victim", dialogs)
        expect(page.locator("#topic")).to_contain_text(evil)
        expect(page.locator("#members li.away")).to_have_attribute("title", "away: " + evil)
        mallory.send(type="chat", message=evil)
        mallory.send(type="dm", to="victim", message=evil)
        expect(page.locator("#messages")).to_contain_text(evil)
        page.locator("#conversations li", has_text="mallory").click()
        expect(page.locator("#messages")).to_contain_text(evil)
        assert page.locator("img").count() == 0 and dialogs == []
    finally:
        mallory.close()


def test_an_operator_runs_the_room_from_the_member_list(browser, server) -> None:
    member = RawClient(server.address)
    try:
        page = open_page(browser, server, "boss")
        say(page, "/join #team")  # the first one in: its operator
        expect(page.locator("#members li")).to_have_text(["@boss"])
        member.join("member", version=2)
        member.send(type="join_room", room="#team")
        member.expect("room_joined")
        page.locator("#members li", has_text="member").click()
        page.locator("#member-actions button", has_text="Give voice").click()
        assert member.expect("role")["role"] == "voice"
        expect(page.locator("#members li", has_text="member")).to_have_text("+member")
        page.locator("#members li", has_text="member").click()
        page.locator("#member-actions button", has_text="Put out of #team").click()
        assert member.expect("room_left")["kicked_by"] == "boss"
        expect(page.locator("#members li")).to_have_text(["@boss"])
        expect(page.locator("#messages")).to_contain_text("boss put member out")
        member.send(type="join_room", room="#team")
        member.expect("room_joined")
        page.locator("#members li", has_text="member").click()
        page.locator("#member-actions button", has_text="Ban from #team").click()
        assert member.expect("ban")["mask"] == "member!*@*"
        assert member.expect("room_left")["kicked_by"] == "boss"
        expect(page.locator("#messages")).to_contain_text("boss banned member!*@*")
        member.send(type="join_room", room="#team")
        assert member.error("banned_from_room")
        say(page, "/bans")
        expect(page.locator("#messages")).to_contain_text("bans in #team: member!*@*")
    finally:
        member.close()
