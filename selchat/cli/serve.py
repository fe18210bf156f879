"""``selchat serve``: its options, and starting the server with every failure said in one line."""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from selchat.cli.common import (
    CONTEXT,
    LOG_LEVELS,
    ConfigError,
    fail,
    main,
    read_config_file,
    server_config,
    use_config_file,
)
from selchat.config import DEFAULT_HOST, DEFAULT_PORT, RESERVED_NAMES, ServerConfig


@main.command(context_settings=CONTEXT)
@click.option("--host", default=DEFAULT_HOST, show_default=True, envvar="SELCHAT_HOST",
              help="Address to listen on (0.0.0.0 or :: for every interface).")
@click.option("--port", default=DEFAULT_PORT, show_default=True, envvar="SELCHAT_PORT",
              type=click.IntRange(0, 65535), help="TCP port (0 picks a free one).")
@click.option("--max-clients", default=256, show_default=True, envvar="SELCHAT_MAX_CLIENTS",
              type=click.IntRange(min=1), help="Connections served at once (CLIENT_COUNT).")
@click.option("--reserved-names", default=",".join(RESERVED_NAMES), show_default=True,
              envvar="SELCHAT_RESERVED_NAMES",
              help="Comma-separated names no guest may take (services, the server's); --irc-name is added.")
@click.option("--max-per-address", default=16, show_default=True, envvar="SELCHAT_MAX_PER_ADDRESS",
              type=click.IntRange(min=0),
              help="Connections one address (an IPv6 /64) may hold at once, as ergo allows; 0: no limit.")
@click.option("--connects-per-minute", default=32, show_default=True, envvar="SELCHAT_CONNECTS_PER_MINUTE",
              type=click.IntRange(min=0),
              help="New connections one address may open a minute (bursts of as many); 0: no limit.")
@click.option("--max-frame", default=16384, show_default=True, envvar="SELCHAT_MAX_FRAME",
              type=click.IntRange(min=64), help="Longest frame (one line), in bytes.")
@click.option("--max-message", default=2000, show_default=True, envvar="SELCHAT_MAX_MESSAGE",
              type=click.IntRange(min=1), help="Longest chat or private message, in characters.")
@click.option("--max-output", default=1024 * 1024, show_default=True, envvar="SELCHAT_MAX_OUTPUT",
              type=click.IntRange(min=1024),
              help="Unread bytes a client may fall behind before it is dropped as a slow consumer.")
@click.option("--handshake-timeout", default=10.0, show_default=True,
              envvar="SELCHAT_HANDSHAKE_TIMEOUT", type=click.FloatRange(min=0.01),
              help="Seconds a new connection has to send join.")
@click.option("--ping-interval", default=60.0, show_default=True, envvar="SELCHAT_PING_INTERVAL",
              type=click.FloatRange(min=0.01),
              help="Seconds of silence before a ping; as long again before the client is dropped.")
@click.option("--rate-limit", default=10.0, show_default=True, envvar="SELCHAT_RATE_LIMIT",
              type=click.FloatRange(min=0), help="Messages a second per client; 0 turns it off.")
@click.option("--burst", default=20, show_default=True, envvar="SELCHAT_BURST",
              type=click.IntRange(min=1), help="Messages a client may send at once.")
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path),
              envvar="SELCHAT_PASSWORD_FILE",
              help="File whose first line is the server password (or set SELCHAT_PASSWORD).")
@click.option("--tls-cert", type=click.Path(dir_okay=False), envvar="SELCHAT_TLS_CERT",
              help="PEM certificate (chain): serve TLS only. See `selchat cert`.")
@click.option("--tls-key", type=click.Path(dir_okay=False), envvar="SELCHAT_TLS_KEY",
              help="PEM private key for --tls-cert.")
@click.option("--db", default="selchat.db", show_default=True, envvar="SELCHAT_DB",
              help="SQLite file for history, topics and accounts (':memory:' keeps nothing).")
@click.option("--replay", default=50, show_default=True, envvar="SELCHAT_REPLAY", type=click.IntRange(0, 1000),
              help="Messages replayed to whoever joins a room.")
@click.option("--history-max", default=10_000, show_default=True, envvar="SELCHAT_HISTORY_MAX",
              type=click.IntRange(min=1), help="Messages kept per room; older ones are pruned.")
@click.option("--search/--no-search", default=True, show_default=True, envvar="SELCHAT_SEARCH",
              help="Keep a full-text index of the history and answer searches (about 2 us a message "
                   "to index); off, a later start with it on rebuilds the index first.")
@click.option("--max-rooms", default=20, show_default=True, envvar="SELCHAT_MAX_ROOMS",
              type=click.IntRange(min=1), help="Rooms one user may be in at once.")
@click.option("--max-rooms-total", default=500, show_default=True, envvar="SELCHAT_MAX_ROOMS_TOTAL",
              type=click.IntRange(min=0), help="Rooms the server holds at once (0: no limit).")
@click.option("--new-rooms-per-user", default=10, show_default=True, envvar="SELCHAT_NEW_ROOMS_PER_USER",
              type=click.IntRange(min=0),
              help="New rooms one account (a guest: one address) may make in ten minutes (0: no limit).")
@click.option("--multiclient", default="on", show_default=True, envvar="SELCHAT_MULTICLIENT",
              type=click.Choice(["on", "off"]),
              help="Let an account be connected from several devices at once, as one person (off: a new"
              " login ends the old one).")
@click.option("--devices", default=8, show_default=True, envvar="SELCHAT_DEVICES", type=click.IntRange(min=1),
              help="Connections one account may have at once with --multiclient on.")
@click.option("--linger", default=60.0, show_default=True, envvar="SELCHAT_LINGER", type=click.FloatRange(min=0),
              help="Seconds an account stays in its rooms, away, after its last connection is lost without a"
              " quit, so a device that reconnects finds them as it left them (0: leave at once).")
@click.option("--require-account", is_flag=True, envvar="SELCHAT_REQUIRE_ACCOUNT",
              help="Refuse guests: everyone logs in to an account (see `selchat account add`).")
@click.option("--password-min", default=8, show_default=True, envvar="SELCHAT_PASSWORD_MIN",
              type=click.IntRange(1, 1024), help="Shortest account password accepted at registration.")
@click.option("--allow-origin", "allow_origins", multiple=True, envvar="SELCHAT_ALLOW_ORIGIN", metavar="ORIGIN",
              help="A web origin (https://chat.example.org) whose pages may open a WebSocket here; repeat for more. "
                   "Default: only pages this server served.")
@click.option("--ban", "bans", multiple=True, envvar="SELCHAT_BAN", metavar="NAME|ADDRESS[/PREFIX]",
              help="Refuse this name or address (10.0.0.0/8); repeat for more. For a config file, re-read on "
                   "SIGHUP; the console's /ban keeps its bans in the database.")
@click.option("--motd", "motd_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              envvar="SELCHAT_MOTD", help="A file whose text everyone is shown at join (the message of the day).")
@click.option("--quiet-above", default=1000, show_default=True, envvar="SELCHAT_QUIET_ABOVE",
              type=click.IntRange(min=0),
              help="Rooms with more members than this announce no joins or leaves (0: always announce).")
@click.option("--irc-name", default="selchat", show_default=True, envvar="SELCHAT_IRC_NAME",
              help="The server name IRC clients see (a host name, as IRC servers use).")
@click.option("--operators", multiple=True, metavar="ACCOUNT",
              help="An account that may become a server operator (IRC: OPER ACCOUNT PASSWORD); repeat for "
                   "more, or in the config file: operators = [\"alice\"].")
@click.option("--metrics", envvar="SELCHAT_METRICS", metavar="HOST:PORT",
              help="Serve Prometheus metrics at http://HOST:PORT/metrics (a listener of its own; off by default).")
@click.option("--redis", envvar="SELCHAT_REDIS", metavar="URL",
              help="redis://HOST:PORT/DB (rediss:// for TLS) shared with other selchat processes: their users are "
                   "in the same rooms.")
@click.option("--redis-cafile", envvar="SELCHAT_REDIS_CAFILE", metavar="FILE",
              type=click.Path(exists=True, dir_okay=False),
              help="rediss://: trust this certificate file (a self-signed or private CA's) instead of the system's.")
@click.option("--workers", default=1, show_default=True, envvar="SELCHAT_WORKERS", type=click.IntRange(1, 64),
              help="Server processes on this port (SO_REUSEPORT), supervised and sharing rooms through --redis.")
@click.option("--reuse-port", is_flag=True, hidden=True, help="Bind with SO_REUSEPORT (what --workers' workers do).")
@click.option("--log-level", default="INFO", show_default=True, envvar="SELCHAT_LOG_LEVEL",
              type=click.Choice(LOG_LEVELS, case_sensitive=False),
              help="The least a log line must matter to be written (DEBUG shows every connection's detail).")
@click.option("--log-format", default="text", show_default=True, envvar="SELCHAT_LOG_FORMAT",
              type=click.Choice(["text", "json"]), help="json: one object a line, for log shippers.")
@click.option("--pid-file", type=click.Path(dir_okay=False, path_type=Path), envvar="SELCHAT_PID_FILE",
              help="Write the server's process id here while it runs, for kill -HUP \"$(cat FILE)\" to reach "
                   "exactly this server; removed when it stops.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), is_eager=True,
              envvar="SELCHAT_CONFIG", callback=lambda ctx, param, value: use_config_file(ctx, value),
              help="A TOML file of these options (max-clients = 500 ...); the command line wins. "
                   "SIGHUP reads it again.")
def serve(**options: Any) -> None:
    """Run the chat server until Ctrl-C or SIGTERM.

    When standard input is a terminal, lines typed there are announced to every client, and
    /users, /kick NAME, /ban NAME and /shutdown work.
    """
    from selchat.server import raise_fd_limit

    # every option is in the configuration (server_config); these few are the command's own
    host, port, workers = options["host"], options["port"], options["workers"]
    _set_up_logging(options["log_level"], options["log_format"])
    ctx = click.get_current_context()
    try:
        config = server_config(ctx.params)
    except ConfigError as exc:
        fail(str(exc), 2)
    config_file = options["config_file"]
    reload = _reloader(ctx, config_file) if config_file is not None else None
    if workers > 1:
        _supervise(config, workers, host, port, options["pid_file"])
    warning = raise_fd_limit(config.max_clients)
    if warning:
        click.echo(f"selchat: warning: {warning}", err=True)
    server = _server(config, reload)
    bound_host, bound_port = _listen(server, host, port, options["reuse_port"])
    metrics_at = None
    if config.metrics:
        try:
            metrics_at = server.listen_metrics()
        except OSError as exc:
            fail(f"cannot serve --metrics on {config.metrics}: {exc.strerror or exc}", 2)
    server.prepare()  # after the last way start-up can fail: it starts the worker thread
    click.echo(f"selchat listening on {_shown(bound_host)}:{bound_port}{' (TLS)' if config.tls_cert else ''}")
    if metrics_at is not None:
        click.echo(f"metrics at http://{_shown(metrics_at[0])}:{metrics_at[1]}/metrics")
    console = sys.stdin is not None and sys.stdin.isatty()
    if console:
        click.echo("console: type to announce; /users, /stats, /kick NAME, /ban, /unban, /bans, /shutdown, /help")
    sys.stdout.flush()
    pid_file = options["pid_file"]
    if pid_file is not None:
        _write_pid(pid_file)
    try:
        server.serve_forever(console=console)
    finally:
        if pid_file is not None:
            _remove_pid(pid_file)


def _write_pid(path: Path) -> None:
    """The pid file: refused while another live server's id is in it, written whole (a rename)."""
    try:
        other = int(path.read_text().strip())
    except (OSError, ValueError):
        other = 0
    if other and other != os.getpid() and _running(other):  # else left by a server that is gone
        fail(f"{path} names process {other}, which is running; is another server using it?", 2)
    try:
        part = path.with_name(path.name + ".part")
        part.write_text(f"{os.getpid()}\n")
        os.replace(part, path)
    except OSError as exc:
        fail(f"cannot write --pid-file {path}: {exc.strerror or exc}", 2)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _remove_pid(path: Path) -> None:
    try:
        if path.read_text().strip() == str(os.getpid()):
            path.unlink()
    except OSError:
        pass


def _shown(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _set_up_logging(log_level: str, log_format: str) -> None:
    """Log lines buffered a turn at a time, as text or one JSON object a line."""
    from selchat.logsink import TextFormatter, TurnBufferedHandler

    handler = TurnBufferedHandler(sys.stderr)
    if log_format == "json":
        from selchat.logjson import JsonFormatter

        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    logging.basicConfig(level=log_level.upper(), handlers=[handler])


def _reloader(ctx: click.Context, config_file: Path) -> Callable[[], ServerConfig]:
    """What SIGHUP runs: the config file read again, under what the command line and the
    environment gave (they still win), over the options' own defaults."""
    kept = {name: value for name, value in ctx.params.items()
            if ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)}
    # the options' own defaults (click marks "no default" with a sentinel object)
    defaults = {p.name: p.type_cast_value(ctx, p.default)
                if isinstance(p.default, (str, int, float, bool, tuple, list)) else None
                for p in ctx.command.params if p.name}

    def reload() -> ServerConfig:
        return server_config({**defaults, **read_config_file(ctx, config_file), **kept})
    return reload


def _supervise(config: ServerConfig, workers: int, host: str, port: int, pid_file: Path | None) -> None:
    """--workers: this process becomes the supervisor of that many servers, and exits with them
    (its --pid-file names the supervisor, which passes SIGHUP on to each worker)."""
    if not config.redis:
        fail("--workers needs --redis: the workers share their rooms through it", 2)
    if config.metrics:
        fail("--metrics serves one process; with --workers, run each server with its own --metrics", 2)
    from selchat.supervisor import Supervisor

    try:
        supervisor = Supervisor(workers, host, port, _worker_args(sys.argv[2:]))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", 2)
    if pid_file is not None:
        _write_pid(pid_file)
    try:
        status = supervisor.run()
    finally:
        if pid_file is not None:
            _remove_pid(pid_file)
    sys.exit(status)


def _server(config: ServerConfig, reload: Callable[[], ServerConfig] | None) -> Any:
    import ssl

    from selchat.server import ChatServer
    from selchat.store import StoreError

    try:
        return ChatServer(config, reload=reload)
    except StoreError as exc:
        fail(str(exc), 2)
    except (OSError, ssl.SSLError) as exc:
        fail(f"cannot use the TLS certificate {config.tls_cert} and key {config.tls_key}: {exc.strerror or exc}", 2)


def _listen(server: Any, host: str, port: int, reuse_port: bool) -> tuple[str, int]:
    try:
        return server.listen(reuse_port=reuse_port)  # type: ignore[no-any-return]
    except socket.gaierror as exc:
        fail(f"cannot listen on {host}: {exc.strerror}", 2)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            fail(f"port {port} on {host} is already in use; choose another with --port", 2)
        if exc.errno == errno.EACCES:
            fail(f"no permission to listen on {host}:{port}; use a port above 1023 with --port", 2)
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", 2)


def _worker_args(argv: list[str]) -> list[str]:
    """serve's command line for one worker: the same, without --workers, --host and --port (the
    supervisor gives those) and --pid-file (the supervisor's own)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in ("--workers", "--host", "--port", "--pid-file"):
            skip = "=" not in arg
            continue
        out.append(arg)
    return out


