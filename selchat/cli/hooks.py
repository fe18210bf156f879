"""``selchat hook``: incoming webhooks (hooks.py), made, listed and deleted while the server runs."""

from __future__ import annotations

import time

import click

from selchat.cli.accounts import DB, _store, operator_change
from selchat.cli.common import CONTEXT, fail, main


@main.group(context_settings=CONTEXT)
def hook() -> None:
    """Incoming webhooks: a secret URL that posts into a room as a bot (works while the server runs).

    \b
    selchat hook add '#ci' --name ci-bot
    curl -d '{"text": "build 412 passed"}' http://HOST:5000/hooks/SECRET
    """


@hook.command("add", context_settings=CONTEXT)
@click.argument("room")
@click.option("--name", required=True, help="The bot's name its lines are said under (a name no guest may take).")
@click.option("--allow-username", is_flag=True,
              help='Let a post\'s "username" field name the line instead (Slack\'s override).')
@click.option("--send-to", metavar="URL",
              help="Also an outgoing webhook: POST each line in ROOM that says NAME or a --word to URL; "
                   'an answer of {"text": "..."} is said in the room as NAME.')
@click.option("--word", "words", multiple=True, metavar="WORD",
              help="A word that sends a line to --send-to (again for more); NAME always does.")
@click.option("--url", "base", default="http://localhost:5000", show_default=True, envvar="SELCHAT_PUBLIC_URL",
              help="How people reach the server, to print the hook's URL with.")
@DB
def hook_add(room: str, name: str, allow_username: bool, send_to: str | None, words: tuple[str, ...], base: str,
             db: str) -> None:
    """Make a webhook that posts into ROOM (#ci) as NAME, and print its secret URL, once.

    Keep the URL as you would a password: whoever has it can post. Only a digest of it is stored,
    so it cannot be shown again; delete the hook and make another to change it.
    """
    from selchat import hooks
    from selchat.config import ROOM_MAX
    from selchat.hub import valid_name
    from selchat.hub.state import ROOM_RE

    if ROOM_RE.fullmatch(room) is None:
        fail(f"{room!r} is not a room name: # and 1-{ROOM_MAX} ASCII letters, digits, '_', '-' or '.'", 2)
    if not valid_name(name):
        fail(f"{name!r} is not a valid name: 1-32 ASCII letters, digits, '_', '-' or '.'", 2)
    if send_to is not None:
        _check_url(send_to)
    elif words:
        fail("--word says what to send to --send-to: give the URL too", 2)
    store = _store(db, create=True)
    try:
        if store.account(name.casefold()) is not None:
            fail(f"{name} is an account in {db}: a webhook's bot needs a name of its own", 1)
        if any(h.key == name.casefold() for h in hooks.listed(store.db)):
            fail(f"{name} is a webhook already in {db}", 1)
        secret = hooks.add(store.db, name, room, allow_username, send_to, words)
    finally:
        store.close()
    click.echo(f"webhook {name} posts into {room}: {base.rstrip('/')}{hooks.PATH}{secret}")
    if send_to is not None:
        called = ", ".join([name, *words])
        click.echo(f"and sends {room}'s lines that say {called} to {send_to}")
    click.echo("keep the URL secret: anyone who has it can post; it is not shown again", err=True)


def _check_url(url: str) -> None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError as exc:
        fail(f"--send-to {url}: {exc}", 2)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        fail(f"--send-to {url}: give an http:// or https:// URL with a host", 2)


@hook.command("list", context_settings=CONTEXT)
@DB
def hook_list(db: str) -> None:
    """List the webhooks: each bot's name, its room and when it was made (never the secret)."""
    from selchat import hooks

    store = _store(db)
    try:
        found = hooks.listed(store.db)
    finally:
        store.close()
    for h in found:
        made = time.strftime("%Y-%m-%d %H:%M", time.localtime(h.created))
        notes = " (may rename its lines)" if h.username_allowed else ""
        notes += f" (sends lines to {h.send_to})" if h.send_to else ""
        notes += " (its room was deleted)" if h.gone else ""
        click.echo(f"{h.name}\t{h.room}\tsince {made}{notes}")
    click.echo(f"{len(found)} webhook{'' if len(found) == 1 else 's'} in {db}", err=True)


@hook.command("delete", context_settings=CONTEXT)
@click.argument("name")
@DB
def hook_delete(name: str, db: str) -> None:
    """Delete the webhook NAME: its URL is refused from now on, and the name is anyone's."""
    from selchat import hooks

    store = _store(db)
    try:
        found = next((h for h in hooks.listed(store.db) if h.key == name.casefold()), None)
    finally:
        store.close()
    if found is None:
        fail(f"{name} is not a webhook in {db}", 1)
    said = operator_change(db, "delete_hook", found.key)
    click.echo(f"webhook {found.name} deleted from {db} ({said})")
