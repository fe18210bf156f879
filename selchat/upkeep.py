"""The operator's changes to accounts and rooms, made in the database while a server may run.

``selchat account delete`` and the like change the file themselves, so they work with no server
running, and in the same transaction leave a request row saying what they did. A running server
reads new rows each second (server/upkeep.py), makes the change to what it holds in memory
(hub/upkeep.py), makes it once more in the file after its own pending writes (each change here can
run twice: whatever the server wrote in between, a message to a room just deleted, goes too), and
marks the row applied, which the command waits for to say so. It is ergo's and Redis's idea of
operator commands, with the database as the channel instead of a port: no password to protect.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from selchat import search

# applied requests are forgotten after a week: the table is a mailbox, not a log
KEEP_APPLIED = 7 * 86400


@dataclass(frozen=True, slots=True)
class Request:
    id: int
    action: str  # one of CHANGES
    subject: str  # the account's or the room's key
    detail: str  # rename: the new name


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction on a connection in autocommit mode (as store.connect makes them)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _rewrite_rules(db: sqlite3.Connection, old: str, new: str | None) -> None:
    """Rooms' stored rules naming the account ``old`` as founder or in their roles: the name
    becomes ``new``, or goes (None), so a deleted account's rooms are nobody's."""
    for key, text in db.execute("SELECT key, rules FROM room_rules WHERE rules LIKE ?", (f'%"{old}"%',)).fetchall():
        try:
            rules = json.loads(text)
        except ValueError:
            continue
        if rules.get("founder") == old:
            rules["founder"] = new
        roles = rules.get("roles") or {}
        if old in roles:
            role = roles.pop(old)
            if new is not None:
                roles[new] = role
        db.execute("UPDATE room_rules SET rules = ? WHERE key = ?", (json.dumps(rules, separators=(",", ":")), key))


def delete_account(db: sqlite3.Connection, key: str, detail: str = "") -> None:
    """The account, and the private messages still waiting for it; what it said stays in history."""
    db.execute("DELETE FROM accounts WHERE key = ?", (key,))
    search.unindex(db, "dms", "recipient = ? AND delivered = 0", (key,))
    db.execute("DELETE FROM dms WHERE recipient = ? AND delivered = 0", (key,))
    _rewrite_rules(db, key, None)


def rename_account(db: sqlite3.Connection, key: str, new_name: str) -> None:
    """The account's name, and its conversations and rooms' roles, under the new one."""
    new = new_name.casefold()
    db.execute("UPDATE accounts SET key = ?, name = ? WHERE key = ?", (new, new_name, key))
    db.execute("UPDATE dms SET sender = ? WHERE sender = ?", (new, key))
    db.execute("UPDATE dms SET recipient = ?, recipient_name = ? WHERE recipient = ? AND delivered = 0",
               (new, new_name, key))
    db.execute("UPDATE dms SET recipient = ? WHERE recipient = ?", (new, key))
    _rewrite_rules(db, key, new)


def delete_room(db: sqlite3.Connection, key: str, detail: str = "") -> None:
    """The room, its history (and what the search index holds of it) and its rules."""
    search.unindex(db, "messages", "room = ?", (key,))
    db.execute("DELETE FROM messages WHERE room = ?", (key,))
    db.execute("DELETE FROM rooms WHERE key = ?", (key,))
    db.execute("DELETE FROM room_rules WHERE key = ?", (key,))
    db.execute("DELETE FROM reactions WHERE room = ?", (key,))
    db.execute("UPDATE hooks SET gone = 1 WHERE lower(room) = ?", (key,))


def add_hook(db: sqlite3.Connection, key: str, detail: str) -> None:
    """An incoming webhook (hooks.py), its row as ``detail`` says: run again, it changes nothing."""
    hook = json.loads(detail)
    db.execute("INSERT OR IGNORE INTO hooks (key, name, room, secret, username_allowed, created, send_to, words)"
               " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               (key, hook["name"], hook["room"], hook["secret"], int(hook["username"]), hook["created"],
                hook.get("send_to"), json.dumps(hook.get("words") or [])))


def delete_hook(db: sqlite3.Connection, key: str, detail: str = "") -> None:
    db.execute("DELETE FROM hooks WHERE key = ?", (key,))


CHANGES: dict[str, Callable[[sqlite3.Connection, str, str], None]] = {
    "delete_account": delete_account, "rename_account": rename_account, "delete_room": delete_room,
    "add_hook": add_hook, "delete_hook": delete_hook,
}


def request(db: sqlite3.Connection, action: str, subject: str, detail: str = "") -> int:
    """Make the change and leave the request for a running server, in one transaction; its id."""
    with transaction(db):
        CHANGES[action](db, subject, detail)
        db.execute("DELETE FROM operator_requests WHERE applied < ?", (time.time() - KEEP_APPLIED,))
        cursor = db.execute("INSERT INTO operator_requests (action, subject, detail, made) VALUES (?, ?, ?, ?)",
                            (action, subject, detail, time.time()))
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def applied(db: sqlite3.Connection, request_id: int) -> bool:
    row = db.execute("SELECT applied FROM operator_requests WHERE id = ?", (request_id,)).fetchone()
    return row is not None and row[0] is not None


def wait_applied(db: sqlite3.Connection, request_id: int, seconds: float) -> bool:
    """Whether a running server took the request up within ``seconds``."""
    deadline = time.monotonic() + seconds
    while not applied(db, request_id):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


# -- the server's side -----------------------------------------------------------------------------
def newest(db: sqlite3.Connection) -> int:
    """At start-up: the newest request's id (those before are in the file the server loads), all marked applied."""
    with transaction(db):
        db.execute("UPDATE operator_requests SET applied = ? WHERE applied IS NULL", (time.time(),))
    return db.execute("SELECT COALESCE(MAX(id), 0) FROM operator_requests").fetchone()[0]


def since(db: sqlite3.Connection, after: int) -> list[Request]:
    rows = db.execute("SELECT id, action, subject, detail FROM operator_requests WHERE id > ? ORDER BY id", (after,))
    return [Request(*row) for row in rows if row[1] in CHANGES]


def redo(db: sqlite3.Connection, found: Request) -> None:
    """The change once more, after the server's own writes, and the request marked applied."""
    with transaction(db):
        CHANGES[found.action](db, found.subject, found.detail)
        db.execute("UPDATE operator_requests SET applied = ? WHERE id = ?", (time.time(), found.id))


def rooms(db: sqlite3.Connection) -> list[tuple[str, int, float | None, str]]:
    """(name, messages, newest message's time, topic) of every room in the file, by name."""
    rows = db.execute(
        "SELECT r.name, COUNT(m.ts), MAX(m.ts), r.topic FROM rooms r LEFT JOIN messages m ON m.room = r.key"
        " GROUP BY r.key ORDER BY r.key").fetchall()
    return [(name, count, newest / 1_000_000 if newest else None, topic) for name, count, newest, topic in rows]
