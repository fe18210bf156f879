"""Accounts and logins: the join command's checks, logging in (before or after joining),
registering, wrong-login throttling, and one session per account."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from selchat import outbound as ev
from selchat.config import NAME_MAX, PASSWORD_MAX
from selchat.errors import LOG_IN_TO_IT, ErrorCode, ProtocolError
from selchat.events import Authenticate, Join, Oper, Register
from selchat.hub.devices import DeviceManager, siblings
from selchat.hub.effects import Ask, Effect, Fail, Send, Store
from selchat.hub.names import NameManager
from selchat.hub.state import Session, State, check_name, valid_name
from selchat.hub.throttle import LoginThrottle, RegistrationThrottle
from selchat.records import CheckLogin, HashPassword, LoadOfflineDms, LoginChecked, PasswordHashed, SaveAccount

# forget(session, now, reason): a session's name and rooms are given up (the hub's departure)
Forget = Callable[[Session, float, "str | None"], list[Effect]]



def is_text(password: str) -> bool:
    """Whether a password is text: a JSON string may hold a lone surrogate (``"\\ud800"``), which
    no encoding takes, so argon2 would fail on it in the worker."""
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True

class AccountManager:
    def __init__(self, state: State, names: NameManager, devices: DeviceManager, forget: Forget) -> None:
        self.state = state
        self.names = names
        self.devices = devices
        self._forget = forget
        self.logins = LoginThrottle()  # wrong logins per account and address (throttle.py)
        self.registrations = RegistrationThrottle()

    # -- joining -----------------------------------------------------------------------------------
    def join(self, session: Session, cmd: Join, now: float) -> list[Effect]:
        state = self.state
        if session.name is not None:
            raise ProtocolError(ErrorCode.ALREADY_JOINED, f"already joined as {session.name}")
        if session.logging_in is not None or session.claiming is not None:
            raise ProtocolError(ErrorCode.ALREADY_JOINED, "a login is already being checked")
        expected = state.config.password
        if expected is not None and not hmac.compare_digest(
            (cmd.password or "").encode("utf-8", "surrogatepass"),
            expected.encode("utf-8", "surrogatepass"),
        ):
            raise ProtocolError(ErrorCode.BAD_PASSWORD, "wrong or missing password")
        if session.authed is not None:  # logged in already (SASL): this join is the account's
            return self._join_authed(session, session.authed, cmd, now)
        key = check_name(cmd.username)
        if state.bans.name(key, now):
            raise ProtocolError(ErrorCode.BANNED, f"{cmd.username} is banned from this server")
        if cmd.login is not None:
            self.logins.check(key, session.address, cmd.username, now)
            if not is_text(cmd.login):  # no account has such a password: a wrong login, without argon2
                self.logins.failed(key, session.address, now)
                raise ProtocolError(ErrorCode.BAD_LOGIN,
                                    f"wrong account name or password for {cmd.username[:NAME_MAX]}")
            session.logging_in = cmd
            return [Ask(CheckLogin(session.conn_id, key, cmd.login))]
        if state.config.require_account:
            raise ProtocolError(
                ErrorCode.ACCOUNT_REQUIRED, f"this server admits accounts only: {LOG_IN_TO_IT}"
            )
        return self.names.join_guest(session, cmd, key, now)

    def _join_authed(self, session: Session, account: str, cmd: Join, now: float) -> list[Effect]:
        state = self.state
        if state.bans.name(account, now):
            raise ProtocolError(ErrorCode.BANNED, f"{state.accounts[account]} is banned from this server")
        key = check_name(cmd.username)
        if key == account or self.devices.first_device(session, account) is not None:
            return self._claim_account(session, account, cmd, now)
        # another nick, as IRC allows: one that is nobody else's
        state.check_unreserved(key, cmd.username)
        if state.bans.name(key, now):
            raise ProtocolError(ErrorCode.BANNED, f"{cmd.username} is banned from this server")
        if key in state.accounts or key in state.registering:
            raise ProtocolError(ErrorCode.NAME_REGISTERED, f"{cmd.username} is another registered account")
        if key in state.names:
            raise ProtocolError(ErrorCode.USERNAME_TAKEN, f"{cmd.username} is taken; choose another name")
        return self.names.claim(session, key, False,
                                lambda: self._admit_account(session, account, cmd, now, cmd.username), account)

    def _claim_account(self, session: Session, account: str, cmd: Join, now: float) -> list[Effect]:
        """Claim the name a login to ``account`` comes in under: the one the person has here already
        (another device of theirs), else the account's own (with --redis: or a nick it has elsewhere)."""
        first = self.devices.first_device(session, account)
        key, shown = (first.name.casefold(), first.name) if first is not None and first.name else (account, None)
        return self.names.claim(session, key, False, lambda: self._admit_account(session, account, cmd, now),
                                account, shown=shown)

    def _admit_account(self, session: Session, key: str, cmd: Join, now: float,
                       nick: str | None = None) -> list[Effect]:
        """Admit ``session`` as the account ``key``, whose password it has proven, under the
        account's name or ``nick``."""
        state = self.state
        claimed_as, session.claimed_as = session.claimed_as, None
        first = self.devices.first_device(session, key)
        if first is not None:
            effects = self.devices.attach(session, first, cmd.user, self._replaced_device, now)
            # private messages kept while it lingered (hub/devices.py) come with the welcome back
            return [*effects, *self.names.admit_device(session, cmd, now), Ask(LoadOfflineDms(session.conn_id, key))]
        name = nick or claimed_as or state.accounts[key]
        old = state.account_sessions.get(key)
        if old is None:
            old = state.names.get(key)  # someone using the account's name
        effects = self._replace_session(old, session, name, now)
        effects.extend(self.names.admit(session, name, cmd, key, now))
        effects.append(Ask(LoadOfflineDms(session.conn_id, key)))
        return effects

    # -- logging in --------------------------------------------------------------------------------
    def authenticate(self, session: Session, cmd: Authenticate, now: float) -> list[Effect]:
        if session.account is not None or session.authed is not None:
            raise ProtocolError(ErrorCode.ALREADY_JOINED, "you are logged in already")
        if session.logging_in is not None:
            raise ProtocolError(ErrorCode.ALREADY_JOINED, "a login is already being checked")
        key = cmd.account.casefold()
        self.logins.check(key, session.address, cmd.account[:NAME_MAX], now)
        if not valid_name(cmd.account) or not is_text(cmd.password):  # no such account or password could exist
            self.logins.failed(key, session.address, now)
            raise ProtocolError(ErrorCode.BAD_LOGIN, f"wrong account name or password for {cmd.account[:NAME_MAX]}")
        session.logging_in = cmd
        return [Ask(CheckLogin(session.conn_id, key, cmd.password))]

    def oper(self, session: Session, cmd: Oper, now: float) -> list[Effect]:
        """A server operator: an account of --operators, proved by its password (checked in the
        worker, counted as a login is)."""
        if session.logging_in is not None:
            raise ProtocolError(ErrorCode.ALREADY_JOINED, "a login is already being checked")
        key = cmd.name.casefold()
        self.logins.check(key, session.address, cmd.name[:NAME_MAX], now)
        if key not in self.state.config.operators or not valid_name(cmd.name) or not is_text(cmd.password):
            raise ProtocolError(ErrorCode.NOT_SERVER_OPERATOR, f"{cmd.name[:NAME_MAX]} is not a server operator here")
        session.logging_in = cmd
        return [Ask(CheckLogin(session.conn_id, key, cmd.password))]

    def _opered(self, session: Session, result: LoginChecked, now: float) -> list[Effect]:
        if not result.ok:
            self.logins.failed(result.account_key, session.address, now)
            return [Fail(session.conn_id, ProtocolError(ErrorCode.OPER_FAILED, "wrong operator password"))]
        self.logins.succeeded(result.account_key, session.address)
        session.oper = True
        assert session.name is not None
        return [Send((session.conn_id,), ev.Opered(session.name))]

    def login_checked(self, session: Session, result: LoginChecked, now: float) -> list[Effect]:
        cmd = session.logging_in
        if cmd is None:
            return []
        session.logging_in = None
        if type(cmd) is Oper:
            return self._opered(session, result, now)
        if not result.ok or result.name is None:
            self.logins.failed(result.account_key, session.address, now)
            name = cmd.account if type(cmd) is Authenticate else cmd.username
            return [Fail(session.conn_id, ProtocolError(
                ErrorCode.BAD_LOGIN, f"wrong account name or password for {name}"))]
        key = result.account_key
        self.logins.succeeded(key, session.address)
        session.bot = session.bot or result.bot  # a bot account's sessions say so (IRC's +B, the bot tag)
        self.state.accounts[key] = result.name
        if type(cmd) is Authenticate:
            if session.name is None:
                session.authed = key  # the join that follows is the account's
                return [Send((session.conn_id,), ev.LoggedIn(result.name))]
            return self._log_in_late(session, key, result.name, now)
        return self._claim_account(session, key, cmd, now)  # type: ignore[arg-type]

    def _log_in_late(self, session: Session, key: str, name: str, now: float) -> list[Effect]:
        """A joined guest proves an account's password (SASL after registration): the session
        keeps its name and becomes the account's, replacing any other session of it."""
        effects = self._replace_session(self.state.account_sessions.get(key), session, name, now)
        session.account = key
        self.state.account_sessions[key] = session.conn_id
        effects.append(Send((session.conn_id,), ev.LoggedIn(name)))
        effects.append(Ask(LoadOfflineDms(session.conn_id, key)))
        effects.extend(self._account_told(session, name))
        return effects

    def _account_told(self, session: Session, account: str | None) -> list[Effect]:
        """Those who share a room hear that someone is now logged in (IRC's account-notify)."""
        others = self.state.sharers(session)[1:]
        assert session.name is not None
        event = ev.AccountChanged(session.name, account)
        return [*([Send(others, event)] if others else []), *self.names.monitors.beyond(session, event, others)]

    def _replace_session(self, old: int | None, session: Session, name: str, now: float) -> list[Effect]:
        """The account's owner is back (often from a connection the server has not yet seen die):
        the new login replaces the old session ``old``, as IRC's GHOST does."""
        if old is None or old == session.conn_id:
            return []
        return self.let_go(self.state.sessions[old], now, "logged in elsewhere", ProtocolError(
            ErrorCode.LOGGED_IN_ELSEWHERE, f"{name} logged in from another connection"))

    def _replaced_device(self, session: Session, now: float) -> list[Effect]:
        """The oldest device of one who has as many as --devices allows gives way to a new one."""
        return self.let_go(session, now, "logged in elsewhere", ProtocolError(
            ErrorCode.LOGGED_IN_ELSEWHERE, f"{session.name} connected from a newer device; this"
            f" one is its oldest beyond the {self.state.config.devices} an account may have"), every_device=False)

    def let_go(self, session: Session, now: float, reason: str, error: ProtocolError,
               every_device: bool = True) -> list[Effect]:
        """A named session ended from outside its connection (another login, the operator): it
        gives up its name and rooms, and its connection is told why; so does each of the person's
        other devices, unless only this one is let go (the oldest beyond --devices)."""
        state = self.state
        effects: list[Effect] = []
        for device in [*siblings(state, session), session] if every_device else [session]:
            if state.sessions.pop(device.conn_id, None) is not None:
                effects.extend(self._forget(device, now, reason))  # the last of them leaves, the others detach
                effects.append(Fail(device.conn_id, error))
        return effects

    def displace(self, key: str, now: float) -> list[Effect]:
        """Another process admitted a login to the account ``key``: its session here ends, as a
        second login on one process replaces the first."""
        state = self.state
        conn_id = state.account_sessions.get(key)
        if conn_id is None:
            conn_id = state.names.get(key)
        session = state.sessions.get(conn_id) if conn_id is not None else None
        if session is None or session.name is None:
            return []
        return self.let_go(session, now, "logged in elsewhere", ProtocolError(
            ErrorCode.LOGGED_IN_ELSEWHERE, f"{session.name} logged in on another server"))

    # -- registering -------------------------------------------------------------------------------
    def register(self, session: Session, cmd: Register, now: float) -> list[Effect]:
        state = self.state
        assert session.name is not None
        key = session.name.casefold()
        if session.account is not None:
            raise ProtocolError(ErrorCode.ALREADY_REGISTERED, f"you are logged in to the account {session.account}")
        if key in state.accounts or key in state.registering:
            raise ProtocolError(ErrorCode.NAME_REGISTERED, f"{session.name} is a registered account already")
        shortest = state.config.password_min
        if not is_text(cmd.password):
            raise ProtocolError(ErrorCode.WEAK_PASSWORD, "a password must be text (it holds a character that is not)")
        if not shortest <= len(cmd.password) <= PASSWORD_MAX:
            raise ProtocolError(
                ErrorCode.WEAK_PASSWORD, f"an account password is {shortest}-{PASSWORD_MAX} characters"
            )
        if session.hashing:
            raise ProtocolError(ErrorCode.RATE_LIMITED, "your last registration is still being made; wait for it")
        self.registrations.check(session.address, now)
        state.spend_token(session, now)
        self.registrations.made(session.address, now)
        session.hashing = True
        state.registering.add(key)
        return [Ask(HashPassword(session.conn_id, key, session.name, cmd.password))]

    def password_hashed(self, session: Session | None, result: PasswordHashed, now: float) -> list[Effect]:
        state = self.state
        key = result.account_key
        state.registering.discard(key)
        if session is not None:
            session.hashing = False
        if result.hash is None:  # nothing is kept, and the name is free to register again
            if session is None:
                return []
            if result.busy:
                return [Fail(session.conn_id, ProtocolError(
                    ErrorCode.TOO_MANY_REGISTRATIONS, "the server is making many accounts; try again in a minute"))]
            return [Fail(session.conn_id, ProtocolError(
                ErrorCode.SERVER_ERROR, "the server could not register the account; try again later"))]
        state.accounts[key] = result.name
        effects: list[Effect] = [Store(SaveAccount(key, result.name, result.hash, now))]
        if session is not None and session.name is not None and session.name.casefold() == key:
            session.account = key
            state.account_sessions[key] = session.conn_id
            effects.append(Send((session.conn_id,), ev.Registered(result.name)))
            effects.extend(self._account_told(session, result.name))
        return effects
