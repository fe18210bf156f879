"""``selchat room``: the rooms in a server's database, listed and deleted while the server runs."""

from __future__ import annotations

import time

import click

from selchat.cli.accounts import DB, _store, operator_change
from selchat.cli.common import CONTEXT, fail, main


@main.group(context_settings=CONTEXT)
def room() -> None:
    """List and delete rooms in a server's database (works while the server runs)."""


def _rooms(db: str) -> list[tuple[str, int, float | None, str]]:
    from selchat import upkeep

    store = _store(db)
    try:
        return upkeep.rooms(store.db)
    finally:
        store.close()


@room.command("list", context_settings=CONTEXT)
@DB
def room_list(db: str) -> None:
    """List the rooms kept in the database: name, messages kept, the last one's time, topic."""
    rows = _rooms(db)
    for name, count, newest, topic in rows:
        last = time.strftime("%Y-%m-%d %H:%M", time.localtime(newest)) if newest else "never"
        click.echo(f"{name}\t{count} message{'' if count == 1 else 's'}\tlast {last}" + (f"\t{topic}" if topic else ""))
    click.echo(f"{len(rows)} room{'' if len(rows) == 1 else 's'} in {db}", err=True)


@room.command("delete", context_settings=CONTEXT)
@click.argument("name")
@DB
def room_delete(name: str, db: str) -> None:
    """Delete the room NAME (#dev) with its history, topic and rules.

    Everyone in it is taken out of it, told why; anyone may make a new room of that name later.
    The lobby cannot be deleted.
    """
    from selchat.config import LOBBY_ROOM

    key = name.lower()
    if key == LOBBY_ROOM.lower():
        fail(f"{LOBBY_ROOM} is where everyone starts: it cannot be deleted", 2)
    found = {shown.lower(): shown for shown, *_ in _rooms(db)}
    if key not in found:
        fail(f"{name} is not a room in {db}", 1)
    said = operator_change(db, "delete_room", key)
    click.echo(f"room {found[key]} deleted from {db} with its history ({said})")
