"""The server's own verbs (issue 23), over real sockets: a server operator KILLs from IRC and from
JSON and sends WALLOPS, sees addresses in WHOIS; anyone else is refused (481, no_privileges);
WHOWAS remembers names given up; TIME, INFO and HELP answer in IRC's numerics."""

from __future__ import annotations

import json

from tests.clients import Irc, RawClient
from tests.helpers import ServerProcess


def _account(server: ServerProcess, sockets: list, name: str, password: str) -> None:
    client = RawClient(server.address)
    sockets.append(client)
    client.join(name, version=2)
    client.send(type="register", password=password)
    client.expect("registered")
    client.close()


def _irc(server: ServerProcess, sockets: list, name: str) -> Irc:
    client = Irc(server, name)
    sockets.append(client)
    client.expect(" 001 ")
    return client


def test_kill_and_wallops_are_for_server_operators(start_server, sockets: list) -> None:
    server = start_server("--operators", "boss")
    _account(server, sockets, "boss", "the boss's password")
    ircop = _irc(server, sockets, "ircop")
    alice = _irc(server, sockets, "alice")
    bob = RawClient(server.address)
    sockets.append(bob)
    bob.join("bob", version=2)
    alice.send("KILL bob :not yours to do", "WALLOPS :hello")
    assert " 481 alice " in alice.expect(" 481 ")
    assert " 481 alice " in alice.expect(" 481 ")
    bob.send(type="kill", username="alice")
    assert "server operators" in bob.error("no_privileges")["message"]
    ircop.send("OPER boss :the boss's password", "WHOIS alice")
    ircop.expect(" 381 ")
    assert " 338 ircop alice 127.0.0.1 " in ircop.expect(" 338 ")  # the address, to an operator only
    alice.send("WHOIS ircop")
    seen: list[str] = []
    alice.expect(" 318 ", seen)
    assert not any(" 338 " in line for line in seen)
    ircop.send("WALLOPS :maintenance at noon")
    assert ircop.expect("WALLOPS").endswith("WALLOPS :maintenance at noon")
    ircop.send("KILL bob :spamming")
    frames = bob.wait_closed()
    assert any(f.get("code") == "kicked" and "killed by ircop: spamming" in f["message"] for f in frames)
    ircop.send("WHOWAS bob", "WHOWAS nobody")
    assert ircop.expect(" 314 ").split(" ")[2:4] == ["ircop", "bob"]
    ircop.expect(" 369 ircop bob ")
    ircop.expect(" 406 ircop nobody ")
    ircop.expect(" 369 ircop nobody ")


def test_time_info_and_help(server: ServerProcess, sockets: list) -> None:
    irc = _irc(server, sockets, "asker")
    irc.send("TIME", "INFO", "HELP PRIVMSG", "HELP NOTACOMMAND")
    assert irc.expect(" 391 ").split(" ")[2:4] == ["asker", "selchat"]
    assert "selchat" in irc.expect(" 371 ")
    irc.expect(" 374 ")
    assert irc.expect(" 704 ").split(" ")[2:4] == ["asker", "PRIVMSG"]
    irc.expect(" 706 asker PRIVMSG ")
    irc.expect(" 524 asker NOTACOMMAND ")


def test_what_comes_behind_a_login_waits_for_it_then_all_of_it_is_answered(server: ServerProcess,
                                                                            sockets: list) -> None:
    _account(server, sockets, "waiter", "the waiter's password")
    client = RawClient(server.address)
    sockets.append(client)
    lines = [{"type": "join", "username": "waiter", "version": 2, "login": "the waiter's password"},
             *({"type": "ping", "id": n} for n in range(300))]
    client.send_raw(b"".join(json.dumps(line).encode() + b"\n" for line in lines))  # one write: read while argon2 runs
    assert client.recv()["type"] == "welcome"  # the pings waited for the verdict
    pongs = [client.expect("pong")["id"] for _ in range(300)]
    assert pongs == list(range(300))  # and then every one was answered, in order
