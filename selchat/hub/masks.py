"""A room's lists of masks (IRC's +b bans, +e exceptions, +I invite exceptions): what a mask is,
whom it matches, and the lists themselves. Pure: no wire's syntax beyond the mask's own.

A mask is ``nick!user@host`` with ``*`` and ``?`` (``bob`` means ``bob!*@*``), or an extban as
ergo takes them: ``a:ACCOUNT`` matches a logged-in account, and ``m:MASK`` on the ban list mutes
(the member stays and reads, but does not speak) instead of keeping out. A member is matched by
the mask others see (``nick!nick@selchat``) and by the one with its real address, so an operator
can ban an address the cloak hides from everyone else.
"""

from __future__ import annotations

import re
from functools import lru_cache

from selchat.config import LIST_MAX, USER_HOST
from selchat.errors import ErrorCode, ProtocolError

# letters of the lists, and their names in words (JSON's "list")
LISTS = {"b": "bans", "e": "exceptions", "I": "invite_exceptions"}
MASK_MAX = 100  # characters in one mask (nick, user and host with room to spare)
MUTE = "m:"
ACCOUNT = "a:"


def normal(mask: str) -> str:
    """The mask as kept: ``bob`` is ``bob!*@*``, ``bob@host`` is ``*!bob@host``; an extban's
    own mask likewise. A mask that cannot be one is refused (IRC 696, a JSON error)."""
    text = mask.strip()
    if not text or len(text) > MASK_MAX or " " in text or "," in text or not text.isprintable():
        raise ProtocolError(ErrorCode.BAD_MODE_VALUE, f"a mask is 1 to {MASK_MAX} characters, no spaces",
                            ("b", mask[:MASK_MAX]))
    if text.startswith(MUTE):
        return MUTE + normal(text[len(MUTE):])
    if text.startswith(ACCOUNT):
        if len(text) == len(ACCOUNT):
            raise ProtocolError(ErrorCode.BAD_MODE_VALUE, "a:ACCOUNT names an account", ("b", text))
        return text
    if "!" not in text and "@" not in text:
        return f"{text}!*@*"
    if "!" not in text:
        return f"*!{text}"
    if "@" not in text:
        return f"{text}@*"
    return text


@lru_cache(maxsize=1024)
def _pattern(mask: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in mask.casefold()),
                      re.DOTALL)


def matches(mask: str, name: str, account: str | None, address: str | None, user: str | None = None) -> bool:
    """Whether a plain mask (or ``a:``) names this member: by the mask others see, by its user
    name (IRC's ident) and by its address."""
    if mask.startswith(ACCOUNT):
        return account is not None and _pattern(mask[len(ACCOUNT):]).fullmatch(account.casefold()) is not None
    pattern = _pattern(mask)
    users = {name, user or name}
    hosts = (USER_HOST, address) if address is not None else (USER_HOST,)
    return any(pattern.fullmatch(f"{name}!{u}@{h}".casefold()) for u in users for h in hosts)


Who = tuple  # (name, account, address, user): whom a list is asked about


class MaskLists:
    """A room's three lists: letter -> {folded mask: (mask, set by, set at)}."""

    __slots__ = ("lists",)

    def __init__(self) -> None:
        self.lists: dict[str, dict[str, tuple[str, str, float]]] = {}

    def __bool__(self) -> bool:
        return any(self.lists.values())

    def entries(self, letter: str) -> list[tuple[str, str, float]]:
        return list(self.lists.get(letter, {}).values())

    def add(self, letter: str, mask: str, by: str, at: float) -> str | None:
        """The mask as added, or None if it was there already."""
        kept = normal(mask)
        found = self.lists.setdefault(letter, {})
        if kept.casefold() in found:
            return None
        if len(found) >= LIST_MAX:
            raise ProtocolError(ErrorCode.LIST_FULL, f"a room's list holds at most {LIST_MAX} masks", (letter,))
        found[kept.casefold()] = (kept, by, at)
        return kept

    def remove(self, letter: str, mask: str) -> str | None:
        """The mask as it was kept, or None if it was not on the list (matched case-blind)."""
        found = self.lists.get(letter, {})
        for key in (mask.casefold(), normal(mask).casefold()):
            if key in found:
                return found.pop(key)[0]
        return None

    def _any(self, letter: str, who: Who, muting: bool) -> bool:
        for mask, _, _ in self.lists.get(letter, {}).values():
            if mask.startswith(MUTE) != muting:
                continue
            if matches(mask[len(MUTE):] if muting else mask, *who):
                return True
        return False

    def banned(self, *who: str | None) -> bool:
        """Kept out: a ban matches (name, account, address, user), and no exception does."""
        return self._any("b", who, False) and not self._any("e", who, False)

    def muted(self, *who: str | None) -> bool:
        """Muted: an m: ban matches, and no exception does (plain, or an m: one)."""
        return self._any("b", who, True) and not self._any("e", who, False) and not self._any("e", who, True)

    def invite_excepted(self, *who: str | None) -> bool:
        return self._any("I", who, False)

    def mutes(self) -> bool:
        return any(mask.startswith(MUTE) for mask, _, _ in self.lists.get("b", {}).values())
