"""Where the server's log goes: the lines of one loop turn written together.

A join storm of 10,000 clients logs 20,000 lines; written one ``write()`` each, with the time
formatted anew for each, the log was a third of the storm's CPU. Here the lines are kept until
the end of the loop turn (``flush``, called before the loop sleeps) and written at once, and the
time is formatted once a second. A warning or worse is written at once, and so is a full buffer,
so nothing that matters waits.
"""

from __future__ import annotations

import logging
import re
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


# What would let a value from a client forge or hide a log line: C0 and C1 controls (a newline
# starts a fake line, ESC drives the terminal tailing the log), DEL, the Unicode line separators
# and the bidirectional overrides. The JSON log escapes these by being JSON.
_FORGING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` as one log line: what could end or disguise the line shown as an escape."""
    return _FORGING.sub(_escaped, text)


class TextFormatter(logging.Formatter):
    """``2026-12-01 19:57:18,713 INFO selchat.server: ...``, the time formatted once a second.

    The message is escaped whole (issue 21, item 9): any value a client sent, wherever a log call
    puts it, stays inside its own line. A traceback, added after, keeps its newlines."""

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

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)


def flush_logs() -> None:
    """Write what the root logger's handlers keep (the end of a loop turn)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, TurnBufferedHandler) and handler.lines:
            handler.flush()
