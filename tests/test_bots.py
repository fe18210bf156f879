"""Bot accounts (issue 27): `selchat account add NAME --bot` prints a token a program logs in
with instead of a password; its lines are a bot's in JSON, on IRC and, with a badge, on the page;
a webhook's lines too."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.browsing import expect, open_page, pytestmark  # noqa: F401 - the marks apply here too
from tests.clients import Irc, RawClient, http
from tests.helpers import DEADLINE, selchat_cmd


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(selchat_cmd(*args), capture_output=True, text=True, timeout=DEADLINE * 3,
                          stdin=subprocess.DEVNULL, env={**os.environ, **env})


def _bot(db: str, name: str = "deploy") -> str:
    made = _run("account", "add", name, "--bot", "--db", db)
    assert made.returncode == 0, made.stderr
    first, second = made.stdout.splitlines()
    assert first == f"bot account {name} created in {db}" and second.startswith(f"token for {name}: ")
    assert "not shown again" in made.stderr
    return second.rsplit(" ", 1)[1]


def test_a_bot_logs_in_with_its_token_and_its_lines_say_so(start_server, tmp_path: Path) -> None:
    db = str(tmp_path / "bots.db")
    token = _bot(db)
    listed = _run("account", "list", "--db", db)
    assert listed.stdout.split("\t")[0] == "deploy" and listed.stdout.strip().endswith("\tbot")
    server = start_server("--db", db)
    reader = RawClient(server.address)
    reader.join("reader", version=2)
    irc = Irc(server, "carol", caps="message-tags")
    irc.send("JOIN #lobby")
    irc.expect("366")
    bot = RawClient(server.address)
    assert bot.join("deploy", version=2, login=token)["account"] == "deploy"
    bot.send(type="chat", room="#lobby", message="deployed 1.4")
    line = reader.expect("chat", message="deployed 1.4")
    assert line["username"] == "deploy" and line["bot"] is True
    tags = irc.expect("PRIVMSG #lobby :deployed 1.4").split(" ")[0]
    assert tags.startswith("@") and "bot" in tags[1:].split(";")  # IRC's bot tag
    # the token, not a guess, and a new one ends the old
    stranger = RawClient(server.address)
    stranger.send(type="join", username="deploy", version=2, login="not-the-token")
    assert stranger.error("bad_login")
    renewed = _run("account", "token", "deploy", "--db", db)
    assert renewed.returncode == 0 and renewed.stdout.startswith("token for deploy: ")
    new = renewed.stdout.strip().rsplit(" ", 1)[1]
    old = RawClient(server.address)
    old.send(type="join", username="deploy", version=2, login=token)
    assert old.error("bad_login")
    again = RawClient(server.address)
    assert again.join("deploy", version=2, login=new)["username"] == "deploy"
    for client in (reader, bot, stranger, old, again):
        client.close()
    irc.close()


def test_the_page_marks_a_bots_lines(browser, start_server, tmp_path: Path) -> None:
    db = str(tmp_path / "page.db")
    token = _bot(db)
    hook = _run("hook", "add", "#lobby", "--name", "ci-bot", "--db", db).stdout.strip().rsplit("5000", 1)[1]
    server = start_server("--db", db)
    page = open_page(browser, server, "reader")
    try:
        bot = RawClient(server.address)
        bot.join("deploy", version=2, login=token)
        bot.send(type="chat", room="#lobby", message="deployed 1.4")
        person = RawClient(server.address)
        person.join("alice", version=2)
        person.send(type="chat", room="#lobby", message="thanks")
        body = b'{"text": "build 412 passed"}'
        status = http(server, (f"POST {hook} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n").encode()
                      + body)[0]
        assert status == 200
        lines = page.locator("#messages li")
        expect(lines.filter(has_text="deployed 1.4").locator(".bot")).to_have_text("bot")
        expect(lines.filter(has_text="build 412 passed").locator(".bot")).to_have_text("bot")
        expect(lines.filter(has_text="thanks")).to_have_count(1)
        assert lines.filter(has_text="thanks").locator(".bot").count() == 0  # a person's line has none
        bot.close()
        person.close()
    finally:
        page.close()
