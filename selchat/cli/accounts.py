"""``selchat account``: the accounts in a server's database, managed while the server runs.

A login reads its account's password hash from the database at that moment (the worker's
check_login), so a new password counts from the next login without a restart; a delete or a
rename is a request a running server follows within a second (upkeep.py), said when it has.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING

import click

from selchat.cli.common import CONTEXT, fail, main

if TYPE_CHECKING:
    from selchat.store import Store

DB = click.option("--db", default="selchat.db", show_default=True, envvar="SELCHAT_DB",
                  help="The server's SQLite file.")


def _password(name: str) -> str:
    """A new password: SELCHAT_ACCOUNT_PASSWORD, or asked twice on the terminal, its rule said first."""
    from selchat.config import PASSWORD_MAX, PASSWORD_MIN

    password = os.environ.get("SELCHAT_ACCOUNT_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            fail("no terminal to ask for the password on: set SELCHAT_ACCOUNT_PASSWORD", 2)
        click.echo(f"An account password is {PASSWORD_MIN}-{PASSWORD_MAX} characters.")
        password = click.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        fail(f"an account password is {PASSWORD_MIN}-{PASSWORD_MAX} characters", 2)
    return password


def _store(db: str, create: bool = False) -> Store:
    """The database; only `add` makes one (a closed server's first account), the rest need it."""
    from pathlib import Path

    from selchat.store import Store, StoreError

    if not create and not Path(db).is_file():
        fail(f"{db}: no such database file", 2)
    try:
        return Store(db, beside_a_server=True)
    except StoreError as exc:
        fail(str(exc), 2)


# how long a command waits for a running server to follow its change (it looks each second)
FOLLOW_WAIT = 3.0


def operator_change(db: str, action: str, subject: str, detail: str = "") -> str:
    """Make the change in the file and, when a server has the file open, wait until it follows;
    the words that say which happened."""
    from pathlib import Path

    from selchat import upkeep

    open_elsewhere = Path(db + "-wal").exists()  # a running server keeps the write-ahead log
    store = _store(db)
    try:
        request = upkeep.request(store.db, action, subject, detail)
        if not open_elsewhere:
            return "no server has the file open"
        if upkeep.wait_applied(store.db, request, FOLLOW_WAIT):
            return "the running server has followed"
        return f"no running server followed within {FOLLOW_WAIT:g} s; a server started later reads it from the file"
    finally:
        store.close()


def _existing(db: str, name: str) -> str:
    """The account's name as registered, or one line and exit status 1."""
    store = _store(db)
    try:
        found = store.account(name.casefold())
    finally:
        store.close()
    if found is None:
        fail(f"{name} is not an account in {db}", 1)
    return found[0]


@main.group(context_settings=CONTEXT)
def account() -> None:
    """Manage accounts in a server's database (works while the server runs)."""


@account.command("add", context_settings=CONTEXT)
@click.argument("name")
@click.option("--bot", is_flag=True,
              help="A program's account: no password, a token to log in with instead (printed once); "
                   "its lines are marked as a bot's everywhere.")
@DB
def account_add(name: str, bot: bool, db: str) -> None:
    """Create the account NAME; its password is asked for (or read from SELCHAT_ACCOUNT_PASSWORD).

    For servers started with --require-account, where guests cannot register themselves, and for
    bots (--bot), which log in with a token where a password would go:

    \b
    selchat join --name NAME --login          (SELCHAT_LOGIN=TOKEN)
    {"type": "join", "username": NAME, "login": TOKEN}
    an IRC client's SASL PLAIN: account NAME, password TOKEN
    """
    import secrets

    from selchat.hub import valid_name
    from selchat.passwords import hash_password
    from selchat.records import SaveAccount

    if not valid_name(name):
        fail(f"{name!r} is not a valid name: 1-32 ASCII letters, digits, '_', '-' or '.'", 2)
    # a bot's password is one nobody knows: only its token logs in
    password = secrets.token_urlsafe(32) if bot else _password(name)
    store = _store(db, create=True)
    try:
        if store.account(name.casefold()) is not None:
            fail(f"{name} is an account already in {db}", 1)
        store.write(SaveAccount(name.casefold(), name, hash_password(password), time.time()))
        store.commit()
        token = _new_token(store, name.casefold(), bot=True) if bot else None
    finally:
        store.close()
    click.echo(f"{'bot ' if bot else ''}account {name} created in {db}")
    if token is not None:
        _show_token(name, token)


def _new_token(store: Store, key: str, bot: bool | None = None) -> str:
    """A new token for the account (the old one stops working); only its digest is kept."""
    import secrets

    from selchat.hooks import digest

    token = secrets.token_urlsafe(32)
    store.db.execute("UPDATE accounts SET token = ? WHERE key = ?", (digest(token), key))
    if bot is not None:
        store.db.execute("UPDATE accounts SET bot = ? WHERE key = ?", (int(bot), key))
    return token


def _show_token(name: str, token: str) -> None:
    click.echo(f"token for {name}: {token}")
    click.echo("keep it as you would a password: it logs in as the account, and it is not shown again", err=True)


@account.command("token", context_settings=CONTEXT)
@click.argument("name")
@DB
def account_token(name: str, db: str) -> None:
    """Give the account NAME a new login token for programs, printed once; the old one stops working.

    The token logs in wherever the password does (the password still works too).
    """
    store = _store(db)
    try:
        found = store.account(name.casefold())
        if found is None:
            fail(f"{name} is not an account in {db}", 1)
        token = _new_token(store, name.casefold())
    finally:
        store.close()
    _show_token(found[0], token)


@account.command("list", context_settings=CONTEXT)
@DB
def account_list(db: str) -> None:
    """List the accounts: each name and when it was made, oldest first."""
    store = _store(db)
    try:
        rows = store.db.execute("SELECT name, created, bot FROM accounts ORDER BY created, key").fetchall()
    finally:
        store.close()
    for name, created, bot in rows:
        made = time.strftime('%Y-%m-%d %H:%M', time.localtime(created))
        click.echo(f"{name}\tsince {made}" + ("\tbot" if bot else ""))
    click.echo(f"{len(rows)} account{'' if len(rows) == 1 else 's'} in {db}", err=True)


@account.command("passwd", context_settings=CONTEXT)
@click.argument("name")
@DB
def account_passwd(name: str, db: str) -> None:
    """Give the account NAME a new password (asked for, or SELCHAT_ACCOUNT_PASSWORD).

    It counts from the next login; whoever is logged in now stays logged in.
    """
    from selchat.passwords import hash_password

    store = _store(db)
    try:
        found = store.account(name.casefold())
        if found is None:
            fail(f"{name} is not an account in {db}", 1)
        password = _password(found[0])
        store.db.execute("UPDATE accounts SET hash = ? WHERE key = ?", (hash_password(password), name.casefold()))
        store.commit()
    finally:
        store.close()
    click.echo(f"new password for {found[0]} in {db}: it counts from the next login")


@account.command("delete", context_settings=CONTEXT)
@click.argument("name")
@DB
def account_delete(name: str, db: str) -> None:
    """Delete the account NAME and the private messages still waiting for it.

    Whoever is logged in to it is disconnected, told why; what it said in rooms stays in their
    history, and the name is free for anyone. Rooms it registered have no founder any more.
    """
    shown = _existing(db, name)
    said = operator_change(db, "delete_account", shown.casefold())
    click.echo(f"account {shown} deleted from {db} ({said})")


@account.command("rename", context_settings=CONTEXT)
@click.argument("old")
@click.argument("new")
@DB
def account_rename(old: str, new: str, db: str) -> None:
    """Rename the account OLD to NEW: its password, conversations and room roles go with it.

    Its owner, if online under the old name, is renamed at once, as by /nick.
    """
    from selchat.hub import valid_name

    if not valid_name(new):
        fail(f"{new!r} is not a valid name: 1-32 ASCII letters, digits, '_', '-' or '.'", 2)
    shown = _existing(db, old)
    if new.casefold() != shown.casefold():
        store = _store(db)
        try:
            taken = store.account(new.casefold())
        finally:
            store.close()
        if taken is not None:
            fail(f"{taken[0]} is an account already in {db}", 1)
    said = operator_change(db, "rename_account", shown.casefold(), new)
    click.echo(f"account {shown} renamed {new} in {db} ({said})")
