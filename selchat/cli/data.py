"""The database's own commands: ``backup``, ``restore`` and ``check``.

A copy of a WAL database taken with ``cp`` while the server runs can miss what is still in the
``-wal`` file or catch a page half written; SQLite's online backup API copies a consistent
snapshot page by page while others keep writing (sqlite.org/backup.html), so ``backup`` is safe
at any time and ``restore`` writes through SQLite too, never around it.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import click

from selchat.cli.common import CONTEXT, fail, main

DB_OPTION = click.option("--db", default="selchat.db", show_default=True, envvar="SELCHAT_DB",
                         help="The server's SQLite file.")
PAGES_A_STEP = 256  # pages copied between pauses, so a running server's writes are not held up long


def _open(path: str, must_exist: bool = True) -> sqlite3.Connection:
    if must_exist and not Path(path).is_file():
        fail(f"{path}: no such database file", 2)
    try:
        db = sqlite3.connect(f"file:{path}?mode={'rw' if must_exist else 'rwc'}", uri=True)
        db.execute("PRAGMA busy_timeout = 5000")
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        fail(f"{path}: not a database selchat can read ({exc})", 2)
    return db


def _summary(db: sqlite3.Connection) -> dict[str, int]:
    """What a database holds: its schema version and the rows people care about."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    counts = {"schema": db.execute("PRAGMA user_version").fetchone()[0]}
    for table in ("messages", "rooms", "accounts", "dms", "bans"):
        counts[table] = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if table in tables else 0
    return counts


def _said(counts: dict[str, int]) -> str:
    return (f"schema {counts['schema']}, {counts['messages']} messages in {counts['rooms']} rooms, "
            f"{counts['accounts']} accounts, {counts['dms']} private messages, {counts['bans']} bans")


def _check_integrity(db: sqlite3.Connection, path: str) -> None:
    from selchat.schema import SCHEMA_VERSION

    problems = [row[0] for row in db.execute("PRAGMA integrity_check")]
    if problems != ["ok"]:
        fail(f"{path} is damaged: {'; '.join(problems[:3])}", 1)
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        fail(f"{path} has schema version {version}, newer than this selchat knows ({SCHEMA_VERSION});"
             " upgrade selchat", 1)


@main.command(context_settings=CONTEXT)
@click.argument("file", type=click.Path(dir_okay=False))
@DB_OPTION
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def backup(file: str, db: str, force: bool) -> None:
    """Copy the database to FILE, consistently, while the server runs.

    Uses SQLite's online backup API: a plain copy of a database in use can be torn or miss what
    is still in its write-ahead log. The copy is a complete database; `selchat restore` puts it
    back, and a server started with --db FILE uses it as it is.
    """
    if Path(file).exists() and not force:
        fail(f"{file} exists; choose another name or add --force", 1)
    source = _open(db)
    target_path = file + ".part"  # never a half-made FILE, whatever stops the copy
    Path(target_path).unlink(missing_ok=True)
    target = sqlite3.connect(target_path)
    try:
        source.backup(target, pages=PAGES_A_STEP)
        target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
        counts = _summary(target)
    except sqlite3.Error as exc:
        fail(f"backup of {db} failed: {exc}", 1)
    finally:
        target.close()
        source.close()
    os.replace(target_path, file)
    click.echo(f"backed up {db} to {file} ({Path(file).stat().st_size} bytes): {_said(counts)}")


@main.command(context_settings=CONTEXT)
@click.argument("file", type=click.Path(dir_okay=False))
@DB_OPTION
@click.option("--yes", is_flag=True, help="Do not ask before replacing the database.")
def restore(file: str, db: str, yes: bool) -> None:
    """Replace the database with the backup FILE. Stop the server first.

    FILE is checked before anything is replaced. A running server would keep its own view of
    accounts and rooms and write over the restored file; `selchat serve` upgrades an older
    backup's schema by itself when it starts.
    """
    source = _open(file)
    _check_integrity(source, file)
    counts = _summary(source)
    if not yes:
        if not os.isatty(0):
            fail("no terminal to confirm on: add --yes", 2)
        click.confirm(f"Replace {db} with {file} ({_said(counts)})? Stop the server first", abort=True)
    target = _open(db, must_exist=False)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode = WAL")  # as the server keeps it
    except sqlite3.Error as exc:
        fail(f"restore into {db} failed: {exc}", 1)
    finally:
        target.close()
        source.close()
    click.echo(f"restored {db} from {file}: {_said(counts)}")


@main.command(context_settings=CONTEXT)
@DB_OPTION
def check(db: str) -> None:
    """Check the database: its integrity, its schema version and what it holds.

    Safe while the server runs; exits 1 if the file is damaged or newer than this selchat.
    """
    source = _open(db)
    try:
        _check_integrity(source, db)
        counts = _summary(source)
    finally:
        source.close()
    size = sum(Path(db + tail).stat().st_size for tail in ("", "-wal") if Path(db + tail).exists())
    click.echo(f"{db}: ok, {size} bytes with its log; {_said(counts)}")
