"""Ring 1: the pure codec, fed every message split at every byte offset (h11's ``tr()``)."""

from __future__ import annotations

import json
import random

import pytest

from selchat.codec import FrameError, LineDecoder, encode
from selchat.errors import ErrorCode

FRAMES = [
    {"type": "join", "username": "alice"},
    {"type": "chat", "message": "héllo wörld ✓ 😀"},
    {"type": "dm", "to": "bob", "message": "line\nbreak inside a string"},
    {"type": "ping", "id": [1, {"x": None}]},
]
STREAM = b"".join(encode(f) for f in FRAMES)


def feed_all(decoder: LineDecoder, chunks: list[bytes]) -> list:
    out: list = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    return out


def codes(results: list) -> list:
    return [r.code if isinstance(r, FrameError) else r for r in results]


def test_encode_is_one_compact_line() -> None:
    line = encode({"type": "chat", "message": "a\nb"})
    assert line == b'{"type":"chat","message":"a\\nb"}\n'
    assert line.count(b"\n") == 1


def test_encode_keeps_unicode_and_escapes_lone_surrogates() -> None:
    assert encode({"m": "é"}) == '{"m":"é"}\n'.encode()
    line = encode({"m": "\ud800"})
    assert line == b'{"m":"\\ud800"}\n'
    assert json.loads(line) == {"m": "\ud800"}


@pytest.mark.parametrize("offset", range(len(STREAM) + 1))
def test_every_split_offset(offset: int) -> None:
    decoder = LineDecoder()
    assert feed_all(decoder, [STREAM[:offset], STREAM[offset:]]) == FRAMES
    assert decoder.buffered == 0


def test_two_splits_everywhere_in_a_frame() -> None:
    data = encode(FRAMES[1])
    for i in range(len(data) + 1):
        for j in range(i, len(data) + 1):
            assert feed_all(LineDecoder(), [data[:i], data[i:j], data[j:]]) == [FRAMES[1]]


def test_byte_by_byte_and_random_chunks() -> None:
    assert feed_all(LineDecoder(), [bytes([b]) for b in STREAM]) == FRAMES
    rng = random.Random(1234)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(STREAM)), rng.randint(1, 10)))
        chunks = [STREAM[a:b] for a, b in zip([0, *cuts], [*cuts, len(STREAM)], strict=True)]
        assert feed_all(LineDecoder(), chunks) == FRAMES


def test_many_frames_in_one_read() -> None:
    assert LineDecoder().feed(STREAM * 50) == FRAMES * 50


def test_crlf_and_blank_lines() -> None:
    data = b'{"type":"users"}\r\n\r\n\n   \n{"type":"quit"}\r\n'
    assert LineDecoder().feed(data) == [{"type": "users"}, {"type": "quit"}]


def test_bad_frames_are_reported_and_the_stream_goes_on() -> None:
    data = b'not json\n\xff\xfe{}\n[1,2]\n"text"\n{"type":"users"}\n'
    results = LineDecoder().feed(data)
    assert codes(results) == [ErrorCode.BAD_FRAME] * 4 + [{"type": "users"}]
    assert "JSON" in results[0].message
    assert "UTF-8" in results[1].message
    assert "object" in results[2].message


def test_nan_and_infinity_are_not_json() -> None:
    results = LineDecoder().feed(b'{"type":"ping","id":NaN}\n{"type":"ping","id":-Infinity}\n')
    assert codes(results) == [ErrorCode.BAD_FRAME] * 2


def test_encode_refuses_what_is_not_json() -> None:
    with pytest.raises((TypeError, ValueError)):
        encode({"x": object()})
    with pytest.raises(ValueError):
        encode({"x": float("nan")})


def test_deep_nesting_is_a_bad_frame_not_a_crash() -> None:
    results = LineDecoder(max_frame=1 << 20).feed(b"[" * 200_000 + b"\n")
    assert codes(results) == [ErrorCode.BAD_FRAME]


def test_oversized_line_in_one_read() -> None:
    decoder = LineDecoder(max_frame=100)
    big = b'{"type":"chat","message":"' + b"x" * 200 + b'"}\n'
    results = decoder.feed(big + b'{"type":"users"}\n')
    assert codes(results) == [ErrorCode.FRAME_TOO_LARGE, {"type": "users"}]


def test_oversized_line_arriving_in_pieces_is_not_buffered() -> None:
    decoder = LineDecoder(max_frame=100)
    results = decoder.feed(b"x" * 60)
    results += decoder.feed(b"x" * 60)  # now over the limit: reported at once, buffer dropped
    assert codes(results) == [ErrorCode.FRAME_TOO_LARGE]
    assert decoder.buffered == 0
    for _ in range(100):  # megabytes more of the same line are discarded, never held
        assert decoder.feed(b"y" * 10_000) == []
        assert decoder.buffered == 0
    assert decoder.feed(b'yyy\n{"type":"users"}\n') == [{"type": "users"}]


def test_line_of_exactly_max_frame_is_accepted() -> None:
    frame = {"type": "chat", "message": "x" * 80}
    line = encode(frame)
    decoder = LineDecoder(max_frame=len(line) - 1)
    assert decoder.feed(line[:10]) == []
    assert decoder.feed(line[10:-1]) == []
    assert decoder.feed(b"\r\n") == [frame]
    assert codes(LineDecoder(max_frame=len(line) - 2).feed(line)) == [ErrorCode.FRAME_TOO_LARGE]


def test_scan_offset_does_not_rescan() -> None:
    decoder = LineDecoder()
    decoder.feed(b'{"type":')
    decoder.feed(b'"users"')
    assert decoder.buffered == len(b'{"type":"users"')
    assert decoder.feed(b"}\n") == [{"type": "users"}]
