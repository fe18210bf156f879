"""What the commands share: the group, one-line failures, and a server's configuration from
its options and its config file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from selchat import __version__
from selchat.config import ServerConfig

LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def fail(message: str, status: int = 1) -> NoReturn:
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


def use_config_file(ctx: click.Context, path: Path | None) -> Path | None:
    """--config: the file's values become the defaults, so the command line and environment win."""
    if path is not None:
        try:
            ctx.default_map = {**(ctx.default_map or {}), **read_config_file(ctx, path)}
        except ConfigError as exc:
            fail(str(exc), 2)
    return path


def _check_redis(values: dict[str, Any]) -> None:
    """--redis and --redis-cafile make sense together, or ``ConfigError``."""
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

    _check_redis(values)
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
        reserved_names=tuple(n.strip().casefold() for n in values["reserved_names"].split(",") if n.strip()),
        max_per_address=values["max_per_address"], connects_per_minute=values["connects_per_minute"],
        max_frame=values["max_frame"], max_message=values["max_message"], max_output=values["max_output"],
        handshake_timeout=values["handshake_timeout"], ping_interval=values["ping_interval"],
        rate_limit=values["rate_limit"], burst=values["burst"], password=password, tls_cert=tls_cert,
        tls_key=tls_key, db=values["db"], replay=values["replay"], history_max=values["history_max"],
        max_rooms=values["max_rooms"],
        max_rooms_total=values["max_rooms_total"], new_rooms_per_user=values["new_rooms_per_user"],
        require_account=bool(values["require_account"]), devices=values.get("devices", 8),
        multiclient=values.get("multiclient", "on") == "on", linger=values.get("linger", 60.0),
        password_min=values["password_min"], irc_name=irc_name,
        operators=tuple(name.casefold() for name in values.get("operators") or ()),
        allow_origins=tuple(o.rstrip("/") for o in values["allow_origins"] or ()), motd=motd,
        log_level=values["log_level"].upper(), quiet_above=values["quiet_above"],
        bans=tuple(values.get("bans") or ()), metrics=values.get("metrics") or None,
        redis=values.get("redis") or None,
        redis_cafile=str(values["redis_cafile"]) if values.get("redis_cafile") else None,
        search=values.get("search", True),
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


class WholeHelp(click.Group):
    """A group whose list of commands shows each summary whole, wrapped (click cuts them to fit
    one line, mid-sentence, with "..."); its subgroups are the same (``group_class = type``)."""

    group_class = type

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=WholeHelp, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="selchat")
def main() -> None:
    """selchat: a single-threaded selectors chat server, its client and its load generator."""


