"""Full-text search of the history: a query as people type it, and the look-up in SQLite's FTS5.

The index (schema 9) is a contentless FTS5 table whose rowid is a message's timestamp in
microseconds, unique across rooms and conversations (the hub stamps both from one clock), so a
hit is found again in ``messages`` by (room, ts) or in ``dms`` by its pair, and the index holds
no second copy of the text. It is written in the same transaction as the history (store.py) and
pruned with it; a search runs in the worker thread, on a connection of its own (a reader never
waits for the loop's writes, nor they for it), as ergo's and Zulip's searches run off the
request path.

What a query can say is query.py's.
"""

from __future__ import annotations

import sqlite3
import time

from selchat.answers import SearchHit
from selchat.query import WORDS as _WORDS
from selchat.query import Query

# -- the index, as the store keeps it -------------------------------------------------------------
# A line's text, its sender and its room are indexed, so that from: and the asker's rooms narrow a
# search inside the index (FTS5 intersects the lists) instead of in rows read back one by one.
INDEX = "INSERT INTO search (rowid, message, username, room) VALUES (?, ?, ?, ?)"
# what each table gives the index, and what it must be told again to forget a row (a contentless
# index forgets a row only when told its values)
COLUMNS = {"messages": "ts, message, username, room", "dms": "ts, message, sender_name, ''"}
# the rows a prune is about to delete (store.py's subquery), taken out of the index first
UNINDEX_OLDEST = (f"INSERT INTO search (search, rowid, message, username, room) SELECT 'delete', {COLUMNS['messages']}"
                  " FROM messages WHERE room = ?1 AND ts <= (SELECT ts FROM messages WHERE room = ?1"
                  " ORDER BY ts LIMIT 1 OFFSET ?2)")


def _stale(db: sqlite3.Connection) -> bool:
    row = db.execute("SELECT stale FROM search_state").fetchone()
    return bool(row and row[0])


def keep_index(db: sqlite3.Connection, on: bool) -> bool:
    """Whether the store keeps the index. With --no-search it does not, and the file says so, so
    that a server started later with search rebuilds it first (a few seconds a million lines)."""
    if not on:
        db.execute("UPDATE search_state SET stale = 1")
        return False
    if _stale(db):
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("INSERT INTO search (search) VALUES ('delete-all')")
            for table, columns in COLUMNS.items():
                db.execute(f"INSERT INTO search (rowid, message, username, room) SELECT {columns} FROM {table}")
            db.execute("UPDATE search_state SET stale = 0")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    return True


def unindex(db: sqlite3.Connection, table: str, where: str, args: tuple[object, ...]) -> None:
    """Rows about to be deleted by the operator (upkeep.py), out of the index first (if it is kept)."""
    if not _stale(db):
        db.execute(f"INSERT INTO search (search, rowid, message, username, room) SELECT 'delete', {COLUMNS[table]}"
                   f" FROM {table} WHERE {where}", args)


# A search that takes longer is stopped, and the asker told to narrow it: the worker has logins to check.
SEARCH_TIME = 2.0


class Searcher:
    """What the worker searches with: a read-only connection of its own, opened on first use (a
    reader in WAL mode neither waits for the loop's commits nor holds them up)."""

    def __init__(self, path: str, db: sqlite3.Connection | None = None) -> None:
        self.path = path
        self.db = db  # given for ":memory:", which only the loop's own connection can see

    def __call__(self, query: Query, rooms: dict[str, str], me: str | None, limit: int,
                 before: float | None) -> tuple[list[SearchHit], bool] | str:
        """The hits, or why there are none to give, in words."""
        if self.db is None:
            self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self.db.execute("PRAGMA busy_timeout = 5000")
        deadline = time.monotonic() + SEARCH_TIME
        self.db.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            return run(self.db, query, rooms, me, limit, before)
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                return f"that search took over {SEARCH_TIME:g} s; narrow it with in:#room, from:NAME or a date"
            raise
        finally:
            self.db.set_progress_handler(None, 0)


def _us(timestamp: float | None) -> int | None:
    return None if timestamp is None else round(timestamp * 1_000_000)


def run(db: sqlite3.Connection, query: Query, rooms: dict[str, str], me: str | None, limit: int,
        before: float | None) -> tuple[list[SearchHit], bool]:
    """The newest hits first, at most ``limit``, older than ``before``: in ``rooms`` (key -> name),
    and in ``me``'s conversations (an account's key, or None for a guest's, which are not kept)."""
    if query.place is not None:
        if query.place.startswith("#"):
            rooms = {k: v for k, v in rooms.items() if k == query.place}
            me_in = None
        else:
            rooms, me_in = {}, query.place.lstrip("@")
    else:
        me_in = ""  # every conversation
    high = min(x for x in (_us(before), _us(query.before)) if x is not None) if (before or query.before) else None
    low = _us(query.after)
    hits = _room_hits(db, query, rooms, low, high, limit + 1)
    if me is not None and me_in is not None:
        hits += _dm_hits(db, query, me, me_in or None, low, high, limit + 1)
    hits.sort(key=lambda h: h.timestamp, reverse=True)
    return hits[:limit], len(hits) > limit


def _bounds(low: int | None, high: int | None, column: str) -> tuple[str, list[int]]:
    where, args = "", []
    if low is not None:
        where += f" AND {column} > ?"
        args.append(low)
    if high is not None:
        where += f" AND {column} < ?"
        args.append(high)
    return where, args


def _phrase(name: str) -> str | None:
    """A name (a room's, a sender's) as the tokenizer saw it: its words, as one phrase."""
    words = _WORDS.findall(name)
    return '"' + " ".join(words) + '"' if words else None


def _match(query: Query, rooms: dict[str, str] | None) -> str:
    """The whole FTS5 expression: the words in the text, and the sender and the rooms narrowed in
    the index too (the join with the rows then checks each exactly)."""
    parts = [f"message : ({query.match})"] if query.match else []
    sender = _phrase(query.sender) if query.sender is not None else None
    if sender is not None:
        parts.append(f"username : {sender}")
    places = [_phrase(key) for key in rooms] if rooms else []
    if places and None not in places:
        parts.append(f"room : ({' OR '.join(places)})")  # type: ignore[arg-type]
    return " AND ".join(parts)


def _room_hits(db: sqlite3.Connection, query: Query, rooms: dict[str, str], low: int | None, high: int | None,
               limit: int) -> list[SearchHit]:
    if not rooms:
        return []
    marks = ",".join("?" * len(rooms))
    where, args = _bounds(low, high, "s.rowid")
    if query.sender is not None:
        where += " AND m.username = ? COLLATE NOCASE"
        args.append(query.sender)
    sql = (f"SELECT m.room, m.ts, m.username, m.message, m.action FROM search s JOIN messages m"
           f" ON m.ts = s.rowid AND m.room IN ({marks}) WHERE search MATCH ?{where} ORDER BY s.rowid DESC LIMIT ?")
    rows = db.execute(sql, [*rooms, _match(query, rooms), *args, limit]).fetchall()
    return [SearchHit(rooms[room], None, user, text, ts / 1_000_000, bool(flags & 1)) for room, ts, user, text, flags
            in rows]


def _dm_hits(db: sqlite3.Connection, query: Query, me: str, peer: str | None, low: int | None, high: int | None,
             limit: int) -> list[SearchHit]:
    where, args = _bounds(low, high, "s.rowid")
    mine = "(d.sender = ? OR d.recipient = ?)"
    args = [me, me, *args]
    if peer is not None:
        where += " AND (d.sender = ? OR d.recipient = ?)"
        args += [peer, peer]
    if query.sender is not None:
        where += " AND d.sender = ?"
        args.append(query.sender)
    sql = (f"SELECT d.sender_name, d.recipient_name, d.sender, d.message, d.ts FROM search s JOIN dms d"
           f" ON d.ts = s.rowid WHERE search MATCH ? AND {mine}{where} ORDER BY s.rowid DESC LIMIT ?")
    rows = db.execute(sql, [_match(query, None), *args, limit]).fetchall()
    return [SearchHit(None, to if sender == me else sender_name, sender_name, text, ts / 1_000_000)
            for sender_name, to, sender, text, ts in rows]
