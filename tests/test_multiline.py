"""Messages of several lines (issues 23 and 25): IRC's draft/multiline in and out, JSON messages
with newlines, the lines one by one for IRC clients without the capability, text mode's block,
history, and `selchat join` (a paste, Alt-Enter) in a real terminal."""

from __future__ import annotations

from selchat import outbound as ev
from selchat.events import Chat, Dm
from selchat.render import Renderer
from selchat.wire.base import Labeled
from selchat.wire.irc import IrcCodec
from selchat.wire.irc.wire import IrcWire
from tests.clients import Irc, RawClient, Terminal, joined_child
from tests.helpers import ServerProcess

MULTI = "message-tags batch echo-message server-time labeled-response draft/multiline"
WITH = frozenset({"message-tags", "batch", "server-time", "draft/multiline"})


def _codec() -> IrcCodec:
    codec = IrcCodec(16384, max_message=100)
    codec.feed(b"CAP LS 302\r\nCAP REQ :" + MULTI.encode() + b"\r\nNICK a\r\nUSER a 0 * a\r\nCAP END\r\n")
    codec.registered, codec.nick = True, "a"
    return codec


def _batch(codec: IrcCodec, *lines: str, target: str = "#t", label: str = "") -> list:
    head = f"@label={label} " if label else ""
    data = f"{head}BATCH +b draft/multiline {target}\r\n" + "".join(f"@batch=b{line}\r\n" for line in lines)
    return codec.feed((data + "BATCH -b\r\n").encode())


def test_the_capability_says_the_servers_limits() -> None:
    offered = IrcCodec(16384, max_message=1234).feed(b"CAP LS 302\r\n")[0]
    assert b" draft/multiline=max-bytes=1234,max-lines=100 " in offered


def test_a_batch_is_one_message_with_its_lines_and_where_they_were_continued() -> None:
    out = _batch(_codec(), " PRIVMSG #t hello", " PRIVMSG #t :#how is ", ";draft/multiline-concat PRIVMSG #t :you?",
                 " PRIVMSG #t :", " PRIVMSG #t :end", label="x")
    assert len(out) == 1 and isinstance(out[0], Labeled) and out[0].label == "x"
    [chat] = out[0].items
    assert chat == Chat("hello\n#how is you?\n\nend", room="#t", echo=True, joins=(14,))
    [dm] = _batch(_codec(), " NOTICE bob :one", " NOTICE bob :two", target="bob")
    assert dm == Dm("bob", "one\ntwo", notice=True)


def test_a_bad_batch_is_refused_once_and_none_of_it_is_sent() -> None:
    cases = {
        "MULTILINE_INVALID :A blank": [" PRIVMSG #t :hi", ";draft/multiline-concat PRIVMSG #t :"],
        "MULTILINE_INVALID :A multiline batch holds": [" PRIVMSG #t :hi", " NOTICE #t :hi"],
        "MULTILINE_INVALID_TARGET #t #other": [" PRIVMSG #t :hi", " PRIVMSG #other :hi"],
        "MULTILINE_MAX_BYTES 100": [" PRIVMSG #t :" + "x" * 60, " PRIVMSG #t :" + "y" * 60],
        "MULTILINE_MAX_LINES 100": [" PRIVMSG #t :"] * 101,  # blank: the bytes stay under the limit
    }
    for fail, lines in cases.items():
        out = _batch(_codec(), *lines, " PRIVMSG #t :after the refusal")  # dropped with the rest
        assert out == [out[0]] and out[0].startswith(b":selchat FAIL BATCH " + fail.encode()), (fail, out)
    codec = _codec()
    codec.feed(b"BATCH +a draft/multiline #t\r\n@batch=a PRIVMSG #t :first\r\n")
    [twice] = _batch(codec, " PRIVMSG #t :second")  # a batch opened inside another: neither is sent
    assert twice.startswith(b":selchat FAIL BATCH MULTILINE_INVALID :A multiline batch is already open")
    assert codec.gathering is None and codec.feed(b"PRIVMSG #t :alone\r\n") == [Chat("alone", room="#t", echo=True)]
    [blank] = _batch(_codec(), " PRIVMSG #t :", " PRIVMSG #t : ")
    assert blank.startswith(b":selchat FAIL BATCH MULTILINE_INVALID :A multiline message needs")
    codec = IrcCodec(16384)
    codec.registered, codec.nick = True, "a"
    assert b"FAIL BATCH MULTILINE_INVALID" in codec.feed(b"BATCH +1 draft/multiline #t\r\n")[0]  # no CAP REQ


def test_a_client_with_the_capability_gets_a_batch_and_others_the_lines() -> None:
    message = ev.Message("#t", "al", "hello\n#how is you?\n\nend", 1700000000.5, joins=(14,))
    lines = IrcWire.for_caps(WITH).encode(message).decode().split("\r\n")[:-1]
    ref = "m1700000000500000"
    assert lines[0] == f"@time=2023-11-14T22:13:20.500Z;msgid=1700000000500000 :al!al@selchat BATCH +{ref} " \
                       "draft/multiline #t"
    assert lines[1:] == [f"@batch={ref} :al!al@selchat PRIVMSG #t :hello",
                         f"@batch={ref} :al!al@selchat PRIVMSG #t :#how is ",
                         f"@batch={ref};draft/multiline-concat :al!al@selchat PRIVMSG #t :you?",
                         f"@batch={ref} :al!al@selchat PRIVMSG #t :",
                         f"@batch={ref} :al!al@selchat PRIVMSG #t :end",
                         f":al!al@selchat BATCH -{ref}"]
    plain = IrcWire.for_caps(frozenset({"message-tags"})).encode(message).decode().split("\r\n")[:-1]
    assert plain == ["@msgid=1700000000500000 :al!al@selchat PRIVMSG #t :hello",  # the id on the first only
                     ":al!al@selchat PRIVMSG #t :#how is ", ":al!al@selchat PRIVMSG #t :you?",
                     ":al!al@selchat PRIVMSG #t :end"]


def test_a_long_line_is_continued_on_a_character_boundary() -> None:
    message = ev.Message("#t", "al", "é" * 600, 1700000000.5)
    lines = IrcWire.for_caps(WITH).encode(message).split(b"\r\n")[1:-2]
    assert len(lines) == 3 and all(len(line.split(b" ", 1)[1]) <= 510 for line in lines)  # tags aside
    assert [b"draft/multiline-concat" in line for line in lines] == [False, True, True]
    assert "".join(line.decode().rsplit(" :", 1)[1] for line in lines) == "é" * 600


def test_irc_json_and_text_mode_see_one_message_of_several_lines(server: ServerProcess, sockets: list) -> None:
    multi, plain = Irc(server, "multi", MULTI), Irc(server, "plain", "message-tags server-time")
    sockets += [multi, plain]
    for irc in (multi, plain):
        irc.expect(" 001 ")
        irc.send("JOIN #lines")
        irc.expect(" 366 ")
    web = RawClient(server.address)
    sockets.append(web)
    web.join("web", version=2)
    web.join_room("#lines")
    nc = Terminal(server.address)
    sockets.append(nc)
    nc.say("typist")
    nc.wait("Type /help")
    nc.say("/join #lines")
    nc.wait("you joined #lines")
    multi.send("@label=p BATCH +p1 draft/multiline #lines", "@batch=p1 PRIVMSG #lines :def f():",
               "@batch=p1 PRIVMSG #lines :    return 1", "BATCH -p1")
    echo = multi.expect(" draft/multiline #lines")
    assert echo.startswith("@label=p;") and " BATCH +" in echo
    assert web.expect("chat", room="#lines")["message"] == "def f():\n    return 1"
    assert plain.expect("PRIVMSG #lines").endswith(" :def f():")
    assert plain.expect("PRIVMSG #lines").endswith(" :    return 1")
    nc.wait("multi: def f():\r\n        return 1\r\n")  # a block: the later lines indented
    web.send(type="chat", room="#lines", message="first\nsecond")
    start = multi.expect(" draft/multiline #lines")
    assert multi.expect("PRIVMSG #lines").endswith(" :first")
    assert multi.expect("PRIVMSG #lines").endswith(" :second")
    assert multi.expect("BATCH -").endswith(start.split(" ")[-3][1:])
    web.send(type="history", room="#lines", limit=5)
    kept = []
    while (frame := web.recv())["type"] != "history_end":
        kept += [frame["message"]] if frame.get("history") else []
    assert kept[-2:] == ["def f():\n    return 1", "first\nsecond"]


def test_a_multiline_private_message(server: ServerProcess, sockets: list) -> None:
    multi = Irc(server, "sender", MULTI)
    sockets.append(multi)
    multi.expect(" 001 ")
    web = RawClient(server.address)
    sockets.append(web)
    web.join("reader", version=2)
    multi.send("BATCH +d draft/multiline reader", "@batch=d PRIVMSG reader :one", "@batch=d PRIVMSG reader :two",
               "BATCH -d")
    assert web.expect("dm")["message"] == "one\ntwo"


def test_the_terminal_shows_a_block_and_sends_a_paste_as_one_message(spawn, server: ServerProcess,
                                                                     sockets: list) -> None:
    assert Renderer(colour=False).chat({"username": "a", "message": "x\ny\x1b[2J"}).endswith("a: x\n    y^[[2J")
    other = RawClient(server.address)
    sockets.append(other)
    other.join("other")
    child = joined_child(spawn, server, "paster")
    child.send("\x1b[200~line one\nline two\x1b[201~")  # a bracketed paste, as terminals send one
    child.send("\r")
    assert other.expect("chat")["message"] == "line one\nline two"
    child.send("first\x1b\rsecond\r")  # Alt-Enter: another line of the same message
    assert other.expect("chat")["message"] == "first\nsecond"
    other.send(type="chat", message="from\nother")
    child.expect(r"other: from\r*\n    other")
