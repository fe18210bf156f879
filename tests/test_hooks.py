"""Incoming webhooks (issue 27): `selchat hook add | list | delete`, and `POST /hooks/SECRET` with
Slack's payload posting into a room as a bot, rate-limited, refused with a clear HTTP status."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from selchat.events import HookPost, Join, JoinRoom
from selchat.hooks import BODY_MAX, BURST, Hook, PayloadError, digest, payload
from selchat.records import HookFound, LoadHook, Snapshot
from tests.clients import Irc, RawClient, http
from tests.helpers import DEADLINE, selchat_cmd
from tests.hubdriver import Driver


def test_the_payload_is_slacks() -> None:
    assert payload(b'{"text": "build 412 passed"}', "application/json") == ("build 412 passed", None)
    # curl -d without a Content-Type says it is a form: the JSON is taken all the same
    assert payload(b'{"text": "hi", "username": "deploy"}', "application/x-www-form-urlencoded") == ("hi", "deploy")
    assert payload(b"payload=%7B%22text%22%3A%22form%22%7D", "application/x-www-form-urlencoded") == ("form", None)
    for body, said in ((b"nope", "not JSON"), (b'{"text": ""}', '"text"'), (b"[1]", '"text"'),
                       (b'{"text": "x", "username": 5}', '"username"'), (b"\xff", "UTF-8")):
        with pytest.raises(PayloadError, match=said):
            payload(body, "application/json")


def _hook(gone: bool = False, username: bool = False) -> Hook:
    return Hook("ci-bot", "ci-bot", "#ci", username, gone)


def _post(d: Driver, cid: int, text: str, hook: Hook | None, username: str | None = None) -> dict:
    d.connect(cid)
    d.do(cid, HookPost("s3cret", text, username))
    asked = d.asked.pop()
    assert asked == LoadHook(cid, digest("s3cret"), text, username)
    d.complete(cid, HookFound(hook, text, username))
    return d.take(cid)


def test_the_hub_posts_as_the_bot_and_answers_in_statuses() -> None:
    d = Driver()
    d.join(1, "alice", version=2)
    d.do(1, JoinRoom("#ci"))
    d.take(1)
    assert d.closed.get(2) is None
    _post(d, 2, "build 412 passed", _hook())
    line = d.take(1)[0]
    assert line["username"] == "ci-bot" and line["message"] == "build 412 passed" and line["bot"] is True
    assert d.closed[2] == "webhook answered 200"
    assert d.stored[-1][2:] == ("ci-bot", "build 412 passed", 2)  # kept, marked a bot's
    _post(d, 3, "as someone", _hook(), username="deploy")
    assert d.take(1)[0]["username"] == "ci-bot"  # the hook does not allow its name changed
    _post(d, 4, "as deploy", _hook(username=True), username="deploy")
    assert d.take(1)[0]["username"] == "deploy"
    _post(d, 5, "x", None)
    assert d.closed[5] == "webhook answered 404"
    _post(d, 6, "x", _hook(gone=True))
    assert d.closed[6] == "webhook answered 410"


def test_a_hook_is_rate_limited_and_its_text_checked() -> None:
    d = Driver()
    for cid in range(10, 10 + BURST):  # a burst, at once
        _post(d, cid, "tick", _hook())
        assert d.closed[cid] == "webhook answered 200"
    _post(d, 32, "tick", _hook())
    assert d.closed[32] == "webhook answered 429"
    d.now += 2
    _post(d, 33, "tick", _hook())
    assert d.closed[33] == "webhook answered 200"
    d.connect(40)
    d.do(40, HookPost("s3cret", "x" * 5000))
    assert d.closed[40] == "webhook answered 400" and not d.asked  # no database read for it


def test_a_hooks_name_is_no_guests() -> None:
    d = Driver(Snapshot(hook_names=["ci-bot"]))
    d.connect(1)
    assert d.error(1, Join("CI-Bot", replay=True)).message == "CI-Bot is a webhook's bot here; choose another name"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(selchat_cmd(*args), capture_output=True, text=True, timeout=DEADLINE * 3,
                          stdin=subprocess.DEVNULL, env={**os.environ, "SELCHAT_PUBLIC_URL": "http://chat.example"})


def _post_http(server, path: str, body: bytes, content_type: str = "application/json") -> tuple[int, dict, bytes]:
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    return http(server, request)


def test_webhooks_post_into_a_running_server(start_server, tmp_path: Path) -> None:
    db = str(tmp_path / "team.db")
    made = _run("hook", "add", "#ci", "--name", "ci-bot", "--db", db)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("webhook ci-bot posts into #ci: http://chat.example/hooks/")
    path = made.stdout.strip().rsplit("http://chat.example", 1)[1]
    server = start_server("--db", db)
    alice = RawClient(server.address)
    alice.join("alice", version=2)
    alice.join_room("#ci")
    irc = Irc(server, "carol", caps="message-tags")
    irc.send("JOIN #ci")
    irc.expect("366")

    status, _, body = _post_http(server, path, b'{"text": "build 412 passed"}')
    assert (status, body) == (200, b"ok\n")
    line = alice.expect("chat")
    assert (line["username"], line["message"], line["bot"]) == ("ci-bot", "build 412 passed", True)
    assert "bot" in irc.expect("PRIVMSG #ci :build 412 passed").split(" ")[0]  # IRC's bot tag

    assert _post_http(server, path + "x", b'{"text": "x"}')[0] == 404
    assert _post_http(server, path, b"not json")[0] == 400
    big = json.dumps({"text": "x" * BODY_MAX}).encode()
    assert _post_http(server, path, big)[0] == 413
    get = http(server, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    assert get[0] == 405 and get[1]["allow"] == "POST"
    guest = RawClient(server.address)
    guest.send(type="join", username="ci-bot", version=2)
    assert "webhook" in guest.error("invalid_username")["message"]

    listed = _run("hook", "list", "--db", db)
    assert listed.stdout.split("\t")[:2] == ["ci-bot", "#ci"] and listed.stderr.strip() == f"1 webhook in {db}"
    deleted = _run("room", "delete", "#ci", "--db", db)
    assert deleted.returncode == 0
    status, _, body = _post_http(server, path, b'{"text": "after"}')
    assert status == 410 and b"#ci was deleted" in body
    dropped = _run("hook", "delete", "ci-bot", "--db", db)
    assert dropped.stdout.strip() == f"webhook ci-bot deleted from {db} (the running server has followed)"
    assert _post_http(server, path, b'{"text": "x"}')[0] == 404
    guest.send(type="join", username="ci-bot", version=2)
    guest.expect("welcome")  # the name is anyone's again
    for client in (alice, guest):
        client.close()
    irc.close()


def test_a_hooks_lines_outlast_a_restart_as_a_bots(start_server, tmp_path: Path) -> None:
    db = str(tmp_path / "kept.db")
    path = _run("hook", "add", "#ci", "--name", "ci-bot", "--db", db).stdout.strip().rsplit("example", 1)[1]
    server = start_server("--db", db)
    statuses = [_post_http(server, path, b'{"text": "tick"}')[0] for _ in range(BURST + 1)]
    assert statuses == [200] * BURST + [429]
    retry = _post_http(server, path, b'{"text": "tick"}')[1]
    assert retry["retry-after"] == "1"
    server.stop()
    again = start_server("--db", db)
    reader = RawClient(again.address)
    reader.join("reader", version=2)
    reader.join_room("#ci")
    kept = []
    reader.send(type="history", room="#ci", limit=50)
    while (frame := reader.recv())["type"] != "history_end":
        kept.append(frame)
    assert len([f for f in kept if f.get("bot") and f["username"] == "ci-bot"]) >= BURST
    reader.close()
