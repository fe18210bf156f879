"""Real IRC clients against a real server, each chatting with a `selchat join` user in a real
terminal: irssi driven in tmux, WeeChat headless. Both are Debian packages that .ci/run installs;
a test skips, saying so, only where its client cannot be had."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.clients import RawClient, finished, port_args
from tests.helpers import DEADLINE, ServerProcess, wait_for


def selchat_user(spawn, server: ServerProcess, name: str):
    child = spawn(*port_args(server), "--name", name, "--no-color")
    child.expect(rf"\[#lobby\] {name}>")
    return child


class Tmux:
    """A program in a detached tmux session on a private socket (no interference with others)."""

    def __init__(self, tmp: Path, name: str, command: str) -> None:
        self.socket = str(tmp / f"tmux-{name}")
        self.name = name
        subprocess.run(["tmux", "-S", self.socket, "new-session", "-d", "-s", name, "-x", "160", "-y", "50",
                        command], check=True, timeout=DEADLINE)

    def type(self, text: str) -> None:
        subprocess.run(["tmux", "-S", self.socket, "send-keys", "-t", self.name, "-l", text], check=True,
                       timeout=DEADLINE)
        subprocess.run(["tmux", "-S", self.socket, "send-keys", "-t", self.name, "Enter"], check=True,
                       timeout=DEADLINE)

    def screen(self) -> str:
        return subprocess.run(["tmux", "-S", self.socket, "capture-pane", "-p", "-S", "-200", "-t", self.name],
                              capture_output=True, text=True, timeout=DEADLINE).stdout

    def wait(self, text: str, timeout: float = DEADLINE) -> None:
        wait_for(lambda: text in self.screen(), timeout, f"{text!r} on {self.name}'s screen")

    def kill(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True, timeout=DEADLINE)


@pytest.mark.skipif(shutil.which("irssi") is None or shutil.which("tmux") is None,
                    reason="irssi and tmux (Debian packages) are not installed")
def test_irssi(spawn, server: ServerProcess, tmp_path: Path) -> None:
    alice = selchat_user(spawn, server, "alice")
    home = tmp_path / "irssi"
    home.mkdir()
    irssi = Tmux(tmp_path, "irssi",
                 f"TERM=xterm irssi --home={home} -n ircbob -c 127.0.0.1 -p {server.port}")
    try:
        irssi.wait("Welcome to selchat")  # IRC users start in no channel, as on any IRC server
        irssi.type("/join #lobby")
        alice.expect("ircbob joined #lobby")
        irssi.wait("alice")  # the names of #lobby, shown on joining
        irssi.type("hello from irssi")
        alice.expect(r"\[\d\d:\d\d\] ircbob: hello from irssi")
        alice.sendline("hi irssi")
        irssi.wait("hi irssi")
        irssi.type("/me waves")
        alice.expect(r"\* ircbob waves")
        irssi.type("/quit gone fishing")
        alice.expect(r"ircbob left the chat \(Quit: gone fishing\)")
    finally:
        irssi.kill()
    alice.sendline("/quit")
    assert finished(alice) == 0


@pytest.mark.skipif(shutil.which("weechat-headless") is None, reason="weechat-headless (Debian) is not installed")
def test_weechat(spawn, server: ServerProcess, tmp_path: Path) -> None:
    alice = selchat_user(spawn, server, "alice")
    home = tmp_path / "weechat"
    commands = ";".join([
        "/set irc.server_default.nicks wee",
        "/set irc.server_default.autojoin_dynamic off",
        f"/server add t 127.0.0.1/{server.port} -notls -autojoin=#lobby",
        "/connect t",
        "/wait 3 /msg -server t #lobby hello from weechat",
        "/wait 6 /quit",
    ])
    weechat = subprocess.Popen(["weechat-headless", "--dir", str(home), "--run-command", commands],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        alice.expect("wee joined #lobby")
        alice.expect(r"\[\d\d:\d\d\] wee: hello from weechat")
        alice.sendline("hi weechat")
        log = home / "logs" / "irc.t.#lobby.weechatlog"
        wait_for(lambda: log.exists() and "hi weechat" in log.read_text(errors="replace"),
                 what="alice's line in WeeChat's log of #lobby")
        alice.expect("wee left the chat")
        assert weechat.wait(DEADLINE) == 0
    finally:
        if weechat.poll() is None:
            weechat.kill()
            weechat.wait()
    time.sleep(0)  # nothing to wait for: the client has exited
    alice.sendline("/quit")
    assert finished(alice) == 0


@pytest.mark.skipif(shutil.which("irssi") is None or shutil.which("tmux") is None,
                    reason="irssi and tmux (Debian packages) are not installed")
def test_irssi_operator_kicks_and_bans_a_json_user(server: ServerProcess, tmp_path: Path) -> None:
    home = tmp_path / "irssi"
    home.mkdir()
    irssi = Tmux(tmp_path, "irssiop", f"TERM=xterm irssi --home={home} -n chanop -c 127.0.0.1 -p {server.port}")
    target: RawClient | None = None
    try:
        irssi.wait("Welcome to selchat")
        irssi.type("/join #ops")
        irssi.wait("Total of 1 nicks")  # the first one in: its operator
        target = RawClient(server.address)  # silent for a second, it would be taken for a person at nc
        target.join("jsonuser", version=2)
        target.send(type="join_room", room="#ops")
        target.expect("room_joined")
        irssi.wait("jsonuser")
        irssi.type("/kick jsonuser stop that")
        assert target.expect("kicked")["reason"] == "stop that"
        target.send(type="join_room", room="#ops")
        target.expect("room_joined")
        irssi.type("/ban jsonuser!*@*")
        assert target.expect("ban")["mask"] == "jsonuser!*@*"
        irssi.type("/kick jsonuser banned")
        target.expect("kicked")
        target.send(type="join_room", room="#ops")
        assert "banned" in target.error("banned_from_room")["message"]
        irssi.wait("jsonuser!*@*")  # irssi shows the mode change
    finally:
        if target is not None:
            target.close()
        irssi.kill()


@pytest.mark.skipif(shutil.which("weechat-headless") is None, reason="weechat-headless (Debian) is not installed")
def test_a_json_operator_moderates_and_weechat_speaks_once_voiced(server: ServerProcess, tmp_path: Path) -> None:
    op = RawClient(server.address)
    op.join("jsonop", version=2)
    op.send(type="join_room", room="#quiet")
    op.expect("room_joined")
    op.send(type="room_mode", room="#quiet", moderated=True)
    op.expect("room_mode")
    home = tmp_path / "weechat"
    commands = ";".join([
        "/set logger.file.flush_delay 0",  # each line in the log as it comes: the test reads it meanwhile
        "/set irc.server_default.nicks wee",
        "/set irc.server_default.autojoin_dynamic off",
        f"/server add t 127.0.0.1/{server.port} -notls -autojoin=#quiet",
        "/connect t",
        "/wait 3 /msg -server t #quiet before the voice",
        "/wait 8 /msg -server t #quiet after the voice",
        "/wait 10 /quit",
    ])
    weechat = subprocess.Popen(["weechat-headless", "--dir", str(home), "--run-command", commands],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        op.expect("user_joined", username="wee")
        logs = home / "logs"  # the refusal (404) lands in the channel's buffer or the server's

        def refused() -> bool:
            return any("moderated" in log.read_text(errors="replace") for log in logs.glob("*.weechatlog"))
        wait_for(refused, what="the refusal (404, moderated) in WeeChat's logs")
        op.send(type="role", room="#quiet", username="wee", role="voice")
        op.expect("role", username="wee")
        said = op.expect("chat", username="wee")
        assert said["message"] == "after the voice"  # the first line never reached the room
        assert weechat.wait(DEADLINE) == 0
    finally:
        op.close()
        if weechat.poll() is None:
            weechat.kill()
            weechat.wait()
