"""Every limit and default in one place, each with the precedent it follows."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
LOBBY = "lobby"  # the room's name on the v1 wire
LOBBY_ROOM = "#lobby"  # and on the v2 wire

# Protocol versions: v1 is one room (docs/protocol.md); v2 adds rooms, history and accounts.
PROTOCOL_VERSION = 2

# Room names: "#" and 1-32 of the name characters (IRC's CHANNELLEN is 50 on most networks;
# 32 keeps a room name the length of a user name). Compared case-insensitively, as IRC does.
ROOM_MAX = 32
# IRC's TOPICLEN is 307 on Libera (Solanum) and 390 on Ergo.
TOPIC_MAX = 300
# An away message is a status line, not a message: as long as a topic.
AWAY_MAX = 300
# A history request returns at most this many messages (IRCv3 chathistory servers cap a
# request too; Ergo's default is 1000, we page smaller).
HISTORY_PAGE_MAX = 200
# Rooms one `rooms` request may ask for (the answer holds fewer if they do not fit: hub/budget.py).
ROOMS_PAGE_MAX = 1000
# Private messages kept for an account while it is offline, in all and from one sender (Atheme's
# MemoServ keeps 30 memos; these are a chat's backlog, as many as the Redis list keeps, and one
# sender may fill a tenth of them).
DMS_WAITING_MAX = 1000
DMS_WAITING_PER_SENDER = 100
# Passwords for accounts: long enough not to be guessed at 5 tries a minute, short enough that
# hashing one costs what argon2 says and no more.
PASSWORD_MIN = 8
PASSWORD_MAX = 1024

# Name rules: short enough to fit a terminal column, ASCII only so that look-alike letters from
# other scripts cannot impersonate an existing user (IRC nicknames are ASCII for the same reason).
NAME_MAX = 32


# The usual IRC services' names (Atheme's and Anope's): IRC clients send them passwords on
# connect, so a guest must not be one (issue 21, item 11).
# masks on one of a room's lists, bans and their exceptions (ergo's and InspIRCd's default)
LIST_MAX = 100
MONITOR_MAX = 100  # names one connection may watch (IRCv3 MONITOR; ergo's default, 005 MONITOR=100)
USER_HOST = "selchat"  # the host every user's mask shows (IRC's nick!user@host): addresses stay private
SERVICES = ("NickServ", "ChanServ", "MemoServ", "OperServ", "HostServ", "BotServ", "SaslServ")
# Names no guest may take: the services, and the server's own (its --irc-name is added).
RESERVED_NAMES = (*SERVICES, "Global", "services", "selchat", "server")


# Seconds a client is told to wait after a restart notice before it reconnects: about what a
# service manager takes to start selchat again (systemd waits RestartSec, 100 ms, then Python starts).
RECONNECT_DELAY = 1.0
# Characters in one chat or private message; IRC allows 512 bytes a line, Slack 40,000.
MAX_MESSAGE = 2000


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    # CLIENT_COUNT. pyftpdlib's max_cons: "to avoid running out of file descriptors"; Redis's
    # maxclients answers one error line and closes (acceptCommonHandler).
    max_clients: int = 256
    # Connections one address (an IPv6 /64) may hold, and open a minute: ergo's connection-limits
    # (16) and connection-throttling (32 a window); ngIRCd's MaxConnectionsIP is 5. 0: no limit.
    max_per_address: int = 16
    connects_per_minute: int = 32
    # h11's DEFAULT_MAX_INCOMPLETE_EVENT_SIZE is 16 KiB too (node and tomcat use 8-80 KiB).
    max_frame: int = 16 * 1024
    max_message: int = MAX_MESSAGE
    # Redis's client-output-buffer-limit for pubsub is 32 MiB hard / 8 MiB soft; a chat line is
    # small, so 1 MiB of backlog means the reader has stopped reading.
    max_output: int = 1024 * 1024
    # Seconds to send `join`; Redis has no such limit, Apache's RequestReadTimeout allows 20-40 s.
    handshake_timeout: float = 10.0
    # Seconds of silence before a keepalive ping, and as long again before the drop (IRC servers
    # ping after 90-180 s of silence and drop after as long again).
    ping_interval: float = 60.0
    # Seconds a closing connection may take to drain its output before it is cut off.
    linger: float = 2.0
    # Seconds a shutdown spends flushing `shutdown` frames before closing everything (issue 3).
    shutdown_grace: float = 2.0
    # Flood control (issue 6): a token bucket per connection; 0 turns it off.
    rate_limit: float = 10.0
    burst: int = 20
    # A client that keeps flooding (this many refused messages or errors in a row) is dropped.
    flood_strikes: int = 50
    password: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    # Rooms a user may be in at once (IRC's CHANLIMIT is 20-250; 20 is readable in one client).
    max_rooms: int = 20
    # Rooms the server holds at once (Discord allows a server 500 channels); a room lasts while
    # someone is in it or it has history. 0: no limit.
    max_rooms_total: int = 500
    # New rooms one user (an account, else an address) may make in ten minutes: ergo lets an
    # account register 15 channels; a guest script must not make thousands. 0: no limit.
    new_rooms_per_user: int = 10
    # Messages replayed when joining a room (Ergo replays the last 100 on join, Slack shows 50+).
    replay: int = 50
    # Messages kept per room (Ergo's default history.channel-length is 2048; ZNC's buffer 50).
    history_max: int = 10_000
    search: bool = True  # keep the full-text index (search.py) and answer searches
    # Refuse guests: every user logs in to an account.
    require_account: bool = False
    # Connections one account may hold at once, sharing its name and rooms (a laptop, a phone, a
    # terminal and spares; ergo's multiclient sets no cap, which leaves one password holding any
    # number of connections). Without multiclient a new login replaces the old, as before.
    multiclient: bool = True
    devices: int = 8
    # Seconds an account stays (away) after its last device's connection is lost, so a phone that
    # changes networks comes back to its rooms and nobody sees it leave and rejoin (ergo keeps
    # always-on clients for good; a minute covers a network switch). A quit leaves at once. 0: off.
    linger: float = 60.0
    # The shortest account password accepted at registration (NIST SP 800-63B asks for 8).
    password_min: int = PASSWORD_MIN
    # The name IRC clients see the server by (numerics come from it; PONG and 004 carry it).
    irc_name: str = "selchat"
    # accounts that are server operators once they prove it (IRC OPER, with the account's password)
    operators: tuple[str, ...] = ()
    # Names nobody may join or rename as (casefolded), besides irc_name: RESERVED_NAMES.
    reserved_names: tuple[str, ...] = tuple(n.casefold() for n in RESERVED_NAMES)
    # Origins (https://chat.example.org) whose pages may open a WebSocket; none: the server's own.
    allow_origins: tuple[str, ...] = ()
    # In a room of more than this many members joins and leaves are not announced, and a
    # newcomer's member list names only itself with the count beside it (Twitch's IRC sends no
    # JOIN or PART in rooms of more than 1,000 users): announcing each of N joins to everyone is
    # N*N/2 frames. 0 announces them always.
    quiet_above: int = 1000
    # The message of the day (--motd FILE's text), shown to everyone at join.
    motd: str = ""
    log_level: str = "INFO"
    # Names and ADDRESS/PREFIX networks the configuration file bans (besides the operator's
    # /ban, kept in the database); re-read on SIGHUP.
    bans: tuple[str, ...] = ()
    # HOST:PORT of the Prometheus metrics listener (GET /metrics); None: no listener (off, as
    # Redis's and ngIRCd's statistics are not served unless asked for).
    metrics: str | None = None
    # redis://HOST:PORT/DB shared by several selchat processes (rooms, names, presence); None: alone.
    redis: str | None = None
    redis_cafile: str | None = None  # rediss://: the certificate(s) to trust (None: the system's store)
    # The SQLite file for history, topics and accounts; ":memory:" keeps nothing.
    db: str = ":memory:"


# asyncio's FlowControlMixin pauses at a high-water mark of 64 KiB and resumes at a quarter of it:
# a sender whose own replies pile up stops being read until they drain.
READ_PAUSE_HIGH = 64 * 1024
READ_PAUSE_LOW = 16 * 1024


def pause_marks(max_output: int) -> tuple[int, int]:
    """The high and low water marks for a server whose output limit is ``max_output``: asyncio's,
    or half the limit when that is lower, so that a connection is paused well before it would be
    dropped (a small --max-output must not drop what a pause would have held)."""
    high = min(READ_PAUSE_HIGH, max_output // 2) if max_output > 0 else READ_PAUSE_HIGH
    return high, min(READ_PAUSE_LOW, high // 4)

# One recv() per readable connection per turn (Redis reads 16 KiB, asyncio 256 KiB).
RECV_SIZE = 65536

# Descriptors the server needs besides its clients: listener, selector, stdin, wake-up pipe, logs.
SPARE_FDS = 32
