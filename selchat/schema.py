"""The database's schema, as the migrations that build it: a file at version N runs the entries
after N, in order, each in its own transaction (store.py), so an upgrade needs no step of its own."""

from __future__ import annotations

import logging
import sqlite3

log = logging.getLogger("selchat.store")

# Each entry upgrades the schema by one version; PRAGMA user_version says how far a file is.
# Never edit an entry that has shipped: add one.
MIGRATIONS: list[str] = [
    # 1: room history and topics
    """
    CREATE TABLE rooms (
        key TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        topic TEXT NOT NULL DEFAULT '',
        topic_by TEXT,
        topic_at REAL
    );
    CREATE TABLE messages (
        room TEXT NOT NULL,
        ts INTEGER NOT NULL,
        username TEXT NOT NULL,
        message TEXT NOT NULL,
        action INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (room, ts)
    ) WITHOUT ROWID;
    """,
    # 2: accounts, and private messages between accounts
    """
    CREATE TABLE accounts (
        key TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        hash TEXT NOT NULL,
        created REAL NOT NULL
    );
    CREATE TABLE dms (
        id INTEGER PRIMARY KEY,
        ts INTEGER NOT NULL,
        sender TEXT NOT NULL,
        recipient TEXT NOT NULL,
        sender_name TEXT NOT NULL,
        recipient_name TEXT NOT NULL,
        message TEXT NOT NULL,
        delivered INTEGER NOT NULL
    );
    CREATE INDEX dms_undelivered ON dms (recipient, delivered, ts);
    """,
    # 3: bans that outlast a restart (until: wall-clock seconds, NULL for good)
    """
    CREATE TABLE bans (
        target TEXT PRIMARY KEY,
        shown TEXT NOT NULL,
        until REAL,
        reason TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL
    );
    """,
    # 4: a conversation's pages: the private messages between two accounts, by time
    """
    CREATE INDEX dms_pair ON dms (sender, recipient, ts);
    """,
    # 5: a room's rules that outlast its members (roomrules.py: modes, bans, founder, roles), as JSON
    """
    CREATE TABLE room_rules (
        key TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        rules TEXT NOT NULL
    );
    """,
    # 6: the operator's changes made from the command line, for a running server to follow (upkeep.py)
    """
    CREATE TABLE operator_requests (
        id INTEGER PRIMARY KEY,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        made REAL NOT NULL,
        applied REAL
    );
    """,
    # 7: incoming webhooks (hooks.py): a digest of each one's secret, and the room it posts to
    """
    CREATE TABLE hooks (
        key TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        room TEXT NOT NULL,
        secret TEXT NOT NULL UNIQUE,
        username_allowed INTEGER NOT NULL DEFAULT 0,
        gone INTEGER NOT NULL DEFAULT 0,
        created REAL NOT NULL,
        send_to TEXT,  -- its outgoing half: a URL POSTed a line that says one of its words
        words TEXT NOT NULL DEFAULT '[]'
    );
    """,
    # 8: bot accounts, and a token a program logs in with instead of a password (a digest, as a hook's)
    """
    ALTER TABLE accounts ADD COLUMN bot INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE accounts ADD COLUMN token TEXT;
    """,
    # 9: full-text search (search.py): a contentless FTS5 index whose rowid is a message's timestamp,
    # built here for the history already kept; private messages found again by their time
    """
    CREATE VIRTUAL TABLE search USING fts5(message, username, room, content='', columnsize=0,
                                           tokenize='unicode61 remove_diacritics 2');
    INSERT INTO search (rowid, message, username, room) SELECT ts, message, username, room FROM messages;
    INSERT INTO search (rowid, message, username, room) SELECT ts, message, sender_name, '' FROM dms;
    CREATE INDEX dms_time ON dms (ts);
    CREATE TABLE search_state (stale INTEGER NOT NULL);
    INSERT INTO search_state (stale) VALUES (0);
    """,
    # 10: replies: the timestamp (msgid) of the message a line answers (IRCv3 +draft/reply)
    """
    ALTER TABLE messages ADD COLUMN reply_to INTEGER;
    """,
    # 11: reactions (IRCv3 +draft/react): who reacted with what to which line
    """
    CREATE TABLE reactions (
        room TEXT NOT NULL,
        ts INTEGER NOT NULL,
        reaction TEXT NOT NULL,
        username TEXT NOT NULL,
        PRIMARY KEY (room, ts, reaction, username)
    ) WITHOUT ROWID;
    """,
    # 12: edits: when a line was last edited (a deleted line keeps its row, empty, flagged 4)
    """
    ALTER TABLE messages ADD COLUMN edited INTEGER;
    """,
    # 13: read markers (IRCv3 draft/read-marker): how far an account has read each room and conversation
    """
    CREATE TABLE read_markers (
        account TEXT NOT NULL,
        target TEXT NOT NULL,
        ts INTEGER NOT NULL,
        PRIMARY KEY (account, target)
    ) WITHOUT ROWID;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(Exception):
    """The database cannot be used; said in one line."""


def connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout = 5000")
    if path != ":memory:":
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(f"{path}: cannot use write-ahead logging (journal mode is {mode})")
        db.execute("PRAGMA synchronous = NORMAL")
    return db


def migrate(db: sqlite3.Connection, path: str, upto: int = SCHEMA_VERSION) -> int:
    """Bring the schema to version ``upto``, one transaction per step; the version found."""
    found = db.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"{path} has schema version {found}, newer than this selchat knows ({SCHEMA_VERSION}); upgrade selchat"
        )
    for version in range(found + 1, upto + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[version - 1].split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {version}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    if found and found < upto:  # a new file is created, not migrated: not worth a line
        log.info("database %s migrated from schema version %d to %d", path, found, upto)
    return found
