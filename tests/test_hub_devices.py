"""One account on several devices (hub/devices.py), in the pure hub: one person to everyone else."""

from __future__ import annotations

import pytest

from selchat.events import Away, Chat, Dm, Join, JoinRoom, Kick, LeaveRoom, Nick, Quit, Topic, Users
from selchat.records import LoginChecked
from tests.hubdriver import Driver
from tests.test_hub_rooms import register


def device(d: Driver, cid: int, name: str = "alice") -> list[dict]:
    """Another connection logs in to the account ``name``; its frames."""
    d.connect(cid)
    d.do(cid, Join(name, replay=True, login="correct horse"))
    d.complete(cid, LoginChecked(name.casefold(), True, name))
    return d.take(cid)


@pytest.fixture
def two() -> Driver:
    """alice on devices 1 and 2, bob (3) beside her in #dev and the lobby."""
    d = Driver()
    register(d, 1, "alice")
    d.do(1, JoinRoom("#dev"))
    d.join(3, "bob", version=2)
    d.do(3, JoinRoom("#dev"))
    d.take(1), d.take(3)
    frames = device(d, 2)
    assert frames[0]["type"] == "welcome" and frames[0]["username"] == "alice"
    assert {f["room"] for f in frames if f["type"] == "room_joined"} == {"#dev"}
    assert 1 not in d.closed and d.take(1) == [] and d.take(3) == []  # nobody else hears of it
    return d


def test_a_second_device_shares_the_person(two: Driver) -> None:
    d = two
    assert d.hub.usernames("#dev") == ["alice", "bob"]
    d.do(3, Users("#dev"))
    assert d.take(3)[-1]["users"] == ["alice", "bob"]
    assert d.hub.state.rooms["#dev"].size() == 2


def test_joins_parts_topics_and_nicks_reach_every_device(two: Driver) -> None:
    d = two
    d.do(1, JoinRoom("#ops"))
    assert [f["type"] for f in d.take(1)] == [f["type"] for f in d.take(2)] == ["room_joined", "history_end"]
    d.do(3, JoinRoom("#ops"))
    d.take(3)
    assert [f["type"] for f in d.take(1)] == [f["type"] for f in d.take(2)] == ["user_joined"]
    d.do(2, LeaveRoom("#ops"))
    assert d.take(1)[0]["type"] == d.take(2)[0]["type"] == "room_left"
    left = d.take(3)
    assert [(f["type"], f["username"]) for f in left] == [("user_left", "alice")]  # once
    d.do(2, Topic("#dev", "hello"))  # alice made #dev: she runs it, from either device
    assert d.take(1)[-1]["topic"] == d.take(2)[-1]["topic"] == d.take(3)[-1]["topic"] == "hello"
    d.do(2, Nick("alys"))
    for cid in (1, 2, 3):
        assert [f["type"] for f in d.take(cid)] == ["nick"]
    assert d.hub.state.sessions[1].name == d.hub.state.sessions[2].name == "alys"
    d.do(1, Away("lunch"))
    assert d.hub.state.sessions[2].away == "lunch"
    assert d.take(2)[-1]["type"] == "away" and d.take(3)[-1]["type"] == "away"


def test_a_line_from_one_device_is_marked_own_on_the_other(two: Driver) -> None:
    d = two
    d.do(1, Chat("hi", room="#dev"))
    assert d.take(1) == []  # no echo to the sender (JSON)
    own = d.take(2)
    assert [(f["type"], f.get("own")) for f in own] == [("chat", True)]
    assert [(f["type"], f.get("own")) for f in d.take(3)] == [("chat", None)]
    d.do(3, Chat("hello", room="#dev"))
    assert d.take(1)[0]["message"] == d.take(2)[0]["message"] == "hello"


def test_private_messages_reach_every_device(two: Driver) -> None:
    d = two
    d.do(3, Dm("alice", "psst"))
    assert d.take(1)[0]["message"] == d.take(2)[0]["message"] == "psst"
    d.take(3)
    d.do(2, Dm("bob", "yes?"))
    assert d.take(3)[0]["message"] == "yes?"
    assert d.take(2)[0]["type"] == "dm"  # the sender's receipt
    mine = d.take(1)
    assert (mine[0]["type"], mine[0]["from"], mine[0].get("own")) == ("dm", "alice", True)


def test_the_leave_comes_with_the_last_device(two: Driver) -> None:
    d = two
    d.drop(1)
    assert d.take(3) == []
    assert d.hub.find("alice") == 2 and d.hub.usernames("#dev") == ["alice", "bob"]
    d.do(2, Chat("still here", room="#dev"))
    assert d.take(3)[0]["message"] == "still here"
    d.drop(2)
    assert {(f["type"], f["room"]) for f in d.take(3)} == {("user_left", "#lobby"), ("user_left", "#dev")}
    assert d.hub.find("alice") is None


def test_a_kick_puts_out_every_device(two: Driver) -> None:
    d = two
    d.hub.state.rooms["#dev"].ops["bob"] = "bob"
    d.do(3, Kick("#dev", "alice"))
    assert "#dev" not in d.hub.state.sessions[1].rooms and "#dev" not in d.hub.state.sessions[2].rooms
    assert d.hub.usernames("#dev") == ["bob"]


def test_beyond_the_limit_the_oldest_device_gives_way() -> None:
    d = Driver(devices=2)
    register(d, 1, "alice")
    device(d, 2)
    device(d, 3)
    assert d.closed == {1: "logged_in_elsewhere"}
    assert d.hub.find("alice") == 2 and d.hub.state.sessions[3].devices == [2, 3]


def test_guests_stay_one_connection_a_name() -> None:
    d = Driver()
    d.join(1, "guest1", version=2)
    d.connect(2)
    assert d.error(2, Join("guest1", replay=True)).code.value == "username_taken"


def test_a_lost_connection_lingers_away_and_comes_back_without_a_flap(two: Driver) -> None:
    d = two
    d.hub.disconnect(2, d.now)  # a second device simply goes
    d.apply(d.hub.disconnect(1, d.now, lost=True))  # the last one's connection is lost
    assert d.hub.lingering(1) and d.hub.usernames("#dev") == ["alice", "bob"]
    assert [(f["type"], f.get("message")) for f in d.take(3)] == [("away", "connection lost; back soon, perhaps")]
    register(d, 5, "carol")
    d.do(5, Dm("alice", "while you were out"))
    assert any(type(w).__name__ == "SaveDm" and not w.delivered for w in d.stored)  # kept for her return
    assert d.error(3, Dm("alice", "hello?")).code.value == "no_such_user"  # a guest's cannot wait, as offline
    d.take(3)
    frames = device(d, 4)
    assert not d.hub.lingering(1) and 1 not in d.hub.state.sessions and d.hub.find("alice") == 4
    assert {f["room"] for f in frames if f["type"] == "room_joined"} == {"#dev"}
    assert [(f["type"], f.get("message")) for f in d.take(3)] == [("away", None)]  # back: no leave, no join
    assert d.hub.state.rooms["#dev"].size() == 2


def test_the_linger_runs_out_and_then_the_person_leaves() -> None:
    d = Driver()
    register(d, 1, "alice")
    d.join(2, "bob", version=2)
    d.take(2)
    d.apply(d.hub.disconnect(1, d.now, lost=True))
    assert [f["type"] for f in d.take(2)] == ["away"]
    d.apply(d.hub.linger_over(1, d.now + 60))
    assert [f["type"] for f in d.take(2)] == ["user_left"] and d.hub.find("alice") is None
    d.apply(d.hub.disconnect(3, d.now, lost=True))  # an unknown connection: nothing
    quitter = Driver()
    register(quitter, 1, "carol")
    quitter.do(1, Quit())
    quitter.apply(quitter.hub.disconnect(1, quitter.now))  # a quit (not lost) leaves at once
    assert not quitter.hub.lingering(1) and quitter.hub.find("carol") is None


def test_the_operator_and_a_kill_end_every_device(two: Driver) -> None:
    d = two
    d.apply(d.hub.upkeep.account_deleted("alice", d.now))
    assert d.closed.keys() >= {1, 2} and d.hub.find("alice") is None
    assert {f["room"] for f in d.take(3) if f["type"] == "user_left"} == {"#lobby", "#dev"}


def test_a_person_on_three_devices_costs_three_sends(two: Driver) -> None:
    d = two
    device(d, 4)
    effects = d.hub.handle(3, Dm("alice", "one message"), d.now)
    delivered = [e for e in effects if type(e).__name__ == "Send" and e.event.text == "one message"]
    to_alice = [t for e in delivered for t in e.targets if t != 3]
    assert sorted(to_alice) == [1, 2, 4]  # one send a device, and no more
    effects = d.hub.handle(3, Chat("to the room", room="#dev"), d.now)
    (line,) = [e for e in effects if type(e).__name__ == "Broadcast"]
    assert sorted(t for t in line.audience if not line.skips(t)) == [1, 2, 4]  # bob is the sender
