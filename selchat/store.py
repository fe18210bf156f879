"""SQLite storage: room history, topics, accounts and private messages between accounts.

Where the time goes, and so where the work is done:
- Writes of one loop turn are committed together, on the loop's thread. In WAL mode with
  ``synchronous=NORMAL`` a commit appends to the WAL file and does not fsync, so it costs tens of
  microseconds; what does fsync is the checkpoint, and automatic checkpoints are off on the loop's
  connection. A commit that lands in the kernel survives the process being killed (SIGKILL loses
  only the writes of the last ``COMMIT_INTERVAL``), though not a power cut.
- Checkpoints (the fsyncs) and argon2 (deliberately slow, ~0.2 s) run in the one worker thread
  (``Worker``, worker.py), the way Redis keeps fsync in its bio threads. Its results wake the loop through a
  socketpair; it never touches chat state or a client's socket.
- Reads (a history page, an account's hash) are indexed look-ups that the page cache answers;
  they run inline, after committing what is pending so that they see it.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selchat import conversations, edits, hooks, readmarks, search
from selchat.bans import Ban
from selchat.config import LOBBY_ROOM
from selchat.counters import COMMIT_BUCKETS, Histogram
from selchat.outbound import DirectMessage, Message
from selchat.records import (
    ChangeLine,
    DeleteBan,
    DmsDelivered,
    RoomState,
    SaveAccount,
    SaveBan,
    SaveDm,
    SaveReaction,
    SaveReadMark,
    SaveRoom,
    SaveRoomRules,
    SaveTopic,
    Snapshot,
    Write,
)
from selchat.rows import INSERT_LINE, copy_rows
from selchat.rows import sqlite_text as _text
from selchat.schema import SCHEMA_VERSION, StoreError, connect, migrate

__all__ = ["SCHEMA_VERSION", "Store", "StoreError", "connect", "migrate"]  # the schema's, as the store opens files

log = logging.getLogger("selchat.store")

# Writes are committed at the end of the loop turn, but under load not more often than this:
# it bounds what SIGKILL can lose (the issue allows 100 ms) and amortises a commit over a batch.
# 25 ms, not 5: 3-4 % more deliveries at saturation (3 alternating rounds, C loadgen: 6.58-7.05M
# at 5 ms, 6.92-7.27M at 25 ms, no better at 50 ms), a quarter of what SIGKILL may lose.
COMMIT_INTERVAL = 0.025
# Ask the worker for a checkpoint after this many committed rows (SQLite's own automatic
# checkpoint runs at 1000 WAL pages, about as many small rows).
CHECKPOINT_ROWS = 2000
# Prune a room once it holds this much more than --history-max, so a delete removes a batch
# of old rows rather than one row per insert.
PRUNE_SLACK = 0.05


def _us(timestamp: float) -> int:
    return round(timestamp * 1_000_000)




def _dm_row(d: SaveDm) -> tuple[str, tuple[Any, ...]]:
    dm = d.dm
    return ("INSERT INTO dms (ts, sender, recipient, sender_name, recipient_name, message, delivered)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (_us(dm.timestamp), d.sender_key, d.recipient_key, dm.sender, dm.to, _text(dm.text), int(d.delivered)))


def _ban_row(record: SaveBan) -> tuple[str, tuple[Any, ...]]:
    b = record.ban
    return ("INSERT OR REPLACE INTO bans (target, shown, until, reason, created) VALUES (?, ?, ?, ?, ?)",
            (b.target, b.shown, b.until, _text(b.reason), b.created))


# Each kind of write as its SQL statement and parameters (room messages, the common case, are
# inserted together with executemany instead).
_STATEMENTS: dict[type, Callable[[Any], tuple[str, tuple[Any, ...]]]] = {
    # a room this process did not load is new: a row left by an earlier one (a topic and no
    # history, forgotten at the start) starts again blank
    SaveRoom: lambda r: ("INSERT INTO rooms (key, name) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET"
                         " name = excluded.name, topic = '', topic_by = NULL, topic_at = NULL", (r.key, r.name)),
    SaveTopic: lambda t: ("UPDATE rooms SET topic = ?, topic_by = ?, topic_at = ? WHERE key = ?",
                          (_text(t.topic), t.by, t.at, t.key)),
    SaveAccount: lambda a: ("INSERT OR REPLACE INTO accounts (key, name, hash, created) VALUES (?, ?, ?, ?)",
                            (a.key, a.name, a.hash, a.created)),
    SaveDm: _dm_row,
    SaveRoomRules: lambda r: ("INSERT INTO room_rules (key, name, rules) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE"
                              " SET name = excluded.name, rules = excluded.rules", (r.key, r.name, r.rules)),
    SaveBan: _ban_row,
    DeleteBan: lambda d: ("DELETE FROM bans WHERE target = ?", (d.target,)),
    SaveReaction: lambda r: (("INSERT OR IGNORE INTO reactions (room, ts, reaction, username) VALUES (?, ?, ?, ?)"
                              if r.on else "DELETE FROM reactions WHERE room = ? AND ts = ? AND reaction = ? AND"
                              " username = ?"), (r.room_key, r.ts, r.reaction, r.username)),
    DmsDelivered: lambda r: ("UPDATE dms SET delivered = 1 WHERE recipient = ? AND delivered = 0 AND ts <= ?",
                             (r.recipient_key, _us(r.up_to))),
    SaveReadMark: lambda r: (readmarks.SAVE, (r.account, r.target, r.ts)),
}



def _reactions(db: sqlite3.Connection, key: str, page: list[Message], low: int, high: int) -> None:
    """The page's lines' reactions, in one range read of their room's."""
    found: dict[int, dict[str, list[str]]] = {}
    for ts, reaction, user in db.execute(
            "SELECT ts, reaction, username FROM reactions WHERE room = ? AND ts BETWEEN ? AND ? ORDER BY ts",
            (key, min(low, high), max(low, high))):
        found.setdefault(ts, {}).setdefault(reaction, []).append(user)
    if found:
        for message in page:
            message.reactions = found.get(round(message.timestamp * 1_000_000))



def note_wal(path: str) -> None:
    """A write-ahead log left behind means the last server did not stop cleanly: SQLite
    replays its committed transactions and drops an unfinished one, so say so."""
    wal = Path(path + "-wal")
    try:
        size = wal.stat().st_size
    except OSError:
        return
    if size:
        log.warning("%s was not closed cleanly: replaying its write-ahead log (%d bytes);"
                    " a transaction it did not finish is rolled back", path, size)


class Store:
    """The database as the loop uses it: writes gathered per turn, reads inline."""

    def __init__(self, path: str, *, history_max: int = 10_000, replay: int = 50,
                 clock: Callable[[], float] = time.monotonic, beside_a_server: bool = False,
                 searchable: bool = True, copies: bool = False) -> None:
        self.path = path
        self.copies = copies  # --redis: lines are copies of Redis's stream, for search (rows.py)
        self.history_max = history_max
        self.replay = replay
        self.clock = clock
        self.memory = path == ":memory:"
        try:
            if not self.memory:
                parent = Path(path).expanduser().resolve().parent
                if not parent.is_dir():
                    raise StoreError(f"cannot open {path}: folder {parent} does not exist")
            if not self.memory and not beside_a_server:  # a command's, while the server runs: its log is live
                note_wal(path)
            self.db = connect(path)
            migrate(self.db, path)
            self.db.execute("PRAGMA wal_autocheckpoint = 0")  # the worker checkpoints instead
            self.searchable = searchable  # the index kept as messages are written (settled at the snapshot)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot use {path} as a database: {exc}") from exc
        self._pending: list[Write] = []
        self._last_commit = 0.0
        self._since_checkpoint = 0
        self._room_rows: dict[str, int] = {}  # rows per room key, to know when to prune
        self.commits = 0
        self.rows = 0
        self.commit_times = Histogram(COMMIT_BUCKETS)  # seconds per commit, for the metrics endpoint

    # -- start-up ------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Everything the hub holds from the start; a damaged file is a StoreError naming it, not
        a traceback (SQLite finds corrupt pages only when it reads them, which this does first)."""
        try:
            return self._snapshot()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot read {self.path}: {exc} (restore a backup, or try"
                             f" sqlite3 {self.path} .recover)") from exc

    def _snapshot(self) -> Snapshot:
        db = self.db
        self.searchable = search.keep_index(db, self.searchable)
        snap = Snapshot()
        counts = dict(db.execute("SELECT room, COUNT(*) FROM messages GROUP BY room"))
        self._room_rows = dict(counts)
        rules = {key: (name, text) for key, name, text in db.execute("SELECT key, name, rules FROM room_rules")}
        for key, name, topic, topic_by, topic_at in db.execute(
            "SELECT key, name, topic, topic_by, topic_at FROM rooms ORDER BY key"
        ).fetchall():
            kept = rules.get(key, (None, None))[1]
            if not counts.get(key) and key != LOBBY_ROOM and not (kept and '"founder":"' in kept):
                continue  # an empty room without history is forgotten (issue 21, item 1), unless registered
            recent = self._page(key, name, None, None, self.replay, False)[0] if self.replay else []
            snap.rooms.append(RoomState(key, name, topic, topic_by, topic_at, counts.get(key, 0), recent, kept))
        snap.accounts = dict(db.execute("SELECT key, name FROM accounts"))
        snap.waiting_dms = {(r, s): n for r, s, n in db.execute(
            "SELECT recipient, sender, COUNT(*) FROM dms WHERE delivered = 0 GROUP BY recipient, sender")}
        snap.bans = [Ban(*row) for row in db.execute("SELECT target, shown, until, reason, created FROM bans")]
        snap.hook_names = [row[0] for row in db.execute("SELECT key FROM hooks")]
        snap.outgoing = hooks.outgoing(db)
        snap.read_marks = readmarks.load(db)
        last = max(
            db.execute("SELECT COALESCE(MAX(ts), 0) FROM messages").fetchone()[0],
            db.execute("SELECT COALESCE(MAX(ts), 0) FROM dms").fetchone()[0],
        )
        snap.last_timestamp = last / 1_000_000
        return snap

    # -- writes --------------------------------------------------------------------------------
    def write(self, record: Write) -> None:
        self._pending.append(record)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def forget_room(self, key: str) -> None:
        """The room's rows were deleted (upkeep.py): its count starts again."""
        self._room_rows.pop(key, None)

    def commit_due(self) -> float | None:
        """Commit if the interval has passed; else the monotonic time a commit is due (or None
        when nothing waits)."""
        if not self._pending:
            return None
        now = self.clock()
        due = self._last_commit + COMMIT_INTERVAL
        if now < due:
            return due
        self.commit()
        return None

    def commit(self) -> None:
        """Everything pending, in one transaction."""
        pending = self._pending
        if not pending:
            return
        self._pending = []
        db = self.db
        messages: list[tuple[Any, ...]] = []
        began = time.perf_counter()
        db.execute("BEGIN")
        try:
            replies: list[tuple[Any, ...]] = []
            changes: list[ChangeLine] = []
            for record in pending:
                if type(record) is tuple:  # a room message's row, as the hub built it
                    if len(record) == 6:  # a reply: the message it answers, set after the insert
                        replies.append((record[5], record[0], record[1]))
                        record = record[:5]
                    messages.append(record)
                else:
                    if type(record) is ChangeLine:  # after the turn's lines: it may change one of them
                        changes.append(record)
                        continue
                    db.execute(*_STATEMENTS[type(record)](record))
                    if type(record) is SaveDm and self.searchable:  # a conversation's line is found too
                        dm = record.dm
                        db.execute(search.INDEX, (_us(dm.timestamp), _text(dm.text), dm.sender, ""))
            if messages:
                self._insert_messages(messages)
            if replies:
                db.executemany("UPDATE messages SET reply_to = ? WHERE room = ? AND ts = ?", replies)
            for change in changes:
                (edits.change_dm if change.peers else edits.change_line)(db, change, self.searchable)
            db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if not self.searchable:
                raise
            # the index, not the history, failed: the history is written without it, and the
            # index is rebuilt at the next start (search.keep_index)
            log.error("the search index of %s failed (%s): searching stops until a restart rebuilds it",
                      self.path, exc)
            self.searchable = False
            db.execute("UPDATE search_state SET stale = 1")
            self._pending = pending + self._pending
            self.commit()
            return
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        self._last_commit = self.clock()
        self.commit_times.observe(time.perf_counter() - began)
        self.commits += 1
        self.rows += len(pending)
        self._since_checkpoint += len(pending)

    def _insert_messages(self, messages: list[tuple[Any, ...]]) -> None:
        # --redis: copies of lines Redis has, some heard before (rows.py)
        messages = copy_rows(self.db, messages) if self.copies else self._insert_said(messages)
        if self.searchable:  # the index in the same transaction (search.py): none of them was in it yet
            self.db.executemany(search.INDEX, [(row[1], row[3], row[2], row[0]) for row in messages])
        self._prune(messages)

    def _insert_said(self, messages: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        try:
            self.db.executemany(INSERT_LINE, messages)
        except UnicodeEncodeError:  # rare: clean only then, off the common path
            messages = [(r, ts, u, _text(text), a) for r, ts, u, text, a in messages]
            # the rows before the bad one are in already: (room, ts) is unique, skip them
            self.db.executemany(INSERT_LINE.replace("INSERT", "INSERT OR IGNORE", 1), messages)
        return messages

    def _prune(self, rows: list[tuple[Any, ...]]) -> None:
        counts = self._room_rows
        limit = self.history_max
        slack = max(1, int(limit * PRUNE_SLACK))
        added: dict[str, int] = {}
        for row in rows:
            added[row[0]] = added.get(row[0], 0) + 1
        for key, count in added.items():
            total = counts[key] = counts.get(key, 0) + count
            if total > limit + slack:
                # counted from the old end: the subquery walks the excess, not the whole history
                if self.searchable:
                    self.db.execute(search.UNINDEX_OLDEST, (key, total - limit - 1))
                self.db.execute(
                    "DELETE FROM messages WHERE room = ?1 AND ts <= "
                    "(SELECT ts FROM messages WHERE room = ?1 ORDER BY ts LIMIT 1 OFFSET ?2)",
                    (key, total - limit - 1),
                )
                counts[key] = limit

    def checkpoint_wanted(self) -> bool:
        """Whether enough has been written since the last checkpoint to ask the worker for one."""
        if self.memory or self._since_checkpoint < CHECKPOINT_ROWS:
            return False
        self._since_checkpoint = 0
        return True

    # -- reads ---------------------------------------------------------------------------------
    def history(self, key: str, name: str, before: float | None, limit: int, after: float | None = None,
                oldest: bool = False, around: float | None = None) -> tuple[list[Message], bool]:
        """A page of at most ``limit`` messages strictly between ``after`` and ``before`` (None:
        open), the ones next to ``after`` if ``oldest`` else the ones next to ``before``; or, with
        ``around``, half before it and half from it on. Oldest first, and whether older ones
        exist than the page's first."""
        self.commit()
        if around is not None:
            older, _ = self._page(key, name, None, _us(around), limit // 2, False)
            newer, _ = self._page(key, name, _us(around) - 1, None, limit - limit // 2, True)
            page = older + newer
        else:
            page, more = self._page(key, name, None if after is None else _us(after),
                                    None if before is None else _us(before), limit, oldest)
            if not oldest:
                return page, more
        if not page:
            return page, False
        first = _us(page[0].timestamp)
        more = self.db.execute("SELECT 1 FROM messages WHERE room = ? AND ts < ? LIMIT 1", (key, first)).fetchone()
        return page, more is not None

    def _page(self, key: str, name: str, low: int | None, high: int | None, limit: int,
              oldest: bool) -> tuple[list[Message], bool]:
        """The rows with low < ts < high, and whether there were more than ``limit`` of them."""
        where, args = "room = ?", [key]
        if low is not None:
            where += " AND ts > ?"
            args.append(low)
        if high is not None:
            where += " AND ts < ?"
            args.append(high)
        rows = self.db.execute(
            f"SELECT ts, username, message, action, reply_to, edited FROM messages WHERE {where}"
            f" ORDER BY ts {'ASC' if oldest else 'DESC'} LIMIT ?",
            (*args, limit + 1),
        ).fetchall() if limit > 0 else []
        more = len(rows) > limit
        rows = rows[:limit]
        if not oldest:
            rows.reverse()
        # the action column holds flags: 1 for /me, 2 for a bot's line (hub/hooks.py, +B)
        page = [Message(name, user, text, ts / 1_000_000, bool(action & 1), True, bot=bool(action & 2),
                        tags=f"+draft/reply={reply}" if reply else "", edited=(edited or 0) / 1_000_000,
                        deleted=bool(action & edits.DELETED))
                for ts, user, text, action, reply, edited in rows]
        if page:
            _reactions(self.db, key, page, rows[0][0], rows[-1][0])
        return page, more


    def accounts(self) -> list[tuple[str, str, str, float]]:
        """Every account: (key, name, hash, created), for sharing them with other processes."""
        self.commit()
        return [tuple(row) for row in self.db.execute("SELECT key, name, hash, created FROM accounts")]  # type: ignore[misc]

    def account(self, key: str) -> tuple[str, str] | None:
        """(name, argon2 hash) of an account, or None."""
        self.commit()
        row = self.db.execute("SELECT name, hash FROM accounts WHERE key = ?", (key,)).fetchone()
        return (row[0], row[1]) if row else None

    def login_of(self, key: str) -> tuple[str, str, str | None, bool] | None:
        """(name, argon2 hash, token digest or None, a bot?) of an account, or None."""
        self.commit()
        row = self.db.execute("SELECT name, hash, token, bot FROM accounts WHERE key = ?", (key,)).fetchone()
        return (row[0], row[1], row[2], bool(row[3])) if row else None

    def offline_dms(self, key: str) -> list[DirectMessage]:
        self.commit()
        rows = self.db.execute(
            "SELECT ts, sender_name, recipient_name, message FROM dms WHERE recipient = ? AND delivered = 0"
            " ORDER BY ts",
            (key,),
        ).fetchall()
        return [DirectMessage(s, r, text, ts / 1_000_000, offline=True) for ts, s, r, text in rows]

    def dm_history(self, one: str, other: str, before: float | None, limit: int, after: float | None = None,
                   oldest: bool = False, at: float | None = None) -> tuple[list[DirectMessage], bool]:
        """A page of the conversation between ``one`` and ``other``, as ``history`` pages a room."""
        self.commit()
        if at is not None:
            return conversations.around(self.db, one, other, _us(at), limit), False
        return conversations.page(self.db, one, other, None if after is None else _us(after),
                                  None if before is None else _us(before), limit, oldest)

    def targets(self, me: str, rooms: dict[str, str], after: float, before: float,
                limit: int) -> list[tuple[str, float]]:
        self.commit()
        return conversations.targets(self.db, me, rooms, _us(after), _us(before), limit)

    def close(self) -> None:
        """Commit what is pending and fold the WAL into the database file."""
        try:
            self.commit()
            if not self.memory:
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self.db.close()
