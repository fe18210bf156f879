"""Incoming webhooks: a secret URL that posts into one room as a bot, for a CI job or a
monitoring script that should not have to hold a chat connection.

The shape is Slack's (and Mattermost's, which copied it): ``POST /hooks/SECRET`` with a JSON body
``{"text": "...", "username": "..."}``, or a form with that JSON in ``payload``. Only a digest of
the secret is kept, as a password would be, so a copy of the database posts nowhere; the secret is
long and random, so a digest without salt is enough (it is a token, not a guessable password).
This module holds what the CLI, the codec and the services share: the table, the secret and the
payload; hub/hooks.py holds the rules of posting.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from selchat.upkeep import request

PATH = "/hooks/"
# A body is one message and a name: Slack's own limit for a message is 40,000 characters, ours is
# --max-message (2,000 by default), so 16 KiB (the default --max-frame) holds any that may pass.
BODY_MAX = 16 * 1024
# Slack's documented limit for an incoming webhook: about one message a second, short bursts
# allowed. A bucket of BURST lines, filled at RATE a second, per hook.
RATE, BURST = 1.0, 10


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A hook's other half: where to POST a line in its room that says one of its words (or its name)."""

    key: str
    name: str
    room: str
    url: str
    words: frozenset[str]  # casefolded; the bot's name is always one


@dataclass(frozen=True, slots=True)
class Hook:
    key: str  # the bot's name, casefolded: hooks are named like people
    name: str  # the name its lines are said under
    room: str  # the room's name
    username_allowed: bool  # the payload's "username" may rename a line (Slack's "where allowed")
    gone: bool  # its room was deleted (selchat room delete): the hook stays, refused with 410
    created: float = 0.0
    send_to: str | None = None  # its outgoing half's URL


def outgoing_of(key: str, name: str, room: str, url: str | None, words: str) -> Outgoing | None:
    """A stored hook's outgoing half (its words as the JSON list the table keeps), if it has one."""
    if not url:
        return None
    listed = json.loads(words or "[]")
    return Outgoing(key, name, room, url, frozenset(w.casefold() for w in [*listed, name] if isinstance(w, str)))


def outgoing(db: sqlite3.Connection) -> list[Outgoing]:
    """Every hook that listens, for the hub at start-up (its room not deleted)."""
    rows = db.execute("SELECT key, name, room, send_to, words FROM hooks WHERE send_to IS NOT NULL AND gone = 0")
    return [found for row in rows if (found := outgoing_of(*row)) is not None]


class PayloadError(ValueError):
    """What a request's body is not, in words for the one who sent it."""


def make_secret() -> str:
    return secrets.token_urlsafe(24)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def payload(body: bytes, content_type: str) -> tuple[str, str | None]:
    """(text, username or None) from a JSON body, or a form's ``payload`` field as Slack takes."""
    try:
        raw = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("the body is not UTF-8") from None
    form = content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded"
    if form and not raw.lstrip().startswith("{"):  # curl -d sends JSON as a form unless told: taken as JSON
        fields = parse_qs(raw)
        if "payload" not in fields:
            raise PayloadError("a form needs a payload field holding the JSON")
        raw = fields["payload"][0]
    try:
        data = json.loads(raw)
    except ValueError:
        raise PayloadError('the body is not JSON: send {"text": "..."}') from None
    if not isinstance(data, dict) or not isinstance(data.get("text"), str) or not data["text"].strip():
        raise PayloadError('the JSON needs "text", a string that is not empty')
    username = data.get("username")
    if username is not None and not isinstance(username, str):
        raise PayloadError('"username" must be a string')
    return data["text"], username


# -- the table (schema 7) --------------------------------------------------------------------------
def find(db: sqlite3.Connection, secret_digest: str) -> Hook | None:
    row = db.execute("SELECT key, name, room, username_allowed, gone, created FROM hooks WHERE secret = ?",
                     (secret_digest,)).fetchone()
    return Hook(row[0], row[1], row[2], bool(row[3]), bool(row[4]), row[5]) if row else None


def listed(db: sqlite3.Connection) -> list[Hook]:
    rows = db.execute("SELECT key, name, room, username_allowed, gone, created, send_to FROM hooks"
                      " ORDER BY created, key")
    return [Hook(k, n, r, bool(u), bool(g), c, s) for k, n, r, u, g, c, s in rows]


def add(db: sqlite3.Connection, name: str, room: str, username_allowed: bool, send_to: str | None = None,
        words: tuple[str, ...] = ()) -> str:
    """A new hook, told to a running server (its name is no guest's from now on); its secret."""
    secret = make_secret()
    detail = json.dumps({"name": name, "room": room, "secret": digest(secret), "username": username_allowed,
                         "created": time.time(), "send_to": send_to, "words": list(words)})
    request(db, "add_hook", name.casefold(), detail)
    return secret


