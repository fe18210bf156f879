"""The one face every wire's codec shows the server, so the glue never asks what a connection
speaks (h11's and wsproto's idea: one sans-I/O protocol object per connection)."""

from __future__ import annotations

from typing import Any, Protocol

from selchat.errors import ProtocolError
from selchat.events import Command
from selchat.outbound import Event


class Codec(Protocol):
    kind: str  # what the metrics and the log call it: json, irc, text, http, metrics
    wire: Any  # the encoder shared by every connection that hears alike (None: in no room)

    def feed(self, data: bytes) -> list[Any]:
        """Commands, ProtocolErrors, bytes to write back, or a Hangup."""
        ...

    def encode(self, event: Event) -> bytes | None: ...

    def error(self, exc: ProtocolError, command: Command | None = None) -> bytes:
        """An error in this protocol's words, for the command that caused it."""
        ...

    def refuse(self, exc: ProtocolError) -> bytes:
        """The last words to a connection that is refused (banned, full, too slow, timed out)."""
        ...

    def ping(self, ping_id: int) -> bytes | None:
        """A keepalive, or None for a connection that cannot answer one (a person at nc)."""
        ...

    def welcomed(self) -> None:
        """The join was accepted, in the protocol version it asked for."""
        ...

    def saw(self, event: Event) -> None:
        """An event heard through the shared wire that changes what this connection is (a rename)."""
        ...


class Labeled:
    """What one line sent with a label (IRCv3 labeled-response) asked for: the server gathers
    every answer to ``items`` and hands them to the codec's ``labeled`` to tag. ``asks`` counts
    requests still in the worker; ``more``: an answer goes on in parts (a Then); ``batch`` is
    the batch opened once the answers span more than one turn."""

    __slots__ = ("label", "items", "asks", "more", "batch", "start")

    def __init__(self, label: str, items: list[Any]) -> None:
        self.label = label
        self.items = items
        self.asks = 0
        self.more = False
        self.batch: str | None = None
        self.start = 0  # where its answers begin in the connection's output, while gathered
