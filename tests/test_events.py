from __future__ import annotations

import pytest

from selchat.errors import ErrorCode, ProtocolError
from selchat.events import Chat, Dm, Join, Ping, Pong, Quit, Users
from selchat.frames import parse


@pytest.mark.parametrize(
    ("frame", "command"),
    [
        ({"type": "join", "username": "al"}, Join("al")),
        ({"type": "join", "username": "al", "password": "pw"}, Join("al", "pw")),
        ({"type": "chat", "message": "hi", "extra": 1}, Chat("hi")),
        ({"type": "dm", "to": "bob", "message": "psst"}, Dm("bob", "psst")),
        ({"type": "users"}, Users()),
        ({"type": "ping", "id": {"any": [1]}}, Ping({"any": [1]})),
        ({"type": "ping"}, Ping(None)),
        ({"type": "pong", "id": 3}, Pong(3)),
        ({"type": "quit"}, Quit()),
    ],
)
def test_parse(frame: dict, command: object) -> None:
    assert parse(frame) == command


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({}, ErrorCode.BAD_FRAME),
        ({"type": 5}, ErrorCode.BAD_FRAME),
        ({"type": "shout"}, ErrorCode.UNKNOWN_TYPE),
        ({"type": "join"}, ErrorCode.BAD_FRAME),
        ({"type": "join", "username": 7}, ErrorCode.BAD_FRAME),
        ({"type": "join", "username": "a", "password": 1}, ErrorCode.BAD_FRAME),
        ({"type": "chat"}, ErrorCode.BAD_FRAME),
        ({"type": "chat", "message": None}, ErrorCode.BAD_FRAME),
        ({"type": "dm", "message": "x"}, ErrorCode.BAD_FRAME),
    ],
)
def test_parse_errors(frame: dict, code: ErrorCode) -> None:
    with pytest.raises(ProtocolError) as info:
        parse(frame)
    assert info.value.code is code
    assert info.value.message


@pytest.mark.parametrize("frame", [
    {"type": "chat", "room": "#a", "message": "hi", "to": ["operators"]},
    {"type": "ban", "room": "#a", "mask": "bob", "list": ["bans"]},
    {"type": "monitor", "action": {"add": 1}},
    {"type": "role", "room": "#a", "username": "bob", "role": ["voice"]},
])
def test_a_field_of_the_wrong_kind_is_a_bad_frame_not_a_crash(frame: dict) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse(frame)
    assert refused.value.code is ErrorCode.BAD_FRAME
