"""``--log-format json``: one JSON object a line, for log shippers (Loki, Elasticsearch, journald)."""

from __future__ import annotations

import json
import logging
import time


class JsonFormatter(logging.Formatter):
    """time (RFC 3339, UTC, milliseconds), level, logger, message, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        millis = int(record.created * 1000) % 1000
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{millis:03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
