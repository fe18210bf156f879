"""What a process reads from Redis when asked: a page of a room's history, a room's topic, the
list of every room, and the private messages kept for an account. Each read is a few commands
on the command link and one ``done`` call with the answer; each returns False when Redis is
away (nothing was sent), so the caller answers the way one process alone would."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from selchat import outbound as ev
from selchat import shared_history as sh
from selchat.backplane import keys
from selchat.backplane.resp import Reply, RespLink, checked

log = logging.getLogger("selchat.backplane")


class Reads:
    """The reads that answer requests, over the command link."""

    def __init__(self, cmd: RespLink) -> None:
        self.cmd = cmd

    def history(self, key: str, before: float | None, limit: int, after: float | None, oldest: bool,
                around: float | None, done: Callable[[list[ev.Message], bool], None]) -> bool:
        """A page of the room's stream, as ``Store.history`` gives one."""
        if not self.cmd.up:
            return False
        if limit <= 0:
            done([], False)
            return True
        read = PageRead(self.cmd, key, done)
        if around is not None:
            read.around(around, limit)
        else:
            read.range(before, limit, after, oldest)
        return True

    def list_rooms(self, done: Callable[[tuple[ev.RoomInfo, ...] | None], None]) -> bool:
        """Every room on every node, with its members' count and topic."""
        def listed(reply: Reply) -> None:
            if isinstance(reply, Exception) or not isinstance(reply, list):
                if not isinstance(reply, ConnectionError):
                    log.error("listing the rooms in Redis failed: %s", reply)
                done(None)
                return
            done(tuple(ev.RoomInfo(reply[i].decode(), int(reply[i + 1]), reply[i + 2].decode())
                       for i in range(0, len(reply) - 2, 3)))
        return self.cmd.send(("EVAL", keys.LIST_ROOMS, 1, keys.ROOMS, keys.MEMBERS, sh.topic_key(""),
                              sh.stream_key("")), listed)

    def load_topic(self, key: str, done: Callable[[str | None, Any, bool], None]) -> bool:
        """A room's name and topic as Redis has them: ``done(name, topic, failed)``."""
        got: list[Reply] = []

        def collect(reply: Reply) -> None:
            got.append(reply)
            if len(got) < 2:
                return
            name, topic = got
            if isinstance(name, Exception) or isinstance(topic, Exception):
                done(None, None, True)
                return
            done(name.decode() if name else None, sh.topic(topic), False)
        self.cmd.send(("HGET", keys.ROOMS, key), collect)
        return self.cmd.send(("HGETALL", sh.topic_key(key)), collect)

    def keep_mark(self, account_key: str, target: str, at: int) -> bool:
        """Keep a read marker where the account's next login, on any node, reads it."""
        return self.cmd.send(("EVAL", keys.KEEP_MARK, 1, keys.marks_key(account_key), target, at),
                             checked("keeping a read marker"))

    def read_marks(self, account_key: str, done: Callable[[tuple[tuple[str, int], ...]], None]) -> bool:
        """The account's read markers as Redis keeps them: ((target key, microseconds), ...)."""
        def read(reply: Reply) -> None:
            if isinstance(reply, Exception) or not isinstance(reply, list):
                if not isinstance(reply, ConnectionError):
                    log.error("reading %s's read markers from Redis failed: %s", account_key, reply)
                done(())
                return
            found = []
            for i in range(0, len(reply) - 1, 2):
                try:
                    found.append((reply[i].decode(), int(reply[i + 1])))
                except (ValueError, UnicodeDecodeError):
                    log.warning("ignored a read marker of %s: %r", account_key, reply[i][:80])
            done(tuple(found))
        return self.cmd.send(("HGETALL", keys.marks_key(account_key)), read)

    def keep_dm(self, account_key: str, dm: ev.DirectMessage) -> bool:
        """Keep ``dm`` for the account's next login on any node."""
        record = json.dumps([getattr(dm, name) for name in keys.FIELDS["DirectMessage"]], ensure_ascii=False)
        return self.cmd.send(("EVAL", keys.KEEP_DM, 1, keys.offline_key(account_key), record, keys.OFFLINE_MAX),
                             checked("keeping a private message"))

    def take_dms(self, account_key: str, done: Callable[[list[ev.DirectMessage]], None]) -> bool:
        """The account's kept messages, which Redis then forgets."""
        def taken(reply: Reply) -> None:
            dms = []
            if isinstance(reply, Exception):
                log.error("reading %s's private messages from Redis failed: %s", account_key, reply)
            else:
                for record in reply or ():
                    try:
                        values = json.loads(record)
                        if len(values) == len(keys.FIELDS["DirectMessage"]):
                            dms.append(ev.DirectMessage(*values))
                    except (ValueError, TypeError):
                        log.warning("ignored a private message record: %r", record[:80])
            done(dms)
        return self.cmd.send(("EVAL", keys.TAKE_DMS, 1, keys.offline_key(account_key)), taken)


class PageRead:
    """One page of a room's stream being read: its replies, and one more read for whether
    anything is older than the page, where SQLite would ask too."""

    def __init__(self, cmd: RespLink, key: str, done: Callable[[list[ev.Message], bool], None]) -> None:
        self.cmd = cmd
        self.key = key
        self.stream = sh.stream_key(key)
        self.done = done

    def failed(self, reply: Reply) -> bool:
        if isinstance(reply, Exception):
            log.error("reading %s's history from Redis failed: %s", self.key, reply)
            self.done([], False)
            return True
        return False

    def with_more(self, page: list[ev.Message], first: str | None) -> None:
        """Whether anything is older than the page's first entry (one more read)."""
        if first is None:
            self.done(page, False)
            return

        def older(reply: Reply) -> None:
            if not self.failed(reply):
                self.done(page, bool(reply))
        self.cmd.send(("XREVRANGE", self.stream, "(" + first, "-", "COUNT", 1), older)

    @staticmethod
    def first_id(items: list[tuple[tuple[int, int], ev.Message]]) -> str | None:
        return f"{items[0][0][0]}-{items[0][0][1]}" if items else None

    def around(self, around: float, limit: int) -> None:
        """Half before it, half from it on (as Store.history)."""
        halves: list[Reply] = [] if limit // 2 else [[]]

        def half(reply: Reply) -> None:
            halves.append(reply)
            if len(halves) < 2:
                return
            if self.failed(halves[0]) or self.failed(halves[1]):
                return
            older_half = sh.entries(halves[0])
            older_half.reverse()
            items = older_half + sh.entries(halves[1])
            self.with_more([m for _, m in items], self.first_id(items))
        if limit // 2:
            self.cmd.send(sh.read_args(self.key, "XREVRANGE", sh.bound(around), "-", limit // 2), half)
        self.cmd.send(sh.read_args(self.key, "XRANGE", sh.stream_id(around), "+", limit - limit // 2), half)

    def range(self, before: float | None, limit: int, after: float | None, oldest: bool) -> None:
        def page(reply: Reply) -> None:
            if self.failed(reply):
                return
            items = sh.entries(reply)
            if oldest:
                self.with_more([m for _, m in items], self.first_id(items))
                return
            more = len(items) > limit
            items = items[:limit]
            items.reverse()
            self.done([m for _, m in items], more)
        self.cmd.send(sh.page_range(self.key, before, limit if oldest else limit + 1, after, oldest), page)
