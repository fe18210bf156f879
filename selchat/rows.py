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


def copy_rows(db: sqlite3.Connection, insert: str, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The rows inserted of ``rows``, each unless its (room, microsecond) is in already: a copy
    heard twice (the tail read at a room's sync, then its publication) or another process's
    line of the same microsecond is skipped, never an error that would cost the turn's commit."""
    cursor = db.cursor()
    statement = insert.replace("INSERT", "INSERT OR IGNORE", 1)
    kept = []
    for row in rows:
        row = (row[0], row[1], row[2], sqlite_text(row[3]), row[4])
        cursor.execute(statement, row)
        if cursor.rowcount == 1:
            kept.append(row)
    return kept
