"""A room's rules cross processes with --redis (issue 23): an operator on one process gives a role
to someone on another, moderates and bans, and both processes enforce it; a process that comes to
the room later reads its modes and bans from Redis; a registered room's founder gets its role back
on either process."""

from __future__ import annotations

from collections.abc import Callable

from tests.clients import Irc, RawClient
from tests.helpers import ServerProcess
from tests.redisserver import Redis


def _json(address: tuple[str, int], name: str, sockets: list, **join) -> RawClient:
    client = RawClient(address)
    sockets.append(client)
    client.send(type="join", username=name, version=2, **join)
    client.expect("welcome")
    return client


def test_roles_modes_and_bans_cross_processes(redis: Redis, start_server: Callable[..., ServerProcess],
                                              sockets: list) -> None:
    a = start_server("--redis", redis.url, "--rate-limit", "0")
    b = start_server("--redis", redis.url, "--rate-limit", "0")
    op = _json(a.address, "op", sockets)
    op.send(type="join_room", room="#shared")
    op.expect("room_joined")
    member = _json(b.address, "member", sockets)
    member.send(type="join_room", room="#shared")
    member.expect("room_joined")
    op.expect("user_joined", username="member")
    member.send(type="room_mode", room="#shared", secret=True)  # op was first, on the other process
    member.error("not_operator")
    op.send(type="room_mode", room="#shared", moderated=True)
    op.expect("room_mode")
    assert member.expect("room_mode")["moderated"] is True  # heard on the other process
    member.send(type="chat", room="#shared", message="may I?")
    member.error("moderated")  # and enforced there
    op.send(type="role", room="#shared", username="member", role="voice")  # a member of the other process
    assert member.expect("role")["username"] == "member"
    member.send(type="chat", room="#shared", message="voiced now")
    assert op.expect("chat")["message"] == "voiced now"
    op.send(type="ban", room="#shared", mask="spammer")
    member.expect("ban", mask="spammer!*@*")
    spammer = _json(b.address, "spammer", sockets)
    spammer.send(type="join_room", room="#shared")
    spammer.error("banned_from_room")  # the ban holds on the process that did not set it
    c = start_server("--redis", redis.url, "--rate-limit", "0")  # comes to the room later
    ircer = Irc(c, "ircer")
    sockets.append(ircer)
    ircer.expect(" 001 ")
    ircer.send("JOIN #shared")
    names = ircer.expect(" 353 ").rsplit(" :", 1)[1].split()
    assert "@op" in names and "+member" in names  # the roles of members on the other processes
    ircer.expect(" 366 ")  # once this process has read the room from Redis
    ircer.send("MODE #shared", "MODE #shared +b")
    assert "m" in ircer.expect(" 324 ").split(" ")[4]  # read from Redis when it subscribed
    assert ircer.expect(" 367 ").split(" ")[4] == "spammer!*@*"
    # a kick crosses too: the member's own process puts it out, and every process hears KICK
    op.send(type="kick", room="#shared", username="member", reason="enough")
    assert member.expect("room_left") == {"type": "room_left", "room": "#shared", "kicked_by": "op", "reason": "enough"}
    assert op.expect("kicked")["username"] == "member"
    assert ircer.expect(" KICK ").endswith("KICK #shared member :enough")
    op.send(type="users", room="#shared")
    assert "member" not in op.expect("users")["users"]
