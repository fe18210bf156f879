"""Unhandled exceptions logged once per kind per minute, not once per request.

A bug that input can reach is reached by a script thousands of times a second; logging each one
with its traceback turned 500 bad requests into 1.5 MB of log in two seconds (issue 21, item 8).
A kind is the exception's type and the line it was raised at; the first of a kind in a minute is
logged whole, the rest are counted and the count goes with the next one logged.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from collections.abc import Callable

WINDOW = 60.0  # seconds between two tracebacks of one kind
MAX_KINDS = 1000  # kinds remembered; past it the oldest are forgotten (they are logged again)


class BugLog:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.kinds: dict[tuple[str, str, int], list[float]] = {}  # kind -> [logged at, unlogged]

    def exception(self, log: logging.Logger, message: str, *args: object) -> None:
        """``log.exception(message, *args)`` for the exception being handled, unless one of its
        kind was logged in the last minute; then only counted."""
        kind = self._kind()
        now = self.clock()
        entry = self.kinds.get(kind)
        if entry is not None and now - entry[0] < WINDOW:
            entry[1] += 1
            return
        unlogged = int(entry[1]) if entry is not None else 0
        self.kinds.pop(kind, None)
        if len(self.kinds) >= MAX_KINDS:
            del self.kinds[next(iter(self.kinds))]
        self.kinds[kind] = [now, 0]
        if unlogged:
            message += f" (and {unlogged} more like it in the last minute, not logged)"
        log.error(message, *args, exc_info=True)

    @staticmethod
    def _kind() -> tuple[str, str, int]:
        exc = sys.exc_info()[1]
        if exc is None:
            return ("", "", 0)
        frames = traceback.extract_tb(exc.__traceback__)
        where = frames[-1] if frames else None
        return (type(exc).__qualname__, where.filename if where else "", where.lineno or 0 if where else 0)
