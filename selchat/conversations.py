"""Private conversations in the database: a page of one between two people, and the list of
one's conversations and rooms by their latest message (IRC's CHATHISTORY TARGETS). Each side of
a conversation is an account's key, or a guest's key for one connection (``~``: a guest's
conversations are theirs while they are online; a later account of the same name does not see
them). Plain functions over the store's connection, so store.py keeps to storage itself."""

from __future__ import annotations

import sqlite3

from selchat.outbound import DirectMessage

END = 2**62  # microseconds past any message


def _rows(db: sqlite3.Connection, one: str, other: str, low: int, high: int, limit: int,
          oldest: bool) -> list[tuple[int, str, str, str]]:
    order = "ASC" if oldest else "DESC"
    columns = "ts, sender_name, recipient_name, message"
    if one == other:  # notes to oneself: one side only, or each would come twice
        return db.execute(f"SELECT {columns} FROM dms WHERE sender = ? AND recipient = ? AND ts > ? AND ts < ?"
                          f" ORDER BY ts {order} LIMIT ?", (one, one, low, high, limit)).fetchall()
    return db.execute(
        f"SELECT {columns} FROM dms WHERE sender = ? AND recipient = ? AND ts > ? AND ts < ?"
        f" UNION ALL SELECT {columns} FROM dms WHERE sender = ? AND recipient = ? AND ts > ? AND ts < ?"
        f" ORDER BY ts {order} LIMIT ?", (one, other, low, high, other, one, low, high, limit)).fetchall()


def page(db: sqlite3.Connection, one: str, other: str, low: int | None, high: int | None, limit: int,
         oldest: bool) -> tuple[list[DirectMessage], bool]:
    """At most ``limit`` messages strictly between ``low`` and ``high`` (microseconds, None:
    open): the ones next to ``low`` if ``oldest``, else next to ``high``. Oldest first, and
    whether more lie beyond the page on the side it was cut."""
    rows = _rows(db, one, other, -1 if low is None else low, END if high is None else high, limit + 1, oldest)
    more = len(rows) > limit
    rows = rows[:limit]
    if not oldest:
        rows.reverse()
    return [DirectMessage(s, r, text, ts / 1_000_000) for ts, s, r, text in rows], more


def around(db: sqlite3.Connection, one: str, other: str, at: int, limit: int) -> list[DirectMessage]:
    """Half the page before ``at``, half from it on."""
    older, _ = page(db, one, other, None, at, limit // 2, False)
    newer, _ = page(db, one, other, at - 1, None, limit - limit // 2, True)
    return older + newer


def targets(db: sqlite3.Connection, me: str, rooms: dict[str, str], low: int, high: int,
            limit: int) -> list[tuple[str, float]]:
    """(name, latest message time) of each conversation of ``me`` and each room of ``rooms``
    (key -> name) whose latest message lies between ``low`` and ``high``: the earliest first."""
    keys = list(rooms)
    marks = ",".join("?" * len(keys))
    found: list[tuple[str, int]] = [  # one query for every room (the primary key's (room, ts) order)
        (rooms[key], latest) for key, latest in db.execute(
            f"SELECT room, MAX(ts) FROM messages WHERE room IN ({marks}) GROUP BY room", keys)
        if low < latest < high] if keys else []
    # SQLite takes a bare column from the row of the MAX: the peer's name as of the latest message
    found.extend(db.execute(
        "SELECT peer_name, MAX(ts) AS latest FROM (SELECT recipient AS peer, recipient_name AS peer_name, ts"
        " FROM dms WHERE sender = ? UNION ALL SELECT sender, sender_name, ts FROM dms WHERE recipient = ?)"
        " GROUP BY peer HAVING latest > ? AND latest < ?", (me, me, low, high)).fetchall())
    found.sort(key=lambda item: item[1])
    return [(name, ts / 1_000_000) for name, ts in found[:limit]]
