"""The log sink: a turn's lines in one write, warnings at once, the time formatted once a second."""

from __future__ import annotations

import io
import logging

from selchat.logsink import MAX_BUFFERED, TextFormatter, TurnBufferedHandler


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def _logger(stream: CountingStream) -> tuple[logging.Logger, TurnBufferedHandler]:
    handler = TurnBufferedHandler(stream)
    handler.setFormatter(TextFormatter())
    logger = logging.getLogger(f"selchat.test.{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger, handler


def test_a_turns_lines_are_one_write() -> None:
    stream = CountingStream()
    logger, handler = _logger(stream)
    for i in range(5):
        logger.info("join user%d", i)
    assert stream.writes == 0
    handler.flush()
    lines = stream.getvalue().splitlines()
    assert stream.writes == 1 and len(lines) == 5
    assert lines[0].endswith(" INFO " + logger.name + ": join user0")
    assert lines[0][:4].isdigit() and lines[0][19] == ","  # 2026-12-01 19:57:18,713


def test_warnings_and_a_full_buffer_are_written_at_once() -> None:
    stream = CountingStream()
    logger, _ = _logger(stream)
    logger.info("kept")
    logger.warning("now")
    assert stream.getvalue().splitlines()[-1].endswith("WARNING " + logger.name + ": now")
    assert "kept" in stream.getvalue()  # and in order
    before = stream.writes
    for i in range(MAX_BUFFERED):
        logger.info("line %d", i)
    assert stream.writes == before + 1


def test_a_message_cannot_start_a_line_of_its_own() -> None:
    stream = CountingStream()
    logger, handler = _logger(stream)
    logger.info("join %s", "x\nFORGED INFO: root\r\x1b[2J\u202e")
    handler.flush()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].endswith(r"join x\x0aFORGED INFO: root\x0d\x1b[2J\u202e")


def test_a_bug_is_logged_once_per_kind_per_minute() -> None:
    from selchat.reactor.buglog import WINDOW, BugLog

    stream = CountingStream()
    logger, handler = _logger(stream)
    now = [0.0]
    bugs = BugLog(lambda: now[0])

    def fail(kind: type[Exception]) -> None:
        try:
            raise kind("boom")
        except Exception:
            bugs.exception(logger, "handling %s failed", "peer")

    for _ in range(500):
        fail(ValueError)
    fail(KeyError)  # another kind is logged at once
    now[0] = WINDOW + 1
    fail(ValueError)
    handler.flush()
    text = stream.getvalue()
    assert text.count("Traceback") == 3
    assert "handling peer failed (and 499 more like it in the last minute, not logged)" in text
