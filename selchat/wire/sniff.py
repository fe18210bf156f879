"""Which protocol a connection speaks, from its first bytes (the way Redis tells an inline command
from a multibulk one by the first byte). Pure: bytes in, a verdict out."""

from __future__ import annotations

import re

JSON = "json"
IRC = "irc"
HTTP = "http"
TEXT = "text"

# An IRC client's registration starts with one of these (any case): RFC 2812 section 3.1, and
# IRCv3 capability negotiation, which sends CAP LS first.
IRC_WORDS = frozenset({b"CAP", b"NICK", b"USER", b"PASS"})
# A first line longer than this is nobody's registration and no JSON frame's opening: a person
# typing (IRC's own limit for a whole line is 512 bytes).
SNIFF_MAX = 512
# Any other HTTP request line (HEAD, POST ...): answered by HTTP, if only to say 405.
REQUEST_LINE = re.compile(rb"[A-Z]{3,10} \S+ HTTP/1\.[01]\r?\n")


def sniff(data: bytes) -> str | None:
    """The protocol ``data`` (everything received so far) speaks, or None while it cannot tell.

    ``{`` is JSON. ``GET `` (or any HTTP request line) is HTTP. A first word of CAP, NICK, USER or
    PASS is IRC. Anything else a line long is a person at a plain terminal (text mode).
    """
    stripped = data.lstrip(b" \t\r\n")
    if not stripped:
        return TEXT if len(data) > SNIFF_MAX else None
    if stripped[:1] == b"{":
        return JSON
    if stripped[:4] == b"GET ":
        return HTTP
    if len(stripped) < 4 and b"GET ".startswith(stripped):
        return None  # may yet be GET
    end = len(stripped)
    for delimiter in (b" ", b"\r", b"\n"):
        at = stripped.find(delimiter)
        if 0 <= at < end:
            end = at
    if end == len(stripped):  # the first word is not over yet
        if len(stripped) > SNIFF_MAX:
            return TEXT
        if any(word.startswith(stripped.upper()) for word in IRC_WORDS):
            return None
        return TEXT if b"\n" in stripped or len(stripped) > 4 else None
    if stripped[:end].upper() in IRC_WORDS:
        return IRC
    if REQUEST_LINE.match(stripped):
        return HTTP
    if b"\n" not in stripped and stripped[:end].isupper() and len(stripped) <= SNIFF_MAX:
        return None  # may be an HTTP request line still arriving
    return TEXT
