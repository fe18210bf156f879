"""The JSON-lines wire: hub events -> frames -> bytes, for protocol v1 and v2.

v1 is one room: its clients hear only the lobby, under the name ``"lobby"``, and exactly the
frames of protocol v1 (a rename reaches them as the old name leaving and the new one joining). v2
names rooms with their ``#`` and hears everything. Decoding is shared (``codec.LineDecoder``);
only what the server says differs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from selchat.answers import ReadMarker, UnreadCounts
from selchat.codec import LineDecoder, encode
from selchat.config import LOBBY, LOBBY_ROOM, RECONNECT_DELAY
from selchat.errors import JOIN_FIRST, LOG_IN_TO_IT, V2_ONLY, ErrorCode, ProtocolError
from selchat.events import V2_COMMANDS, Chat, Command, Join, Users, replied_to
from selchat.frames import join_version, parse
from selchat.outbound import (
    Announcement,
    AwayChanged,
    BotChanged,
    DirectMessage,
    DmHistoryBatch,
    Event,
    HistoryBatch,
    Invitations,
    Invited,
    Kicked,
    MaskList,
    Message,
    MessageChanged,
    ModeChanged,
    Monitored,
    MonitorFull,
    MonitorList,
    NickChanged,
    Opered,
    PongReply,
    Registered,
    RoomJoined,
    RoomLeft,
    RoomList,
    RoomRegistered,
    SearchResults,
    ServerStats,
    Shutdown,
    TagMessage,
    TopicChanged,
    TopicIs,
    UserInfo,
    UserJoined,
    UserLeft,
    UserList,
    Wallops,
    WasInfo,
    Welcome,
)
from selchat.wire import json_extras as extras

Frame = dict[str, Any]


def _joined_text(e: UserJoined) -> str:
    return f"{e.username} joined the chat" if e.room == LOBBY_ROOM else f"{e.username} joined {e.room}"


def _left_frame(e: UserLeft, room: str, v2: bool = False) -> Frame:
    text = f"{e.username} left {e.room}" if e.parted else f"{e.username} left the chat"
    frame: Frame = {"type": "user_left", "username": e.username, "room": room, "message": text,
                    "timestamp": e.timestamp}
    if e.reason:
        frame["reason"] = e.reason
    if v2 and not e.parted:  # a quit, one frame a room: marked so that a client can say it once
        frame["quit"] = True
        if e.again:
            frame["again"] = True
    return frame


def _dm(e: DirectMessage) -> Frame:
    frame: Frame = {"type": "dm", "from": e.sender, "to": e.to, "message": e.text, "timestamp": e.timestamp}
    if e.offline:
        frame["offline"] = True
    if e.action:
        frame["action"] = True
    if e.notice:
        frame["notice"] = True
    if e.own:  # sent from another of your devices
        frame["own"] = True
    return frame


# -- v2: everything -------------------------------------------------------------------------------


def _v2_message(e: Message) -> Frame:
    frame: Frame = {"type": "chat", "username": e.username, "room": e.room, "message": e.text,
                    "timestamp": e.timestamp}
    if e.action:
        frame["action"] = True
    if e.history:
        frame["history"] = True
    if e.notice:
        frame["notice"] = True
    if e.bot:  # a program's line: a webhook's, or a client that said it is a bot
        frame["bot"] = True
    if e.tags and (reply := replied_to(e.tags)):  # the line it answers, by its timestamp
        frame["reply_to"] = reply / 1_000_000
    if e.deleted:
        frame["deleted"] = True
    elif e.edited:
        frame["edited"] = e.edited
    if e.reactions:  # kept reactions, with who reacted
        frame["reactions"] = {r: who for r, who in e.reactions.items() if who}
    if e.status:  # for the room's operators only, or its operators and voiced members
        frame["to"] = "operators" if e.status == "@" else "voiced"
    if e.own:  # your own line, sent from another of your devices
        frame["own"] = True
    return frame


def _v2_welcome(e: Welcome) -> Frame:
    frame: Frame = {
        "type": "welcome", "username": e.username, "room": e.room, "users": list(e.users), "message": e.message,
        "max_message": e.max_message, "rate_limit": e.rate_limit, "burst": e.burst, "version": 2,
        "topic": e.topic, "account": e.account, "max_rooms": e.max_rooms,
    }
    if e.motd:
        frame["motd"] = e.motd
    if e.user_count is not None:
        frame["user_count"] = e.user_count
    if e.account is None:  # the rule /register will follow, said before a password is asked for
        frame["password_min"] = e.password_min
    return frame


def _v1_welcome(e: Welcome) -> Frame:
    # v1 has no field for it: the message of the day follows the welcome text, which v1 shows
    frame: Frame = {
        "type": "welcome", "username": e.username, "room": LOBBY, "users": list(e.users),
        "message": e.message + (f"\n{e.motd}" if e.motd else ""),
        "max_message": e.max_message, "rate_limit": e.rate_limit, "burst": e.burst,
    }
    if e.user_count is not None:
        frame["user_count"] = e.user_count
    return frame


def _room_joined(e: RoomJoined) -> Frame:
    frame: Frame = {"type": "room_joined", "room": e.room, "topic": e.topic, "users": list(e.users)}
    if e.roles:
        frame["roles"] = _roles(e.roles)
    if e.user_count is not None:
        frame["user_count"] = e.user_count
    if e.read is not None:  # how far you have read it, on any device
        frame["read"] = e.read
    return frame


ROLE_NAMES = {"o": "operator", "v": "voice"}
MODE_NAMES = {"m": "moderated", "t": "topic_locked", "s": "secret", "i": "invite_only", "n": "no_outside"}
LIST_NAMES = {"b": "bans", "e": "exceptions", "I": "invite_exceptions"}
VALUE_NAMES = {"k": "key", "l": "limit"}


def _value(letter: str, on: bool, value: str | None) -> str | int | None:
    if not on or value is None:
        return None
    return int(value) if letter == "l" else value


def _modes(e: ModeChanged) -> list[Frame]:
    """A room's modes in words, and each role given or taken as a frame of its own; the answer to
    a question (no ``by``) says every mode, on or off."""
    if e.by is None:
        on = {letter: value for _, letter, value in e.changes}
        return [{"type": "room_mode", "room": e.room, **{w: letter in on for letter, w in MODE_NAMES.items()},
                 **{w: _value(letter, letter in on, on.get(letter)) for letter, w in VALUE_NAMES.items()}}]
    frames: list[Frame] = []
    flags: dict[str, Any] = {MODE_NAMES[letter]: on for on, letter, _ in e.changes if letter in MODE_NAMES}
    flags.update({VALUE_NAMES[letter]: _value(letter, on, value) for on, letter, value in e.changes
                  if letter in VALUE_NAMES})
    if flags:
        frames.append({"type": "room_mode", "room": e.room, "by": e.by, **flags, "timestamp": e.timestamp})
    frames.extend({"type": "role", "room": e.room, "username": who, "role": ROLE_NAMES[letter], "given": on,
                   "by": e.by, "timestamp": e.timestamp} for on, letter, who in e.changes if letter in ROLE_NAMES)
    frames.extend({"type": "ban" if on else "unban", "room": e.room, "list": LIST_NAMES[letter], "mask": mask,
                   "by": e.by, "timestamp": e.timestamp} for on, letter, mask in e.changes if letter in LIST_NAMES)
    return frames


def _mask_list(e: MaskList) -> Frame:
    return {"type": "bans", "room": e.room, "list": LIST_NAMES[e.letter],
            "masks": [{"mask": mask, "by": by, "timestamp": at} for mask, by, at in e.entries]}


def _roles(roles: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return {name: ROLE_NAMES[letters[0]] for name, letters in roles}  # the highest


def _v2_users(e: UserList) -> Frame:
    frame: Frame = {"type": "users", "room": e.room, "users": list(e.users)}
    if e.away:
        frame["away"] = dict(e.away)
    if e.roles:
        frame["roles"] = _roles(e.roles)
    if e.more:  # a list cut to one answer: ask again with "after" the last name
        frame["more"] = True
    if not e.first:
        frame["continued"] = True  # a part that follows on: add it to the one before
    return frame


V2: dict[type, Callable[[Any], Frame | list[Frame] | None]] = {
    Message: _v2_message,
    Welcome: _v2_welcome,
    UserJoined: lambda e: {"type": "user_joined", "username": e.username, "room": e.room,
                           "message": _joined_text(e), "timestamp": e.timestamp},
    UserLeft: lambda e: _left_frame(e, e.room, v2=True),
    DirectMessage: _dm,
    UserList: _v2_users,
    PongReply: lambda e: {"type": "pong", "id": e.id, "timestamp": e.timestamp},
    Announcement: lambda e: {"type": "server", "message": e.text, "timestamp": e.timestamp},
    Shutdown: lambda e: {"type": "shutdown", "message": e.text, "timestamp": e.timestamp, "reconnect": e.reconnect,
                         **({"delay": RECONNECT_DELAY} if e.reconnect else {})},
    RoomJoined: _room_joined,
    HistoryBatch: lambda e: [*map(_v2_message, e.messages), {"type": "history_end", "room": e.room, "more": e.more}],
    SearchResults: extras.search_results,
    TagMessage: extras.tagged,
    MessageChanged: extras.changed,
    ReadMarker: extras.read_marker,
    UnreadCounts: extras.unread_counts,
    DmHistoryBatch: lambda e: [*({**_dm(d), "history": True} for d in e.dms),
                               {"type": "history_end", "with": e.peer, "more": e.more}],
    RoomLeft: lambda e: {"type": "room_left", "room": e.room, **({"kicked_by": e.kicked_by} if e.kicked_by else {}),
                         **({"reason": e.reason} if e.reason or e.kicked_by else {})},
    Kicked: lambda e: {"type": "kicked", "room": e.room, "username": e.username, "by": e.by, "reason": e.reason,
                       "timestamp": e.timestamp},
    ModeChanged: lambda e: _modes(e),
    MaskList: _mask_list,
    BotChanged: lambda e: {"type": "bot", "bot": e.bot},
    Invitations: lambda e: {"type": "invitations", "rooms": list(e.rooms)},
    RoomRegistered: lambda e: {"type": "room_registered", "room": e.room, "founder": e.founder},
    Monitored: lambda e: {"type": "monitor", "online": list(e.online), "offline": list(e.offline)},
    MonitorList: lambda e: {"type": "monitor", "watching": list(e.names)},
    MonitorFull: lambda e: {"type": "error", "code": "monitor_full", "names": list(e.names),
                            "message": f"you watch {e.limit} names, the most allowed"},
    Wallops: lambda e: {"type": "wallops", "from": e.username, "message": e.message, "timestamp": e.timestamp},
    WasInfo: lambda e: {"type": "whowas", "username": e.username, "entries": [
        {"username": name, "user": user, "realname": real, "left": at} for name, user, real, at in e.entries]},
    Opered: lambda e: {"type": "opered", "username": e.username},
    Invited: lambda e: {"type": "invited", "room": e.room, "username": e.username, "by": e.by,
                        "timestamp": e.timestamp},
    RoomList: lambda e: {"type": "rooms", "rooms": [{"room": r.room, "users": r.users, "topic": r.topic}
                                                    for r in e.rooms], "more": e.more},
    TopicChanged: lambda e: {"type": "topic", "room": e.room, "topic": e.topic, "by": e.by,
                             "timestamp": e.timestamp},
    NickChanged: lambda e: {"type": "nick", "from": e.old, "to": e.new, "timestamp": e.timestamp},
    AwayChanged: lambda e: {"type": "away", "username": e.username, "message": e.message},
    TopicIs: lambda e: {"type": "topic", "room": e.room, "topic": e.topic, "by": e.by, "timestamp": e.at},
    UserInfo: lambda e: {"type": "whois", "username": e.username, "account": e.account, "away": e.away,
                         "rooms": list(e.rooms), "idle": round(e.idle, 3),
                         **({"roles": _roles(e.roles)} if e.roles else {}),
                         **({"address": e.address} if e.address else {})},
    ServerStats: lambda e: {"type": "stats", "users": e.users, "rooms": e.rooms, "connections": e.connections},
    Registered: lambda e: {"type": "registered", "account": e.account,
                           "message": f"{e.account} is now your account: next time, log in to it with its password"},
}


# -- v1: the lobby, and only the frames v1 has ----------------------------------------------------


def _v1_message(e: Message) -> Frame | None:
    if e.room != LOBBY_ROOM or e.history:
        return None
    frame: Frame = {"type": "chat", "username": e.username, "room": LOBBY, "message": e.text,
                    "timestamp": e.timestamp}
    if e.action:
        frame["action"] = True  # an added field: a v1 client shows the text and ignores the flag
    return frame


def _v1_nick(e: NickChanged) -> list[Frame] | None:
    if e.room != LOBBY_ROOM:
        return None
    text = f"{e.old} is now known as {e.new}"
    return [
        {"type": "user_left", "username": e.old, "room": LOBBY, "message": text, "timestamp": e.timestamp},
        {"type": "user_joined", "username": e.new, "room": LOBBY, "message": text, "timestamp": e.timestamp},
    ]


V1: dict[type, Callable[[Any], Frame | list[Frame] | None]] = {
    Message: _v1_message,
    Welcome: _v1_welcome,
    UserJoined: lambda e: {"type": "user_joined", "username": e.username, "room": LOBBY,
                           "message": _joined_text(e), "timestamp": e.timestamp} if e.room == LOBBY_ROOM else None,
    UserLeft: lambda e: _left_frame(e, LOBBY) if e.room == LOBBY_ROOM else None,
    DirectMessage: _dm,
    UserList: lambda e: {"type": "users", "room": LOBBY, "users": list(e.users)} if e.room == LOBBY_ROOM else None,
    PongReply: V2[PongReply],
    Announcement: V2[Announcement],
    Shutdown: V2[Shutdown],
    NickChanged: _v1_nick,
}


# The hub's protocol-neutral words, in JSON's own syntax (errors.py: JOIN_FIRST and the rest).
_PHRASES: dict[ErrorCode, Callable[[str], str]] = {
    ErrorCode.NOT_JOINED: lambda m: 'send {"type":"join","username":...} first' if m == JOIN_FIRST else m,
    ErrorCode.UNKNOWN_TYPE: lambda m: 'that frame type is protocol v2: join with "version":2 to use it'
    if m == V2_ONLY else m,
    ErrorCode.NAME_REGISTERED: lambda m: m.replace(LOG_IN_TO_IT, 'join with "login":PASSWORD'),
    ErrorCode.ACCOUNT_REQUIRED: lambda m: m.replace(LOG_IN_TO_IT, 'join with "login":PASSWORD'),
}


class JsonWire:
    """Renders events for one protocol version. Stateless: one instance serves every connection
    of its version, which is what lets the server encode an event once per codec."""

    __slots__ = ("version", "_render")

    def __init__(self, version: int) -> None:
        self.version = version
        self._render = V2 if version >= 2 else V1

    def encode(self, event: Event) -> bytes | None:
        render = self._render.get(type(event))
        if render is None:
            return None
        frame = render(event)
        if frame is None:
            return None
        if type(frame) is list:
            return b"".join(encode(f) for f in frame)
        return encode(frame)  # type: ignore[arg-type]

    @staticmethod
    def error(exc: ProtocolError) -> bytes:
        phrase = _PHRASES.get(exc.code)
        if phrase is not None:
            exc = ProtocolError(exc.code, phrase(exc.message))
        return encode(exc.to_frame())

    @staticmethod
    def ping(ping_id: int) -> bytes:
        return encode({"type": "ping", "id": ping_id})


JSON_V1 = JsonWire(1)
JSON_V2 = JsonWire(2)


class JsonCodec:
    """One JSON-lines connection: bytes in, commands (or ProtocolErrors) out; events out through
    ``wire``, which is shared by every connection of the same version so broadcasts are encoded
    once per version.

    The protocol's version is this codec's business, not the hub's: a join says which it speaks,
    and from then on a version 1 client's commands are those of version 1 (its lines go to the
    lobby whatever room they name, and the version 2 commands are refused here)."""

    __slots__ = ("decoder", "wire", "asked", "v1")
    kind = "json"

    def __init__(self, max_frame: int) -> None:
        self.decoder = LineDecoder(max_frame)
        self.wire: JsonWire = JSON_V1  # until the join says which version
        self.asked = 1  # the version the last join asked for
        self.v1 = False  # a version 1 join has been sent: hold its commands to version 1

    def feed(self, data: bytes) -> list[Command | ProtocolError]:
        return self._commands(self.decoder.feed(data))

    def message(self, text: str) -> list[Command | ProtocolError]:
        """One line that arrived whole and decoded (a WebSocket message)."""
        return self._commands(self.decoder.message(text))

    def _commands(self, items: list[Any]) -> list[Command | ProtocolError]:
        out: list[Command | ProtocolError] = []
        for item in items:
            if type(item) is not dict:
                out.append(item)  # type: ignore[arg-type]  # a FrameError
                continue
            try:
                command = parse(item)  # type: ignore[arg-type]
                if self.v1 or type(command) is Join:
                    command = self.held(command, item)
                out.append(command)
            except ProtocolError as exc:
                out.append(exc)
        return out

    def held(self, command: Command, frame: dict[str, Any]) -> Command:
        """A command as the version joined allows it (a join sets which version that is)."""
        kind = type(command)
        if kind is Join:
            self.asked = join_version(frame)
            self.v1 = self.asked < 2
        elif kind in V2_COMMANDS:
            raise ProtocolError(ErrorCode.UNKNOWN_TYPE, V2_ONLY)
        elif kind is Chat or kind is Users:
            command.room = None  # type: ignore[union-attr]  # version 1 has one room, the lobby
        return command

    def welcomed(self) -> None:
        self.wire = JSON_V2 if self.asked >= 2 else JSON_V1

    def saw(self, event: Event) -> None:
        return None  # a JSON client keeps its own name

    def refuse(self, exc: ProtocolError) -> bytes:
        return self.wire.error(exc)

    def encode(self, event: Event) -> bytes | None:
        return self.wire.encode(event)

    def error(self, exc: ProtocolError, command: Command | None = None) -> bytes:
        return self.wire.error(exc)

    def ping(self, ping_id: int) -> bytes | None:
        return self.wire.ping(ping_id)
