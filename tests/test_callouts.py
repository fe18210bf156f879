"""Outgoing webhooks (issue 27): a line in the room that says the hook's word or its bot's name is
POSTed to its URL, off the loop's time, retried with back-off, bounded; an answer with "text" is
said back in the room as the bot. The receiver is a small HTTP server these tests start on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from selchat.events import Chat, JoinRoom
from selchat.hooks import Outgoing
from selchat.hub.effects import CallOut
from selchat.reactor import Reactor
from selchat.records import Snapshot
from selchat.server import callouts
from tests.clients import RawClient
from tests.helpers import DEADLINE, selchat_cmd, wait_for
from tests.hubdriver import Driver


class Receiver:
    """A loopback HTTP server answering each POST with the next of ``answers`` (status, body, delay)."""

    def __init__(self, answers: list[tuple[int, bytes, float]]) -> None:
        self.answers = answers
        self.posts: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.posts.append({"path": self.path, "type": self.headers["Content-Type"], **json.loads(body)})
                status, answer, delay = owner.answers.pop(0) if owner.answers else (200, b"", 0.0)
                time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = False  # server_close() waits for the handlers: no thread outlives a test
        self.http.block_on_close = True
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hook?from=selchat"
        self.thread = threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def receiver() -> Iterator[Any]:
    made: list[Receiver] = []

    def make(*answers: tuple[int, bytes, float]) -> Receiver:
        made.append(Receiver(list(answers)))
        return made[-1]

    yield make
    for r in made:
        r.close()


def _helper(url: str = "http://127.0.0.1:9/") -> Outgoing:
    return Outgoing("helper", "helper", "#ops", url, frozenset({"deploy", "helper"}))


def test_a_line_that_says_a_word_calls_the_hook() -> None:
    d = Driver(Snapshot(outgoing=[_helper()]))
    d.join(1, "alice", version=2)
    d.do(1, JoinRoom("#ops"))
    d.do(1, JoinRoom("#dev"))
    for text in ("the deployment is slow", "nothing here", "deploy"):
        d.do(1, Chat(text, room="#dev"))
    assert d.called == []  # another room, and words only as whole words
    d.do(1, Chat("the deployment is slow", room="#ops"))
    d.do(1, Chat("please DEPLOY 1.4", room="#ops"))
    d.do(1, Chat("helper: status?", room="#ops"))
    assert [(c.text, c.word, c.username, c.room) for c in d.called] == [
        ("please DEPLOY 1.4", "deploy", "alice", "#ops"), ("helper: status?", "helper", "alice", "#ops")]
    d.apply(d.hub.hooks.replied("helper", "#ops", "deploying 1.4", d.now))
    said = [f for f in d.take(1) if f["type"] == "chat" and f["username"] == "helper"]
    assert said[0]["message"] == "deploying 1.4" and said[0]["bot"] is True


class Turned:
    """A real reactor turned by the test until a condition holds."""

    def __init__(self) -> None:
        self.reactor = Reactor(max_conns=16, max_output=1 << 20)
        self.replies: list[tuple[str, str, str]] = []
        self.calls = callouts.CallOuts(self.reactor, lambda host, port, done: done(host),
                                       lambda *reply: self.replies.append(reply))

    def until(self, predicate: Any, timeout: float = DEADLINE) -> None:
        end = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < end, "the condition did not hold in time"
            self.reactor.call_later(0.01, lambda: None)
            self.reactor.run_once()


def _call(url: str, text: str = "please deploy") -> CallOut:
    return CallOut("helper", url, "#Ops", "alice", text, 1000.5, "deploy")


def test_a_failed_post_is_retried_and_the_answer_said_back(receiver, monkeypatch) -> None:
    monkeypatch.setattr(callouts, "BACKOFF", (0.05, 0.05, 0.05))
    r = receiver((500, b"busy", 0.0), (200, b'{"text": "deploying"}', 0.0))
    t = Turned()
    t.calls.call_out(_call(r.url))
    t.until(lambda: t.replies)
    assert t.replies == [("helper", "#ops", "deploying")]
    assert len(r.posts) == 2 and r.posts[0] == {
        "path": "/hook?from=selchat", "type": "application/json", "room": "#Ops", "username": "alice",
        "text": "please deploy", "timestamp": 1000.5, "trigger_word": "deploy"}
    assert (t.calls.sent, t.calls.failed, t.calls.busy) == (1, 0, 0)


def test_a_refusal_is_not_retried_and_a_silent_receiver_times_out(receiver, monkeypatch) -> None:
    monkeypatch.setattr(callouts, "BACKOFF", (0.05, 0.05))
    monkeypatch.setattr(callouts, "TIMEOUT", 0.3)
    refusing = receiver((404, b"no", 0.0))
    t = Turned()
    t.calls.call_out(_call(refusing.url))
    t.until(lambda: t.calls.failed == 1)
    assert len(refusing.posts) == 1 and t.replies == []
    silent = receiver((200, b"", 1.0), (200, b"", 1.0), (200, b"", 1.0))
    t.calls.call_out(_call(silent.url))
    t.until(lambda: t.calls.failed == 2)
    assert len(silent.posts) == 3 and t.calls.busy == 0  # the first try and two retries, each cut off
    nobody = Receiver([])
    nobody.close()  # a port nobody listens on: refused at once, retried, given up
    t.calls.call_out(_call(nobody.url))
    t.until(lambda: t.calls.failed == 3)


def test_the_queue_is_bounded(receiver, monkeypatch) -> None:
    monkeypatch.setattr(callouts, "QUEUE_MAX", 2)
    monkeypatch.setattr(callouts, "IN_FLIGHT", 1)
    r = receiver((200, b"", 0.3))
    t = Turned()
    for i in range(5):
        t.calls.call_out(_call(r.url, f"deploy {i}"))
    assert (t.calls.busy, len(t.calls.waiting), t.calls.dropped) == (1, 2, 2)
    t.until(lambda: t.calls.sent == 3)
    assert [p["text"] for p in r.posts] == ["deploy 0", "deploy 1", "deploy 2"]


def test_a_running_server_calls_out_and_says_the_answer(start_server, receiver, tmp_path: Path) -> None:
    r = receiver((200, b'{"text": "deploying 1.4 now"}', 0.0))
    db = str(tmp_path / "ops.db")
    made = subprocess.run(selchat_cmd("hook", "add", "#ops", "--name", "helper", "--send-to", r.url, "--word",
                                      "deploy", "--db", db), capture_output=True, text=True, timeout=DEADLINE,
                          env=os.environ, stdin=subprocess.DEVNULL)
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines()[1] == f"and sends #ops's lines that say helper, deploy to {r.url}"
    server = start_server("--db", db)
    alice = RawClient(server.address)
    alice.join("alice", version=2)
    alice.join_room("#ops")
    alice.send(type="chat", room="#ops", message="the deployment dashboard is up")
    alice.send(type="chat", room="#ops", message="please deploy 1.4")
    answer = alice.expect("chat", username="helper")
    assert answer["message"] == "deploying 1.4 now" and answer["bot"] is True
    wait_for(lambda: len(r.posts) == 1, what="the one post")
    assert r.posts[0]["text"] == "please deploy 1.4"
    alice.close()
