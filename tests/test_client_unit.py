"""The client's pure parts: typed lines, rendering, sanitising, what it learns from frames."""

from __future__ import annotations

import asyncio

import pytest

from selchat.client import Action, ChatState, Pacer, help_lines, parse_input
from selchat.render import Renderer, name_colour, sanitize


@pytest.mark.parametrize(
    ("line", "action"),
    [
        ("hello", Action("chat", text="hello")),
        ("  spaced  ", Action("chat", text="  spaced  ")),
        ("", Action("nothing")),
        ("   ", Action("nothing")),
        ("/users", Action("users")),
        ("/USERS", Action("users")),
        ("/ping", Action("ping")),
        ("/help", Action("help")),
        ("/quit", Action("quit")),
        ("/exit", Action("quit")),
        ("/q", Action("quit")),
        ("/msg bob hi there", Action("dm", "bob", "hi there")),
        ("@bob hi there", Action("dm", "bob", "hi there")),
        ("/msg bob", Action("invalid", text="usage: /msg NAME TEXT")),
        ("@bob", Action("invalid", text="usage: @NAME TEXT")),
        ("//not a command", Action("chat", text="/not a command")),
        ("/dance", Action("invalid", text="unknown command /dance; type /help for the list")),
    ],
)
def test_parse_input(line: str, action: Action) -> None:
    assert parse_input(line) == action


def test_help_names_every_command() -> None:
    text = "\n".join(help_lines())
    for word in ("/help", "/users", "/msg", "@NAME", "/ping", "/quit", "Ctrl-D"):
        assert word in text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain", "plain"),
        ("\x1b[31mred", "^[[31mred"),
        ("bell\x07", "bell^G"),
        ("a\nb", "a ⏎ b"),
        ("tab\there", "tab    here"),
        ("c1\x9bx", "c1<U+009B>x"),
        ("rtl\u202eevil", "rtl<U+202E>evil"),
        ("lone\ud800", "lone\ufffd"),
        ("del\x7f", "del^?"),
        ("émoji 😀", "émoji 😀"),
    ],
)
def test_sanitize(raw: str, shown: str) -> None:
    assert sanitize(raw) == shown


def test_name_colours_are_stable_and_case_blind() -> None:
    assert name_colour("alice") == name_colour("Alice") == name_colour("alice")
    assert len({name_colour(f"user{i}") for i in range(50)}) > 3


def test_render_without_colour() -> None:
    r = Renderer(colour=False, me="bob")
    ts = 1_700_000_000.0
    assert r.frame({"type": "chat", "username": "al", "message": "hi", "timestamp": ts}).endswith("] al: hi")
    assert "[dm from al] psst" in r.frame({"type": "dm", "from": "al", "to": "bob", "message": "psst"})
    assert "[dm to al] psst" in r.frame({"type": "dm", "from": "bob", "to": "al", "message": "psst"})
    left = r.frame({"type": "user_left", "username": "al", "message": "al left the chat", "reason": "kicked"})
    assert left.endswith("* al left the chat (kicked)")
    # the room is said, and a quit from two rooms once
    assert r.frame({"type": "user_joined", "username": "al", "room": "#lobby", "message": "al joined the chat"}
                   ).endswith("* al joined #lobby")
    quit = {"type": "user_left", "username": "al", "room": "#dev", "message": "al left the chat", "quit": True}
    assert r.frame(quit).endswith("* al left the chat")
    assert r.frame({**quit, "room": "#lobby", "again": True}) is None
    assert "[server] noon" in r.frame({"type": "server", "message": "noon"})
    assert r.frame({"type": "error", "code": "empty_message", "message": "message is empty"}) == (
        "!!! message is empty [empty_message]"
    )
    assert r.frame({"type": "users", "users": ["a", "b"]}) == "*** online (2): a, b"
    assert r.frame({"type": "ping", "id": 1}) is None
    for frame in ({"type": "chat"}, {"type": 5}, {}, {"type": "chat", "username": None, "timestamp": "x"}):
        r.frame(frame)  # odd frames render without raising
    assert "\x1b" not in "".join(str(r.frame({"type": t, "message": "m"})) for t in ("chat", "server", "error"))


def test_render_with_colour() -> None:
    r = Renderer(colour=True)
    line = r.frame({"type": "chat", "username": "al", "message": "hi"})
    assert f"\x1b[{name_colour('al')}m" in line and line.endswith(": hi")
    assert r.frame({"type": "error", "code": "x", "message": "bad"}).startswith("\x1b[31m")


def test_state_tracks_users_and_limits() -> None:
    state = ChatState(me="bob")
    state.learn({"type": "welcome", "username": "bob", "users": ["al", "bob"], "max_message": 99,
                 "rate_limit": 5.0, "burst": 7})
    assert state.users == {"al", "bob"} and state.max_message == 99
    assert (state.rate_limit, state.burst) == (5.0, 7)
    state.learn({"type": "user_joined", "username": "cy"})
    state.learn({"type": "user_left", "username": "al"})
    assert state.users == {"bob", "cy"}


def test_pacer_spaces_messages_after_the_burst() -> None:
    async def timed() -> float:
        pacer = Pacer(rate=50.0, burst=3)
        loop = asyncio.get_running_loop()
        start = loop.time()
        for _ in range(7):
            await pacer.wait()
        return loop.time() - start

    elapsed = asyncio.run(timed())
    # one token of the burst held back and 90% of the rate: two free, five at 45 a second
    assert elapsed >= 5 / 45 * 0.99
    assert asyncio.run(_unpaced()) < 1.0


async def _unpaced() -> float:
    pacer = Pacer(rate=0, burst=1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    for _ in range(1000):
        await pacer.wait()
    return loop.time() - start


def test_running_a_room_from_the_terminal_parses_to_its_actions() -> None:
    assert parse_input("/ban spammer") == Action("ban", "spammer")
    assert parse_input("/unban m:spammer") == Action("unban", "m:spammer")
    assert parse_input("/bans") == Action("bans")
    assert parse_input("/register-room") == Action("register_room")
    assert parse_input("/ban").kind == "invalid"
