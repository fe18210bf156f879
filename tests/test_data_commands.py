"""Running selchat for a team (issue 27), its first part: `selchat backup`, `restore` and `check`
against a running server, `--pid-file`, and one version number everywhere."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest

import selchat
from tests.clients import Irc, RawClient
from tests.helpers import DEADLINE, ServerProcess, selchat_cmd, wait_for


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(selchat_cmd(*args), capture_output=True, text=True, timeout=DEADLINE * 3,
                          stdin=subprocess.DEVNULL)


def _history(server: ServerProcess) -> list[str]:
    client = RawClient(server.address)
    try:
        client.join("reader", version=2)
        client.send(type="history", room="#lobby", limit=200)
        kept: list[str] = []
        while (frame := client.recv())["type"] != "history_end":
            kept += [frame["message"]] if frame.get("history") else []
        return kept
    finally:
        client.close()


def test_a_backup_taken_during_a_burst_restores_into_a_server_with_the_same_history(
        start_server, tmp_path: Path) -> None:
    db = str(tmp_path / "live.db")
    server = start_server("--db", db, "--rate-limit", "0", "--history-max", "100000")
    talker = RawClient(server.address)
    talker.join("talker", version=2)
    sent = [f"line {i:04d}" for i in range(1500)]
    done = threading.Event()

    def burst() -> None:
        for text in sent:
            talker.send(type="chat", room="#lobby", message=text)
        done.set()

    thread = threading.Thread(target=burst)
    thread.start()
    during = _run("backup", str(tmp_path / "during.db"), "--db", db)  # while the lines pour in
    thread.join(DEADLINE)
    assert done.is_set() and during.returncode == 0, during.stderr
    assert during.stdout.startswith(f"backed up {db} to ") and "messages in" in during.stdout
    # consistent: what the copy holds is the burst's beginning, in order, with nothing missing
    copy = sqlite3.connect(tmp_path / "during.db")
    held = [row[0] for row in copy.execute("SELECT message FROM messages ORDER BY ts")]
    copy.close()
    assert held == sent[:len(held)]
    talker.send(type="ping", id="all in")
    talker.expect("pong")
    wait_for(lambda: _history(server)[-1:] == [sent[-1]], what="the burst to be stored")
    assert _run("backup", str(tmp_path / "after.db"), "--db", db).returncode == 0
    again = _run("backup", str(tmp_path / "after.db"), "--db", db)
    assert again.returncode == 1 and again.stderr.strip() == \
        f"selchat: {tmp_path / 'after.db'} exists; choose another name or add --force"
    talker.close()
    seen_before = _history(server)
    server.stop()
    new_db = str(tmp_path / "new-machine.db")
    refused = _run("restore", str(tmp_path / "after.db"), "--db", new_db)
    assert refused.returncode == 2 and refused.stderr.strip() == "selchat: no terminal to confirm on: add --yes"
    restored = _run("restore", str(tmp_path / "after.db"), "--db", new_db, "--yes")
    assert restored.returncode == 0 and restored.stdout.startswith(f"restored {new_db} from ")
    assert "1500 messages" in restored.stdout
    moved = start_server("--db", new_db)
    assert _history(moved) == seen_before and seen_before[-1] == sent[-1]  # the same history, restored


def test_check_says_what_a_file_holds_and_refuses_a_damaged_or_newer_one(server, tmp_path: Path) -> None:
    db = tmp_path / "checked.db"
    started = ServerProcess("--db", str(db))
    try:
        client = RawClient(started.address)
        client.join("someone", version=2)
        client.send(type="chat", room="#lobby", message="kept")
        client.send(type="ping", id="x")
        client.expect("pong")
        client.close()
        wait_for(lambda: "1 messages" in _run("check", "--db", str(db)).stdout, what="the line to be stored")
        ok = _run("check", "--db", str(db))  # while the server runs
        assert ok.returncode == 0 and ok.stdout.startswith(f"{db}: ok, ") and "schema " in ok.stdout
    finally:
        started.stop()
    newer = tmp_path / "newer.db"
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    result = _run("check", "--db", str(newer))
    assert result.returncode == 1 and "schema version 999, newer than this selchat knows" in result.stderr
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(db.read_bytes()[:100] + b"\xff" * 5000)
    result = _run("check", "--db", str(damaged))
    assert result.returncode in (1, 2) and result.stderr.startswith("selchat: ") and "Traceback" not in result.stderr
    missing = _run("check", "--db", str(tmp_path / "none.db"))
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"selchat: {tmp_path / 'none.db'}: no such database file"


def test_the_pid_file_names_this_server_and_only_while_it_runs(start_server, tmp_path: Path) -> None:
    pid_file = tmp_path / "selchat.pid"
    server = start_server("--pid-file", str(pid_file))
    wait_for(pid_file.exists, what="the pid file")
    assert int(pid_file.read_text()) == server.proc.pid
    os.kill(int(pid_file.read_text()), signal.SIGHUP)  # what the README's reload says
    server.wait_log("received SIGHUP")
    second = subprocess.run(selchat_cmd("serve", "--port", "0", "--pid-file", str(pid_file)), capture_output=True,
                            text=True, timeout=DEADLINE, stdin=subprocess.DEVNULL)
    assert second.returncode == 2
    assert second.stderr.strip() == f"selchat: {pid_file} names process {server.proc.pid}, which is running; " \
                                    "is another server using it?"
    assert server.stop() == 0
    assert not pid_file.exists()


@pytest.mark.parametrize("flag", ["--version"])
def test_one_version_everywhere(server, sockets: list, flag: str) -> None:
    from importlib.metadata import version

    shown = _run(flag).stdout.strip()
    assert shown == f"selchat, version {selchat.__version__}" and version("selchat") == selchat.__version__
    irc = Irc(server, "asker")
    sockets.append(irc)
    assert irc.expect(" 004 ").split(" ")[4] == f"selchat-{selchat.__version__}"
    assert Path(__file__).resolve().parents[1].joinpath("LICENSE").read_text().startswith("MIT License")
