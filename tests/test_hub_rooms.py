"""Ring 2 for protocol v2: rooms, topics, names, away, history and accounts, without sockets."""

from __future__ import annotations

import json

import pytest

from selchat.errors import ErrorCode
from selchat.events import (
    Away,
    Chat,
    Dm,
    History,
    Join,
    JoinRoom,
    LeaveRoom,
    Nick,
    Register,
    Rooms,
    Topic,
    Users,
)
from selchat.outbound import DirectMessage, Message
from selchat.records import (
    CheckLogin,
    DmsDelivered,
    HashPassword,
    HistoryPage,
    LoadHistory,
    LoadOfflineDms,
    LoginChecked,
    OfflineDms,
    PasswordHashed,
    RoomState,
    SaveAccount,
    SaveDm,
    SaveRoom,
    SaveTopic,
    Snapshot,
)
from tests.hubdriver import Driver


@pytest.fixture
def d() -> Driver:
    return Driver(rate_limit=0)


def types(frames: list[dict]) -> list[str]:
    return [f["type"] for f in frames]


def test_v2_welcome_then_lobby_history(d: Driver) -> None:
    welcome = d.join(1, "alice", version=2)
    assert welcome["room"] == "#lobby" and welcome["version"] == 2 and welcome["max_rooms"] == 20
    assert types(d.take(1)) == ["welcome", "history_end"]


def test_join_room_replays_and_announces(d: Driver) -> None:
    d.join(1, "alice", version=2)
    d.join(2, "bob", version=2)
    d.do(1, JoinRoom("#Dev"))
    d.do(1, Chat("one", room="#dev"))
    d.do(1, Chat("two", room="#DEV", action=True))
    d.take(1), d.take(2)
    d.do(2, JoinRoom("#dev"))
    frames = d.take(2)
    assert frames[0] == {"type": "room_joined", "room": "#Dev", "topic": "", "users": ["alice", "bob"],
                         "roles": {"alice": "operator"}}
    assert [(f["message"], f.get("action"), f["history"]) for f in frames[1:3]] == [
        ("one", None, True), ("two", True, True)]
    assert frames[3] == {"type": "history_end", "room": "#Dev", "more": False}
    assert d.take(1) == [{"type": "user_joined", "username": "bob", "room": "#Dev",
                          "message": "bob joined #Dev", "timestamp": 1000.0}]


def test_bad_room_names(d: Driver) -> None:
    d.join(1, "alice", version=2)
    for name in ("dev", "#", "#" + "x" * 33, "#a b", "#é", "##"):
        assert d.error(1, JoinRoom(name)).code is ErrorCode.BAD_ROOM_NAME, name
    assert d.error(1, Chat("x", room="nope")).code is ErrorCode.BAD_ROOM_NAME


def test_not_in_room_and_leave(d: Driver) -> None:
    d.join(1, "alice", version=2)
    d.join(2, "bob", version=2)
    assert d.error(1, Chat("x", room="#dev")).code is ErrorCode.NOT_IN_ROOM
    assert d.error(1, LeaveRoom("#dev")).code is ErrorCode.NOT_IN_ROOM
    assert d.error(1, History("#dev")).code is ErrorCode.NOT_IN_ROOM
    assert d.error(1, Topic("#dev", "t")).code is ErrorCode.NOT_IN_ROOM
    d.do(1, JoinRoom("#dev"))
    d.do(2, JoinRoom("#dev"))
    d.take(1), d.take(2)
    d.do(2, LeaveRoom("#DEV"))
    assert d.take(2) == [{"type": "room_left", "room": "#dev"}]
    left = d.take(1)
    assert left[0]["type"] == "user_left" and left[0]["message"] == "bob left #dev" and "reason" not in left[0]
    assert d.error(2, Chat("x", room="#dev")).code is ErrorCode.NOT_IN_ROOM


def test_too_many_rooms(d: Driver) -> None:
    d = Driver(rate_limit=0, max_rooms=3)
    d.join(1, "alice", version=2)
    d.do(1, JoinRoom("#a"))
    d.do(1, JoinRoom("#b"))
    assert d.error(1, JoinRoom("#c")).code is ErrorCode.TOO_MANY_ROOMS
    d.do(1, JoinRoom("#a"))  # already in it: answered again, no error


def test_rooms_list_and_room_lifetime(d: Driver) -> None:
    d.join(1, "alice", version=2)
    d.do(1, JoinRoom("#quiet"))
    d.do(1, JoinRoom("#talk"))
    d.do(1, Chat("hello", room="#talk"))
    d.take(1)
    d.do(1, Rooms())
    assert d.take(1)[0]["rooms"] == [
        {"room": "#lobby", "users": 1, "topic": ""},
        {"room": "#quiet", "users": 1, "topic": ""},
        {"room": "#talk", "users": 1, "topic": ""},
    ]
    d.do(1, LeaveRoom("#quiet"))
    d.do(1, LeaveRoom("#talk"))
    d.take(1)
    d.do(1, Rooms())  # #quiet had only members; #talk has history and lives on
    assert [r["room"] for r in d.take(1)[0]["rooms"]] == ["#lobby", "#talk"]
    assert d.hub.room_names() == ["#lobby", "#talk"]


def test_users_with_away_and_rooms(d: Driver) -> None:
    d.join(1, "alice", version=2)
    d.join(2, "bob", version=2)
    d.do(2, Away("lunch"))
    assert d.take(1)[-1] == {"type": "away", "username": "bob", "message": "lunch"}
    assert d.take(2)[-1] == {"type": "away", "username": "bob", "message": "lunch"}
    d.do(1, Users())
    assert d.take(1) == [{"type": "users", "room": "#lobby", "users": ["alice", "bob"], "away": {"bob": "lunch"}}]
    d.do(2, Away())
    assert d.take(1) == [{"type": "away", "username": "bob", "message": None}]
    assert d.error(1, Users("#nowhere")).code is ErrorCode.NO_SUCH_ROOM
    assert d.error(1, Away("x" * 301)).code is ErrorCode.MESSAGE_TOO_LONG


def test_topic_is_announced_and_stored(d: Driver) -> None:
    d.join(1, "alice", version=2)
    d.join(2, "bob", version=2)
    d.take(1), d.take(2)
    d.do(1, Topic("#lobby", "  release day  "))
    frame = {"type": "topic", "room": "#lobby", "topic": "release day", "by": "alice", "timestamp": 1000.0}
    assert d.take(1) == [frame] and d.take(2) == [frame]
    assert SaveTopic("#lobby", "release day", "alice", 1000.0) in d.stored
    assert SaveRoom("#lobby", "#lobby") in d.stored
    assert d.error(1, Topic("#lobby", "t" * 301)).code is ErrorCode.TOPIC_TOO_LONG
    d.join(3, "carol", version=2)
    assert d.inbox[3][0]["topic"] == "release day"


def test_nick_reaches_everyone_who_shares_a_room(d: Driver) -> None:
    d.join(1, "alice", version=2)
    d.join(2, "bob", version=2)
    d.join(3, "old")  # a v1 client in the lobby
    d.do(1, JoinRoom("#dev"))
    d.do(2, LeaveRoom("#lobby"))
    d.do(2, JoinRoom("#dev"))
    for cid in (1, 2, 3):
        d.take(cid)
    d.do(1, Nick("ally"))
    nick = {"type": "nick", "from": "alice", "to": "ally", "timestamp": 1000.0}
    assert d.take(1) == [nick] and d.take(2) == [nick]
    # a v1 client sees the old name leave and the new one join, the frames it knows
    assert [(f["type"], f["username"]) for f in d.take(3)] == [("user_left", "alice"), ("user_joined", "ally")]
    assert d.hub.find("ally") == 1 and d.hub.find("alice") is None
    d.do(2, Users("#dev"))
    assert d.take(2)[0]["users"] == ["ally", "bob"]
    assert d.error(1, Nick("bob")).code is ErrorCode.USERNAME_TAKEN
    assert d.error(1, Nick("BOB")).code is ErrorCode.USERNAME_TAKEN
    assert d.error(1, Nick("no spaces")).code is ErrorCode.INVALID_USERNAME
    d.do(1, Nick("Ally"))  # a change of case is a rename
    assert d.take(1)[0]["to"] == "Ally"


def test_v1_client_sees_only_v1_frames(d: Driver) -> None:
    d.join(1, "old")
    d.join(2, "new", version=2)
    d.do(2, JoinRoom("#dev"))
    d.do(2, Chat("in dev", room="#dev"))
    d.do(2, Topic("#lobby", "hello"))
    d.do(2, Away("brb"))
    d.do(2, Chat("waves", action=True))
    frames = d.take(1)
    assert types(frames) == ["welcome", "user_joined", "chat"]
    assert frames[0] == {"type": "welcome", "username": "old", "room": "lobby", "users": ["old"],
                         "message": "Welcome to selchat, old! You are the first one here.",
                         "max_message": 2000, "rate_limit": 0, "burst": 20}
    assert frames[2]["room"] == "lobby" and frames[2]["message"] == "waves"
    for command in (JoinRoom("#x"), LeaveRoom("#lobby"), Rooms(), History("#lobby"), Topic("#lobby", "t"),
                    Nick("x"), Away("x"), Register("password1")):
        assert d.error(1, command).code is ErrorCode.UNKNOWN_TYPE


def test_timestamps_are_unique_and_increasing(d: Driver) -> None:
    d.join(1, "alice", version=2)
    d.join(2, "bob", version=2)
    d.take(2)
    for i in range(5):
        d.do(1, Chat(f"m{i}"))  # one burst: the same `now` for all
    stamps = [f["timestamp"] for f in d.take(2)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 5
    assert stamps[0] == 1000.0 and stamps[-1] == pytest.approx(1000.000004)
    d.now = 999.0  # the clock stepped back
    d.do(1, Chat("later"))
    assert d.take(2)[0]["timestamp"] > stamps[-1]


def test_history_request_goes_to_storage_and_back(d: Driver) -> None:
    d.join(1, "alice", version=2)
    d.take(1)
    d.do(1, History("#lobby", before=1234.5, limit=500))
    assert d.asked == [LoadHistory(1, "#lobby", "#lobby", 1234.5, 200)]  # a page is at most 200
    page = (Message("#lobby", "bob", "old", 1000.5, history=True),)
    d.complete(1, HistoryPage("#lobby", page, more=True))
    assert d.take(1) == [
        {"type": "chat", "username": "bob", "room": "#lobby", "message": "old", "timestamp": 1000.5, "history": True},
        {"type": "history_end", "room": "#lobby", "more": True},
    ]
    d.drop(1)
    d.complete(1, HistoryPage("#lobby", page, more=False))  # gone meanwhile: nothing happens
    assert d.take(1) == []


def test_snapshot_restores_rooms_topics_and_replay() -> None:
    recent = [Message("#dev", "bob", f"m{i}", 900.0 + i) for i in range(3)]
    snap = Snapshot(rooms=[RoomState("#dev", "#Dev", "plans", "bob", 950.0, total=60, recent=recent)],
                    accounts={"bob": "bob"}, last_timestamp=2000.0)
    d = Driver(snap, rate_limit=0)
    d.join(1, "alice", version=2)
    d.do(1, Rooms())
    assert d.take(1)[-1]["rooms"][0] == {"room": "#Dev", "users": 0, "topic": "plans"}
    d.do(1, JoinRoom("#dev"))
    frames = d.take(1)
    assert frames[0]["topic"] == "plans"
    assert [f["message"] for f in frames[1:4]] == ["m0", "m1", "m2"]
    assert frames[4] == {"type": "history_end", "room": "#Dev", "more": True}  # 60 stored, 3 shown
    d.do(1, Chat("new", room="#dev"))
    assert d.stored[-1][1] > 2000 * 1_000_000  # the row's microseconds: never before what was stored


# -- accounts ------------------------------------------------------------------------------------


def register(d: Driver, cid: int, name: str) -> None:
    d.join(cid, name, version=2)
    d.do(cid, Register("correct horse"))
    request = d.asked.pop()
    assert request == HashPassword(cid, name.casefold(), name, "correct horse")
    d.complete(cid, PasswordHashed(name.casefold(), name, "$argon2id$fake"))


def test_register_makes_an_account(d: Driver) -> None:
    register(d, 1, "Alice")
    assert d.take(1)[-1]["type"] == "registered"
    assert any(isinstance(w, SaveAccount) and w.key == "alice" and w.hash == "$argon2id$fake" for w in d.stored)
    assert d.error(1, Register("another one")).code is ErrorCode.ALREADY_REGISTERED
    d.join(2, "bob", version=2)
    assert d.error(2, Register("short")).code is ErrorCode.WEAK_PASSWORD
    assert d.error(2, Nick("alice")).code is ErrorCode.USERNAME_TAKEN
    d.drop(1)
    assert d.error(2, Nick("ALICE")).code is ErrorCode.NAME_REGISTERED
    d.connect(3)
    assert d.error(3, Join("alice")).code is ErrorCode.NAME_REGISTERED  # a guest cannot take it


def test_a_failed_hash_answers_and_holds_no_name(d: Driver) -> None:
    d.join(1, "alice", version=2)
    d.do(1, Register("correct horse"))
    d.asked.pop()
    d.take(1)
    d.complete(1, PasswordHashed("alice", "alice", None))  # the worker failed (a database error, say)
    assert [f["code"] for f in d.take(1)] == ["server_error"]
    assert not d.stored
    register(d, 2, "bob")
    d.do(1, Register("correct horse"))  # and the name may be registered after all
    assert isinstance(d.asked.pop(), HashPassword)


def test_login_success_failure_and_throttle(d: Driver) -> None:
    register(d, 1, "alice")
    d.drop(1)
    d.connect(2, "10.0.0.7")
    d.do(2, Join("ALICE", replay=True, login="wrong"))
    assert d.asked.pop() == CheckLogin(2, "alice", "wrong")
    assert d.error(2, Chat("x")).code is ErrorCode.NOT_JOINED  # waiting for the check
    assert d.error(2, Join("alice", login="again")).code is ErrorCode.ALREADY_JOINED
    d.complete(2, LoginChecked("alice", False))
    assert d.take(2) == [{"type": "error", "code": "bad_login",
                          "message": "wrong account name or password for ALICE"}]
    assert 2 not in d.closed  # the connection stays open to try again
    for _ in range(2):  # three wrong logins to an account are free
        d.do(2, Join("alice", login="wrong"))
        d.complete(2, LoginChecked("alice", False))
    refused = d.error(2, Join("alice", login="right"))
    assert refused.code is ErrorCode.TOO_MANY_LOGINS and "try again in 1 s" in refused.message
    for wait in (1, 2):  # then each waits twice as long as the one before
        d.now += wait
        d.do(2, Join("alice", login="wrong"))
        d.complete(2, LoginChecked("alice", False))
    d.now += 4
    refused = d.error(2, Join("alice", login="right"))  # five from this address: it waits a minute
    assert refused.code is ErrorCode.TOO_MANY_LOGINS and "from your address" in refused.message
    d.connect(3, "10.0.0.8")  # another address is not held back
    d.do(3, Join("alice", replay=True, login="right"))
    assert d.asked.pop() == CheckLogin(3, "alice", "right")
    d.now += 61
    d.take(2)
    d.do(2, Join("alice", replay=True, login="right"))  # a minute later, address 1 may try again
    d.complete(2, LoginChecked("alice", True, "alice"))
    welcome = d.take(2)[0]
    assert welcome["type"] == "welcome" and welcome["account"] == "alice" and welcome["username"] == "alice"
    assert d.asked[-1] == LoadOfflineDms(2, "alice")


def test_login_elsewhere_replaces_the_old_session() -> None:
    d = Driver(multiclient=False)
    register(d, 1, "alice")
    d.join(2, "bob", version=2)
    d.take(2)
    d.connect(3)
    d.do(3, Join("alice", replay=True, login="correct horse"))
    d.complete(3, LoginChecked("alice", True, "alice"))
    assert d.closed[1] == "logged_in_elsewhere"
    assert d.hub.find("alice") == 3
    frames = d.take(2)
    assert [(f["type"], f.get("reason")) for f in frames] == [("user_left", "logged in elsewhere"),
                                                              ("user_joined", None)]


def test_require_account() -> None:
    d = Driver(require_account=True)
    d.connect(1)
    assert d.error(1, Join("guest")).code is ErrorCode.ACCOUNT_REQUIRED
    d.do(1, Join("alice", login="pw"))
    assert isinstance(d.asked[-1], CheckLogin)


def test_offline_dms_between_accounts(d: Driver) -> None:
    register(d, 1, "alice")
    register(d, 2, "bob")
    d.take(1)
    d.drop(2)
    d.do(1, Dm("bob", "are you there?"))
    receipt = d.take(1)[-1]
    assert receipt["offline"] is True and receipt["to"] == "bob"
    saved = [w for w in d.stored if isinstance(w, SaveDm)]
    assert saved[-1].delivered is False and saved[-1].recipient_key == "bob"
    d.join(3, "guest", version=2)
    assert d.error(3, Dm("bob", "hi")).code is ErrorCode.NO_SUCH_USER  # guests cannot leave messages
    # bob logs in: the store hands the kept messages back, and the hub delivers them
    d.connect(4)
    d.do(4, Join("bob", replay=True, login="correct horse"))
    d.complete(4, LoginChecked("bob", True, "bob"))
    dm = DirectMessage("alice", "bob", "are you there?", 1000.1, offline=True)
    d.complete(4, OfflineDms((dm,)))
    assert d.take(4)[-1] == {"type": "dm", "from": "alice", "to": "bob", "message": "are you there?",
                             "timestamp": 1000.1, "offline": True}
    assert d.stored[-1] == DmsDelivered("bob", 1000.1)
    d.do(1, Dm("bob", "now online"))  # online, between accounts: delivered and kept
    assert [w for w in d.stored if isinstance(w, SaveDm)][-1].delivered is True


def test_dm_to_an_account_under_another_name(d: Driver) -> None:
    register(d, 1, "alice")
    d.do(1, Nick("ally"))
    d.join(2, "bob", version=2)
    d.take(1)
    d.do(2, Dm("alice", "found you"))
    assert d.take(1)[-1]["message"] == "found you"


def test_a_room_over_quiet_above_announces_no_joins_or_leaves() -> None:
    d = Driver(rate_limit=0, quiet_above=2)
    d.join(1, "a", version=2)
    d.join(2, "b", version=2)
    assert [f["username"] for f in d.take(1) if f["type"] == "user_joined"] == ["b"]
    welcome = d.join(3, "c", version=2)  # the third member: over the threshold
    assert welcome["users"] == ["c"] and welcome["user_count"] == 3
    assert "2 other users online" in welcome["message"]
    assert [f for f in d.take(1) + d.take(2) if f["type"] == "user_joined"] == []
    d.do(1, JoinRoom("#small"))
    joined = next(f for f in d.take(1) if f["type"] == "room_joined")
    assert joined["users"] == ["a"] and "user_count" not in joined
    d.drop(3)  # leaving a room of three: not announced there
    assert [f for f in d.take(1) + d.take(2) if f["type"] == "user_left"] == []
    d.drop(2)  # now a room of two: announced again
    assert [f["username"] for f in d.take(1) if f["type"] == "user_left"] == ["b"]
    d.do(1, Chat("still heard", room="#lobby"))
    d.join(4, "e", version=1)
    assert [f["message"] for f in d.take(4) if f["type"] == "chat"] == []
    assert next(f for f in d.take(1) if f["type"] == "user_joined")["username"] == "e"


def test_quiet_above_zero_announces_always() -> None:
    d = Driver(rate_limit=0, quiet_above=0)
    for cid in range(1, 6):
        welcome = d.join(cid, f"u{cid}")
    assert len(welcome["users"]) == 5 and "user_count" not in welcome
    assert len([f for f in d.take(1) if f["type"] == "user_joined"]) == 4


def test_rooms_have_a_server_cap_and_a_makers_limit() -> None:
    """Issue 21, item 1: 25 guests made 4,000 rooms; now the server holds --max-rooms-total and
    one user (a guest: an address) makes --new-rooms-per-user in ten minutes."""
    d = Driver(rate_limit=0, max_rooms_total=4, new_rooms_per_user=2)
    d.join(1, "alice", version=2)
    d.do(1, JoinRoom("#a"))
    d.do(1, JoinRoom("#b"))
    refused = d.error(1, JoinRoom("#c"))
    assert refused.code is ErrorCode.TOO_MANY_NEW_ROOMS and "2 new rooms" in refused.message
    d.do(1, LeaveRoom("#a"))  # empty and without history: forgotten, so joining it makes it anew
    assert "#a" not in d.hub.room_names()
    d.now += 601  # ten minutes later the maker may make more
    d.do(1, JoinRoom("#c"))
    d.connect(2, "10.0.0.9")
    d.do(2, Join("bob", replay=True))
    d.do(2, JoinRoom("#d"))  # #lobby, #b, #c, #d: the server is full
    refused = d.error(2, JoinRoom("#e"))
    assert refused.code is ErrorCode.ROOMS_FULL
    d.do(2, JoinRoom("#b"))  # joining one that exists is always allowed


def test_an_empty_room_with_only_a_topic_is_forgotten(d: Driver) -> None:
    d.join(1, "alice", version=2)
    d.do(1, JoinRoom("#dev"))
    d.do(1, Topic("#dev", "x" * 300))
    d.do(1, LeaveRoom("#dev"))
    d.take(1)
    d.do(1, Rooms())
    assert [r["room"] for r in d.take(1)[-1]["rooms"]] == ["#lobby"]


def test_the_list_of_rooms_comes_in_pages_within_the_output_limit() -> None:
    d = Driver(rate_limit=0, max_rooms_total=0, new_rooms_per_user=0, max_output=64 * 1024, max_rooms=1000)
    d.join(1, "alice", version=2)
    for i in range(300):
        d.do(1, JoinRoom(f"#room{i:03}"))
        d.do(1, Topic(f"#room{i:03}", "é" * 300))
    d.take(1)
    d.do(1, Rooms())
    first = d.take(1)[-1]
    assert first["more"] is True and 20 < len(first["rooms"]) < 300
    assert len(json.dumps(first, ensure_ascii=False).encode()) < 64 * 1024 // 4
    seen = [r["room"] for r in first["rooms"]]
    while True:  # a client pages on from the last room it has
        d.do(1, Rooms(after=seen[-1]))
        page = d.take(1)[-1]
        seen += [r["room"] for r in page["rooms"]]
        if not page["more"]:
            break
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 301
    d.do(1, Rooms(stream=True))  # IRC's LIST: the parts follow by themselves (this driver reads at once)
    parts = d.take(1)
    assert len(parts) > 1 and sum(len(p["rooms"]) for p in parts) == 301 and parts[-1]["more"] is False


def test_a_history_page_is_cut_to_what_one_answer_holds() -> None:
    d = Driver(rate_limit=0, max_output=64 * 1024)
    d.join(1, "alice", version=2)
    d.do(1, History("#lobby", limit=200))
    big = tuple(Message("#lobby", "bob", "ü" * 2000, 1000.0 + i) for i in range(200))
    d.take(1)
    d.complete(1, HistoryPage("#lobby", big, False))
    frames = d.take(1)
    chats = [f for f in frames if f["type"] == "chat"]
    assert 1 < len(chats) < 200 and chats[-1]["timestamp"] == 1199.0  # the newest, next to the cursor
    assert frames[-1]["type"] == "history_end" and frames[-1]["more"] is True


def test_offline_dms_come_in_pages_marked_as_written_and_are_capped() -> None:
    """Issue 21, item 5: 600 DMs of 2,000 characters were sent at once at login, over
    --max-output, and all marked delivered; now a page at a time, each marked once written."""
    d = Driver(rate_limit=0, max_output=64 * 1024)
    register(d, 1, "alice")
    register(d, 2, "bob")
    d.drop(2)
    for i in range(100):
        d.do(1, Dm("bob", f"{i} " + "x" * 1990))
    refused = d.error(1, Dm("bob", "one more"))
    assert refused.code is ErrorCode.DMS_FULL and "100 of your private messages" in refused.message
    d.connect(3)
    d.do(3, Join("bob", replay=True, login="correct horse"))
    d.complete(3, LoginChecked("bob", True, "bob"))
    d.take(3)
    kept = tuple(DirectMessage("alice", "bob", f"{i} " + "x" * 1990, 2000.0 + i, offline=True) for i in range(100))
    d.stored.clear()
    d.complete(3, OfflineDms(kept))
    got = [f for f in d.take(3) if f["type"] == "dm"]
    assert [f["timestamp"] for f in got] == [k.timestamp for k in kept]  # all, in order, none twice
    marks = [w for w in d.stored if isinstance(w, DmsDelivered)]
    assert len(marks) > 1 and marks[-1] == DmsDelivered("bob", 2099.0)  # one mark per page written
    d.do(1, Dm("bob", "the box is empty again"))  # delivered at once, bob is online


def test_a_quit_from_two_rooms_is_marked_for_saying_once(d: Driver) -> None:
    d.join(1, "alice", version=2)
    d.join(2, "bob", version=2)
    for cid in (1, 2):
        d.do(cid, JoinRoom("#dev"))
    d.take(1)
    d.drop(2)
    left = [f for f in d.take(1) if f["type"] == "user_left"]
    assert [(f["room"], f.get("quit"), f.get("again")) for f in left] == [("#lobby", True, None), ("#dev", True, True)]


def test_a_guest_is_told_in_words_why_its_message_cannot_wait() -> None:
    d = Driver(Snapshot(accounts={"carol": "Carol"}))
    d.join(1, "guest", version=2)
    error = d.error(1, Dm("carol", "see you"))
    assert error.code is ErrorCode.NO_SUCH_USER
    assert error.message == ("Carol is not online, and only accounts can leave messages for later: register"
                             " (/register) to keep one for them")
