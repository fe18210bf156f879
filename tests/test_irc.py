"""IRC on selchat's port: the codec on its own, then IRC, JSON and text-mode users in one room over
real sockets."""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

import pytest

from selchat.events import Chat, Dm, Join, JoinRoom, LeaveRoom, Quit
from selchat.wire.irc import IrcCodec, parse_line
from tests.clients import Irc, RawClient, Terminal
from tests.helpers import DEADLINE, ServerProcess


def test_parse_line() -> None:
    assert parse_line("PRIVMSG #a :hello there") == ({}, "PRIVMSG", ["#a", "hello there"])
    assert parse_line("@time=x;+draft/y :nick!u@h privmsg #a b :c d") == (
        {"time": "x", "+draft/y": ""}, "PRIVMSG", ["#a", "b", "c d"])
    assert parse_line("NICK alice") == ({}, "NICK", ["alice"])
    assert parse_line("QUIT :") == ({}, "QUIT", [""])
    assert parse_line("   ") is None


def test_registration_waits_for_cap_end() -> None:
    codec = IrcCodec(16384)
    out = codec.feed(b"CAP LS 302\r\nNICK alice\r\nUSER a 0 * :Alice\r\n")
    offered = out[0].decode().rstrip("\r\n").split(" :", 1)[1].split()
    assert out[0].startswith(b":selchat CAP * LS :") and offered == sorted(offered)  # each with its 302 value
    assert {"sasl=PLAIN", "labeled-response", "echo-message", "batch", "server-time"} <= set(offered)
    assert not any(isinstance(x, Join) for x in out)  # held until CAP END
    out = codec.feed(b"CAP REQ :echo-message nope\r\nCAP REQ :echo-message\r\nCAP END\r\n")
    assert out[0] == b":selchat CAP alice NAK :echo-message nope\r\n"
    assert out[1] == b":selchat CAP alice ACK :echo-message\r\n"
    assert out[2] == Join("alice", lobby=False, user="a", realname="Alice")


def test_commands_become_hub_commands() -> None:
    codec = IrcCodec(16384)
    codec.feed(b"NICK bob\r\nUSER b 0 * :Bob\r\n")
    codec.registered, codec.nick = True, "bob"
    out = codec.feed(b"JOIN #a,#b\r\nPRIVMSG #a :hi\r\nPRIVMSG carol :\x01ACTION waves\x01\r\n"
                     b"NOTICE #a :fyi\r\nPART #b\r\nQUIT :later\r\n")
    assert out == [JoinRoom("#a"), JoinRoom("#b"), Chat("hi", room="#a"), Dm("carol", "waves", action=True),
                   Chat("fyi", room="#a", notice=True), LeaveRoom("#b"), b"ERROR :Closing link (quit)\r\n",
                   Quit("later")]


def test_split_lines_and_limits() -> None:
    codec = IrcCodec(16384)
    whole = b"NICK alice\r\nUSER a 0 * :Alice\r\n"
    out: list = []
    for i in range(len(whole)):
        out += codec.feed(whole[i : i + 1])
    assert out == [Join("alice", lobby=False, user="a", realname="Alice")]
    codec.registered = True
    assert codec.feed(b"PRIVMSG #a :" + b"x" * 600 + b"\r\n")[0].startswith(b":selchat 417 alice")
    assert codec.feed(b"PRIVMSG #a :fine\r\n") == [Chat("fine", room="#a")]  # and it goes on


def test_irc_json_and_text_users_in_one_room(server: ServerProcess, connect, irc_clients) -> None:
    json_user = connect()
    json_user.join("jay", version=2)
    json_user.expect("history_end")
    irc = Irc(server, "ircy", caps="server-time echo-message away-notify")
    irc_clients.append(irc)
    irc.expect(" 001 ircy :Welcome to selchat, ircy")
    irc.expect(" 005 ircy CASEMAPPING=ascii CHANTYPES=# ")
    irc.expect(" 422 ")
    irc.send("JOIN #lobby")  # IRC users start in no channel
    irc.expect(":ircy!ircy@selchat JOIN #lobby")
    assert irc.expect(" 353 ").endswith(":ircy jay")
    assert json_user.expect("user_joined")["username"] == "ircy"
    text = Terminal(server.address)
    irc_clients.append(text)
    text.wait("Your name:")
    text.say("tex")
    text.wait("Welcome to selchat, tex!")
    irc.expect(":tex!tex@selchat JOIN #lobby")

    # messages, every way round
    json_user.send(type="chat", message="from json")
    assert irc.expect("PRIVMSG #lobby :from json").startswith("@time=")
    text.wait("#lobby jay: from json")
    irc.send("PRIVMSG #lobby :from irc")
    irc.expect(":ircy!ircy@selchat PRIVMSG #lobby :from irc")  # echo-message
    assert json_user.expect("chat")["message"] == "from irc"
    text.wait("#lobby ircy: from irc")
    text.say("from text")
    irc.expect(":tex!tex@selchat PRIVMSG #lobby :from text")
    assert json_user.expect("chat")["message"] == "from text"

    # rooms: joins, topics, parts
    irc.send("JOIN #dev")
    irc.expect(":ircy!ircy@selchat JOIN #dev")
    irc.expect(" 366 ircy #dev ")
    json_user.send(type="join_room", room="#dev")
    irc.expect(":jay!jay@selchat JOIN #dev")
    text.say("/join #dev")
    irc.expect(":tex!tex@selchat JOIN #dev")
    irc.send("TOPIC #dev :ship it")
    assert json_user.expect("topic")["topic"] == "ship it"
    text.wait("#dev * ircy set the topic: ship it")
    json_user.send(type="topic", room="#dev", topic="jay's")  # +t: ircy made #dev, and runs it
    assert json_user.error("not_operator")
    irc.send("MODE #dev +o jay")
    irc.expect(":ircy!ircy@selchat MODE #dev +o jay")
    json_user.send(type="topic", room="#dev", topic="shipped")
    irc.expect(":jay!jay@selchat TOPIC #dev :shipped")
    irc.send("TOPIC #dev")
    irc.expect(" 332 ircy #dev :shipped")
    irc.expect(" 333 ircy #dev jay ")

    # names, away, private messages
    json_user.send(type="nick", username="jayne")
    irc.expect(":jay!jay@selchat NICK jayne")
    text.wait("jay is now known as jayne")
    irc.send("AWAY :lunch")
    irc.expect(" 306 ircy ")
    json_user.send(type="users", room="#dev")
    assert json_user.expect("users")["away"] == {"ircy": "lunch"}
    json_user.send(type="away", message="brb")
    irc.expect(":jayne!jayne@selchat AWAY :brb")  # away-notify
    irc.send("PRIVMSG jayne :psst")
    assert json_user.expect("dm")["message"] == "psst"
    json_user.send(type="dm", to="ircy", message="back at you")
    irc.expect(":jayne!jayne@selchat PRIVMSG ircy :back at you")
    irc.send("NICK ircz")
    assert json_user.expect("nick") == {"type": "nick", "from": "ircy", "to": "ircz",
                                        "timestamp": pytest.approx(time.time(), abs=30)}
    irc.send("PART #dev")
    irc.expect(":ircz!ircz@selchat PART #dev")
    assert json_user.expect("user_left", room="#dev")["username"] == "ircz"
    irc.send("QUIT :see you")
    irc.expect("ERROR :Closing link")
    left = json_user.expect("user_left", room="#lobby")
    assert (left["username"], left["reason"]) == ("ircz", "Quit: see you")


def test_irc_error_numerics(server: ServerProcess, irc_clients) -> None:
    early = Irc.__new__(Irc)
    early.sock, early.buf = socket.create_connection(server.address, timeout=DEADLINE), b""
    irc_clients.append(early)
    early.send("NICK early", "JOIN #x")
    early.expect(" 451 * :You have not registered")
    early.send("NICK bad!nick", "USER e 0 * :E")
    early.expect(" 432 * bad!nick ")
    early.send("NICK early2")
    early.expect(" 001 early2 ")
    taken = Irc(server, "early2")
    irc_clients.append(taken)
    taken.expect(" 433 * early2 ")
    taken.send("NICK other")
    taken.expect(" 001 other ")
    checks = [
        ("PRIVMSG nobody :x", " 401 other nobody "),
        ("PRIVMSG #nope :x", " 404 other #nope "),
        ("PART #nope", " 442 other #nope "),
        ("PRIVMSG", " 411 other "),
        ("PRIVMSG #lobby", " 412 other "),
        ("JOIN", " 461 other JOIN "),
        ("JOIN #bad*name", " 403 other #bad*name "),
        ("USER a 0 * :A", " 462 other "),
        ("FROBNICATE", " 421 other FROBNICATE "),
        ("NICK", " 431 other "),
        ("MODE #lobby", " 324 other #lobby :+n"),  # the lobby is nobody's: its topic is open
        ("MODE other", " 221 other :+i"),
        ("LIST", " 323 other "),
        ("LUSERS", " 251 other "),
        ("WHOIS early2", " 318 other early2 "),
        ("PRIVMSG #lobby :" + "y" * 600, " 417 other "),
    ]
    for line, answer in checks:
        taken.send(line)
        taken.expect(answer)
    taken.send("PING :tok")
    taken.expect(":selchat PONG selchat :tok")


def test_irc_server_password_and_tls(start_server, tmp_path: Path, irc_clients) -> None:
    from selchat.certs import write_self_signed

    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    write_self_signed(["localhost"], cert, key, 1)
    server = start_server("--tls-cert", str(cert), "--tls-key", str(key), env={"SELCHAT_PASSWORD": "pw"})
    context = ssl.create_default_context(cafile=str(cert))
    wrong = Irc.__new__(Irc)
    wrong.sock = context.wrap_socket(socket.create_connection(server.address, timeout=DEADLINE),
                                     server_hostname="localhost")
    wrong.buf = b""
    irc_clients.append(wrong)
    wrong.send("PASS nope", "NICK a", "USER a 0 * :A")
    wrong.expect(" 464 ")
    wrong.expect("ERROR :Closing link")
    right = Irc.__new__(Irc)
    right.sock = context.wrap_socket(socket.create_connection(server.address, timeout=DEADLINE),
                                     server_hostname="localhost")
    right.buf = b""
    irc_clients.append(right)
    right.send("PASS pw", "NICK b", "USER b 0 * :B")
    right.expect(" 001 b ")


def test_history_reaches_irc_users_on_join(start_server, irc_clients) -> None:
    server = start_server("--replay", "3")
    jay = RawClient(server.address)
    irc_clients.append(jay)
    jay.join("jay", version=2)
    jay.send(type="join_room", room="#dev")
    jay.expect("room_joined")
    for i in range(5):
        jay.send(type="chat", room="#dev", message=f"old{i}")
    jay.send(type="ping", id=1)
    jay.expect("pong")
    plain = Irc(server, "plain")
    irc_clients.append(plain)
    plain.send("JOIN #dev")
    plain.expect(" 366 plain #dev ")
    line = plain.expect("PRIVMSG #dev :[")  # no server-time: the time goes in the text
    assert line.endswith("] old2") and not line.startswith("@")
    timed = Irc(server, "timed", caps="server-time")
    irc_clients.append(timed)
    timed.send("JOIN #dev")
    assert timed.expect("PRIVMSG #dev :old2").startswith("@time=")


def test_kick_and_flood_control_apply_to_irc(start_server, irc_clients) -> None:
    server = start_server("--rate-limit", "2", "--burst", "2")
    flood = Irc(server, "flood")
    irc_clients.append(flood)
    flood.expect(" 001 flood ")
    flood.send("JOIN #lobby")
    flood.expect(" 366 flood #lobby ")
    flood.send(*["PRIVMSG #lobby :spam"] * 6)
    assert "slow down" in flood.expect("NOTICE flood :slow down")


def test_the_hubs_words_are_said_each_wires_way() -> None:
    """One refusal from the hub, phrased by each codec in its own syntax."""
    from selchat.errors import JOIN_FIRST, LOG_IN_TO_IT, ErrorCode, ProtocolError
    from selchat.wire.jsonl import JsonCodec

    not_joined = ProtocolError(ErrorCode.NOT_JOINED, JOIN_FIRST)
    assert IrcCodec(512).error(not_joined) == b":selchat 451 * :You have not registered\r\n"
    assert b'send {\\"type\\":\\"join\\"' in JsonCodec(512).error(not_joined)
    registered = ProtocolError(ErrorCode.NAME_REGISTERED, f"bob is a registered account; {LOG_IN_TO_IT}, or not")
    assert b"log in to it with SASL" in IrcCodec(512).error(registered)
    assert b'join with \\"login\\":PASSWORD' in JsonCodec(512).error(registered)
