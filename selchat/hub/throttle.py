"""Wrong logins, new accounts and new rooms, counted so that one abuser slows only itself (issue 21, items
1, 10 and 12). Pure: times in, refusals out; the account manager asks before it hands a password to
the worker and tells after.

Wrong logins are counted per account *and* address group: five wrong guesses at bob's password
from one address stop that address guessing bob's, and nobody else (behind one NAT or the
README's reverse proxy everyone shares an address). Per account, from anywhere, the first few
are free and each one after waits twice as long as the last, up to half a minute: an attacker
spread over many addresses gets two guesses a minute, and the owner waits half a minute at most.
"""

from __future__ import annotations

from collections import deque

from selchat.errors import ErrorCode, ProtocolError
from selchat.hosts import group

# Wrong logins to one account from one address a minute (fail2ban's maxretry default is 5).
PAIR_FAILURES_MAX = 5
PAIR_WINDOW = 60.0
# Wrong logins to one account, from anywhere, before each further try waits (ergo's
# login-throttling allows 3 a minute per account); the wait doubles from 1 s up to 30 s.
ACCOUNT_FREE_FAILURES = 3
ACCOUNT_WINDOW = 600.0
ACCOUNT_DELAY_MAX = 30.0
# New accounts from one address, and from everyone, in ten minutes: ergo throttles account
# creation to 30 in 10 minutes server-wide; one address gets a sixth of that.
REGISTRATIONS_PER_ADDRESS = 5
REGISTRATIONS_TOTAL = 30
REGISTRATION_WINDOW = 600.0
MAX_KEYS = 4096  # keys remembered before the ones with nothing left in their window are swept


class Recent:
    """The times of events per key within a window, oldest first."""

    def __init__(self, window: float) -> None:
        self.window = window
        self.times: dict[str, deque[float]] = {}

    def count(self, key: str, now: float) -> int:
        times = self.times.get(key)
        if times is None:
            return 0
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self.times[key]
            return 0
        return len(times)

    def add(self, key: str, now: float) -> None:
        if len(self.times) > MAX_KEYS:
            self.times = {k: t for k, t in self.times.items() if t and t[-1] > now - self.window}
        self.times.setdefault(key, deque()).append(now)

    def oldest(self, key: str) -> float:
        return self.times[key][0]

    def latest(self, key: str) -> float:
        return self.times[key][-1]

    def forget(self, key: str) -> None:
        self.times.pop(key, None)


class LoginThrottle:
    """Wrong logins per (account, address group) and per account."""

    def __init__(self) -> None:
        self.pairs = Recent(PAIR_WINDOW)
        self.accounts = Recent(ACCOUNT_WINDOW)

    def check(self, account: str, address: str, name: str, now: float) -> None:
        """Raises too_many_logins when this account may not be tried from here yet."""
        pair = f"{account} {group(address)}"
        if self.pairs.count(pair, now) >= PAIR_FAILURES_MAX:
            wait = self.pairs.oldest(pair) + PAIR_WINDOW - now
            raise ProtocolError(ErrorCode.TOO_MANY_LOGINS, f"{PAIR_FAILURES_MAX} wrong logins to {name} from your"
                                f" address in a minute; try again in {max(1, round(wait))} s")
        failures = self.accounts.count(account, now)
        if failures >= ACCOUNT_FREE_FAILURES:
            delay = min(2.0 ** (failures - ACCOUNT_FREE_FAILURES), ACCOUNT_DELAY_MAX)
            wait = self.accounts.latest(account) + delay - now
            if wait > 0:
                raise ProtocolError(ErrorCode.TOO_MANY_LOGINS, f"{name} has had {failures} wrong logins lately;"
                                    f" try again in {max(1, round(wait))} s")

    def failed(self, account: str, address: str, now: float) -> None:
        self.pairs.add(f"{account} {group(address)}", now)
        self.accounts.add(account, now)

    def succeeded(self, account: str, address: str) -> None:
        """The owner is in: what was guessed before no longer slows the account."""
        self.pairs.forget(f"{account} {group(address)}")
        self.accounts.forget(account)


class RegistrationThrottle:
    """New accounts per address group and in all, and one in the making per connection."""

    def __init__(self) -> None:
        self.recent = Recent(REGISTRATION_WINDOW)

    def check(self, address: str, now: float) -> None:
        key = group(address)
        if self.recent.count(key, now) >= REGISTRATIONS_PER_ADDRESS:
            wait = self.recent.oldest(key) + REGISTRATION_WINDOW - now
            raise ProtocolError(ErrorCode.TOO_MANY_REGISTRATIONS, f"{REGISTRATIONS_PER_ADDRESS} new accounts from"
                                f" your address in ten minutes; try again in {max(1, round(wait / 60))} min")
        if self.recent.count("", now) >= REGISTRATIONS_TOTAL:
            raise ProtocolError(ErrorCode.TOO_MANY_REGISTRATIONS, f"{REGISTRATIONS_TOTAL} new accounts on this"
                                " server in ten minutes; try again in a few minutes")

    def made(self, address: str, now: float) -> None:
        self.recent.add(group(address), now)
        self.recent.add("", now)


class RoomCreations:
    """New rooms per user in ten minutes: an account's own count, a guest's its address group's
    (a guest who reconnects under another name is the same address)."""

    def __init__(self) -> None:
        self.recent = Recent(REGISTRATION_WINDOW)

    @staticmethod
    def key(account: str | None, address: str) -> str:
        return f"@{account}" if account is not None else group(address)

    def check(self, key: str, allowed: int, now: float) -> None:
        if allowed > 0 and self.recent.count(key, now) >= allowed:
            wait = self.recent.oldest(key) + REGISTRATION_WINDOW - now
            raise ProtocolError(ErrorCode.TOO_MANY_NEW_ROOMS, f"you made {allowed} new rooms in ten minutes;"
                                f" join one that exists, or try again in {max(1, round(wait / 60))} min")

    def made(self, key: str, now: float) -> None:
        self.recent.add(key, now)
