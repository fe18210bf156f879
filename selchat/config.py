"""Every limit and default in one place, each with the precedent it follows."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
LOBBY = "lobby"

# Name rules: short enough to fit a terminal column, ASCII only so that look-alike letters from
# other scripts cannot impersonate an existing user (IRC nicknames are ASCII for the same reason).
NAME_MAX = 32


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    # CLIENT_COUNT. pyftpdlib's max_cons: "to avoid running out of file descriptors"; Redis's
    # maxclients answers one error line and closes (acceptCommonHandler).
    max_clients: int = 256
    # h11's DEFAULT_MAX_INCOMPLETE_EVENT_SIZE is 16 KiB too (node and tomcat use 8-80 KiB).
    max_frame: int = 16 * 1024
    # Characters in one chat or private message; IRC allows 512 bytes a line, Slack 40,000.
    max_message: int = 2000
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


# asyncio's FlowControlMixin pauses at a high-water mark of 64 KiB and resumes at a quarter of it:
# a sender whose own replies pile up stops being read until they drain.
READ_PAUSE_HIGH = 64 * 1024
READ_PAUSE_LOW = 16 * 1024

# One recv() per readable connection per turn (Redis reads 16 KiB, asyncio 256 KiB).
RECV_SIZE = 65536

# Descriptors the server needs besides its clients: listener, selector, stdin, wake-up pipe, logs.
SPARE_FDS = 32
