"""A room's bans, mutes and exceptions (issue 23), over real sockets and in every protocol: a JSON
operator bans an IRC user (474 on the next JOIN), mutes one (``m:``), lets one back with an
exception (+e); lists come as IRC's 367/368 and JSON's ``bans``; -n lets those outside speak;
and each refusal is its wire's own (696, 443, 401, 403)."""

from __future__ import annotations

import pytest

from selchat.errors import ErrorCode, ProtocolError
from selchat.hub.masks import MaskLists, normal
from tests.clients import Irc, RawClient, Terminal
from tests.helpers import ServerProcess


def _json(server: ServerProcess, sockets: list, name: str) -> RawClient:
    client = RawClient(server.address)
    sockets.append(client)
    client.join(name, version=2)
    return client


def _irc(server: ServerProcess, sockets: list, name: str, caps: str = "") -> Irc:
    client = Irc(server, name, caps)
    sockets.append(client)
    client.expect(" 001 ")
    return client


def test_masks_are_kept_whole_and_match_by_name_account_or_address() -> None:
    assert normal("bob") == "bob!*@*" and normal("bob@10.*") == "*!bob@10.*" and normal("m:bob") == "m:bob!*@*"
    with pytest.raises(ProtocolError) as refused:
        normal("two words")
    assert refused.value.code is ErrorCode.BAD_MODE_VALUE
    masks = MaskLists()
    assert masks.add("b", "Ba*", "op", 1.0) == "Ba*!*@*"
    assert masks.add("b", "ba*!*@*", "op", 2.0) is None  # the same mask, case-blind
    assert masks.banned("Bart", None, None) and not masks.banned("lisa", None, None)
    masks.add("e", "bart", "op", 3.0)
    assert not masks.banned("bart", None, None) and masks.banned("barney", None, None)
    masks.add("b", "a:homer", "op", 4.0)
    assert masks.banned("anyname", "Homer", None) and not masks.banned("anyname", None, None)
    masks.add("b", "*!*@10.0.0.*", "op", 5.0)
    assert masks.banned("maggie", None, "10.0.0.7") and not masks.banned("maggie", None, "10.0.1.7")
    masks.add("b", "m:lisa", "op", 6.0)
    assert masks.muted("lisa", None, None) and not masks.banned("lisa", None, None) and masks.mutes()
    assert masks.remove("b", "BA*") == "Ba*!*@*" and masks.remove("b", "nobody") is None


def test_a_json_operator_bans_mutes_and_excepts_an_irc_user(server: ServerProcess, sockets: list) -> None:
    op = _json(server, sockets, "op")
    op.send(type="join_room", room="#team")
    op.expect("room_joined")
    ircer = _irc(server, sockets, "ircer")
    ircer.send("JOIN #team")
    ircer.expect(" 366 ")
    op.send(type="ban", room="#team", mask="ircer")
    banned = op.expect("ban")
    assert (banned["mask"], banned["list"], banned["by"]) == ("ircer!*@*", "bans", "op")
    assert ircer.expect("MODE #team").endswith("MODE #team +b ircer!*@*")
    op.send(type="kick", room="#team", username="ircer", reason="out")
    ircer.expect(" KICK #team ircer")
    ircer.send("JOIN #team")
    assert " 474 ircer #team " in ircer.expect(" 474 ")
    ircer.send("MODE #team +b")
    assert ircer.expect(" 367 ").split(" ")[3:6] == ["#team", "ircer!*@*", "op"]
    ircer.expect(" 368 ircer #team ")
    op.send(type="ban", room="#team", mask="*ircer*", list="exceptions")
    op.expect("ban", list="exceptions")
    ircer.send("JOIN #team")  # an exception lets one back in past a ban
    ircer.expect(" 366 ircer #team ")
    op.send(type="ban", room="#team", mask="m:irc*")
    op.expect("ban", mask="m:irc*!*@*")
    op.send(type="unban", room="#team", mask="*ircer*", list="exceptions")
    op.expect("unban", list="exceptions")
    ircer.expect("MODE #team -e *ircer*!*@*")
    ircer.send("PRIVMSG #team :can you hear me?")
    assert " 404 ircer #team " in ircer.expect(" 404 ")  # muted, still there
    op.send(type="bans", room="#team")
    listed = op.expect("bans")
    assert [m["mask"] for m in listed["masks"]] == ["ircer!*@*", "m:irc*!*@*"]
    op.send(type="role", room="#team", username="ircer", role="voice")
    ircer.expect("MODE #team +v ircer")
    ircer.send("PRIVMSG #team :voiced: heard")
    assert op.expect("chat")["message"] == "voiced: heard"


def test_outside_messages_and_each_wires_own_refusals(server: ServerProcess, sockets: list) -> None:
    chanop = _irc(server, sockets, "chanop")
    chanop.send("JOIN #open")
    chanop.expect(" 366 ")
    outsider = _irc(server, sockets, "outsider")
    outsider.send("PRIVMSG #open :from outside")
    assert " 404 outsider #open " in outsider.expect(" 404 ")  # +n by default
    chanop.send("MODE #open -n")
    chanop.expect("MODE #open -n")
    outsider.send("PRIVMSG #open :from outside, allowed")
    assert chanop.expect("PRIVMSG #open").endswith(":from outside, allowed")
    chanop.send("MODE #open +k :two words", "MODE #open +l many", "MODE #open +o nobody", "MODE #nowhere +m")
    assert chanop.expect(" 696 ").split(" ")[2:5] == ["chanop", "#open", "k"]
    assert chanop.expect(" 696 ").split(" ")[2:6] == ["chanop", "#open", "l", "many"]
    assert chanop.expect(" 401 ").split(" ")[2:4] == ["chanop", "nobody"]
    assert chanop.expect(" 403 ").split(" ")[2:4] == ["chanop", "#nowhere"]
    outsider.send("JOIN #open")
    outsider.expect(" 366 ")
    chanop.send("INVITE outsider #open", "MODE #open")
    assert chanop.expect(" 443 ").split(" ")[2:5] == ["chanop", "outsider", "#open"]
    assert chanop.expect(" 324 ").endswith("+t")
    assert chanop.expect(" 329 ").split(" ")[3] == "#open"
    person = Terminal(server.address)
    sockets.append(person)
    person.wait("name")
    person.say("texter")
    person.wait("texter")
    person.say("/join #open")
    person.wait("#open")
    chanop.send("MODE #open +b texter")
    person.wait("banned texter!*@*")
    person.say("/bans")
    assert "bans: texter!*@* (by chanop" in person.wait("(by chanop")


def test_a_registered_room_keeps_its_founder_roles_modes_and_bans_across_a_restart(start_server, sockets: list,
                                                                                   tmp_path) -> None:
    db = str(tmp_path / "chat.db")
    server = start_server("--db", db)
    founder = _json(server, sockets, "founder")
    founder.send(type="register", password="the founder's password")
    founder.expect("registered")
    helper = _json(server, sockets, "helper")
    helper.send(type="register", password="the helper's password")
    helper.expect("registered")
    guest = _irc(server, sockets, "guestop")
    founder.send(type="join_room", room="#kept")
    founder.expect("room_joined")
    helper.send(type="register_room", room="#kept")
    assert "join it first" in helper.error("not_in_room")["message"]
    founder.send(type="register_room", room="#kept")
    assert founder.expect("room_registered") == {"type": "room_registered", "room": "#kept", "founder": "founder"}
    founder.send(type="register_room", room="#kept")
    founder.error("room_registered")
    ircop = _irc(server, sockets, "ircop")
    ircop.send("JOIN #ircs", "PRIVMSG ChanServ :REGISTER #ircs")
    assert "log in to an account" in ircop.expect("register #ircs")
    helper.send(type="join_room", room="#kept")
    helper.expect("room_joined")
    guest.send("JOIN #kept")
    guest.expect(" 366 ")
    founder.send(type="role", room="#kept", username="helper", role="operator")
    founder.expect("role", username="helper")
    founder.send(type="role", room="#kept", username="guestop", role="operator")  # a guest: not kept
    founder.expect("role", username="guestop")
    founder.send(type="room_mode", room="#kept", moderated=True, key="sesame")
    founder.expect("room_mode")
    founder.send(type="ban", room="#kept", mask="spammer")
    founder.expect("ban")
    for client in list(sockets):
        client.close()
    server.stop()
    server = start_server("--db", db)
    helper = RawClient(server.address)
    sockets.append(helper)
    helper.send(type="join", username="helper", version=2, login="the helper's password")
    helper.expect("welcome")
    helper.send(type="join_room", room="#kept", key="sesame")
    joined = helper.expect("room_joined")
    assert joined["roles"] == {"helper": "operator"}  # the founder named this account: it comes back
    guest = _irc(server, sockets, "guestop")
    guest.send("JOIN #kept sesame", "MODE #kept", "MODE #kept +b")
    names = guest.expect(" 353 ").rsplit(" :", 1)[1].split()
    assert "@helper" in names and "guestop" in names  # a guest's role was its own: gone with it
    assert guest.expect(" 324 ").split(" ")[4] == "+kmnt"
    assert guest.expect(" 367 ").split(" ")[4] == "spammer!*@*"
    founder = RawClient(server.address)
    sockets.append(founder)
    founder.send(type="join", username="founder", version=2, login="the founder's password")
    founder.expect("welcome")
    founder.send(type="join_room", room="#kept", key="sesame")
    founder.expect("room_joined")
    assert guest.expect("MODE #kept").endswith("MODE #kept +o founder")  # ChanServ gives the founder its role
