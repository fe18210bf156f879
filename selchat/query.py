"""A search as people type it (search.py runs it): words, "a phrase" in quotes, ``from:bob``,
``in:#dev`` (a room, or ``in:@alice`` a conversation), ``before:2026-12-01`` and
``after:2026-11-01`` (dates in local time, each day itself in neither, or seconds since 1970).
Every word and phrase reaches FTS5 quoted, so nothing typed is FTS5's own syntax; a trailing
``*`` asks for words that begin so. Pure: the hub checks a query before asking for its hits.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

QUERY_MAX = 400  # characters of a query: words enough, and FTS5's parser is given nothing huge
PAGE_MAX = 100  # hits in one answer (a page: ``before`` the last for the next)
_TOKEN = re.compile(r'"([^"]*)"?|(\S+)')
_WORD = re.compile(r"[^\W_]+[*]?|[*]", re.UNICODE)  # what unicode61 calls a word, and a prefix's star
WORDS = re.compile(r"[^\W_]+", re.UNICODE)  # the words of a name, as the index has them


class QueryError(ValueError):
    """What a query cannot be, in words."""


@dataclass(slots=True)
class Query:
    match: str  # the FTS5 expression, every word and phrase quoted; "" when only filters were given
    sender: str | None = None  # from:NAME, casefolded
    place: str | None = None  # in:#room (casefolded) or in:@name (a conversation)
    before: float | None = None
    after: float | None = None
    words: list[str] = field(default_factory=list)  # what was looked for, to say it back


def _date(value: str, end: bool) -> float:
    """A date (YYYY-MM-DD, local midnight; ``end``: the midnight after) or seconds since 1970."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        start = time.mktime(time.strptime(value, "%Y-%m-%d"))
    except ValueError:
        raise QueryError(f"{value!r} is not a date: write it as 2026-12-01") from None
    return start + 86400 if end else start


def _quoted(text: str) -> str | None:
    """Words as an FTS5 phrase: each a string in double quotes, so no word is FTS5 syntax."""
    words = _WORD.findall(text)
    if not words or words == ["*"]:
        return None
    last_prefix = words[-1].endswith("*") and len(words[-1]) > 1
    plain = [w.rstrip("*") for w in words if w.rstrip("*")]
    phrase = '"' + " ".join(plain) + '"'
    return phrase + "*" if last_prefix else phrase


def parse(text: str) -> Query:
    """A query as typed; ``QueryError`` for one that asks for nothing or names a bad date."""
    if len(text) > QUERY_MAX:
        raise QueryError(f"a search is at most {QUERY_MAX} characters")
    query = Query("")
    parts: list[str] = []
    for match in _TOKEN.finditer(text):
        phrase, word = match.group(1), match.group(2)
        if word is not None and ":" in word and not word.startswith(":"):
            key, _, value = word.partition(":")
            key = key.lower()
            if key == "from" and value:
                query.sender = value.lstrip("@").casefold()
                continue
            if key == "in" and value:
                query.place = value.casefold()
                continue
            if key in ("before", "after") and value:
                setattr(query, key, _date(value, end=key == "after"))  # a day itself is in neither
                continue
        quoted = _quoted(phrase if phrase is not None else word or "")
        if quoted is not None:
            parts.append(quoted)
            query.words.append(phrase if phrase is not None else word or "")
    query.match = " AND ".join(parts)
    if not query.match and query.sender is None:
        raise QueryError("say what to look for: words, \"a phrase\" or from:NAME")
    return query


