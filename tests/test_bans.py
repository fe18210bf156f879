"""Bans that last: names and ADDRESS/PREFIX networks, with durations, in the database, in every
protocol, and from the configuration file (re-read on SIGHUP)."""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from selchat.bans import BanError, BanList, describe, make_ban, parse_duration, parse_target
from tests.clients import Irc, RawClient
from tests.helpers import DEADLINE, ROOT, wait_for

# -- the list on its own ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("10m", 600), ("2h", 7200), ("7d", 604800),
                                               ("1w", 604800), ("1h30m", 5400), ("2D", 172800)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "m", "1y", "-3m", "1h 30m", "0s", "3mm"])
def test_not_durations(text: str) -> None:
    with pytest.raises(BanError, match="is not a duration"):
        parse_duration(text)


def test_targets() -> None:
    assert parse_target("Mallory") == ("mallory", "Mallory")
    assert parse_target("10.1.2.3") == ("10.1.2.3/32", "10.1.2.3/32")
    assert parse_target("10.1.2.3/8") == ("10.0.0.0/8", "10.0.0.0/8")  # the host bits are dropped
    assert parse_target("2001:db8::1/32") == ("2001:db8::/32", "2001:db8::/32")
    with pytest.raises(BanError, match="neither a name nor an address"):
        parse_target("10.0.0.0/33")
    with pytest.raises(BanError):
        parse_target("no spaces")


def test_prefixes_versions_and_mapped_addresses() -> None:
    bans = BanList([make_ban("10.0.0.0/8", 0.0), make_ban("2001:db8::/32", 0.0)])
    assert bans.address("10.200.1.1", 1.0) is not None
    assert bans.address("11.0.0.1", 1.0) is None
    assert bans.address("::ffff:10.9.9.9", 1.0) is not None  # an IPv4 client on a dual-stack socket
    assert bans.address("2001:db8:5::1", 1.0) is not None
    assert bans.address("2001:db9::1", 1.0) is None
    assert bans.address("not an address", 1.0) is None


def test_durations_end_and_are_swept() -> None:
    bans = BanList([make_ban("spammer", 100.0, "10m"), make_ban("troll", 100.0)])
    assert bans.name("SPAMMER", 100.0 + 599) is not None
    assert bans.name("spammer", 100.0 + 600) is None  # over, even before the sweep
    assert describe(bans.name("spammer", 160.0), 160.0) == "name spammer (9m left)"  # type: ignore[arg-type]
    assert [b.target for b in bans.expired(800.0)] == ["spammer"]
    assert [b.target for b in bans.active(800.0)] == ["troll"]
    assert bans.remove("Troll") is not None and bans.active(800.0) == []


def test_configuration_bans_are_replaced_and_the_operators_kept() -> None:
    bans = BanList([make_ban("kept", 0.0)])
    bans.replace_config([make_ban("a", 0.0, from_config=True), make_ban("10.0.0.0/8", 0.0, from_config=True)])
    bans.replace_config([make_ban("b", 0.0, from_config=True)])
    assert sorted(b.target for b in bans.active(1.0)) == ["b", "kept"]


# -- over sockets, from the console, across a restart ---------------------------------------------


def _spawn(db: Path) -> tuple[pexpect.spawn, tuple[str, int]]:
    # the log stays quiet: a console nobody reads between expects is a pipe that fills
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONUNBUFFERED": "1"}
    args = ["-m", "selchat", "serve", "--port", "0", "--host", "127.0.0.1", "--db", str(db), "--log-level", "WARNING"]
    child = pexpect.spawn(sys.executable, args, env=env, cwd=str(ROOT), encoding="utf-8", timeout=10)
    child.expect(r"selchat listening on 127\.0\.0\.1:(\d+)")
    port = int(child.match.group(1))
    child.expect("console: type to announce")
    return child, ("127.0.0.1", port)


@pytest.fixture
def consoles(tmp_path: Path) -> Iterator[list[pexpect.spawn]]:
    children: list[pexpect.spawn] = []
    yield children
    for child in children:
        if child.isalive():
            child.terminate(force=True)
        child.close()


def _refused_everywhere(address: tuple[str, int]) -> None:
    """A banned address is refused in the protocol its first bytes speak."""
    server = type("Address", (), {"address": address})()
    irc = Irc(server, "ircy")  # type: ignore[arg-type]
    try:
        assert irc.expect("ERROR") == "ERROR :Closing link: you are banned from this server"
    finally:
        irc.close()
    with socket.create_connection(address, timeout=DEADLINE) as web:
        web.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert web.recv(4096).startswith(b"HTTP/1.1 403 Forbidden\r\n")
    with socket.create_connection(address, timeout=DEADLINE) as text:
        text.sendall(b"hello\r\n")
        assert b"you are banned from this server" in text.recv(4096)
    json_client = RawClient(address)
    try:
        json_client.send(type="join", username="someone")
        assert json_client.wait_closed()[-1]["code"] == "banned"
    finally:
        json_client.close()


def test_address_ban_with_prefix_drops_everyone_there_and_lasts_across_a_restart(
        tmp_path: Path, consoles: list[pexpect.spawn]) -> None:
    db = tmp_path / "chat.db"
    child, address = _spawn(db)
    consoles.append(child)
    alice = RawClient(address)
    server = type("Address", (), {"address": address})()
    ircy = Irc(server, "ircy")  # type: ignore[arg-type]
    try:
        alice.join("alice")
        ircy.expect(" 001 ircy ")
        child.sendline("/ban 127.0.0.0/8 2h spam from the lab")
        child.expect(r"banned 127\.0\.0\.0/8 for 2h")
        assert alice.wait_closed()[-1]["code"] == "banned"  # those already there are dropped
        assert "ERROR :Closing link" in ircy.expect("ERROR")
        _refused_everywhere(address)
        child.sendline("/bans")
        child.expect(r"1 ban\s+address 127\.0\.0\.0/8 \((1h59m|2h) left, spam from the lab\)")
        child.sendline("/ban 300.1.1.1")
        child.expect("neither a name nor an address")
        child.sendline("/shutdown")
        child.expect(pexpect.EOF)
    finally:
        alice.close()
        ircy.close()
    child, address = _spawn(db)  # the same database: the ban is still there
    consoles.append(child)
    _refused_everywhere(address)
    child.sendline("/unban 127.0.0.0/8")
    child.expect(r"lifted the ban on 127\.0\.0\.0/8")
    back = RawClient(address)
    try:
        assert back.join("back")["type"] == "welcome"
    finally:
        back.close()
    child.sendline("/unban 127.0.0.0/8")
    child.expect("127.0.0.0/8 is not banned")


def test_a_name_ban_for_a_while_ends_by_itself_and_lasts_across_a_restart(
        tmp_path: Path, consoles: list[pexpect.spawn]) -> None:
    db = tmp_path / "chat.db"
    child, address = _spawn(db)
    consoles.append(child)
    child.sendline("/ban Mallory 1h")
    child.expect("banned the name Mallory for 1h")
    child.sendline("/ban shortly 2s")
    child.expect("banned the name shortly for 2s")
    for name in ("mallory", "shortly"):
        client = RawClient(address)
        try:
            client.send(type="join", username=name)
            assert client.wait_closed()[-1]["code"] == "banned"
        finally:
            client.close()
    server = type("Address", (), {"address": address})()
    irc = Irc(server, "MALLORY")  # type: ignore[arg-type]
    try:
        assert "banned" in irc.expect("ERROR")  # the name, in IRC too
    finally:
        irc.close()

    def shortly_joins() -> bool:
        client = RawClient(address)
        try:
            client.send(type="join", username="shortly")
            return client.recv()["type"] == "welcome"
        finally:
            client.close()

    wait_for(shortly_joins, what="the 2 s ban to end")
    child.sendline("/shutdown")
    child.expect(pexpect.EOF)
    child, address = _spawn(db)
    consoles.append(child)
    child.sendline("/bans")
    child.expect(r"1 ban\s+name Mallory \((59m\d*s?|1h) left\)")
    client = RawClient(address)
    try:
        client.send(type="join", username="mallory")
        assert client.wait_closed()[-1]["code"] == "banned"
    finally:
        client.close()


def test_configuration_bans_change_on_sighup(start_server, tmp_path: Path) -> None:
    file = tmp_path / "selchat.toml"
    file.write_text('ban = ["mallory"]\n')
    server = start_server("--config", str(file))
    refused = RawClient(server.address)
    try:
        refused.send(type="join", username="mallory")
        assert refused.wait_closed()[-1]["code"] == "banned"
    finally:
        refused.close()
    trent = RawClient(server.address)
    try:
        trent.join("trent")
        file.write_text('ban = ["trent"]\n')
        server.proc.send_signal(signal.SIGHUP)
        assert trent.wait_closed()[-1]["code"] == "banned"  # dropped as the new list takes effect
        server.wait_log("reloaded the configuration: bans ('mallory',) -> ('trent',)")
        now_welcome = RawClient(server.address)
        try:
            assert now_welcome.join("mallory")["type"] == "welcome"
        finally:
            now_welcome.close()
    finally:
        trent.close()


def test_a_bad_ban_in_the_configuration_is_one_line(tmp_path: Path) -> None:
    import subprocess

    from tests.helpers import selchat_cmd

    file = tmp_path / "bad.toml"
    file.write_text('ban = ["10.0.0.0/99"]\n')
    done = subprocess.run(selchat_cmd("serve", "--config", str(file)), capture_output=True, text=True,
                          timeout=DEADLINE, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "selchat: --ban: '10.0.0.0/99' is neither a name nor an address (10.1.2.3, 10.0.0.0/8, 2001:db8::/32)"]
