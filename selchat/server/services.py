"""What the hub's ``Store`` and ``Ask`` effects reach: the database, the worker thread and, with
``--redis``, the backplane. Picked at start: ``LocalServices`` for one process, and
``SharedServices`` (shared.py) for one of several, so nothing else asks which it is.

Reads are inline (indexed look-ups the page cache answers); password work runs in the worker.
A result re-enters the hub through ``complete``, the continuation the server gives, so the hub
never waits and the services never touch chat state.
"""

from __future__ import annotations

import hmac
import logging
import socket
from collections.abc import Callable
from typing import Any

from selchat import outbound as ev
from selchat.errors import ErrorCode, ProtocolError
from selchat.hooks import digest
from selchat.reactor import Reactor, Timer
from selchat.records import (
    CheckLogin,
    CountUnread,
    DmHistoryPage,
    HashPassword,
    HistoryPage,
    HookFound,
    LineFound,
    LoadDmHistory,
    LoadHistory,
    LoadHook,
    LoadLine,
    LoadOfflineDms,
    LoadTargets,
    LoginChecked,
    OfflineDms,
    PasswordHashed,
    Request,
    Result,
    SearchFound,
    SearchRequest,
    TargetsPage,
    UnreadCounted,
    Write,
)
from selchat.search import Searcher
from selchat.store import Store
from selchat.worker import Worker, checkpoint

log = logging.getLogger("selchat.server")

# Password checks waiting for the worker before new logins are refused: at ~0.2 s each this is a
# few minutes of work, and a flood of logins must not queue more than that.
MAX_QUEUED_HASHES = 1000
# Registrations waiting for the worker (behind every login) before new ones are refused: about
# five seconds of hashing, so a storm of them never holds a slot a login could use for long.
MAX_QUEUED_REGISTRATIONS = 25

Complete = Callable[[int, Result], None]
Failed = Callable[[int, ProtocolError], None]


class LocalServices:
    """One process: SQLite and the one worker thread."""

    def __init__(self, reactor: Reactor, store: Store, complete: Complete, fail: Failed) -> None:
        self.reactor = reactor
        self.store = store
        self.worker: Worker | None = None
        self.complete = complete
        self.fail = fail
        self._commit_timer: Timer | None = None
        # one process asks only these: names, topics and the list of rooms are the hub's own
        self.asks: dict[type, Callable[[Any], None]] = {
            LoadHistory: self.load_history, LoadOfflineDms: self.load_offline_dms, CheckLogin: self.check_login,
            LoadDmHistory: self.load_dm_history, LoadTargets: self.load_targets,
            HashPassword: self.hash_password, LoadHook: self.load_hook, SearchRequest: self.search,
            LoadLine: self.load_line, CountUnread: self.count_unread,
        }
        self.searcher = Searcher(store.path, store.db if store.memory else None)

    # -- life --------------------------------------------------------------------------------------
    def start_worker(self) -> None:
        self.worker = Worker()
        self.reactor.add_reader(self.worker.wake_r, self.worker.run_ready)

    def start(self) -> None:
        """Serving begins (the shared services dial Redis here)."""

    def stop(self) -> None:
        """Serving ends (the shared services let Redis know)."""

    def close(self) -> None:
        """Finish the worker's jobs, then commit everything and close the database."""
        if self.worker is not None:
            self.reactor.remove_reader(self.worker.wake_r)
            self.worker.close()
            self.worker = None
        self.store.close()

    # -- effects -----------------------------------------------------------------------------------
    def write(self, write: Write) -> None:
        self.store.write(write)

    def ask(self, request: Request) -> None:
        self.asks[type(request)](request)

    def effect_handlers(self) -> dict[type, Callable[[Any], None]]:
        """Effects beyond storage and requests that these services carry out: none alone."""
        return {}

    def published(self, event: ev.Event) -> None:
        """A room's broadcast, for other processes: there are none."""

    def before_flush(self) -> None:
        """The end of a turn, before its output is written (one process has nothing to publish)."""

    def after_flush(self) -> None:
        """The turn's writes, committed together once its output is written."""
        self.commit()

    # -- requests ----------------------------------------------------------------------------------
    def load_history(self, r: LoadHistory) -> None:
        messages, more = self.store.history(r.room_key, r.room, r.before, r.limit, r.after, r.oldest, r.around)
        self.complete(r.conn_id, HistoryPage(r.room_key, tuple(messages), more, r.tag, r.oldest))

    def load_dm_history(self, r: LoadDmHistory) -> None:
        """A conversation's page: from this process's own file, where DMs live even with --redis."""
        dms, more = self.store.dm_history(r.account_key, r.peer_key, r.before, r.limit, r.after, r.oldest, r.around)
        self.complete(r.conn_id, DmHistoryPage(r.peer, tuple(dms), more, r.tag, r.oldest))

    def load_targets(self, r: LoadTargets) -> None:
        """From this process's file: its rooms' messages and the conversations (with --redis, a
        room's messages from other processes are Redis's, and not counted here)."""
        found = self.store.targets(r.me, r.rooms, r.after, r.before, r.limit)
        self.complete(r.conn_id, TargetsPage(tuple(found)))

    def count_unread(self, r: CountUnread) -> None:
        """Unread counts from this process's file, inline: each is a bounded read along an index
        (readmarks.py), a few hundred microseconds a room."""
        from selchat import readmarks

        self.store.commit()
        db = self.store.db
        if r.conversations:
            counts = readmarks.conversations(db, r.me, r.marks)
        else:
            counts = readmarks.room_counts(db, r.rooms, r.name) + readmarks.peer_counts(db, r.me, r.peers)
        self.complete(r.conn_id, UnreadCounted(tuple(counts), r.conversations))

    def load_offline_dms(self, o: LoadOfflineDms) -> None:
        dms = sorted(self.store.offline_dms(o.account_key), key=lambda dm: dm.timestamp)
        self.complete(o.conn_id, OfflineDms(tuple(dms)))

    def load_line(self, r: LoadLine) -> None:
        """Who said a line no longer in memory (an indexed read by the room's key and the time)."""
        from selchat import edits

        self.store.commit()
        db = self.store.db
        found = edits.dm_author(db, *r.peers, r.ts) if r.peers else edits.author(db, r.room_key, r.ts)
        self.complete(r.conn_id, LineFound(found, r.change))

    def load_hook(self, r: LoadHook) -> None:
        """An incoming webhook by its secret's digest: read at each post, so a hook made or deleted
        counts at once; a lookup by the primary key's twin index, like an account's."""
        from selchat import hooks

        self.complete(r.conn_id, HookFound(hooks.find(self.store.db, r.digest), r.text, r.username))

    def search(self, r: SearchRequest) -> None:
        """In the worker, behind logins (a search of a million lines takes milliseconds, but it
        must never hold the loop); a database in memory only the loop can read: inline."""
        def done(found: object) -> None:
            if isinstance(found, Exception):
                log.error("a search failed: %s", found)
                found = "the search failed on the server; try again"
            if isinstance(found, str):
                self.complete(r.conn_id, SearchFound((), False, r.text, r.tag, found))
                return
            hits, more = found  # type: ignore[misc]
            self.complete(r.conn_id, SearchFound(tuple(hits), more, r.text, r.tag))

        def work() -> object:
            return self.searcher(r.query, r.rooms, r.me, r.limit, r.before)

        self.store.commit()  # what this turn wrote is findable
        if self.worker is not None and not self.store.memory:
            self.worker.submit(work, done, Worker.LATER)
            return
        try:
            done(work())
        except Exception as exc:  # a failed search is said, not raised into the loop
            done(exc)

    def _busy(self, conn_id: int) -> bool:
        if self.worker is not None and self.worker.queued < MAX_QUEUED_HASHES:
            return False
        self.fail(conn_id, ProtocolError(
            ErrorCode.TOO_MANY_LOGINS, "the server is busy checking other logins; try again in a minute"))
        return True

    def check_login(self, request: CheckLogin) -> None:
        from selchat.passwords import verify_password

        if self._busy(request.conn_id):
            self.complete(request.conn_id, LoginChecked(request.account_key, False, None))
            return
        found = self.store.login_of(request.account_key)
        name, stored, token, bot = found if found else (None, None, None, False)
        password = request.password
        if token is not None and hmac.compare_digest(token, digest(password)):
            # a program's token: long and random, so a digest is checked at once (no argon2)
            self.complete(request.conn_id, LoginChecked(request.account_key, True, name, bot))
            return

        def done(ok: object) -> None:
            if isinstance(ok, Exception):
                log.error("checking a password failed: %s", ok)
                ok = False
            self.complete(request.conn_id, LoginChecked(request.account_key, ok is True, name, bot))

        assert self.worker is not None
        self.worker.submit(lambda: verify_password(stored, password), done)

    def hash_password(self, request: HashPassword) -> None:
        from selchat.passwords import hash_password

        assert self.worker is not None
        password = request.password
        if self.worker.later >= MAX_QUEUED_REGISTRATIONS:
            self.complete(request.conn_id, PasswordHashed(request.account_key, request.name, None, busy=True))
            return

        def done(hashed: object) -> None:
            if isinstance(hashed, Exception):  # the hub must hear it all the same: the name is held
                log.error("hashing a password failed: %s", hashed)
            self.complete(request.conn_id, PasswordHashed(
                request.account_key, request.name, None if isinstance(hashed, Exception) else str(hashed)))

        self.worker.submit(lambda: hash_password(password), done, Worker.LATER)

    # -- names ------------------------------------------------------------------------------------
    def resolve(self, host: str, port: int, done: Callable[[Any], None]) -> None:
        """``done(address)`` (or ``done(OSError)``) on the loop: a literal address at once, a name
        in the worker, since the resolver may take seconds and the loop must not wait for it."""
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        except OSError:
            pass
        else:
            done(host)
            return

        def lookup() -> str:
            addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4]
            return str(addr[0])
        if self.worker is None:
            try:
                done(lookup())
            except OSError as exc:
                done(exc)
            return
        self.worker.submit(lookup, done)

    # -- commits -----------------------------------------------------------------------------------
    def commit(self) -> None:
        store = self.store
        if not store.pending:
            return
        try:
            due = store.commit_due()
        except Exception:
            log.exception("committing to %s failed; those writes are lost", store.path)
            return
        if due is not None:
            if self._commit_timer is None:
                self._commit_timer = self.reactor.call_at(due - store.clock() + self.reactor.now, self._commit_later)
        elif self.worker is not None and store.checkpoint_wanted():
            self.worker.submit(checkpoint(store.path), self._checkpointed)

    def _commit_later(self) -> None:
        self._commit_timer = None
        self.commit()

    def _checkpointed(self, result: object) -> None:
        if isinstance(result, Exception):
            log.warning("checkpoint of %s failed: %s", self.store.path, result)

    # -- the metrics' questions --------------------------------------------------------------------
    def redis_counters(self) -> tuple[int, int, int]:
        """(up, published, received): no link."""
        return 0, 0, 0
