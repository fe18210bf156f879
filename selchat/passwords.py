"""Account passwords: argon2id with argon2-cffi's recommended parameters (RFC 9106's low-memory
profile: 3 passes over 64 MiB, about 0.2 s here). Slow on purpose, so these run only in the
worker thread, never on the loop. Nothing here logs or keeps a password."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()


@lru_cache(maxsize=1)
def _dummy() -> str:
    """Checked against when an account does not exist, so that a wrong name costs as long as a
    wrong password and the answer's timing does not tell which names are accounts."""
    return _HASHER.hash("selchat: no such account")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _dummy(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
