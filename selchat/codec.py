"""Bytes <-> frames for protocol v1: one UTF-8 JSON object per ``\\n``-terminated line.

Sans-I/O in the manner of h11 and wsproto: bytes are fed in and frames are pulled out; nothing
here touches a socket or a clock, so every edge case is a unit test.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Union

from selchat.errors import ErrorCode, ProtocolError

Frame = dict[str, Any]


class FrameError(ProtocolError):
    """A line that could not become a frame; the decoder reports it and carries on."""


DecodeResult = Union[Frame, FrameError]

def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity: Python accepts them, peers do not


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (_INF, -_INF):  # 1e400 overflows to infinity, which no JSON can say back
        raise ValueError(f"{text[:20]} is out of range")
    return value


_INF = float("inf")
_DECODE = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float).decode


def _unencodable(obj: Any) -> Any:
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def _compact_encoder(escape: Callable[[str], str]) -> Callable[[Frame], str]:
    """A compact JSON encoder built once. ``JSONEncoder.encode`` builds its C encoder anew on
    every call, a third of the cost of encoding a chat frame."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - an implementation without the C accelerator
        encoder = json.JSONEncoder(ensure_ascii=escape is not json.encoder.encode_basestring,
                                   separators=(",", ":"), allow_nan=False)
        return encoder.encode
    iterencode = make(None, _unencodable, escape, None, ":", ",", False, False, False)
    return lambda frame: "".join(iterencode(frame, 0))


_ENCODE = _compact_encoder(json.encoder.encode_basestring)
_ENCODE_ASCII = _compact_encoder(json.encoder.encode_basestring_ascii)


def encode(frame: Frame) -> bytes:
    """One frame as its wire line. Encode once, then share the bytes with every recipient."""
    try:
        return _ENCODE(frame).encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        # A lone surrogate (legal in JSON's \\uXXXX, illegal in UTF-8): escape it instead.
        return _ENCODE_ASCII(frame).encode("ascii") + b"\n"


class LineDecoder:
    """Splits a byte stream into frames, bounded by ``max_frame`` bytes a line.

    A partial line is kept with a scan offset, so a line that arrives in pieces is searched for
    its newline only in the new bytes (h11's ``_next_line_search``, Redis's ``qb_pos``), and the
    buffer is compacted once per feed, never once per frame. An oversized line is reported once
    as ``frame_too_large`` and discarded up to its newline without being buffered.
    """

    __slots__ = ("max_frame", "_buf", "_scan", "_discarding")

    def __init__(self, max_frame: int = 16 * 1024) -> None:
        self.max_frame = max_frame
        self._buf = bytearray()
        self._scan = 0
        self._discarding = False

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete line held back."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[DecodeResult]:
        out: list[DecodeResult] = []
        if self._discarding:
            nl = data.find(b"\n")
            if nl < 0:
                return out
            self._discarding = False
            data = data[nl + 1 :]
        if self._buf:
            buf = self._buf
            buf += data
            if buf.find(b"\n", self._scan) < 0:
                if len(buf) > self.max_frame + 1:  # +1: the line may still end in "\r\n"
                    self._overflow(out)
                else:
                    self._scan = len(buf)
                return out
            data = bytes(buf)
            self._buf = bytearray()
            self._scan = 0
        lines = data.split(b"\n")
        tail = lines.pop()
        decode_line = self._decode_line
        for line in lines:
            decode_line(line, out)
        if tail:
            if len(tail) > self.max_frame + 1:
                self._overflow(out)
            else:
                self._buf = bytearray(tail)
                self._scan = len(tail)
        return out

    def message(self, text: str) -> list[DecodeResult]:
        """One line that arrived whole and already decoded (a WebSocket text message, whose size
        the transport bounded): parsed as it is, with no bytes and no splitting in between."""
        out: list[DecodeResult] = []
        if text and not text.isspace():
            self._decode_text(text, out)
        return out

    def _overflow(self, out: list[DecodeResult]) -> None:
        self._buf = bytearray()
        self._scan = 0
        self._discarding = True
        out.append(self._too_large())

    def _too_large(self) -> FrameError:
        return FrameError(
            ErrorCode.FRAME_TOO_LARGE, f"frame longer than {self.max_frame} bytes was discarded"
        )

    def _decode_line(self, line: bytes, out: list[DecodeResult]) -> None:
        if line[-1:] == b"\r":
            line = line[:-1]
        if not line or line.isspace():
            return  # a blank line (someone pressed Enter in nc) is not an error
        if len(line) > self.max_frame:
            out.append(self._too_large())
            return
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            out.append(FrameError(ErrorCode.BAD_FRAME, "frame is not valid UTF-8"))
            return
        self._decode_text(text, out)

    def _decode_text(self, text: str, out: list[DecodeResult]) -> None:
        try:
            obj = _DECODE(text)
        except (ValueError, RecursionError):
            out.append(FrameError(ErrorCode.BAD_FRAME, "frame is not valid JSON"))
            return
        if type(obj) is not dict:
            out.append(FrameError(ErrorCode.BAD_FRAME, "frame must be a JSON object"))
            return
        out.append(obj)


class LineSplitter(LineDecoder):
    """``LineDecoder``'s splitting and limits without the JSON, for the codecs whose lines are
    text (IRC, text mode): each whole line as bytes, without its CR LF, or a ``FrameError`` for
    one longer than ``max_frame`` (then discarded up to its newline)."""

    __slots__ = ()

    def _decode_line(self, line: bytes, out: list[Any]) -> None:
        if line[-1:] == b"\r":
            line = line[:-1]
        if len(line) > self.max_frame:
            out.append(self._too_large())
            return
        out.append(line)
