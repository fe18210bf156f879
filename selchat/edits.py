"""A room's line edited or deleted, in the file: the row takes the new text (or none, flagged
deleted, so history keeps a marker and never the text) and the search index follows, in the
store's transaction. The action column's flags: 1 /me, 2 a bot's, 4 deleted, 8 edited."""

from __future__ import annotations

import sqlite3

from selchat import search
from selchat.records import ChangeLine

DELETED, EDITED = 4, 8


def change_line(db: sqlite3.Connection, change: ChangeLine, searchable: bool) -> None:
    row = db.execute("SELECT message, username FROM messages WHERE room = ? AND ts = ?",
                     (change.room_key, change.ts)).fetchone()
    if row is None:
        return  # pruned meanwhile: nothing left to change
    if searchable:  # the old words out of the index, the new ones in
        db.execute("INSERT INTO search (search, rowid, message, username, room) VALUES ('delete', ?, ?, ?, ?)",
                   (change.ts, row[0], row[1], change.room_key))
    if change.text is None:
        db.execute(f"UPDATE messages SET message = '', action = action | {DELETED}, edited = ? WHERE room = ? AND"
                   " ts = ?", (change.at, change.room_key, change.ts))
        return
    db.execute(f"UPDATE messages SET message = ?, action = action | {EDITED}, edited = ? WHERE room = ? AND ts = ?",
               (change.text, change.at, change.room_key, change.ts))
    if searchable:
        db.execute(search.INDEX, (change.ts, change.text, row[1], change.room_key))


def change_dm(db: sqlite3.Connection, change: ChangeLine, searchable: bool) -> None:
    """A private message edited, or deleted (its row goes: a conversation keeps no trace of it)."""
    assert change.peers is not None
    row = db.execute("SELECT id, message, sender_name FROM dms WHERE ts = ? AND sender = ? AND recipient = ?",
                     (change.ts, *change.peers)).fetchone()
    if row is None:
        return
    if searchable:
        db.execute("INSERT INTO search (search, rowid, message, username, room) VALUES ('delete', ?, ?, ?, '')",
                   (change.ts, row[1], row[2]))
    if change.text is None:
        db.execute("DELETE FROM dms WHERE id = ?", (row[0],))
        return
    db.execute("UPDATE dms SET message = ? WHERE id = ?", (change.text, row[0]))
    if searchable:
        db.execute(search.INDEX, (change.ts, change.text, row[2], ""))


def dm_author(db: sqlite3.Connection, one: str, other: str, ts: int) -> str | None:
    """The sender's key of the private message at ``ts`` between ``one`` and ``other`` (None: none)."""
    row = db.execute("SELECT sender FROM dms WHERE ts = ? AND ((sender = ? AND recipient = ?) OR"
                     " (sender = ? AND recipient = ?))", (ts, one, other, other, one)).fetchone()
    return row[0] if row else None


def author(db: sqlite3.Connection, room_key: str, ts: int) -> str | None:
    """Who said the line (None: the room has no such line, or it was deleted)."""
    row = db.execute("SELECT username, action FROM messages WHERE room = ? AND ts = ?", (room_key, ts)).fetchone()
    return row[0] if row and not row[1] & DELETED else None
