"""A room's lines as SQLite keeps them: text it can hold, and copies that never collide."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def sqlite_text(text: str) -> str:
    """Text SQLite can hold: a lone surrogate (legal in JSON's \\uXXXX, not in UTF-8) becomes
    U+FFFD, as any UTF-8 decoder would show it."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)


# The index of a copy, kept by SQLite itself: a row that INSERT OR IGNORE skipped fires no
# trigger, so only the copies that went in are indexed, with executemany's speed (a TEMP trigger:
# the file never holds it, so a server without --redis, or a tool, never runs it).
_INDEXED = ("CREATE TEMP TRIGGER IF NOT EXISTS copy_indexed AFTER INSERT ON main.messages BEGIN"
            " INSERT INTO search (rowid, message, username, room) VALUES (new.ts, new.message, new.username, new.room);"
            " END")
_UNINDEXED = "DROP TRIGGER IF EXISTS temp.copy_indexed"
_COPY = "INSERT OR IGNORE INTO messages (room, ts, username, message, action) VALUES (?, ?, ?, ?, ?)"


def index_copies(db: sqlite3.Connection, on: bool) -> None:
    """The trigger made or dropped: once, not a commit (a change of the schema makes SQLite
    prepare every cached statement again)."""
    db.execute(_INDEXED if on else _UNINDEXED)


def copy_rows(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Copies of a shared room's lines, each unless its (room, microsecond) is in already: a copy
    heard twice (the tail read at a room's sync, then its publication) or another process's line
    of the same microsecond is skipped, never an error that would cost the turn's commit; the
    index gets the ones that went in (index_copies)."""
    try:
        db.executemany(_COPY, rows)
    except UnicodeEncodeError:  # rare: clean only then; the rows before the bad one are skipped now
        db.executemany(_COPY, [(r, ts, u, sqlite_text(text), a) for r, ts, u, text, a in rows])
