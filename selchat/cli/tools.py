"""The other commands: ``join`` (the client), ``bench`` and ``cert``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from selchat.cli.common import CONTEXT, fail, main, read_password
from selchat.config import DEFAULT_HOST, DEFAULT_PORT


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
              type=click.IntRange(1, 65535), help="The server's port.")
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
@click.option("--protocol", default="json", show_default=True,
              type=click.Choice(["json", "irc", "mixed", "ws", "redis"]),
              help="How the clients speak: JSON lines, IRC, half of each, JSON over WebSocket, or Redis pub/sub"
              " (the baseline: the bench starts redis-server instead of selchat).")
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
