"""Wire error codes and the one exception type that carries them.

Like wsproto's ``ParseFailed(msg, code=...)``: whoever detects a problem names its wire code, and
the server turns it into an ``error`` frame in exactly one place.
"""

from __future__ import annotations

import enum


class ErrorCode(str, enum.Enum):
    BAD_FRAME = "bad_frame"
    FRAME_TOO_LARGE = "frame_too_large"
    UNKNOWN_TYPE = "unknown_type"
    NOT_JOINED = "not_joined"
    ALREADY_JOINED = "already_joined"
    USERNAME_TAKEN = "username_taken"
    INVALID_USERNAME = "invalid_username"
    NO_SUCH_USER = "no_such_user"
    MESSAGE_TOO_LONG = "message_too_long"
    EMPTY_MESSAGE = "empty_message"
    SERVER_FULL = "server_full"
    HANDSHAKE_TIMEOUT = "handshake_timeout"
    IDLE_TIMEOUT = "idle_timeout"
    SLOW_CONSUMER = "slow_consumer"
    # Hardening (issue 6).
    BAD_PASSWORD = "bad_password"
    RATE_LIMITED = "rate_limited"
    FLOODING = "flooding"
    KICKED = "kicked"
    BANNED = "banned"
    TLS_REQUIRED = "tls_required"
    # Rooms, history and accounts (protocol v2, issue 10).
    BAD_ROOM_NAME = "bad_room_name"
    NO_SUCH_ROOM = "no_such_room"
    NOT_IN_ROOM = "not_in_room"
    TOO_MANY_ROOMS = "too_many_rooms"
    TOPIC_TOO_LONG = "topic_too_long"
    NAME_REGISTERED = "name_registered"
    BAD_LOGIN = "bad_login"
    TOO_MANY_LOGINS = "too_many_logins"
    ACCOUNT_REQUIRED = "account_required"
    ALREADY_REGISTERED = "already_registered"
    WEAK_PASSWORD = "weak_password"
    LOGGED_IN_ELSEWHERE = "logged_in_elsewhere"
    HISTORY_UNAVAILABLE = "history_unavailable"
    UNKNOWN_MESSAGE = "unknown_message"  # an edit or delete of a line the room does not have
    NOT_YOURS = "not_yours"  # an edit of another's line, or a delete of it by one who does not run the room
    BAD_SEARCH = "bad_search"  # a search that asks for nothing, names no date, or took too long
    SEARCH_OFF = "search_off"  # the server keeps no search index (--no-search)
    SERVER_ERROR = "server_error"  # the server failed at a request (logged); nothing was kept
    TOO_MANY_CONNECTIONS = "too_many_connections"  # from one address (issue 21)
    TOO_MANY_REGISTRATIONS = "too_many_registrations"  # new accounts from one address, or in all
    DMS_FULL = "dms_full"  # an offline account holds all the private messages it may
    ROOMS_FULL = "rooms_full"  # the server holds --max-rooms-total rooms
    TOO_MANY_NEW_ROOMS = "too_many_new_rooms"  # one user made --new-rooms-per-user lately
    NOT_OPERATOR = "not_operator"  # only the room's operators may do that (issue 23)
    MODERATED = "moderated"  # the room is moderated: only operators and voiced members speak
    NOT_A_MEMBER = "not_a_member"  # the person named is not in the room
    UNKNOWN_MODE = "unknown_mode"
    INVITE_ONLY = "invite_only"  # the room lets in only those invited
    BAD_ROOM_KEY = "bad_room_key"  # the room has a key, and that was not it
    ROOM_LIMIT = "room_limit"  # the room holds as many members as its operators allow
    NOT_SERVER_OPERATOR = "not_server_operator"  # OPER for a name --operators does not list
    OPER_FAILED = "oper_failed"  # OPER with a wrong password: said, and the connection goes on
    NO_PRIVILEGES = "no_privileges"  # only server operators may do that (KILL, WALLOPS)
    ROOM_REGISTERED = "room_registered"  # the room has a founder already
    BAD_REALNAME = "bad_realname"  # SETNAME with none, or one too long
    BAD_MODE_VALUE = "bad_mode_value"  # +k, +l or a ban mask that cannot be one
    USER_IN_ROOM = "user_in_room"  # an invitation for someone who is in the room already
    BANNED_FROM_ROOM = "banned_from_room"  # a ban mask of the room's matches (+b)
    LIST_FULL = "list_full"  # a room's ban (or exception) list holds as many masks as it may


# After these the server closes the connection; after every other code it stays usable.
# The hub's words for what each wire phrases in its own syntax (the hub names no wire's syntax):
# a wire may say these its own way, keyed by the very text.
JOIN_FIRST = "join first"
V2_ONLY = "that is protocol v2's: join with version 2 to use it"
LOG_IN_TO_IT = "log in to it"

CLOSING_CODES = frozenset(
    {
        ErrorCode.SERVER_FULL,
        ErrorCode.TOO_MANY_CONNECTIONS,
        ErrorCode.HANDSHAKE_TIMEOUT,
        ErrorCode.IDLE_TIMEOUT,
        ErrorCode.SLOW_CONSUMER,
        ErrorCode.BAD_PASSWORD,
        ErrorCode.FLOODING,
        ErrorCode.KICKED,
        ErrorCode.BANNED,
        ErrorCode.TLS_REQUIRED,
        ErrorCode.LOGGED_IN_ELSEWHERE,
    }
)


class ProtocolError(Exception):
    """A problem the peer caused, with the code the peer is told."""

    def __init__(self, code: ErrorCode, message: str, about: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.about = about  # what it is about, for a wire that names it (IRC's 696: the mode and value)

    @property
    def closes(self) -> bool:
        return self.code in CLOSING_CODES

    def to_frame(self) -> dict[str, str]:
        return {"type": "error", "code": self.code.value, "message": self.message}
