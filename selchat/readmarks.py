"""Read markers in the database, and the unread counts they give: plain functions over the store's
connection (conversations.py's habit), so store.py keeps to storage itself.

A count reads at most UNREAD_MAX + 1 rows of one room or conversation after its marker, along the
primary key's (room, ts) order: a room a thousand lines behind costs a bounded read, and says
"999+" rather than an exact number, as chat clients show counts past what anyone reads one by one.
"""

from __future__ import annotations

import re
import sqlite3

from selchat.answers import Unread

UNREAD_MAX = 999  # counts stop here (shown as 999+; Slack and Discord badges stop at 99+)
CONVERSATIONS_MAX = 100  # conversations one list holds, the most recent first


def load(db: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """Every account's markers: account key -> target key -> microseconds."""
    marks: dict[str, dict[str, int]] = {}
    for account, target, ts in db.execute("SELECT account, target, ts FROM read_markers"):
        marks.setdefault(account, {})[target] = ts
    return marks


SAVE = ("INSERT INTO read_markers (account, target, ts) VALUES (?, ?, ?) ON CONFLICT (account, target)"
        " DO UPDATE SET ts = MAX(ts, excluded.ts)")


def _mentions(name: str) -> re.Pattern[str]:
    """The reader's name as a word of a line (case aside), as clients highlight it."""
    return re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])", re.IGNORECASE)


def room_counts(db: sqlite3.Connection, rooms: tuple[tuple[str, str, int], ...], name: str) -> list[Unread]:
    """Lines others said after each marker (deleted ones aside), and how many of them name ``name``."""
    mentioned = _mentions(name)
    me = name.casefold()
    found = []
    for key, shown, since in rooms:
        rows = db.execute("SELECT username, message, action FROM messages WHERE room = ? AND ts > ? ORDER BY ts"
                          " LIMIT ?", (key, since, UNREAD_MAX + 1)).fetchall()
        theirs = [text for who, text, flags in rows if who.casefold() != me and not (flags or 0) & 4]
        latest = db.execute("SELECT MAX(ts) FROM messages WHERE room = ?", (key,)).fetchone()[0]
        found.append(Unread(shown, None, min(len(theirs), UNREAD_MAX), sum(1 for t in theirs if mentioned.search(t)),
                            len(theirs) > UNREAD_MAX, latest / 1_000_000 if latest else None))
    return found


def _from_peer(db: sqlite3.Connection, me: str, peer: str, since: int) -> int:
    return db.execute("SELECT COUNT(*) FROM (SELECT 1 FROM dms WHERE sender = ? AND recipient = ? AND ts > ? LIMIT ?)",
                      (peer, me, since, UNREAD_MAX + 1)).fetchone()[0]


def peer_counts(db: sqlite3.Connection, me: str, peers: tuple[tuple[str, str, int], ...]) -> list[Unread]:
    """Messages from each peer after its marker (every message of a conversation is for the reader)."""
    found = []
    for key, shown, since in peers:
        count = 0 if key == me else _from_peer(db, me, key, since)
        found.append(Unread(None, shown, min(count, UNREAD_MAX), count and min(count, UNREAD_MAX), count > UNREAD_MAX))
    return found


def conversations(db: sqlite3.Connection, me: str, marks: dict[str, int]) -> list[Unread]:
    """One's conversations, the most recent first (at most CONVERSATIONS_MAX), each with its latest
    message's time and the count after its marker (``marks``: the other side's key -> marker)."""
    # SQLite takes a bare column from the row of the MAX: the peer's name as of the latest message
    rows = db.execute(
        "SELECT peer, peer_name, MAX(ts) AS latest FROM (SELECT recipient AS peer, recipient_name AS peer_name, ts"
        " FROM dms WHERE sender = ? UNION ALL SELECT sender, sender_name, ts FROM dms WHERE recipient = ?)"
        " GROUP BY peer ORDER BY latest DESC LIMIT ?", (me, me, CONVERSATIONS_MAX)).fetchall()
    found = []
    for peer, shown, latest in rows:
        count = 0 if peer == me else _from_peer(db, me, peer, marks.get(peer, -1))
        found.append(Unread(None, shown, min(count, UNREAD_MAX), min(count, UNREAD_MAX), count > UNREAD_MAX,
                            latest / 1_000_000))
    return found
