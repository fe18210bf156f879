"""Ring 3: the real `selchat serve` process over real sockets on an ephemeral port."""

from __future__ import annotations

import json
import select
import signal
import socket
import struct
import subprocess
import time

import pytest

from tests.clients import Irc, RawClient
from tests.helpers import DEADLINE, ServerProcess, chat_lines, selchat_cmd, wait_for


def joined(server: ServerProcess, *names: str) -> list[RawClient]:
    clients = []
    for name in names:
        client = RawClient(server.address)
        client.join(name)
        clients.append(client)
    # everyone has seen everyone join: later frames arrive in a known state
    for i, client in enumerate(clients):
        for other in names[i + 1 :]:
            client.expect("user_joined", username=other)
    return clients


def close_all(clients: list[RawClient]) -> None:
    for client in clients:
        client.close()


# -- every frame type ----------------------------------------------------------------------------


def test_full_conversation(server: ServerProcess) -> None:
    alice, bob, carol = clients = joined(server, "alice", "bob", "carol")
    try:
        bob.send(type="chat", message="hello room")
        for c in (alice, carol):
            frame = c.expect("chat")
            assert frame["username"] == "bob" and frame["message"] == "hello room"
            assert frame["room"] == "lobby" and isinstance(frame["timestamp"], float)
        alice.send(type="dm", to="carol", message="psst")
        got = carol.expect("dm")
        assert (got["from"], got["to"], got["message"]) == ("alice", "carol", "psst")
        assert alice.expect("dm") == got  # the sender's receipt
        alice.send(type="users")
        assert alice.expect("users") == {"type": "users", "room": "lobby", "users": ["alice", "bob", "carol"]}
        alice.send(type="ping", id={"n": 1})
        pong = alice.expect("pong")
        assert pong["id"] == {"n": 1}
        bob.send(type="quit")
        assert bob.wait_closed() == []
        left = alice.expect("user_left", username="bob")
        assert left["message"] == "bob left the chat" and "reason" not in left
        carol.expect("user_left", username="bob")
        # bob's chat reached nobody twice, and bob got no echo of his own line
    finally:
        close_all(clients)


def test_ipv6_loopback(start_server) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no ::1 on this machine")
    server = start_server("--host", "::1")
    assert server.host == "::1"
    c = RawClient(("::1", server.port))
    try:
        assert c.join("six")["users"] == ["six"]
        server.wait_log("join six ([::1]:")
    finally:
        c.close()


def test_ping_before_join_and_crlf(connect) -> None:
    c = connect()
    c.send_raw(b'{"type":"ping","id":1}\r\n')
    assert c.expect("pong")["id"] == 1


def test_sender_order_and_no_echo_under_batching(server: ServerProcess) -> None:
    """Many senders in one loop turn: each receives everyone else's frames, in order, never its own."""
    names = [f"u{i}" for i in range(8)]
    clients = joined(server, *names)
    try:
        for i, c in enumerate(clients):
            c.send_raw(chat_lines(f"{i}:", 15))
        for i, c in enumerate(clients):
            seen: dict[str, list[int]] = {}
            for _ in range(15 * (len(clients) - 1)):
                frame = c.expect("chat")
                sender, n = frame["message"].split(":")
                assert frame["username"] == f"u{sender}"
                seen.setdefault(sender, []).append(int(n))
            assert str(i) not in seen
            assert all(v == list(range(15)) for v in seen.values()), seen
    finally:
        close_all(clients)


def test_dm_after_chat_keeps_order(server: ServerProcess) -> None:
    alice, bob = clients = joined(server, "alice", "bob")
    try:
        alice.send_raw(
            b'{"type":"chat","message":"1"}\n{"type":"dm","to":"bob","message":"2"}\n'
            b'{"type":"chat","message":"3"}\n'
        )
        assert [bob.recv()["message"] for _ in range(3)] == ["1", "2", "3"]
    finally:
        close_all(clients)


# -- every error code ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"this is not json\n", "bad_frame"),
        (b"\xff\xfe\n", "bad_frame"),
        (b"[1,2,3]\n", "bad_frame"),
        (b'{"no":"type"}\n', "bad_frame"),
        (b'{"type":"chat","message":5}\n', "bad_frame"),
        (b'{"type":"fly"}\n', "unknown_type"),
        (b'{"type":"chat","message":"early"}\n', "not_joined"),
        (b'{"type":"users"}\n', "not_joined"),
        (b'{"type":"join","username":"bad name!"}\n', "invalid_username"),
    ],
)
def test_errors_keep_the_connection_usable(connect, data: bytes, code: str) -> None:
    c = connect()
    c.send(type="ping", id=0)  # a JSON first line: the connection speaks JSON (a non-JSON one is text mode)
    c.expect("pong")
    c.send_raw(data)
    error = c.error(code)
    assert error["message"]
    assert c.join("fine")["username"] == "fine"  # still usable


def test_errors_after_join(server: ServerProcess) -> None:
    alice, bob = clients = joined(server, "alice", "bob")
    try:
        alice.send(type="join", username="again")
        alice.error("already_joined")
        alice.send(type="dm", to="nobody", message="hi")
        alice.error("no_such_user")
        alice.send(type="chat", message="")
        alice.error("empty_message")
        alice.send(type="chat", message="x" * 2001)
        assert "2000" in alice.error("message_too_long")["message"]
        other = RawClient(server.address)
        clients.append(other)
        other.send(type="join", username="ALICE")
        other.error("username_taken")
        assert other.join("alice2")["users"] == ["alice", "alice2", "bob"]
        alice.send(type="chat", message="still here")
        assert bob.expect("chat")["message"] == "still here"
    finally:
        close_all(clients)


def test_frame_too_large_then_usable(start_server) -> None:
    server = start_server("--max-frame", "100")
    c = RawClient(server.address)
    try:
        c.send_raw(b'{"type":"chat","message":"' + b"x" * 5000)
        c.error("frame_too_large")
        c.send_raw(b"y" * 5000 + b'"}\n')  # the rest of the long line is discarded quietly
        assert c.join("small")["username"] == "small"
    finally:
        c.close()


def test_max_message_option(start_server) -> None:
    server = start_server("--max-message", "10")
    c = RawClient(server.address)
    try:
        assert c.join("a")["max_message"] == 10
        c.send(type="chat", message="x" * 11)
        c.error("message_too_long")
    finally:
        c.close()


def test_server_full(start_server) -> None:
    server = start_server("--max-clients", "2")
    a, b = clients = joined(server, "a", "b")
    try:
        extra = RawClient(server.address)
        clients.append(extra)
        frames = extra.wait_closed()
        assert [f["code"] for f in frames] == ["server_full"]
        a.close()  # a slot frees up
        b.expect("user_left", username="a")
        again = RawClient(server.address)
        clients.append(again)
        assert again.join("c")["users"] == ["b", "c"]
    finally:
        close_all(clients)


def test_handshake_timeout(start_server) -> None:
    server = start_server("--handshake-timeout", "0.3")
    c = RawClient(server.address)
    try:
        started = time.monotonic()
        frames = c.wait_closed()
        assert [f["code"] for f in frames] == ["handshake_timeout"]
        assert time.monotonic() - started >= 0.25
        ok = RawClient(server.address)
        ok.join("quick")  # joined in time: no timeout
        ok.send(type="ping", id=1)
        ok.expect("pong")
        ok.close()
    finally:
        c.close()


def test_idle_ping_then_drop(start_server) -> None:
    server = start_server("--ping-interval", "0.3")
    silent, lively = clients = joined(server, "silent", "lively")
    try:
        assert "id" in silent.expect("ping")
        # lively answers every ping and is still served after silent is dropped
        pings = 0
        while True:
            frame = lively.recv()
            if frame["type"] == "ping":
                pings += 1
                lively.send(type="pong", id=frame["id"])
            elif frame["type"] == "user_left":
                assert frame["username"] == "silent" and frame["reason"] == "idle timeout"
                break
        frames = silent.wait_closed()
        assert frames[-1]["code"] == "idle_timeout"
        assert pings >= 1
        for _ in range(2):  # two more ping rounds: answering keeps it alive
            lively.send(type="pong", id=lively.expect("ping")["id"])
        lively.send(type="users")
        assert lively.expect("users")["users"] == ["lively"]
    finally:
        close_all(clients)


def test_slow_consumer_is_dropped_and_others_get_everything(start_server) -> None:
    server = start_server("--max-output", "65536", "--rate-limit", "0")
    slow = socket.create_connection(server.address)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(b'{"type":"join","username":"slow"}\n')  # ... and never reads again
    sender, reader = clients = joined(server, "sender", "reader")
    try:
        message = "m" * 1900
        sent = 0
        got = 0
        left = None
        end = time.monotonic() + 30
        reader.sock.setblocking(False)
        while left is None or got < sent:
            assert time.monotonic() < end, f"sent {sent}, reader got {got}, left={left}"
            if left is None and sent < 20000:
                sender.send(type="chat", message=f"{sent}:{message}")
                sent += 1
            try:
                reader.buf += reader.sock.recv(1 << 20)
            except BlockingIOError:
                select.select([reader.sock], [], [], 0.01)
            while b"\n" in reader.buf:
                line, _, reader.buf = reader.buf.partition(b"\n")
                frame = json.loads(line)
                if frame["type"] == "chat":
                    assert frame["message"].startswith(f"{got}:")
                    got += 1
                elif frame["type"] == "user_left":
                    left = frame
        assert left["username"] == "slow" and left["reason"] == "slow consumer"
        assert got == sent
        server.wait_log("slow_consumer")
    finally:
        slow.close()
        close_all(clients)


def test_abrupt_disconnects(server: ServerProcess) -> None:
    watcher, gone = clients = joined(server, "watcher", "gone")
    try:
        # a reset (RST) mid-frame, not a polite close
        gone.send_raw(b'{"type":"chat","mess')
        gone.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        gone.sock.close()
        left = watcher.expect("user_left", username="gone")
        assert left["reason"] in ("connection lost", "connection closed by peer")
        half = RawClient(server.address)
        clients.append(half)
        # a client that writes and shuts down its side still gets its replies (nc -N)
        half.send_raw(b'{"type":"join","username":"half"}\n{"type":"users"}\n')
        half.sock.shutdown(socket.SHUT_WR)
        frames = half.wait_closed()
        assert [f["type"] for f in frames] == ["welcome", "users"]
        watcher.expect("user_left", username="half")
        watcher.send(type="ping", id=2)
        watcher.expect("pong")
    finally:
        close_all(clients)


def test_many_clients_and_dribbled_bytes(start_server) -> None:
    server = start_server("--rate-limit", "0", "--max-per-address", "0", "--connects-per-minute", "0")
    names = [f"c{i}" for i in range(40)]
    clients = [RawClient(server.address) for _ in names]
    try:
        for c, name in zip(clients, names, strict=True):
            for byte in json.dumps({"type": "join", "username": name}).encode() + b"\n":
                c.send_raw(bytes([byte]))
        for c in clients:
            c.expect("welcome")
        clients[0].send(type="chat", message="to all")
        for c in clients[1:]:
            assert c.expect("chat")["message"] == "to all"
    finally:
        close_all(clients)


# -- hardening pieces that live in the core ------------------------------------------------------


def test_rate_limit_and_flooding(start_server) -> None:
    server = start_server("--rate-limit", "5", "--burst", "3")
    spammer, reader = clients = joined(server, "spammer", "reader")
    try:
        spammer.send_raw(b'{"type":"chat","message":"x"}\n' * 4)
        spammer.error("rate_limited")
        assert [reader.expect("chat")["message"] for _ in range(3)] == ["x"] * 3
        spammer.send_raw(b'{"type":"chat","message":"x"}\n' * 200)
        frames = spammer.wait_closed()
        assert frames[-1]["code"] == "flooding"
        assert reader.expect("user_left", username="spammer")["reason"] == "flooding"
    finally:
        close_all(clients)


def test_endless_garbage_is_flooding(server: ServerProcess, connect) -> None:
    watcher = connect()
    watcher.join("watcher")
    spewer = connect()
    spewer.send(type="ping", id=0)  # a JSON connection (a first line of garbage is text mode)
    spewer.expect("pong")
    spewer.send_raw(b"garbage\n" * 500)
    frames = spewer.wait_closed()
    codes = [f["code"] for f in frames]
    assert codes[-1] == "flooding" and set(codes[:-1]) == {"bad_frame"}
    assert 20 <= len(codes) < 500  # the burst's worth of answers, then strikes, then the drop
    watcher.send(type="ping", id=1)
    watcher.expect("pong")


def test_password(start_server, tmp_path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("hunter2\n")
    server = start_server("--password-file", str(secret))
    c = RawClient(server.address)
    try:
        c.send(type="join", username="a", password="wrong")
        frames = c.wait_closed()
        assert [f["code"] for f in frames] == ["bad_password"]
        ok = RawClient(server.address)
        assert ok.join("a", password="hunter2")["username"] == "a"
        ok.close()
        assert "hunter2" not in server.log()
    finally:
        c.close()


def test_password_from_environment(start_server) -> None:
    server = start_server(env={"SELCHAT_PASSWORD": "envpw"})
    c = RawClient(server.address)
    try:
        c.send(type="join", username="a")
        assert c.wait_closed()[0]["code"] == "bad_password"
    finally:
        c.close()


# -- operations ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_shutdown_on_signal(start_server, sig: int) -> None:
    server = start_server()
    clients = joined(server, "a", "b")
    irc = Irc(server, "ircer")
    irc.expect(" 001 ")
    try:
        server.proc.send_signal(sig)
        for c in clients:
            frames = c.wait_closed()
            assert frames[-1]["type"] == "shutdown"
            assert frames[-1]["message"] == "Server restarting; reconnect in a moment"
            assert frames[-1]["reconnect"] is True and frames[-1]["delay"] == 1.0  # a restart: come back
        assert irc.expect("ERROR :") == "ERROR :Server restarting"  # IRC clients reconnect by themselves
        assert server.proc.wait(DEADLINE) == 0
        assert "Traceback" not in server.log()
        with pytest.raises(OSError):
            socket.create_connection(server.address, timeout=1).close()
    finally:
        close_all(clients)
        irc.close()


def test_shutdown_does_not_wait_for_a_stalled_reader(start_server) -> None:
    server = start_server("--rate-limit", "0")
    stalled = socket.create_connection(server.address)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(b'{"type":"join","username":"stalled"}\n')
    talker = RawClient(server.address)
    try:
        talker.join("talker")
        talker.send_raw(b'{"type":"chat","message":"' + b"z" * 1500 + b'"}\n' * 300)
        talker.send(type="ping", id=1)
        talker.expect("pong")
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(DEADLINE) == 0
        assert time.monotonic() - started < 4  # flushing is bounded by the 2 s grace
    finally:
        stalled.close()
        talker.close()


def test_port_in_use(server: ServerProcess) -> None:
    result = subprocess.run(
        selchat_cmd("serve", "--port", str(server.port)),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert f"port {server.port}" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_password_file_is_one_line(tmp_path) -> None:
    result = subprocess.run(
        selchat_cmd("serve", "--port", "0", "--password-file", str(tmp_path / "missing")),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_logs_record_the_life_of_a_connection(server: ServerProcess) -> None:
    c = RawClient(server.address)
    c.join("logged")
    c.send(type="chat", message="secret words")
    c.send(type="ping", id=1)
    c.expect("pong")
    c.close()
    server.wait_log("leave logged")
    log = server.log()
    assert "connect 127.0.0.1:" in log and "join logged (127.0.0.1:" in log
    assert "secret words" not in log
    assert wait_for(lambda: "connection closed by peer" in server.log())
