"""Rooms that can be run (issue 23, first part), over real sockets: the first one in is the room's
operator, a new room's topic is the operators' (+t), operators voice and moderate (+m) and put
members out (KICK), and JSON, IRC and text-mode users each see it in their own words."""

from __future__ import annotations

from tests.clients import Irc, RawClient, Terminal
from tests.helpers import ServerProcess


def _json(server: ServerProcess, sockets: list, name: str) -> RawClient:
    client = RawClient(server.address)
    sockets.append(client)
    client.join(name, version=2)
    return client


def test_operators_topic_voice_moderation_and_kick_in_every_protocol(server: ServerProcess, sockets: list) -> None:
    alice = _json(server, sockets, "alice")
    alice.send(type="join_room", room="#dev")
    assert alice.expect("room_joined")["roles"] == {"alice": "operator"}  # the first one in runs it
    bob = _json(server, sockets, "bob")
    bob.send(type="join_room", room="#dev")
    bob.expect("room_joined")
    bob.send(type="topic", room="#dev", topic="bob's topic")
    assert "only operators" in bob.error("not_operator")["message"]  # +t on a new room
    alice.send(type="topic", room="#dev", topic="release on Friday")
    bob.expect("topic", topic="release on Friday")
    carol = Irc(server, "carol")
    sockets.append(carol)
    carol.expect(" 001 ")
    carol.send("JOIN #dev")
    names = carol.expect(" 353 ")
    assert "@alice" in names.split(" :", 1)[1].split() and "bob" in names.split(" :", 1)[1].split()
    carol.send("MODE #dev +o carol")
    assert " 482 carol #dev " in carol.expect(" 482 ")  # not an operator
    alice.send(type="role", room="#dev", username="carol", role="voice")
    assert carol.expect("MODE #dev").endswith("MODE #dev +v carol")
    role = bob.expect("role")
    assert (role["username"], role["role"], role["given"], role["by"]) == ("carol", "voice", True, "alice")
    alice.send(type="room_mode", room="#dev", moderated=True)
    assert carol.expect("MODE #dev").endswith("MODE #dev +m")
    assert bob.expect("room_mode")["moderated"] is True
    bob.send(type="chat", room="#dev", message="can I speak?")
    assert "moderated" in bob.error("moderated")["message"]
    carol.send("PRIVMSG #dev :voiced, so I can")
    assert alice.expect("chat")["message"] == "voiced, so I can"
    carol.send("MODE #dev")
    assert carol.expect(" 324 ").endswith(" 324 carol #dev :+mnt")
    alice.send(type="kick", room="#dev", username="bob", reason="spam")
    assert carol.expect(" KICK ").endswith("KICK #dev bob :spam")
    assert bob.expect("kicked")["by"] == "alice"
    assert bob.expect("room_left") == {"type": "room_left", "room": "#dev", "kicked_by": "alice", "reason": "spam"}
    bob.send(type="chat", room="#dev", message="still here?")
    bob.error("not_in_room")
    carol.send("PART #dev")
    carol.expect("PART #dev")
    alice.send(type="users", room="#dev")
    assert alice.expect("users")["users"] == ["alice"]


def test_irc_operators_kick_and_text_mode_hears_it(server: ServerProcess, sockets: list) -> None:
    dave = Irc(server, "dave")
    sockets.append(dave)
    dave.expect(" 001 ")
    dave.send("JOIN #irc")
    assert "@dave" in dave.expect(" 353 ")
    guest = _json(server, sockets, "guest")
    guest.send(type="join_room", room="#irc")
    guest.expect("room_joined")
    terminal = Terminal(server.address)
    sockets.append(terminal)
    terminal.wait("Your name:")
    terminal.say("typist")
    terminal.wait("You are in #lobby")
    terminal.say("/join #irc")
    terminal.wait("you joined #irc")
    dave.send("MODE #irc +v typist", "KICK #irc guest :off you go")
    assert terminal.wait("put guest out (off you go)")
    assert "dave made typist a voice" in terminal.buf.decode()
    assert guest.expect("room_left")["kicked_by"] == "dave"
    terminal.say("/kick dave")  # not an operator
    assert "not an operator" in terminal.wait("not an operator")


def test_a_role_follows_a_new_name_and_an_emptied_room_goes_to_the_next_one_in(server: ServerProcess,
                                                                                  sockets: list) -> None:
    owner = _json(server, sockets, "owner")
    owner.send(type="join_room", room="#team")
    owner.expect("room_joined")
    owner.send(type="nick", username="boss")
    owner.expect("nick")
    other = _json(server, sockets, "other")
    other.send(type="join_room", room="#team")
    assert other.expect("room_joined")["roles"] == {"boss": "operator"}
    owner.send(type="leave_room", room="#team")
    owner.expect("room_left")
    other.send(type="leave_room", room="#team")
    other.expect("room_left")
    other.send(type="join_room", room="#team")  # nobody in it: the next one in runs it
    assert other.expect("room_joined")["roles"] == {"other": "operator"}


def test_invite_only_keyed_limited_and_secret_rooms(server: ServerProcess, sockets: list) -> None:
    alice = _json(server, sockets, "alice")
    alice.send(type="join_room", room="#inner")
    alice.expect("room_joined")
    alice.send(type="room_mode", room="#inner", invite_only=True, secret=True)
    frame = alice.expect("room_mode")
    assert (frame["invite_only"], frame["secret"]) == (True, True)
    irc = Irc(server, "ircer")
    sockets.append(irc)
    irc.expect(" 001 ")
    irc.send("JOIN #inner")
    assert " 473 ircer #inner " in irc.expect(" 473 ")  # invite only
    irc.send("LIST")
    assert not [line for line in irc.upto(" 323 ") if "#inner" in line]  # secret: not listed outside
    alice.send(type="invite", room="#inner", username="ircer")
    assert alice.expect("invited")["username"] == "ircer"
    assert irc.expect(" INVITE ").endswith("INVITE ircer #inner")
    irc.send("JOIN #inner")
    assert " 353 ircer @ #inner :" in irc.expect(" 353 ")  # "@": a secret room's NAMES
    irc.send("PART #inner")
    irc.expect("PART #inner")
    irc.send("JOIN #inner")  # an invitation is used once
    irc.expect(" 473 ")
    alice.send(type="room_mode", room="#inner", invite_only=False, key="sesame", limit=2)
    assert alice.expect("room_mode")["key"] == "sesame"  # made, before the other connection tries
    irc.send("JOIN #inner")
    assert " 475 ircer #inner " in irc.expect(" 475 ")  # the key
    irc.send("JOIN #inner sesame")
    irc.expect(" 366 ircer #inner ")
    third = _json(server, sockets, "third")
    third.send(type="join_room", room="#inner", key="sesame")
    assert "at most 2" in third.error("room_limit")["message"]
    irc.send("MODE #inner")
    assert irc.expect(" 324 ").endswith(" 324 ircer #inner +klnst sesame :2")  # the key: to those inside
    alice.send(type="room_mode", room="#inner")
    while "by" in (said := alice.expect("room_mode")):  # the changes' own frames came first
        pass
    assert (said["key"], said["limit"], said["secret"], said["invite_only"]) == ("sesame", 2, True, False)


def test_one_who_comes_in_away_is_said_to_be_away(server: ServerProcess, sockets: list) -> None:
    """IRCv3 away-notify: the JOIN of an away member is followed by its AWAY (issue 23)."""
    watcher = Irc(server, "watcher", caps="away-notify")
    sockets.append(watcher)
    watcher.expect(" 001 ")
    watcher.send("JOIN #cafe")
    watcher.expect(" 366 ")
    napper = _json(server, sockets, "napper")
    napper.send(type="away", message="on a break")
    napper.send(type="join_room", room="#cafe")
    napper.expect("room_joined")
    watcher.expect(":napper!napper@selchat JOIN #cafe")
    assert watcher.expect(" AWAY ").endswith(":napper!napper@selchat AWAY :on a break")


def test_a_server_operator_is_an_account_of_operators_with_its_password(start_server, sockets: list) -> None:
    server = start_server("--operators", "Root")
    for name, password in (("root", "the root password"), ("plain", "a plain password")):
        account = _json(server, sockets, name)
        account.send(type="register", password=password)
        account.expect("registered")
        account.close()
    irc = Irc(server, "admin")
    sockets.append(irc)
    irc.expect(" 001 ")
    irc.send("OPER plain a plain password")  # an account, but not one of --operators
    assert " 491 " in irc.expect(" 491 ")
    irc.send("OPER root wrong")
    assert " 464 " in irc.expect(" 464 ")
    irc.send("OPER root :the root password", "PING :after")  # in one write: the PONG waits for the verdict
    seen: list[str] = []
    irc.expect("PONG", seen)
    assert any(" 381 admin :You are now an IRC operator" in line for line in seen)
    assert any(line.endswith(" MODE admin +o") for line in seen)
    irc.send("JOIN #ops", "WHO admin", "WHOIS admin")
    who = irc.expect(" 352 ")
    assert who.split(" ")[8] == "H*"  # the server operator's "*"
    assert " 313 admin admin :is an IRC operator" in irc.expect(" 313 ")
