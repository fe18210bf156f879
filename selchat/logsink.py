"""Where the server's log goes: the lines of one loop turn written together.

A join storm of 10,000 clients logs 20,000 lines; written one ``write()`` each, with the time
formatted anew for each, the log was a third of the storm's CPU. Here the lines are kept until
the end of the loop turn (``flush``, called before the loop sleeps) and written at once, and the
time is formatted once a second. A warning or worse is written at once, and so is a full buffer,
so nothing that matters waits.
"""

from __future__ import annotations

import logging
import time
from typing import Any, TextIO

# Lines kept before writing anyway (a long turn still writes as it goes).
MAX_BUFFERED = 1000


class TurnBufferedHandler(logging.StreamHandler):  # type: ignore[type-arg]
    def __init__(self, stream: TextIO, flush_level: int = logging.WARNING) -> None:
        super().__init__(stream)
        self.lines: list[str] = []
        self.flush_level = flush_level

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
            if record.levelno >= self.flush_level or len(self.lines) >= MAX_BUFFERED:
                self.flush()
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        self.acquire()
        try:
            if self.lines:
                text = self.terminator.join(self.lines) + self.terminator
                self.lines.clear()
                self.stream.write(text)
            if hasattr(self.stream, "flush"):
                self.stream.flush()
        finally:
            self.release()


class TextFormatter(logging.Formatter):
    """``2026-12-01 19:57:18,713 INFO selchat.server: ...``, the time formatted once a second."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._second = -1
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: Any = None) -> str:
        second = int(record.created)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self._stamp},{int(record.msecs):03d}"


def flush_logs() -> None:
    """Write what the root logger's handlers keep (the end of a loop turn)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, TurnBufferedHandler) and handler.lines:
            handler.flush()
