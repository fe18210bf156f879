"""`selchat join` in a real pseudo-terminal, against a real server, driven with pexpect.

What the server and other clients receive is asserted through raw sockets, not only the screen.
"""

from __future__ import annotations

import signal
import socket

from tests.clients import RawClient, finished, joined_child, port_args
from tests.helpers import ServerProcess


def test_two_clients_chat_both_ways(spawn, server: ServerProcess) -> None:
    alice = joined_child(spawn, server, "alice")
    bob = joined_child(spawn, server, "bob")
    alice.expect("bob joined #lobby")
    alice.sendline("hi bob")
    bob.expect(r"\[\d\d:\d\d\] alice: hi bob")
    alice.expect(r"\[\d\d:\d\d\] alice: hi bob")  # the sender's own line, shown locally
    bob.sendline("hello alice")
    alice.expect(r"\[\d\d:\d\d\] bob: hello alice")
    bob.sendline("/quit")
    assert finished(bob) == 0
    alice.expect("bob left the chat")
    alice.sendline("/exit")
    assert finished(alice) == 0


def test_taken_name_is_asked_again(spawn, server: ServerProcess, connect) -> None:
    taken = connect()
    taken.join("alice")
    child = spawn(*port_args(server), "--no-color")
    child.expect("Your name:")
    child.sendline("ALICE")
    child.expect("ALICE is taken; choose another name")
    child.expect("Your name:")
    child.sendline("bad name!")
    child.expect("usernames are 1-32")
    child.expect("Your name:")
    child.sendline("alice2")
    child.expect("Welcome to selchat, alice2!")
    child.expect("online: alice")
    taken.expect("user_joined", username="alice2")


def test_commands(spawn, server: ServerProcess, connect) -> None:
    watcher = connect()
    watcher.join("watcher")
    child = joined_child(spawn, server, "bob")
    watcher.expect("user_joined", username="bob")
    child.sendline("/users")
    child.expect(r"online in #lobby \(2\): bob, watcher")
    child.sendline("/msg watcher psst")
    assert watcher.expect("dm")["message"] == "psst"
    child.expect(r"\[dm to watcher\] psst")
    child.sendline("@watcher at-style")
    assert watcher.expect("dm")["message"] == "at-style"
    watcher.send(type="dm", to="bob", message="back at you")
    child.expect(r"\[dm from watcher\] back at you")
    child.sendline("/ping")
    child.expect(r"pong from 127\.0\.0\.1:\d+: \d+\.\d ms")
    child.sendline("/help")
    child.expect("/msg NAME TEXT")
    child.expect("/quit")
    child.sendline("/frobnicate now")
    child.expect("unknown command /frobnicate; type /help for the list")
    child.sendline("/msg watcher")
    child.expect("usage: /msg NAME TEXT")
    child.sendline("//slash at the start")
    assert watcher.expect("chat")["message"] == "/slash at the start"
    child.sendline("/ping")
    child.expect("pong from")
    # nothing of the unknown command or the usage error reached the room
    watcher.send(type="ping", id="end")
    frames = []
    while (frame := watcher.recv())["type"] != "pong":
        frames.append(frame)
    assert frames == []


def test_quit_ctrl_c_and_ctrl_d(spawn, server: ServerProcess, connect) -> None:
    watcher = connect()
    watcher.join("watcher")
    for name, leave in (("q", lambda c: c.sendline("/q")), ("intr", lambda c: c.sendintr()),
                        ("eof", lambda c: c.sendeof())):
        child = joined_child(spawn, server, name)
        watcher.expect("user_joined", username=name)
        leave(child)
        child.expect("bye")
        assert finished(child) == 0
        left = watcher.expect("user_left", username=name)
        assert "reason" not in left  # a clean quit, not a lost connection


def test_a_restart_is_reconnected_after_and_a_shutdown_for_good_ends(spawn, start_server, tmp_path) -> None:
    db = str(tmp_path / "restart.db")
    server = start_server("--db", db)
    child = joined_child(spawn, server, "bob")
    watcher = RawClient(server.address)
    watcher.join("watcher", version=2)
    watcher.send(type="chat", message="before the restart")
    child.expect("watcher: before the restart")
    server.proc.send_signal(signal.SIGTERM)  # what systemctl stop or restart sends
    child.expect("Server restarting; reconnect in a moment")
    child.expect("reconnecting in 1 s")
    watcher.close()
    again = start_server("--db", db, "--port", str(server.port))
    other = RawClient(again.address)
    try:
        other.join("other", version=2)
        other.expect("user_joined", username="bob")  # back by itself, under its name
        child.sendline("after it")
        assert other.expect("chat")["message"] == "after it"
    finally:
        other.close()
    child.sendline("/quit")
    assert finished(child) == 0


def test_lost_connection_retries_and_quitting_then_exits_1(spawn, start_server) -> None:
    server = start_server()
    child = joined_child(spawn, server, "bob")
    server.proc.kill()
    child.expect("connection to 127.0.0.1:\\d+ lost; reconnecting in 1 s \\(Ctrl-D quits\\)")
    child.sendline("anyone?")
    child.expect("not connected; reconnecting")
    child.expect("reconnecting in 2 s")  # back-off: the server is still gone
    child.expect(r"bob>")  # the prompt is back under the notice: Ctrl-D goes to it, not into a redraw
    child.sendeof()
    child.expect("bye")
    assert finished(child) == 1


def test_connection_refused(spawn) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    child = spawn("--port", str(port), "--name", "bob")
    child.expect(f"selchat: cannot connect to 127.0.0.1:{port}: connection refused; is selchat serve running there\\?")
    assert finished(child) == 1


def test_half_typed_line_survives_incoming_messages(spawn, server: ServerProcess, connect) -> None:
    other = connect()
    other.join("other")
    child = joined_child(spawn, server, "bob")
    other.expect("user_joined", username="bob")
    child.send("half of a lo")
    child.expect("half of a lo")
    for i in range(3):
        other.send(type="chat", message=f"interruption {i}")
        child.expect(f"other: interruption {i}")
        child.expect("bob>")  # the prompt is redrawn below the message ...
        child.expect("half of a lo")  # ... with the half-typed text on it
    child.send("ng line\r")
    assert other.expect("chat")["message"] == "half of a long line"
    child.expect("bob: half of a long line")


def test_terminal_escapes_from_others_are_neutralised(spawn, server: ServerProcess, connect) -> None:
    evil = connect()
    evil.join("evil")
    child = joined_child(spawn, server, "bob")
    evil.expect("user_joined", username="bob")
    evil.send(type="chat", message="\x1b]0;pwned\x07\x1b[2Jgone\rover\u202etxt")
    # a lone CR became a line break at the server (issue 21, item 4): the message's next line,
    # indented under it, never a return to the start of the line that could overwrite it
    child.expect_exact("evil: ^[]0;pwned^G^[[2Jgone")
    child.expect(r"\r*\n    over<U\+202E>txt")


def test_long_line_refused_locally(spawn, start_server, connect) -> None:
    server = start_server("--max-message", "10")
    child = joined_child(spawn, server, "bob")
    watcher = RawClient(server.address)
    try:
        watcher.join("watcher")
        child.expect("watcher joined")
        child.sendline("x" * 11)
        child.expect("not sent: that line is 11 characters; the server's limit is 10")
        child.sendline("x" * 10)
        assert watcher.expect("chat")["message"] == "x" * 10
    finally:
        watcher.close()


def test_colours_and_no_color(spawn, server: ServerProcess, connect) -> None:
    watcher = connect()
    watcher.join("watcher")
    coloured = spawn(*port_args(server), "--name", "c1")
    coloured.expect("type /help")
    watcher.send(type="chat", message="paint me")
    coloured.expect("\x1b\\[[0-9;]+mwatcher\x1b\\[0m: paint me")  # an SGR colour around the name
    plain = spawn(*port_args(server), "--name", "c2", env={"NO_COLOR": "1"})
    plain.expect("type /help")
    watcher.send(type="chat", message="plain please")
    plain.expect("\\] watcher: plain please")


def test_tab_completion(spawn, server: ServerProcess, connect) -> None:
    other = connect()
    other.join("alice")
    child = joined_child(spawn, server, "bob")
    child.send("/us\t")
    child.expect("/users")
    child.send("\r")
    child.expect(r"online in #lobby \(2\)")
    child.send("@al\t")
    child.expect("@alice")
    child.send(" tabbed\r")
    assert other.expect("dm")["message"] == "tabbed"


def test_history_with_the_up_arrow(spawn, server: ServerProcess, connect) -> None:
    other = connect()
    other.join("alice")
    child = joined_child(spawn, server, "bob")
    child.sendline("first line")
    assert other.expect("chat")["message"] == "first line"
    child.send("\x1b[A")  # up arrow
    child.expect("first line")
    child.send("\r")
    assert other.expect("chat")["message"] == "first line"
