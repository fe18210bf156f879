"""`selchat join` from a pipe: lines in, plain lines (or JSON) out, a clean exit at end of input."""

from __future__ import annotations

import json
import socket
import subprocess

from tests.clients import RawClient
from tests.helpers import DEADLINE, ServerProcess, selchat_cmd


def join_piped(server_port: int, text: str, *args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        selchat_cmd("join", "--port", str(server_port), *args),
        input=text,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": ""},
    )


def test_echo_into_join(server: ServerProcess, connect) -> None:
    watcher = connect()
    watcher.join("watcher")
    result = join_piped(server.port, "build done\n", "--name", "ci")
    assert result.returncode == 0, result.stderr
    chat = watcher.expect("chat")
    assert (chat["username"], chat["message"]) == ("ci", "build done")
    assert "Welcome to selchat, ci!" in result.stdout
    assert "\x1b" not in result.stdout  # no colours, no prompt
    left = watcher.expect("user_left", username="ci")
    assert "reason" not in left  # it quit at end of input


def test_commands_work_and_arrivals_are_printed(server: ServerProcess, connect) -> None:
    watcher = connect()
    watcher.join("watcher")
    result = join_piped(server.port, "/users\n/msg watcher private\n@nobody x\n/bogus\n", "--name", "bot")
    assert result.returncode == 0, result.stderr
    assert "online in #lobby (2): bot, watcher" in result.stdout
    assert "[dm to watcher] private" in result.stdout
    assert "no user named 'nobody' is online" in result.stdout
    assert "unknown command /bogus" in result.stdout
    assert watcher.expect("dm")["message"] == "private"


def test_a_line_after_join_goes_to_that_room(server: ServerProcess, connect) -> None:
    watcher = connect()
    watcher.join("watcher", version=2)
    watcher.send(type="join_room", room="#dev")
    watcher.expect("room_joined")
    result = join_piped(server.port, "/join #dev\nin dev\n/join #nope!\nstill in dev\n", "--name", "bot")
    assert result.returncode == 0, result.stderr
    said = [watcher.expect("chat") for _ in range(2)]
    assert [(c["room"], c["message"]) for c in said] == [("#dev", "in dev"), ("#dev", "still in dev")]
    assert "room names are #" in result.stdout  # the bad join's error, and the next line went on


def test_json_output(server: ServerProcess, connect) -> None:
    watcher = connect()
    watcher.join("watcher")
    result = join_piped(server.port, "/users\nhello\n", "--name", "bot", "--json")
    assert result.returncode == 0, result.stderr
    frames = [json.loads(line) for line in result.stdout.splitlines()]
    assert [f["type"] for f in frames] == ["welcome", "history_end", "users"]
    assert frames[2]["users"] == ["bot", "watcher"]
    assert watcher.expect("chat")["message"] == "hello"


def test_many_lines_are_paced_under_the_rate_limit(start_server) -> None:
    server = start_server("--rate-limit", "20", "--burst", "5")
    watcher = RawClient(server.address)
    try:
        watcher.join("watcher")
        lines = "".join(f"line {i}\n" for i in range(30))
        result = join_piped(server.port, lines, "--name", "bulk")
        assert result.returncode == 0, result.stderr
        assert "rate_limited" not in result.stdout
        assert [watcher.expect("chat")["message"] for _ in range(30)] == [f"line {i}" for i in range(30)]
    finally:
        watcher.close()


def test_taken_name_without_a_terminal_exits_1(server: ServerProcess, connect) -> None:
    connect().join("ci")
    result = join_piped(server.port, "x\n", "--name", "CI")
    assert result.returncode == 1
    assert result.stderr.strip() == "selchat: cannot join as CI: CI is taken; choose another name"


def test_name_is_required_without_a_terminal(server: ServerProcess) -> None:
    result = join_piped(server.port, "x\n")
    assert result.returncode == 1 and "--name" in result.stderr


def test_server_shutdown_exits_0(start_server) -> None:
    server = start_server()
    proc = subprocess.Popen(
        selchat_cmd("join", "--port", str(server.port), "--name", "listener"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert "Welcome" in proc.stdout.readline()
        server.stop()
        out, err = proc.communicate(timeout=DEADLINE)
        assert proc.returncode == 0, err
        assert "Server restarting" in out  # piped input ends with the restart, and says why
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_not_a_selchat_server() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        proc = subprocess.Popen(
            selchat_cmd("join", "--port", str(port), "--name", "x"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            listener.settimeout(DEADLINE)
            conn, _ = listener.accept()
            with conn:
                conn.recv(1024)
                conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
            _, err = proc.communicate(timeout=DEADLINE)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 1
    assert f"127.0.0.1:{port} does not speak the selchat protocol" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_password_from_environment_and_file(start_server, tmp_path) -> None:
    server = start_server(env={"SELCHAT_PASSWORD": "s3cret"})
    watcher = RawClient(server.address)
    try:
        watcher.join("watcher", password="s3cret")
        ok = subprocess.run(
            selchat_cmd("join", "--port", str(server.port), "--name", "envpw"), input="with the env\n",
            capture_output=True, text=True, timeout=DEADLINE,
            env={"PATH": "/usr/bin:/bin", "SELCHAT_PASSWORD": "s3cret"},
        )
        assert ok.returncode == 0, ok.stderr
        assert watcher.expect("chat")["message"] == "with the env"
        secret = tmp_path / "pw"
        secret.write_text("s3cret\n")
        result = join_piped(server.port, "with the file\n", "--name", "filepw", "--password-file", str(secret))
        assert result.returncode == 0, result.stderr
        assert watcher.expect("chat")["message"] == "with the file"
        secret.write_text("wrong\n")
        result = join_piped(server.port, "x\n", "--name", "nope", "--password-file", str(secret))
        assert result.returncode == 1
        assert result.stderr.strip() == (
            "selchat: wrong or missing password: set SELCHAT_PASSWORD or use --password-file"
        )
    finally:
        watcher.close()
