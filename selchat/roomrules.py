"""A room's rules kept across restarts (issue 23): its modes, its lists of masks, and once
registered, its founder and the roles its operators gave to accounts. One JSON row a room, written
whole at each change (changes are rare: a row is small); loaded at start-up into the room.

The hub's side of it is pure: ``rules_of`` and ``apply_rules`` turn a Room into the stored shape
and back, so storage never sees a Room and the hub never sees SQL.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from selchat.errors import ProtocolError
from selchat.records import SaveRoomRules

if TYPE_CHECKING:
    from selchat.hub.state import Room

# a room's modes that are on or off, by IRC's letter: Room's attributes (roles.py's table too)
FLAG_ATTRS = {"m": "moderated", "t": "topic_locked", "s": "secret", "i": "invite_only", "n": "no_outside"}


def speech_checked(room: Room) -> None:
    """Whether each line said there needs roles.may_speak: +m, or a mute on the ban list."""
    room.checks_speech = room.moderated or room.masks.mutes()


def apply_change(room: Room, on: bool, letter: str, who: str | None, by: str, at: float) -> None:
    """One change another process made (its ModeChanged), onto this process's copy of the room:
    checked there already, so only applied here."""
    if letter in FLAG_ATTRS:
        setattr(room, FLAG_ATTRS[letter], on)
    elif letter == "k":
        room.join_key = who if on else None
    elif letter == "l":
        room.limit = int(who) if on and who and who.isdigit() else 0
    elif letter in "ov" and who is not None:
        holders = room.ops if letter == "o" else room.voiced
        if on:
            holders[who.casefold()] = who
        else:
            holders.pop(who.casefold(), None)
    elif letter in "beI" and who is not None:
        try:
            room.masks.add(letter, who, by, at) if on else room.masks.remove(letter, who)
        except ProtocolError:
            pass  # this process's list is full: its own operators see the list as it is here


def rules_of(room: Room) -> SaveRoomRules:
    """What of a room outlasts its members, as one record; and for other processes (--redis),
    with its members' roles too (kept only while they are in it: ``apply_rules`` skips others)."""
    rules: dict[str, Any] = {letter: getattr(room, attr) for letter, attr in FLAG_ATTRS.items()}
    rules["k"] = room.join_key
    rules["l"] = room.limit
    rules["masks"] = {letter: [list(entry) for entry in room.masks.entries(letter)] for letter in "beI"
                      if room.masks.entries(letter)}
    rules["founder"] = room.founder
    rules["roles"] = dict(room.account_roles)
    rules["created"] = room.created
    kept = json.dumps(rules, separators=(",", ":"))
    rules["ops"], rules["voiced"] = dict(room.ops), dict(room.voiced)
    return SaveRoomRules(room.key, room.name, kept, json.dumps(rules, separators=(",", ":")))


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
    present = {name.casefold() for name in room.members.values()} | set(room.remote)
    for attr in ("ops", "voiced"):  # another process's members' roles, for those in the room now
        for key, name in (rules.get(attr) or {}).items():
            if key in present and isinstance(name, str):
                getattr(room, attr)[key] = name
