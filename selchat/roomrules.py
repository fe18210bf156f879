"""A room's rules kept across restarts (issue 23): its modes, its lists of masks, and once
registered, its founder and the roles its operators gave to accounts. One JSON row a room, written
whole at each change (changes are rare: a row is small); loaded at start-up into the room.

The hub's side of it is pure: ``rules_of`` and ``apply_rules`` turn a Room into the stored shape
and back, so storage never sees a Room and the hub never sees SQL.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from selchat.records import SaveRoomRules

if TYPE_CHECKING:
    from selchat.hub.state import Room

FLAG_ATTRS = {"m": "moderated", "t": "topic_locked", "s": "secret", "i": "invite_only", "n": "no_outside"}


def rules_of(room: Room) -> SaveRoomRules:
    """What of a room outlasts its members, as one record."""
    rules: dict[str, Any] = {letter: getattr(room, attr) for letter, attr in FLAG_ATTRS.items()}
    rules["k"] = room.join_key
    rules["l"] = room.limit
    rules["masks"] = {letter: [list(entry) for entry in room.masks.entries(letter)] for letter in "beI"
                      if room.masks.entries(letter)}
    rules["founder"] = room.founder
    rules["roles"] = dict(room.account_roles)
    rules["created"] = room.created
    return SaveRoomRules(room.key, room.name, json.dumps(rules, separators=(",", ":")))


def apply_rules(room: Room, text: str) -> None:
    """A stored row back onto a room at start-up; a row that is not one is left out."""
    try:
        rules = json.loads(text)
    except ValueError:
        return
    if not isinstance(rules, dict):
        return
    for letter, attr in FLAG_ATTRS.items():
        if isinstance(rules.get(letter), bool):
            setattr(room, attr, rules[letter])
    if isinstance(rules.get("k"), str):
        room.join_key = rules["k"]
    if isinstance(rules.get("l"), int):
        room.limit = rules["l"]
    for letter, entries in (rules.get("masks") or {}).items():
        for mask, by, at in entries:
            room.masks.add(letter, mask, by, at)
    if isinstance(rules.get("founder"), str):
        room.founder = rules["founder"]
    room.account_roles.update({k: v for k, v in (rules.get("roles") or {}).items() if v in ("o", "v")})
    if isinstance(rules.get("created"), (int, float)):
        room.created = float(rules["created"])
