"""Ring 2: the chat core without sockets, through a driver that turns effects into inboxes."""

from __future__ import annotations

import pytest

from selchat.bans import make_ban
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import Chat, Dm, Join, Ping, Pong, Quit, Users
from selchat.hub import Broadcast
from tests.hubdriver import Driver


@pytest.fixture
def d() -> Driver:
    return Driver()


def test_join_welcome_and_announcement(d: Driver) -> None:
    welcome = d.join(1, "alice")
    assert welcome["type"] == "welcome"
    assert welcome["username"] == "alice" and welcome["room"] == "lobby"
    assert welcome["users"] == ["alice"] and "first" in welcome["message"]
    assert welcome["max_message"] == 2000
    assert (welcome["rate_limit"], welcome["burst"]) == (10.0, 20)
    d.take(1)
    welcome = d.join(2, "Bob")
    assert welcome["users"] == ["alice", "Bob"]
    assert d.take(1) == [
        {
            "type": "user_joined",
            "username": "Bob",
            "room": "lobby",
            "message": "Bob joined the chat",
            "timestamp": 1000.0,
        }
    ]


def test_chat_goes_to_every_other_member(d: Driver) -> None:
    for cid, name in enumerate(["a", "b", "c"], 1):
        d.join(cid, name)
    d.connect(4)  # connected, never joined: hears nothing
    for cid in (1, 2, 3):
        d.take(cid)
    d.do(1, Chat("hello"))
    assert d.take(1) == []
    expected = {"type": "chat", "username": "a", "room": "lobby", "message": "hello", "timestamp": 1000.0}
    assert d.take(2) == [expected]
    assert d.take(3) == [expected]
    assert d.take(4) == []


def test_names_are_unique_case_insensitively_and_retry_works(d: Driver) -> None:
    d.join(1, "alice")
    d.connect(2)
    assert d.error(2, Join("ALICE")).code is ErrorCode.USERNAME_TAKEN
    d.do(2, Join("alice2"))
    assert d.take(2)[-1]["type"] == "welcome"


@pytest.mark.parametrize("name", ["", "a" * 33, "has space", "semi;colon", "émile", "tab\t", "a/b"])
def test_invalid_names(d: Driver, name: str) -> None:
    d.connect(1)
    assert d.error(1, Join(name)).code is ErrorCode.INVALID_USERNAME


@pytest.mark.parametrize("name", ["a", "A" * 32, "x_y-z.0", "..."])
def test_valid_names(d: Driver, name: str) -> None:
    assert d.join(1, name)["type"] == "welcome"


def test_already_joined_and_not_joined(d: Driver) -> None:
    d.connect(1)
    for command in (Chat("x"), Dm("a", "x"), Users()):
        assert d.error(1, command).code is ErrorCode.NOT_JOINED
    d.do(1, Ping(5))
    assert d.take(1) == [{"type": "pong", "id": 5, "timestamp": 1000.0}]
    d.do(1, Join("a"))
    assert d.error(1, Join("b")).code is ErrorCode.ALREADY_JOINED


def test_dm_goes_to_target_with_receipt(d: Driver) -> None:
    d.join(1, "alice")
    d.join(2, "bob")
    d.join(3, "carol")
    for cid in (1, 2, 3):
        d.take(cid)
    d.do(1, Dm("BOB", "psst"))
    frame = {"type": "dm", "from": "alice", "to": "bob", "message": "psst", "timestamp": 1000.0}
    assert d.take(2) == [frame]
    assert d.take(1) == [frame]
    assert d.take(3) == []
    assert d.error(1, Dm("nobody", "x")).code is ErrorCode.NO_SUCH_USER
    d.do(1, Dm("alice", "note to self"))
    assert len(d.take(1)) == 1


def test_message_limits(d: Driver) -> None:
    d = Driver(max_message=5)
    d.join(1, "a")
    d.join(2, "b")
    assert d.error(1, Chat("123456")).code is ErrorCode.MESSAGE_TOO_LONG
    assert d.error(1, Dm("b", "123456")).code is ErrorCode.MESSAGE_TOO_LONG
    assert d.error(1, Chat("")).code is ErrorCode.EMPTY_MESSAGE
    assert d.error(1, Chat(" \t ")).code is ErrorCode.EMPTY_MESSAGE
    d.take(2)
    d.do(1, Chat("12345"))
    assert d.take(2)[0]["message"] == "12345"


def test_users_list(d: Driver) -> None:
    d.join(1, "zed")
    d.join(2, "Amy")
    d.take(1)
    d.do(1, Users())
    assert d.take(1) == [{"type": "users", "room": "lobby", "users": ["Amy", "zed"]}]


def test_quit_and_disconnect_announce_leaving(d: Driver) -> None:
    d.join(1, "a")
    d.join(2, "b")
    d.join(3, "c")
    for cid in (1, 2, 3):
        d.take(cid)
    d.do(2, Quit())
    assert d.closed == {2: "quit"}
    left = d.take(1)
    assert left == [
        {
            "type": "user_left",
            "username": "b",
            "room": "lobby",
            "message": "b left the chat",
            "timestamp": 1000.0,
        }
    ]
    d.drop(3, "slow consumer")
    assert d.take(1)[0]["reason"] == "slow consumer"
    # the name is free again, and nobody gets frames for gone connections
    assert d.join(4, "B")["users"] == ["a", "B"]
    assert d.hub.connections() == (1, 4)


def test_disconnect_before_join_is_silent(d: Driver) -> None:
    d.join(1, "a")
    d.take(1)
    d.connect(2)
    d.drop(2)
    assert d.take(1) == []
    assert d.hub.disconnect(99, d.now) == []


def test_pong_is_accepted_quietly(d: Driver) -> None:
    d.connect(1)
    d.do(1, Pong(1))
    assert d.take(1) == []


def test_room_roster_grows_in_place_and_is_replaced_when_someone_leaves(d: Driver) -> None:
    d.join(1, "a")
    d.join(2, "b")
    effects = [e for e in d.hub.handle(1, Chat("x"), d.now) + d.hub.handle(2, Chat("y"), d.now)
               if isinstance(e, Broadcast)]
    assert effects[0].targets is effects[1].targets
    d.join(3, "c")
    after = d.hub.handle(1, Chat("z"), d.now)
    assert after[0].targets is effects[0].targets  # a join appends: a batch stays whole
    assert list(effects[0].audience) == [1, 2]  # an earlier broadcast's audience is unchanged
    assert list(after[0].audience) == [1, 2, 3]
    d.hub.disconnect(2, d.now)
    gone = d.hub.handle(1, Chat("w"), d.now)
    assert gone[0].targets is not after[0].targets
    assert list(gone[0].audience) == [1, 3]


def test_announce_and_shutdown(d: Driver) -> None:
    d.join(1, "a")
    d.connect(2)
    d.take(1)
    d.apply(d.hub.announce("maintenance at noon", d.now))
    assert d.take(1) == [{"type": "server", "message": "maintenance at noon", "timestamp": 1000.0}]
    assert d.take(2) == []
    d.apply(d.hub.shutdown(d.now))
    assert d.take(1)[0]["type"] == "shutdown"
    assert d.take(2)[0] == {"type": "shutdown", "message": "Server is shutting down", "timestamp": 1000.0,
                            "reconnect": False}


def test_rate_limit_token_bucket() -> None:
    d = Driver(rate_limit=2.0, burst=3, flood_strikes=4)
    d.join(1, "a")
    d.join(2, "b")
    d.take(2)
    for _ in range(3):
        d.do(1, Chat("x"))
    err = d.error(1, Chat("over"))
    assert err.code is ErrorCode.RATE_LIMITED and "2 messages a second" in err.message
    assert [f["message"] for f in d.take(2)] == ["x", "x", "x"]
    d.now += 0.5  # one token back
    d.do(1, Chat("y"))
    assert d.error(1, Chat("z")).code is ErrorCode.RATE_LIMITED
    assert d.error(1, Chat("z")).code is ErrorCode.RATE_LIMITED
    assert d.error(1, Chat("z")).code is ErrorCode.RATE_LIMITED
    err = d.error(1, Chat("z"))
    assert err.code is ErrorCode.FLOODING and err.closes


def test_errors_spend_tokens_and_garbage_floods() -> None:
    d = Driver(rate_limit=1.0, burst=2, flood_strikes=3)
    d.join(1, "a")
    d.hub.penalize(1, d.now)
    d.hub.penalize(1, d.now)  # the burst is spent on errors ...
    assert d.error(1, Chat("x")).code is ErrorCode.RATE_LIMITED  # ... so chat must wait
    d.hub.penalize(1, d.now)  # a strike, quietly
    with pytest.raises(ProtocolError) as info:
        d.hub.penalize(1, d.now)
    assert info.value.code is ErrorCode.FLOODING
    d.hub.penalize(99, d.now)  # an unknown connection is no error
    Driver(rate_limit=0).hub.penalize(1, 0.0)


def test_rate_limit_off() -> None:
    d = Driver(rate_limit=0)
    d.join(1, "a")
    d.join(2, "b")
    d.take(1), d.take(2)
    for i in range(500):  # far past any burst, in no time at all: every line is delivered
        d.do(1, Chat(f"x{i}"))
    got = [f["message"] for f in d.take(2) if f["type"] == "chat"]
    assert got == [f"x{i}" for i in range(500)]
    assert d.take(1) == []  # and the sender hears no rate_limited error


def test_password() -> None:
    d = Driver(password="s3cret")
    d.connect(1)
    err = d.error(1, Join("a"))
    assert err.code is ErrorCode.BAD_PASSWORD and err.closes
    assert d.error(1, Join("a", "wrong")).code is ErrorCode.BAD_PASSWORD
    d.do(1, Join("a", "s3cret"))
    assert d.take(1)[-1]["type"] == "welcome"


def test_banned_name(d: Driver) -> None:
    d.hub.bans.add(make_ban("mallory", d.now))
    d.connect(1)
    err = d.error(1, Join("Mallory"))
    assert err.code is ErrorCode.BANNED and err.closes
