"""TLS end to end: a certificate from `selchat cert`, a TLS server, and clients that verify it."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.clients import RawClient
from tests.helpers import DEADLINE, selchat_cmd


@pytest.fixture
def tls_server(start_server, cert_files):
    cert, key = cert_files
    return start_server(
        "--tls-cert", str(cert), "--tls-key", str(key), "--handshake-timeout", "1", "--rate-limit", "0"
    )


def trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def test_tls_chat_with_verified_certificate(tls_server, cert_files) -> None:
    context = trusting(cert_files[0])
    alice = RawClient(tls_server.address, tls=context, server_hostname="localhost")
    bob = RawClient(tls_server.address, tls=context, server_hostname="127.0.0.1")
    try:
        alice.join("alice")
        bob.join("bob")
        alice.expect("user_joined", username="bob")
        big = "é" * 1999  # more than one TLS record a batch
        for i in range(50):
            bob.send(type="chat", message=f"{i}{big}"[:2000])
        for i in range(50):
            assert alice.expect("chat")["message"].startswith(str(i))
        alice.send(type="dm", to="bob", message="over tls")
        assert bob.expect("dm")["message"] == "over tls"
    finally:
        alice.close()
        bob.close()


def test_untrusted_certificate_is_refused_by_the_client(tls_server) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        RawClient(tls_server.address, tls=ssl.create_default_context(), server_hostname="localhost")


def test_wrong_hostname_is_refused_by_the_client(tls_server, cert_files) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        RawClient(tls_server.address, tls=trusting(cert_files[0]), server_hostname="example.org")


def test_plain_client_on_tls_port_gets_a_clear_error(tls_server, cert_files) -> None:
    watcher = RawClient(tls_server.address, tls=trusting(cert_files[0]))
    plain = RawClient(tls_server.address)
    try:
        watcher.join("watcher")
        plain.send(type="join", username="plain")
        frames = plain.wait_closed()
        assert [f["code"] for f in frames] == ["tls_required"]
        watcher.send(type="ping", id=1)
        assert watcher.expect("pong")["id"] == 1
    finally:
        watcher.close()
        plain.close()


def test_tls_client_on_plain_port_is_closed_without_disturbing_others(server, connect) -> None:
    watcher = connect()
    watcher.join("watcher")
    raw = socket.create_connection(server.address, timeout=DEADLINE)
    try:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")
    finally:
        raw.close()
    server.wait_log("TLS client")
    watcher.send(type="users")
    assert watcher.expect("users")["users"] == ["watcher"]


def test_stalled_tls_handshake_times_out(tls_server, cert_files) -> None:
    stalled = socket.create_connection(tls_server.address, timeout=DEADLINE)
    silent = socket.create_connection(tls_server.address, timeout=DEADLINE)
    try:
        stalled.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing
        assert stalled.recv(100) == b""  # closed by the handshake timeout
        assert silent.recv(100) == b""  # never even sent a byte
        tls_server.wait_log("handshake_timeout")
        ok = RawClient(tls_server.address, tls=trusting(cert_files[0]))
        ok.join("ok")
        ok.close()
    finally:
        stalled.close()
        silent.close()


@pytest.mark.parametrize(
    "args",
    [
        ["--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"],
        ["--tls-cert", "/etc/hostname", "--tls-key", "/etc/hostname"],
        ["--tls-cert", "/etc/hostname"],
    ],
)
def test_bad_tls_options_are_one_line(args: list[str]) -> None:
    result = subprocess.run(
        selchat_cmd("serve", "--port", "0", *args),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_cert_refuses_to_overwrite(cert_files) -> None:
    cert, key = cert_files
    result = subprocess.run(
        selchat_cmd("cert", "--host", "x", "--cert", str(cert), "--key", str(key)),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert result.returncode == 2 and "--force" in result.stderr


# -- the client's TLS path, in a real terminal ---------------------------------------------------


def spawn_join(*args: str) -> pexpect.spawn:
    env = {**os.environ, "TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1"}
    return pexpect.spawn(sys.executable, ["-m", "selchat", "join", *args], env=env, encoding="utf-8", timeout=10)


def finish(child: pexpect.spawn) -> int:
    try:
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    return child.exitstatus


def test_client_tls_in_a_terminal(tls_server, cert_files) -> None:
    watcher = RawClient(tls_server.address, tls=trusting(cert_files[0]))
    child = spawn_join("--port", str(tls_server.port), "--host", "localhost", "--tls", "--cafile",
                       str(cert_files[0]), "--name", "secure", "--no-color")
    try:
        watcher.join("watcher")
        child.expect("Welcome to selchat, secure!")
        child.expect("secure>")
        child.sendline("over tls")
        assert watcher.expect("chat")["message"] == "over tls"
        watcher.send(type="chat", message="back over tls")
        child.expect("watcher: back over tls")
        child.sendline("/quit")
        assert finish(child) == 0
    finally:
        watcher.close()
        child.close(force=True)


def test_client_insecure_warns_and_connects(tls_server) -> None:
    child = spawn_join("--port", str(tls_server.port), "--insecure", "--name", "risky", "--no-color")
    try:
        child.expect("warning: --insecure: the server's certificate is not checked")
        child.expect("Welcome to selchat, risky!")
        child.sendline("/quit")
        assert finish(child) == 0
    finally:
        child.close(force=True)


def test_client_refuses_an_untrusted_certificate(tls_server) -> None:
    child = spawn_join("--port", str(tls_server.port), "--host", "localhost", "--tls", "--name", "x")
    child.expect("the server's TLS certificate is not trusted .*--cafile FILE, or --insecure")
    assert finish(child) == 1


def test_plain_client_to_tls_server_and_tls_client_to_plain_server(tls_server, server) -> None:
    child = spawn_join("--port", str(tls_server.port), "--name", "x")
    child.expect("this server speaks TLS; connect with: selchat join --tls")
    assert finish(child) == 1
    child = spawn_join("--port", str(server.port), "--tls", "--name", "x")
    child.expect("TLS handshake failed; is the server started with --tls-cert\\?")
    assert finish(child) == 1
