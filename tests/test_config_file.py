"""selchat serve --config FILE (TOML, the same keys as the options) and SIGHUP re-reading it."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from selchat.cli import ConfigError, read_config_file, serve, server_config
from tests.clients import RawClient
from tests.helpers import DEADLINE, selchat_cmd

EVERY_KEY = """
host = "127.0.0.2"
port = 6001
max-clients = 300
max_frame = 8192
max-message = 500
max-output = 65536
handshake-timeout = 3.5
ping-interval = 30
rate-limit = 4.5
burst = 7
password-file = "{pw}"
tls-cert = "{cert}"
tls-key = "{key}"
db = ":memory:"
replay = 10
history-max = 99
max-rooms = 5
require-account = true
password-min = 12
irc-name = "irc.example.org"
quiet-above = 50
ban = ["mallory", "10.0.0.0/8"]
metrics = "127.0.0.1:9100"
redis = "rediss://127.0.0.1:6379/1"
redis-cafile = "{ca}"
workers = 1
allow-origin = ["https://chat.example.org"]
motd = "{motd}"
log-level = "warning"
log-format = "json"
"""


def test_every_key_reaches_the_configuration(tmp_path: Path) -> None:
    from selchat.certs import write_self_signed

    pw, cert, key, motd, ca = (tmp_path / n for n in ("pw", "cert.pem", "key.pem", "motd", "ca.pem"))
    pw.write_text("sekrit\n")
    cert.write_text("x")
    key.write_text("x")
    motd.write_text("hello\n")
    write_self_signed(["127.0.0.1"], ca, tmp_path / "ca-key.pem")
    file = tmp_path / "selchat.toml"
    file.write_text(EVERY_KEY.format(pw=pw, cert=cert, key=key, motd=motd, ca=ca))
    ctx = serve.make_context("serve", [])
    values = read_config_file(ctx, file)
    assert len(values) == 30  # every option of serve but --config, --help and the hidden --reuse-port
    config = server_config({**ctx.params, **values})
    assert (config.host, config.port, config.max_clients, config.max_frame, config.max_message) == (
        "127.0.0.2", 6001, 300, 8192, 500)
    assert (config.max_output, config.handshake_timeout, config.ping_interval, config.rate_limit, config.burst) == (
        65536, 3.5, 30.0, 4.5, 7)
    assert (config.password, config.tls_cert, config.tls_key, config.db, config.replay, config.history_max) == (
        "sekrit", str(cert), str(key), ":memory:", 10, 99)
    assert (config.max_rooms, config.require_account, config.password_min, config.irc_name) == (
        5, True, 12, "irc.example.org")
    assert config.allow_origins == ("https://chat.example.org",) and config.motd == "hello"
    assert config.log_level == "WARNING" and values["log_format"] == "json"
    assert config.quiet_above == 50 and config.bans == ("mallory", "10.0.0.0/8")
    assert config.metrics == "127.0.0.1:9100" and config.redis == "rediss://127.0.0.1:6379/1"
    assert config.redis_cafile == str(ca)
    assert values["workers"] == 1


@pytest.mark.parametrize(("text", "says"), [
    ("bogus = 1\n", "unknown key 'bogus'"),
    ("port = \"abc\"\n", "port: 'abc' is not a valid integer"),
    ("max-clients = 0\n", "max-clients: 0 is not in the range"),
    ("log-level = \"loud\"\n", "log-level: 'loud' is not one of"),
    ("port = \n", "is not TOML"),
])
def test_a_bad_file_is_one_line_and_status_2(tmp_path: Path, text: str, says: str) -> None:
    file = tmp_path / "bad.toml"
    file.write_text(text)
    done = subprocess.run(selchat_cmd("serve", "--config", str(file)), capture_output=True, text=True,
                          timeout=DEADLINE, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and lines[0].startswith("selchat: ")


def test_sighup_reloads_what_can_change_and_says_what_needs_a_restart(start_server, tmp_path: Path) -> None:
    file = tmp_path / "selchat.toml"
    file.write_text('rate-limit = 5.0\nmax-message = 300\n')
    server = start_server("--config", str(file))
    first = RawClient(server.address)
    try:
        welcome = first.join("before")
        assert (welcome["rate_limit"], welcome["max_message"]) == (5.0, 300)
        motd = tmp_path / "motd"
        motd.write_text("fresh rules\n")
        file.write_text(f'rate-limit = 2.0\nmax-message = 300\nmotd = "{motd}"\nreplay = 7\n')
        server.proc.send_signal(signal.SIGHUP)
        server.wait_log("reloaded the configuration: rate_limit 5.0 -> 2.0, motd changed")
        server.wait_log("replay changed in the configuration: it takes effect after a restart")
        second = RawClient(server.address)
        try:
            welcome = second.join("after", version=2)
            assert welcome["rate_limit"] == 2.0 and welcome["motd"] == "fresh rules"
        finally:
            second.close()
        file.write_text("nonsense = true\n")
        server.proc.send_signal(signal.SIGHUP)
        server.wait_log("reload failed, nothing changed: config")
        first.send(type="ping", id=1)
        assert first.expect("pong")["id"] == 1  # still serving, as before
    finally:
        first.close()


def test_server_config_refuses_half_a_tls_pair(tmp_path: Path) -> None:
    ctx = serve.make_context("serve", ["--tls-cert", str(tmp_path / "c.pem")])
    with pytest.raises(ConfigError, match="go together"):
        server_config(ctx.params)
