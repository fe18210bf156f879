"""WebSocket frames (RFC 6455 §5) both ways, for wire/web.py: the server's own frames out, built
here and shared by every browser in a room (unmasked, and without extensions stateless), and the
common frame in, read here: one whole, masked, unfragmented text message, which is nearly every
frame a browser sends.

wsproto reads everything else (control frames, fragments, binary messages, anything malformed),
but it costs about 80 µs a message in Python against 15 µs for a whole JSON line over TCP (issue
26), so the common case does not go through it. ``Reader`` hands wsproto whole frames only, so
wsproto's own buffer is empty between calls and the two never disagree about where a frame starts.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

TEXT_WHOLE = 0x81  # FIN set, opcode 1 (text): a whole text message in one frame
OP_TEXT, OP_BINARY, OP_CONTINUATION = 0x1, 0x2, 0x0


def frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked frame, FIN set: what a server sends."""
    size = len(payload)
    if size < 126:
        return bytes((0x80 | opcode, size)) + payload
    if size < 1 << 16:
        return bytes((0x80 | opcode, 126)) + struct.pack("!H", size) + payload
    return bytes((0x80 | opcode, 127)) + struct.pack("!Q", size) + payload


def close_frame(code: int, reason: str) -> bytes:
    """A Close frame; its reason is cut to fit a control frame's 125 bytes, on a UTF-8 boundary."""
    text = reason.encode("utf-8")[:123].decode("utf-8", "ignore").encode("utf-8")
    return frame(struct.pack("!H", code) + text, 0x8)


def payloads(data: bytes) -> bytes:
    """The lines inside frames this server made (unmasked, whole): labeled-response's answers,
    taken back from the output to be tagged, are tagged as lines and framed again."""
    lines, at = [], 0
    while at + 2 <= len(data):
        size, at = data[at + 1] & 0x7F, at + 2
        if size == 126:
            size, at = struct.unpack_from("!H", data, at)[0], at + 2
        elif size == 127:
            size, at = struct.unpack_from("!Q", data, at)[0], at + 8
        lines.append(data[at:at + size] + b"\r\n")
        at += size
    return b"".join(lines)


def messages(data: bytes) -> bytes:
    """A codec's lines as WebSocket text messages, one a line, without the line ending."""
    if data.count(b"\n") == 1 and data.endswith(b"\n"):  # the common case: one line
        return frame(data[:-2] if data.endswith(b"\r\n") else data[:-1])
    return b"".join(frame(line.rstrip(b"\r")) for line in data.split(b"\n") if line)


def unmask(payload: bytes, key: bytes) -> bytes:
    """A client's payload unmasked with whole-number XOR (one int operation, not one a byte)."""
    size = len(payload)
    if not size:
        return b""
    keys = int.from_bytes((key * (size // 4 + 1))[:size], "little")
    return (int.from_bytes(payload, "little") ^ keys).to_bytes(size, "little")


def head(buf: bytes, at: int) -> tuple[int, int, int] | None:
    """(first byte, header length with the mask, payload length) of the frame at ``at``; None
    until its header is all there. An unmasked frame's header has no mask (wsproto refuses it)."""
    have = len(buf) - at
    if have < 2:
        return None
    second = buf[at + 1]
    size, length = second & 0x7F, 2
    if size == 126:
        if have < 4:
            return None
        size, length = int.from_bytes(buf[at + 2:at + 4], "big"), 4
    elif size == 127:
        if have < 10:
            return None
        size, length = int.from_bytes(buf[at + 2:at + 10], "big"), 10
    return buf[at], length + (4 if second & 0x80 else 0), size


class Reader:
    """The frames of a connection's bytes, as they come: ``text`` for each whole masked text
    message, ``other`` (wsproto) with the bytes of each other whole frame; a frame longer than
    ``largest`` is ``too_big`` at once, before its payload is waited for."""

    __slots__ = ("largest", "pending", "fragmented")

    def __init__(self, largest: int) -> None:
        self.largest = largest
        self.pending = b""  # the start of a frame still arriving
        self.fragmented = False  # a message in fragments is under way: wsproto's, to its end

    def only_text(self, data: bytes) -> str | None:
        """The text of ``data`` when it is exactly one whole, masked, short text frame and nothing
        is pending (nearly every read from a browser: one message typed or sent); else None, and
        ``feed`` reads it. Skips the general loop's header parsing, about a sixth of a message's cost."""
        size = len(data) - 6  # two header bytes and the mask; a short frame's length fits the second
        if (size < 0 or data[0] != TEXT_WHOLE or data[1] != 0x80 | size or size > 125 or size > self.largest
                or self.pending or self.fragmented):
            return None
        try:
            return unmask(data[6:], data[2:6]).decode("utf-8")
        except UnicodeDecodeError:  # wsproto says so, with its close code: through feed
            return None

    def feed(self, data: bytes, text: Callable[[str], bool], other: Callable[[bytes], bool],
             too_big: Callable[[], None]) -> None:
        """Each callback returns False to stop (the connection is ending)."""
        buf = self.pending + data if self.pending else data
        at, end_of = 0, len(buf)
        while (found := head(buf, at)) is not None:
            first, header, size = found
            if size > self.largest:
                self.pending = b""
                too_big()
                return
            end = at + header + size
            if end > end_of:
                break
            if first == TEXT_WHOLE and buf[at + 1] & 0x80 and not self.fragmented:  # masked, as a client's must be
                body = at + header
                try:
                    said = unmask(buf[body:end], buf[body - 4:body]).decode("utf-8")
                except UnicodeDecodeError:  # wsproto says so, with the close code for it (1007)
                    going = other(buf[at:end])
                else:
                    going = text(said)
            else:
                self._follow(first)
                going = other(buf[at:end])
            at = end
            if not going:
                self.pending = b""
                return
        self.pending = buf[at:]

    def _follow(self, first: int) -> None:
        """Whether a message in fragments is under way (its frames, and what comes between, are wsproto's)."""
        opcode, whole = first & 0x0F, first & 0x80
        if opcode in (OP_TEXT, OP_BINARY) and not whole:
            self.fragmented = True
        elif opcode == OP_CONTINUATION and whole:
            self.fragmented = False
