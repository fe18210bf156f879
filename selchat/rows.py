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


INSERT_LINE = "INSERT INTO messages (room, ts, username, message, action) VALUES (?, ?, ?, ?, ?)"
_KEPT = "SELECT ts FROM messages WHERE room = ? AND ts BETWEEN ? AND ?"


def copy_rows(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The rows of ``rows`` that are not in yet, inserted: a copy heard twice (the tail read at a
    room's sync, then its publication) or another process's line of the same microsecond is
    skipped, never an error that would cost the turn's commit. What is in already is one range
    read a room (the turn's span of its key), so the rest go in with executemany's speed; a
    per-row INSERT OR IGNORE cost 14 % of the shared saturation rate, and a trigger indexing
    what it let in more (bench/shared.py, side by side)."""
    wanted: dict[tuple[str, int], tuple[Any, ...]] = {}
    spans: dict[str, list[int]] = {}
    for row in rows:
        if wanted.setdefault((row[0], row[1]), row) is row:
            span = spans.get(row[0])
            if span is None:
                spans[row[0]] = [row[1], row[1]]
            else:
                span[0], span[1] = min(span[0], row[1]), max(span[1], row[1])
    for room, (low, high) in spans.items():
        for (ts,) in db.execute(_KEPT, (room, low, high)):
            wanted.pop((room, ts), None)
    new = list(wanted.values())
    try:
        db.executemany(INSERT_LINE, new)
    except UnicodeEncodeError:  # rare: clean only then (the rows before the bad one are in: skip them)
        new = [(r, ts, u, sqlite_text(text), a) for r, ts, u, text, a in new]
        db.executemany(INSERT_LINE.replace("INSERT", "INSERT OR IGNORE", 1), new)
    return new
