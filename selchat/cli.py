"""The ``selchat`` command: errors become one line and an exit status, never a traceback."""

from __future__ import annotations

import errno
import logging
import socket
import sys
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from selchat import __version__
from selchat.config import DEFAULT_HOST, DEFAULT_PORT, ServerConfig

LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def fail(message: str, status: int = 1) -> None:
    click.echo(f"selchat: {message}", err=True)
    sys.exit(status)


class ConfigError(Exception):
    """A configuration that cannot be served: one line saying why."""


def _option_keys(command: click.Command) -> dict[str, click.Parameter]:
    """serve's options by the names a config file may use: max-clients or max_clients."""
    keys: dict[str, click.Parameter] = {}
    for param in command.params:
        if (isinstance(param, click.Option) and param.name != "config_file" and "--help" not in param.opts
                and not param.hidden):
            for opt in param.opts:
                if opt.startswith("--"):
                    keys[opt[2:]] = param
                    keys[opt[2:].replace("-", "_")] = param
    return keys


def read_config_file(ctx: click.Context, path: Path) -> dict[str, Any]:
    """The TOML file's settings as {parameter name: checked value}."""
    import tomllib

    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"cannot read --config {path}: {exc.strerror or exc}")
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path} is not TOML: {exc}")
    keys = _option_keys(ctx.command)
    values: dict[str, Any] = {}
    for key, value in data.items():
        param = keys.get(key)
        if param is None or param.name is None:
            known = ", ".join(sorted(k for k in keys if "_" not in k))
            raise ConfigError(f"config {path}: unknown key {key!r}; the keys are serve's options: {known}")
        try:
            values[param.name] = param.type_cast_value(ctx, value)
        except click.BadParameter as exc:
            raise ConfigError(f"config {path}: {key}: {exc.message}")
    return values


def _use_config_file(ctx: click.Context, path: Path | None) -> Path | None:
    """--config: the file's values become the defaults, so the command line and environment win."""
    if path is not None:
        try:
            ctx.default_map = {**(ctx.default_map or {}), **read_config_file(ctx, path)}
        except ConfigError as exc:
            fail(str(exc), 2)
    return path


def server_config(values: dict[str, Any]) -> ServerConfig:
    """serve's option values as the server's configuration; ``ConfigError`` if they cannot be."""
    tls_cert, tls_key, irc_name = values["tls_cert"], values["tls_key"], values["irc_name"]
    if bool(tls_cert) != bool(tls_key):
        raise ConfigError("--tls-cert and --tls-key go together")
    if not irc_name or any(c in irc_name for c in " :!@*,\r\n\0"):
        raise ConfigError("--irc-name is one word, like a host name (irc.example.org)")
    password = read_password_value(values["password_file"])
    motd = read_motd(values["motd_file"])
    from selchat.bans import BanError, parse_target
    from selchat.metrics import parse_address

    if values.get("redis"):
        from selchat.backplane import RedisUrlError, parse_url

        try:
            target = parse_url(values["redis"])
        except RedisUrlError as exc:
            raise ConfigError(f"--redis: {exc}")
        if values.get("redis_cafile") and not target.tls:
            raise ConfigError("--redis-cafile is for a rediss:// (TLS) URL")
        if target.tls:
            import ssl

            from selchat.backplane import tls_context

            try:
                tls_context(values.get("redis_cafile"))
            except (ssl.SSLError, OSError) as exc:
                raise ConfigError(f"--redis-cafile: {values.get('redis_cafile')} holds no certificate "
                                  f"({getattr(exc, 'reason', None) or exc})")
    elif values.get("redis_cafile"):
        raise ConfigError("--redis-cafile goes with --redis rediss://...")
    if values.get("metrics"):
        try:
            parse_address(values["metrics"])
        except ValueError as exc:
            raise ConfigError(f"--metrics: {exc}")

    for target in values.get("bans") or ():
        try:
            parse_target(target)
        except BanError as exc:
            raise ConfigError(f"--ban: {exc}")
    return ServerConfig(
        host=values["host"], port=values["port"], max_clients=values["max_clients"],
        max_frame=values["max_frame"], max_message=values["max_message"], max_output=values["max_output"],
        handshake_timeout=values["handshake_timeout"], ping_interval=values["ping_interval"],
        rate_limit=values["rate_limit"], burst=values["burst"], password=password, tls_cert=tls_cert,
        tls_key=tls_key, db=values["db"], replay=values["replay"], history_max=values["history_max"],
        max_rooms=values["max_rooms"], require_account=bool(values["require_account"]),
        password_min=values["password_min"], irc_name=irc_name,
        allow_origins=tuple(o.rstrip("/") for o in values["allow_origins"] or ()), motd=motd,
        log_level=values["log_level"].upper(), quiet_above=values["quiet_above"],
        bans=tuple(values.get("bans") or ()), metrics=values.get("metrics") or None,
        redis=values.get("redis") or None,
        redis_cafile=str(values["redis_cafile"]) if values.get("redis_cafile") else None,
    )


def read_motd(path: Path | None) -> str:
    """The message of the day: the file's text, at most 4 KiB of it, as UTF-8."""
    if path is None:
        return ""
    try:
        data = path.read_bytes()[:4096]
    except OSError as exc:
        raise ConfigError(f"cannot read --motd {path}: {exc.strerror or exc}")
    return data.decode("utf-8", "replace").strip("\n")


def read_password_value(password_file: Path | None) -> str | None:
    """The server password, as ``read_password`` finds it, or ``ConfigError``."""
    import os

    if password_file is None:
        return os.environ.get("SELCHAT_PASSWORD") or None
    try:
        password = password_file.read_text(encoding="utf-8").splitlines()[0].strip()
    except (OSError, UnicodeDecodeError, IndexError) as exc:
        raise ConfigError(f"cannot read a password from {password_file}: {getattr(exc, 'strerror', None) or exc}")
    if not password:
        raise ConfigError(f"{password_file} holds an empty password")
    return password


def read_password(password_file: Path | None, status: int) -> str | None:
    """The password: the file's first line if a file is given, else SELCHAT_PASSWORD, else None."""
    try:
        return read_password_value(password_file)
    except ConfigError as exc:
        fail(str(exc), status)


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="selchat")
def main() -> None:
    """selchat: a single-threaded selectors chat server, its client and its load generator."""


@main.command(context_settings=CONTEXT)
@click.option("--host", default=DEFAULT_HOST, show_default=True, envvar="SELCHAT_HOST",
              help="Address to listen on (0.0.0.0 or :: for every interface).")
@click.option("--port", default=DEFAULT_PORT, show_default=True, envvar="SELCHAT_PORT",
              type=click.IntRange(0, 65535), help="TCP port (0 picks a free one).")
@click.option("--max-clients", default=256, show_default=True, envvar="SELCHAT_MAX_CLIENTS",
              type=click.IntRange(min=1), help="Connections served at once (CLIENT_COUNT).")
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
@click.option("--max-rooms", default=20, show_default=True, envvar="SELCHAT_MAX_ROOMS",
              type=click.IntRange(min=1), help="Rooms one user may be in at once.")
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
              type=click.Choice(LOG_LEVELS, case_sensitive=False))
@click.option("--log-format", default="text", show_default=True, envvar="SELCHAT_LOG_FORMAT",
              type=click.Choice(["text", "json"]), help="json: one object a line, for log shippers.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), is_eager=True,
              envvar="SELCHAT_CONFIG", callback=lambda ctx, param, value: _use_config_file(ctx, value),
              help="A TOML file of these options (max-clients = 500 ...); the command line wins. "
                   "SIGHUP reads it again.")
def serve(
    host: str,
    port: int,
    max_clients: int,
    max_frame: int,
    max_message: int,
    max_output: int,
    handshake_timeout: float,
    ping_interval: float,
    rate_limit: float,
    burst: int,
    password_file: Path | None,
    tls_cert: str | None,
    tls_key: str | None,
    db: str,
    replay: int,
    history_max: int,
    max_rooms: int,
    require_account: bool,
    password_min: int,
    irc_name: str,
    quiet_above: int,
    allow_origins: tuple[str, ...],
    bans: tuple[str, ...],
    motd_file: Path | None,
    metrics: str | None,
    redis: str | None,
    redis_cafile: str | None,
    workers: int,
    reuse_port: bool,
    log_level: str,
    log_format: str,
    config_file: Path | None,
) -> None:
    """Run the chat server until Ctrl-C or SIGTERM.

    When standard input is a terminal, lines typed there are announced to every client, and
    /users, /kick NAME, /ban NAME and /shutdown work.
    """
    import ssl

    from selchat.logsink import TextFormatter, TurnBufferedHandler
    from selchat.server import ChatServer, raise_fd_limit

    handler = TurnBufferedHandler(sys.stderr)
    if log_format == "json":
        from selchat.logjson import JsonFormatter

        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    logging.basicConfig(level=log_level.upper(), handlers=[handler])
    ctx = click.get_current_context()
    try:
        config = server_config(ctx.params)
    except ConfigError as exc:
        fail(str(exc), 2)
    reload = None
    if config_file is not None:
        kept = {name: value for name, value in ctx.params.items()
                if ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)}
        # the options' own defaults (click marks "no default" with a sentinel object)
        defaults = {p.name: p.type_cast_value(ctx, p.default)
                    if isinstance(p.default, (str, int, float, bool, tuple, list)) else None
                    for p in ctx.command.params if p.name}

        def reload() -> ServerConfig:
            return server_config({**defaults, **read_config_file(ctx, config_file), **kept})
    if workers > 1:
        if not config.redis:
            fail("--workers needs --redis: the workers share their rooms through it", 2)
        if config.metrics:
            fail("--metrics serves one process; with --workers, run each server with its own --metrics", 2)
        from selchat.supervisor import Supervisor

        try:
            supervisor = Supervisor(workers, host, port, _worker_args(sys.argv[2:]))
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", 2)
        sys.exit(supervisor.run())
    warning = raise_fd_limit(max_clients)
    if warning:
        click.echo(f"selchat: warning: {warning}", err=True)
    from selchat.store import StoreError

    try:
        server = ChatServer(config, reload=reload)
    except StoreError as exc:
        fail(str(exc), 2)
    except (OSError, ssl.SSLError) as exc:
        fail(f"cannot use the TLS certificate {tls_cert} and key {tls_key}: {exc.strerror or exc}", 2)
    try:
        bound_host, bound_port = server.listen(reuse_port=reuse_port)
    except socket.gaierror as exc:
        fail(f"cannot listen on {host}: {exc.strerror}", 2)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            fail(f"port {port} on {host} is already in use; choose another with --port", 2)
        if exc.errno == errno.EACCES:
            fail(f"no permission to listen on {host}:{port}; use a port above 1023 with --port", 2)
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", 2)
    metrics_at = None
    if config.metrics:
        try:
            metrics_at = server.listen_metrics()
        except OSError as exc:
            fail(f"cannot serve --metrics on {config.metrics}: {exc.strerror or exc}", 2)
    server.prepare()  # after the last way start-up can fail: it starts the worker thread
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    click.echo(f"selchat listening on {shown}:{bound_port}{' (TLS)' if tls_cert else ''}")
    if metrics_at is not None:
        m_shown = f"[{metrics_at[0]}]" if ":" in metrics_at[0] else metrics_at[0]
        click.echo(f"metrics at http://{m_shown}:{metrics_at[1]}/metrics")
    console = sys.stdin is not None and sys.stdin.isatty()
    if console:
        click.echo("console: type to announce; /users, /stats, /kick NAME, /ban, /unban, /bans, /shutdown, /help")
    sys.stdout.flush()
    server.serve_forever(console=console)


def _worker_args(argv: list[str]) -> list[str]:
    """serve's command line for one worker: the same, without --workers, --host and --port (the
    supervisor gives those)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in ("--workers", "--host", "--port"):
            skip = "=" not in arg
            continue
        out.append(arg)
    return out


@main.group(context_settings=CONTEXT)
def account() -> None:
    """Manage accounts in a server's database (works while the server runs)."""


@account.command("add", context_settings=CONTEXT)
@click.argument("name")
@click.option("--db", default="selchat.db", show_default=True, envvar="SELCHAT_DB",
              help="The server's SQLite file.")
def account_add(name: str, db: str) -> None:
    """Create the account NAME; the password is asked for (or read from SELCHAT_ACCOUNT_PASSWORD).

    For servers started with --require-account, where guests cannot register themselves.
    """
    import os
    import time

    from selchat.config import PASSWORD_MAX, PASSWORD_MIN
    from selchat.hub import valid_name
    from selchat.passwords import hash_password
    from selchat.records import SaveAccount
    from selchat.store import Store, StoreError

    if not valid_name(name):
        fail(f"{name!r} is not a valid name: 1-32 ASCII letters, digits, '_', '-' or '.'", 2)
    password = os.environ.get("SELCHAT_ACCOUNT_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            fail("no terminal to ask for the password on: set SELCHAT_ACCOUNT_PASSWORD", 2)
        password = click.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        fail(f"an account password is {PASSWORD_MIN}-{PASSWORD_MAX} characters", 2)
    try:
        store = Store(db)
    except StoreError as exc:
        fail(str(exc), 2)
    try:
        if store.account(name.casefold()) is not None:
            fail(f"{name} is an account already in {db}", 1)
        store.write(SaveAccount(name.casefold(), name, hash_password(password), time.time()))
        store.commit()
    finally:
        store.close()
    click.echo(f"account {name} created in {db}")


@main.command(context_settings=CONTEXT)
@click.option("--host", "hosts", multiple=True, required=True,
              help="Name or IP address clients connect to (repeat for several).")
@click.option("--cert", "cert_path", default="selchat-cert.pem", show_default=True,
              type=click.Path(dir_okay=False, path_type=Path), help="Where to write the certificate.")
@click.option("--key", "key_path", default="selchat-key.pem", show_default=True,
              type=click.Path(dir_okay=False, path_type=Path), help="Where to write the private key.")
@click.option("--days", default=825, show_default=True, type=click.IntRange(1, 3650),
              help="Days the certificate is valid.")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def cert(hosts: tuple[str, ...], cert_path: Path, key_path: Path, days: int, force: bool) -> None:
    """Write a self-signed TLS certificate and key for a LAN server.

    Serve with `selchat serve --tls-cert CERT --tls-key KEY`; give clients the certificate
    file (never the key) and connect with `selchat join --tls --cafile CERT`.
    """
    from selchat.certs import write_self_signed

    for path in (cert_path, key_path):
        if path.exists() and not force:
            fail(f"{path} exists; use --force to overwrite it", 2)
    try:
        write_self_signed(list(hosts), cert_path, key_path, days)
    except OSError as exc:
        fail(f"cannot write {exc.filename}: {exc.strerror}", 2)
    click.echo(f"wrote {cert_path} (certificate for {', '.join(hosts)}, {days} days) and {key_path} (key)")
    click.echo(f"serve:  selchat serve --host 0.0.0.0 --tls-cert {cert_path} --tls-key {key_path}")
    click.echo(f"join:   selchat join --tls --cafile {cert_path} --host {hosts[0]}")


@main.command(context_settings=CONTEXT)
@click.option("--host", default=DEFAULT_HOST, show_default=True, envvar="SELCHAT_HOST",
              help="The server's name or address.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, envvar="SELCHAT_PORT",
              type=click.IntRange(1, 65535))
@click.option("--name", envvar="SELCHAT_NAME", help="Your name; asked for when missing.")
@click.option("--password-file", type=click.Path(dir_okay=False, path_type=Path),
              help="File whose first line is the server password (or set SELCHAT_PASSWORD).")
@click.option("--login", is_flag=True,
              help="Log in to the account NAME: the password comes from SELCHAT_LOGIN, else it is asked for.")
@click.option("--tls", is_flag=True, help="Connect with TLS, verifying the server's certificate.")
@click.option("--cafile", type=click.Path(dir_okay=False, exists=True),
              help="Trust this certificate (e.g. from `selchat cert`) instead of the system store; implies --tls.")
@click.option("--insecure", is_flag=True, help="With TLS, do not verify the certificate (warns).")
@click.option("--no-color", is_flag=True, help="No colours (also when NO_COLOR is set).")
@click.option("--json", "json_output", is_flag=True, help="Print every received frame as its JSON line.")
def join(
    host: str,
    port: int,
    name: str | None,
    password_file: Path | None,
    login: bool,
    tls: bool,
    cafile: str | None,
    insecure: bool,
    no_color: bool,
    json_output: bool,
) -> None:
    """Join a chat server: interactive in a terminal, line by line from a pipe.

    \b
    Commands: /join #ROOM, /part, /list, /names, /topic, /me, /msg NAME TEXT (or @NAME TEXT),
    /nick, /away, /register, /users, /ping, /help, /quit. Alt-1..9 switch rooms, PageUp scrolls back.
    From a pipe every line is sent as chat:  echo "build done" | selchat join --name ci
    """
    import os

    from selchat.client import ClientError, Options, client_ssl_context, run

    password = read_password(password_file, 1)
    account_password = None
    if login:
        account_password = os.environ.get("SELCHAT_LOGIN") or None
        if account_password is None:
            if not sys.stdin.isatty():
                fail("--login needs the account's password: set SELCHAT_LOGIN (there is no terminal to ask on)")
            if not name:
                name = click.prompt("Your name")
            account_password = click.prompt(f"Password for {name}", hide_input=True)
    elif os.environ.get("SELCHAT_LOGIN"):
        account_password = os.environ["SELCHAT_LOGIN"]
    try:
        context = None
        if tls or cafile or insecure:
            if insecure:
                click.echo(
                    "selchat: warning: --insecure: the server's certificate is not checked, so anyone "
                    "between you and it could read and change this chat",
                    err=True,
                )
            context = client_ssl_context(cafile, insecure)
        options = Options(
            host=host,
            port=port,
            name=name,
            password=password,
            login=account_password,
            colour=not no_color and not os.environ.get("NO_COLOR"),
            json_output=json_output,
            tls=context,
        )
        status = run(options)
    except ClientError as exc:
        fail(exc.message, exc.status)
    sys.exit(status)


@main.command(context_settings=CONTEXT)
@click.option("--clients", default=200, show_default=True, type=click.IntRange(2, 100_000),
              help="Clients to connect; every one joins and reads everything.")
@click.option("--duration", default=10.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds of sending.")
@click.option("--rate", type=click.FloatRange(min=0.1),
              help="Messages a second offered in total; without it, as fast as the server absorbs.")
@click.option("--window", default=128, show_default=True, type=click.IntRange(min=1),
              help="Without --rate: messages in flight in total (until every recipient has one).")
@click.option("--size", default=64, show_default=True, type=click.IntRange(16, 100_000),
              help="Bytes of each message's text.")
@click.option("--senders", type=click.IntRange(min=0), help="How many of the clients send [default: all].")
@click.option("--workers", type=click.IntRange(min=1),
              help="Load-generator processes [default: one per core the server leaves free].")
@click.option("--host", help="Target a running server instead of starting one.")
@click.option("--port", "ports", type=click.IntRange(1, 65535), multiple=True,
              help="Target a running server's port; give it more than once to spread the clients over "
                   "several servers (selchat serve --redis), client i on the i-th port in turn.")
@click.option("--server-cmd", help="Start this server instead of selchat (it gets --host and --port 0 "
              "appended and must print 'listening on HOST:PORT').")
@click.option("--rooms", default=0, type=click.IntRange(min=0),
              help="Spread the clients over this many rooms, each message to one room [default: all in the lobby].")
@click.option("--db", default=":memory:", show_default=True,
              help="Database of the server the bench starts (a file path measures the disk's cost).")
@click.option("--logins", default=0, type=click.IntRange(min=0),
              help="Extra clients that log in to accounts again and again during the run (argon2 load).")
@click.option("--protocol", default="json", show_default=True, type=click.Choice(["json", "irc", "mixed", "ws"]),
              help="How the clients speak: JSON lines, IRC, half of each, or JSON over WebSocket.")
@click.option("--json", "json_output", is_flag=True, help="Print one JSON object instead of the table.")
def bench(
    clients: int,
    duration: float,
    rate: float | None,
    window: int,
    size: int,
    senders: int | None,
    workers: int | None,
    host: str | None,
    ports: tuple[int, ...],
    server_cmd: str | None,
    rooms: int,
    db: str,
    logins: int,
    protocol: str,
    json_output: bool,
) -> None:
    """Measure a chat server: deliveries a second, latency, and anything lost.

    Without --host/--port it starts its own `selchat serve` on a free loopback port (limits raised
    to fit the run), and reports that server's CPU time and peak memory too.
    """
    import os

    from selchat.bench import BenchError, Spec, format_table, to_json
    from selchat.bench import main as bench_main

    if host is not None and not ports:
        fail("--host needs --port", 2)
    target_given = bool(ports)
    if target_given and server_cmd:
        fail("--server-cmd starts a server; it does not go with --host/--port", 2)
    if workers is None:
        workers = max(1, min(4, (os.cpu_count() or 2) - (0 if target_given else 1)))
    spec = Spec(
        host=host or DEFAULT_HOST,
        port=ports[0] if ports else 0,
        ports=list(ports),
        clients=clients,
        duration=duration,
        rate=rate,
        window=window,
        size=size,
        senders=senders,
        workers=workers,
        rooms=rooms,
        db=db,
        logins=logins,
        protocol=protocol,
    )
    if rooms > clients // 2:
        fail("--rooms must leave at least two clients in each room", 2)
    try:
        result = bench_main(spec, server_cmd=server_cmd, target_given=target_given, json_output=json_output)
    except BenchError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted", 130)
    click.echo(to_json(result) if json_output else format_table(result))
