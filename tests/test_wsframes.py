"""The WebSocket frames read without wsproto (wire/wsframes.py): the common one, whole masked text,
read as wsproto would, however the bytes are cut; everything else still wsproto's."""

from __future__ import annotations

import os

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Message, Ping, Request, TextMessage

from selchat.events import Chat, Join, Pong
from selchat.wire.web import Hangup, WebCodec
from selchat.wire.wsframes import Reader, unmask


def opened(max_frame: int = 16384) -> tuple[WebCodec, WSConnection]:
    codec = WebCodec(max_frame, "selchat", frozenset())
    client = WSConnection(ConnectionType.CLIENT)
    for item in codec.feed(client.send(Request(host="127.0.0.1", target="/ws"))):
        if type(item) is bytes:
            client.receive_data(item)
    assert [type(e) for e in client.events()] == [AcceptConnection]
    return codec, client


def test_unmask_matches_the_byte_by_byte_rule() -> None:
    for size in (0, 1, 3, 4, 5, 64, 125, 126, 1000):
        data, key = os.urandom(size), os.urandom(4)
        assert unmask(data, key) == bytes(b ^ key[i % 4] for i, b in enumerate(data))


def test_whole_text_messages_however_the_bytes_are_cut() -> None:
    codec, client = opened()
    texts = ['{"type":"join","username":"ünï","version":2}', '{"type":"chat","message":"' + "x" * 300 + '"}']
    wire = b"".join(client.send(Message(data=t)) for t in texts)
    got = [item for i in range(len(wire)) for item in codec.feed(wire[i:i + 1])]  # a byte at a time
    assert [type(c) for c in got] == [Join, Chat] and got[0].username == "ünï" and got[1].message == "x" * 300
    both = codec.feed(client.send(Message(data='{"type":"chat","message":"a"}'))
                      + client.send(Message(data='{"type":"chat","message":"b"}')))
    assert [c.message for c in both] == ["a", "b"]  # two in one read


def test_fragments_control_frames_and_closes_are_wsproto_s() -> None:
    codec, client = opened()
    codec.feed(client.send(Message(data='{"type":"join","username":"bo","version":2}')))
    parts = client.send(Message(data='{"type":"chat",', message_finished=False))
    ping = client.send(Ping(b"p"))  # between fragments, as RFC 6455 allows
    rest = client.send(Message(data='"message":"in parts"}', message_finished=True))
    got = codec.feed(parts + ping + rest)
    assert [c.message for c in got if isinstance(c, Chat)] == ["in parts"]
    client.receive_data(b"".join(x for x in got if type(x) is bytes))
    assert any(isinstance(e, Ping) or type(e).__name__ == "Pong" for e in client.events())
    got = codec.feed(client.send(CloseConnection(1000)))
    assert any(isinstance(x, Hangup) for x in got)


def test_a_frame_too_big_closes_before_its_payload_comes() -> None:
    codec, client = opened(max_frame=1000)
    wire = client.send(Message(data="x" * 5000))
    got = codec.feed(wire[:20])  # only the header and a little: refused already
    assert any(type(x) is bytes and x.startswith(b"\x88") and b"\x03\xf1" in x for x in got)  # Close 1009
    assert codec.done


@pytest.mark.parametrize(("frame", "code"), [
    (bytes([0x81, 0x80 | 2]) + b"\0\0\0\0" + b"\xff\xfe", 1007),  # not UTF-8: wsproto's word for it
    (bytes([0x81, 2]) + b"hi", 1002),  # unmasked, as only a server may send
    (bytes([0xC1, 0x80 | 2]) + b"\0\0\0\0" + b"hi", 1002),  # an extension's bit, none agreed
])
def test_malformed_frames_are_closed_as_wsproto_closes_them(frame: bytes, code: int) -> None:
    codec, _ = opened()
    got = codec.feed(frame)
    close = next(x for x in got if type(x) is bytes and x[:1] == b"\x88")
    assert int.from_bytes(close[2:4], "big") == code and codec.done


def test_the_reader_alone_keeps_what_is_still_coming() -> None:
    seen: list[str] = []
    reader = Reader(100)
    frame = bytes([0x81, 0x80 | 3]) + b"\x01\x02\x03\x04" + unmask(b"abc", b"\x01\x02\x03\x04")
    reader.feed(frame[:5], lambda t: seen.append(t) or True, lambda b: True, lambda: None)
    assert reader.pending == frame[:5]
    reader.feed(frame[5:], lambda t: seen.append(t) or True, lambda b: True, lambda: None)
    assert seen == ["abc"] and reader.pending == b""


def test_pong_answers_the_server_s_ping() -> None:
    codec, client = opened()
    from wsproto.events import Pong as WsPong
    got = codec.feed(client.send(WsPong(b"1")))
    assert any(isinstance(x, Pong) for x in got)
    assert not [e for e in client.events() if isinstance(e, TextMessage)]


def test_one_whole_short_text_frame_is_read_at_once_and_anything_else_is_not() -> None:
    _, client = opened()  # a client's frames: masked, as a browser's are
    reader = Reader(16384)
    one = client.send(Message(data='{"type":"chat","message":"hé"}'))
    assert reader.only_text(one) == '{"type":"chat","message":"hé"}'
    assert reader.only_text(client.send(Message(data=""))) == ""
    assert reader.only_text(one + one) is None  # two frames: the loop reads them
    assert reader.only_text(one[:-1]) is None  # not all there yet
    assert reader.only_text(client.send(Message(data="x" * 126))) is None  # a 16-bit length
    assert reader.only_text(client.send(Message(data=b"bin"))) is None  # binary: wsproto's
    assert reader.only_text(client.send(Ping())) is None
    assert Reader(8).only_text(one) is None  # longer than a frame may be: feed says so
    bad = bytearray(client.send(Message(data="ab")))
    bad[6] ^= 0x80  # no longer UTF-8 once unmasked: wsproto closes with 1007
    assert reader.only_text(bytes(bad)) is None
    reader.pending = b"\x81"
    assert reader.only_text(one) is None  # a frame's start is waiting: this is its rest
