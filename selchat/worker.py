"""The one thread besides the loop (``Worker``), and the jobs it is given that touch the disk.

Slow work (argon2, a WAL checkpoint's fsync, resolving a host name) goes in through a queue;
results come back through a socketpair the loop watches, and run on the loop's thread, so the
worker never touches chat state or a client's socket.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import socket
import sqlite3
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger("selchat.store")

Job = tuple[Callable[[], Any], Callable[[Any], None], int]  # (work, its continuation, priority)


class Worker:
    """The one thread besides the loop: slow work in, results out through a socketpair.

    ``submit(fn, done)`` runs ``fn()`` in the thread; the loop calls ``run_ready()`` when the
    socket is readable, and each ``done(result)`` (or ``done(exception)``) then runs on the
    loop's thread, where chat state lives.
    """

    # Job priorities, lowest first: someone waiting to log in goes ahead of an account being
    # made, so a registration storm delays logins by one hash at most (issue 21, item 10).
    FIRST, LATER = 0, 1

    def __init__(self) -> None:
        # (priority, order of submission, job); order keeps one priority first in, first out
        self._jobs: queue.PriorityQueue[tuple[int, int, Job | None]] = queue.PriorityQueue()
        self._submitted = itertools.count()
        self.later = 0  # LATER jobs queued or running, for the services' own limit on them
        self._done: deque[tuple[Callable[[Any], None], Any, int]] = deque()
        self.wake_r, self._wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.queued = 0
        self._thread = threading.Thread(target=self._run, name="selchat-worker", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[], Any], done: Callable[[Any], None], priority: int = FIRST) -> None:
        self.queued += 1
        if priority == self.LATER:
            self.later += 1
        self._jobs.put((priority, next(self._submitted), (fn, done, priority)))

    def _run(self) -> None:
        if sys.platform.startswith("linux"):
            # SCHED_IDLE for this thread (on Linux a policy is per thread, and the threads argon2
            # starts for its lanes inherit it): it runs only on a core nothing else wants, so
            # hashing and checkpoints take what the loop leaves and a login storm does not slow
            # the chat. Lowering the priority needs no privilege.
            try:
                os.sched_setscheduler(threading.get_native_id(), os.SCHED_IDLE, os.sched_param(0))
            except (OSError, AttributeError):
                pass
        while True:
            job = self._jobs.get()[2]
            if job is None:
                return
            fn, done, priority = job
            try:
                result: Any = fn()
            except Exception as exc:  # handed to the loop, which logs it
                result = exc
            self._done.append((done, result, priority))
            try:
                self._wake_w.send(b"\0")
            except (BlockingIOError, InterruptedError):
                pass  # the socket is full of wake-ups already: the loop will look
            except OSError:
                return

    def run_ready(self) -> None:
        try:
            while self.wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        while self._done:
            done, result, priority = self._done.popleft()
            self.queued -= 1
            if priority == self.LATER:
                self.later -= 1
            try:
                done(result)
            except Exception:
                log.exception("handling a worker result failed")

    def close(self) -> None:
        """Finish the queued jobs, stop the thread, and deliver what it finished."""
        self._jobs.put((self.LATER + 1, next(self._submitted), None))  # after every job
        self._thread.join()
        self.run_ready()
        self.wake_r.close()
        self._wake_w.close()


def checkpoint(path: str) -> Callable[[], int]:
    """A job for the worker: a passive checkpoint on a connection of its own (it does not wait
    for the loop's writer, and the loop's writer does not wait for it)."""

    def run() -> int:
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 0")
            row = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            return int(row[2])
        finally:
            db.close()

    return run
