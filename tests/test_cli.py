"""Ring 4: commands that return, through click's CliRunner; `python -m selchat` in a subprocess."""

from __future__ import annotations

import shutil
import subprocess

import click
import pytest
from click.testing import CliRunner

from selchat import __version__
from selchat.cli import main
from tests.helpers import DEADLINE, ROOT, selchat_cmd


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "cert"):
        assert command in result.output


def _commands(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = [(path, command)]
    for name, sub in getattr(command, "commands", {}).items():
        found += _commands(sub, (*path, name))
    return found


def test_every_help_is_whole() -> None:
    """No summary cut with "...", every option described, every environment variable shown."""
    for path, command in _commands(main):
        result = CliRunner().invoke(main, [*path, "--help"], terminal_width=80)
        assert result.exit_code == 0, path
        cut = [line for line in result.output.splitlines() if line.endswith("...") and not line.startswith("Usage:")]
        assert not cut, (path, cut)
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, (path, param.opts)
                if param.envvar:
                    assert f"env var: {param.envvar}" in " ".join(result.output.split()), (path, param.opts)


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_serve_help_documents_every_limit() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    for option in (
        "--host", "--port", "--max-clients", "--max-frame", "--max-message", "--max-output",
        "--handshake-timeout", "--ping-interval", "--rate-limit", "--burst", "--password-file",
        "--tls-cert", "--tls-key", "--log-level",
    ):
        assert option in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--port", "70000"],
        ["serve", "--max-clients", "0"],
        ["serve", "--log-level", "LOUD"],
        ["serve", "--ping-interval", "-1"],
        ["serve", "--no-such-option"],
    ],
)
def test_bad_options_are_usage_errors(args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "Error:" in result.output and "Traceback" not in result.output


def test_options_from_the_environment() -> None:
    result = CliRunner().invoke(main, ["serve", "--port", "1"], env={"SELCHAT_MAX_CLIENTS": "zero"})
    assert result.exit_code == 2 and "max-clients" in result.output.lower()


def test_python_dash_m() -> None:
    result = subprocess.run(selchat_cmd("--help"), capture_output=True, text=True, timeout=DEADLINE)
    assert result.returncode == 0 and "serve" in result.stdout


def test_json_logs(start_server) -> None:
    """--log-format json: every line of the log is one JSON object with time, level, logger, message."""
    import json as json_module

    from tests.clients import RawClient

    server = start_server("--log-format", "json")
    client = RawClient(server.address)
    try:
        client.join("logged")
        server.wait_log("join logged")
    finally:
        client.close()
    lines = [line for line in server.log().splitlines() if line.strip()]
    entries = [json_module.loads(line) for line in lines]
    assert all(set(e) >= {"time", "level", "logger", "message"} for e in entries)
    assert any(e["message"].startswith("join logged") and e["level"] == "info" for e in entries)
    assert all(e["time"].endswith("Z") for e in entries)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_install_puts_the_command_on_a_path(tmp_path) -> None:
    """After `make serve` the command is .venv/bin/selchat; `make install` links it where a PATH
    reaches (~/.local/bin by default), which pip install --user cannot on Debian (PEP 668)."""
    done = subprocess.run(["make", "-s", "install", f"BINDIR={tmp_path}"], cwd=ROOT, capture_output=True,
                          text=True, timeout=DEADLINE * 6)
    assert done.returncode == 0, done.stderr
    assert f"selchat is in {tmp_path}" in done.stdout
    shown = subprocess.run([str(tmp_path / "selchat"), "--version"], capture_output=True, text=True, timeout=DEADLINE)
    assert shown.stdout.strip() == f"selchat, version {__version__}"
