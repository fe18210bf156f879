"""IRCv3 on selchat: SASL PLAIN against selchat accounts, draft/chathistory over the stored
history, batches, msgids, and the queries IRC clients make (WHO masks, USERHOST). First the codec
alone, then over real sockets."""

from __future__ import annotations

import base64
import re
import socket

import pytest

from selchat import outbound as ev
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import Authenticate, DmHistory, History, Who
from selchat.wire.irc import IrcCodec, msgid, parse_time
from selchat.wire.irc import reference as _reference
from tests.clients import Irc, RawClient
from tests.helpers import ServerProcess


def plain(authcid: str, password: str, authzid: str = "") -> str:
    return base64.b64encode(f"{authzid}\0{authcid}\0{password}".encode()).decode()


def sasl_codec() -> IrcCodec:
    codec = IrcCodec(16384)
    codec.feed(b"CAP LS 302\r\nCAP REQ :sasl\r\nNICK alice\r\nUSER a 0 * :Alice\r\n")
    return codec


# -- the codec alone --------------------------------------------------------------------------------


def test_time_and_references() -> None:
    assert parse_time("2026-11-24T19:03:07.123Z") == pytest.approx(1795546987.123)
    assert parse_time("yesterday") is None
    assert msgid(1795546987.123456) == "1795546987123456"
    assert _reference("msgid=1795546987123456", False) == (1795546987.123456, 1795546987.123456)
    before, after = _reference("timestamp=2026-11-24T19:03:07.123Z", False)  # type: ignore[misc]
    assert before == pytest.approx(1795546987.123) and after == pytest.approx(1795546987.123999)
    assert _reference("*", True) is None
    for bad in ("*", "msgid=abc", "timestamp=soon", "nonsense"):
        with pytest.raises(ValueError):
            _reference(bad, False)


def test_sasl_plain_in_the_codec() -> None:
    codec = sasl_codec()
    assert codec.feed(b"AUTHENTICATE PLAIN\r\n") == [b"AUTHENTICATE +\r\n"]
    out = codec.feed(f"AUTHENTICATE {plain('alice', 'secret12')}\r\n".encode())
    assert out == [Authenticate("alice", "secret12")]
    lines = codec.encode(ev.LoggedIn("alice"))
    assert lines == (b":selchat 900 * alice!alice@selchat alice :You are now logged in as alice\r\n"
                     b":selchat 903 * :SASL authentication successful\r\n")
    assert codec.feed(b"AUTHENTICATE PLAIN\r\n")[0].startswith(b":selchat 907 ")  # once is enough


def test_sasl_failures_in_the_codec() -> None:
    codec = sasl_codec()
    out = codec.feed(b"AUTHENTICATE SCRAM-SHA-256\r\n")
    assert out[0] == b":selchat 908 * PLAIN :are available SASL mechanisms\r\n" and b" 904 " in out[1]
    codec.feed(b"AUTHENTICATE PLAIN\r\n")
    assert codec.feed(b"AUTHENTICATE " + b"A" * 401 + b"\r\n")[0].startswith(b":selchat 905 ")
    codec.feed(b"AUTHENTICATE PLAIN\r\n")
    assert codec.feed(b"AUTHENTICATE !!notbase64\r\n")[0].startswith(b":selchat 904 ")
    codec.feed(b"AUTHENTICATE PLAIN\r\n")
    assert codec.feed(b"AUTHENTICATE *\r\n")[0].startswith(b":selchat 906 ")
    codec.feed(b"AUTHENTICATE PLAIN\r\n")
    out = codec.feed(f"AUTHENTICATE {plain('alice', 'pw', authzid='root')}\r\n".encode())
    assert out[0].startswith(b":selchat 904 ") and b"yourself" in out[0]
    codec.feed(b"AUTHENTICATE PLAIN\r\n")
    codec.feed(f"AUTHENTICATE {plain('alice', 'wrong')}\r\n".encode())
    refusal = codec.error(ProtocolError(ErrorCode.BAD_LOGIN, "wrong account name or password for alice"))
    assert refusal.startswith(b":selchat 904 * :SASL authentication failed")


def test_sasl_credentials_in_400_byte_chunks() -> None:
    codec = sasl_codec()
    codec.feed(b"AUTHENTICATE PLAIN\r\n")
    password = "x" * 592  # 600 bytes with the names: exactly 800 of base64
    data = plain("foo", password, "foo")
    assert len(data) == 800
    assert codec.feed(f"AUTHENTICATE {data[:400]}\r\nAUTHENTICATE {data[400:]}\r\n".encode()) == []
    assert codec.feed(b"AUTHENTICATE +\r\n") == [Authenticate("foo", password)]


def test_chathistory_commands() -> None:
    codec = IrcCodec(16384)
    codec.registered, codec.nick = True, "al"
    ts = "timestamp=2026-11-24T19:03:07.123Z"
    out = codec.feed(f"CHATHISTORY LATEST #a * 10\r\nCHATHISTORY BEFORE #a msgid=5000000 20\r\n"
                     f"CHATHISTORY AFTER #a {ts} 5\r\nCHATHISTORY AROUND #a msgid=7000000 3\r\n"
                     f"CHATHISTORY BETWEEN #a msgid=9000000 msgid=1000000 500\r\n".encode())
    assert out[0] == History("#a", None, 10, None, False, tag="chathistory LATEST #a")
    assert out[1] == History("#a", 5.0, 20, tag="chathistory BEFORE #a")
    assert out[2].after == pytest.approx(1795546987.123999) and out[2].oldest  # type: ignore[union-attr]
    assert out[3] == History("#a", None, 3, around=7.0, tag="chathistory AROUND #a")
    assert out[4] == History("#a", 9.0, 200, 1.0, False, tag="chathistory BETWEEN #a")  # newest first, at most 200
    assert codec.feed(b"CHATHISTORY LATEST bob * 10\r\n")[0] == DmHistory("bob", None, 10, None, False,
                                                                        tag="chathistory LATEST bob")
    assert codec.feed(b"CHATHISTORY LATEST #a soon 10\r\n")[0].startswith(b"FAIL CHATHISTORY INVALID_PARAMS ")
    assert codec.feed(b"CHATHISTORY TARGETS * * 10\r\n")[0].startswith(b"FAIL CHATHISTORY INVALID_PARAMS ")
    assert codec.feed(b"WHO al*\r\n") == [Who("al*")]


def history_batch(codec: IrcCodec, tag: str | None) -> bytes | None:
    messages = (ev.Message("#a", "bo", "one", 1795546987.123456, history=True),
                ev.Message("#a", "bo", "two", 1795546988.5, history=True))
    return codec.encode(ev.HistoryBatch("#a", messages, False, tag))


def test_history_rendered_per_capability() -> None:
    codec = IrcCodec(16384)
    codec.caps = {"batch", "server-time", "message-tags", "draft/chathistory"}
    codec.wire = codec.wire.for_caps(frozenset(codec.caps))
    asked = history_batch(codec, "chathistory LATEST")
    assert asked is not None
    lines = asked.decode().split("\r\n")
    assert lines[0] == ":selchat BATCH +1 chathistory #a"
    assert lines[1] == ("@batch=1;time=2026-11-24T19:03:07.123Z;msgid=1795546987123456 "
                        ":bo!bo@selchat PRIVMSG #a :one")
    assert lines[3] == ":selchat BATCH -1"
    assert history_batch(codec, None) is None  # it asks for history itself: none on joining
    codec.caps.discard("draft/chathistory")
    codec.wire = codec.wire.for_caps(frozenset(codec.caps))
    assert history_batch(codec, None).startswith(b":selchat BATCH +2 chathistory #a\r\n")  # type: ignore[union-attr]
    bare = IrcCodec(16384)
    line = rb":bo!bo@selchat PRIVMSG #a :\[\d\d:\d\d\] "
    assert re.fullmatch(line + rb"one\r\n" + line + rb"two\r\n", history_batch(bare, None))  # type: ignore[arg-type]


# -- over sockets ------------------------------------------------------------------------------------


def register(server: ServerProcess, name: str, password: str) -> None:
    """An account, made by a selchat user."""
    json_user = RawClient(server.address)
    try:
        json_user.join(name, version=2)
        json_user.send(type="register", password=password)
        json_user.expect("registered")
    finally:
        json_user.close()


def sasl_client(server: ServerProcess, nick: str, account: str, password: str) -> Irc:
    client = Irc.__new__(Irc)
    client.sock = socket.create_connection(server.address, timeout=10)
    client.buf = b""
    client.nick = nick
    client.send("CAP LS 302", f"NICK {nick}", f"USER {nick} 0 * :{nick}", "CAP REQ :sasl message-tags",
                "AUTHENTICATE PLAIN")
    client.expect("AUTHENTICATE +")
    client.send(f"AUTHENTICATE {plain(account, password)}")
    return client


def test_sasl_logs_irc_users_in_to_selchat_accounts(server: ServerProcess, irc_clients) -> None:
    register(server, "saslu", "sesame123")
    good = sasl_client(server, "saslu", "saslu", "sesame123")
    irc_clients.append(good)
    assert " 900 * saslu!saslu@selchat saslu :" in good.expect(" 900 ")  # not registered yet: *
    good.expect(" 903 * :SASL authentication successful")
    good.send("CAP END")
    good.expect(" 001 saslu ")
    good.send("WHOIS saslu")
    assert good.expect(" 330 ").endswith(" 330 saslu saslu saslu :is logged in as")

    # a second device of the account takes the name it has now, whatever nick it asked for
    second = sasl_client(server, "other", "saslu", "sesame123")
    irc_clients.append(second)
    second.expect(" 903 ")
    second.send("CAP END")
    second.expect(" 001 saslu ")
    for device in (second, good):
        device.send("QUIT")
        device.expect("ERROR ")
    watcher = Irc(server, "watcher")
    irc_clients.append(watcher)
    watcher.expect(" 001 watcher ")
    for _ in range(100):  # until the server has seen both go (the person is gone with the last)
        watcher.send("WHOIS saslu")
        if " 401 " in watcher.expect(" saslu :"):
            break

    # the same account under another nick, as IRC allows; the account's name stays reserved
    other = sasl_client(server, "nick2", "SASLU", "sesame123")
    irc_clients.append(other)
    other.expect(" 903 ")
    other.send("CAP END")
    other.expect(" 001 nick2 ")
    other.send("WHOIS nick2")
    assert other.expect(" 330 ").endswith(" 330 nick2 nick2 saslu :is logged in as")

    wrong = sasl_client(server, "saslu", "saslu", "not-it-at-all")
    irc_clients.append(wrong)
    wrong.expect(" 904 * :SASL authentication failed: wrong account name or password")
    wrong.send("CAP END")
    assert " 433 " in wrong.expect(" 433 ")  # a guest cannot take the account's name
    wrong.send("NICK guest")
    wrong.expect(" 001 guest ")


def echoed(client: Irc, room: str, texts: list[str]) -> list[dict[str, str]]:
    """Send ``texts`` to ``room`` and collect the echoes' tags (echo-message)."""
    out = []
    for text in texts:
        client.send(f"PRIVMSG {room} :{text}")
        line = client.expect(f"PRIVMSG {room} :{text}")
        tags = dict(item.split("=", 1) for item in line[1:line.index(" ")].split(";"))
        out.append(tags)
    return out


def batch(client: Irc, command: str) -> list[str]:
    """The texts of the PRIVMSGs in the batch answering ``command``."""
    client.send(command)
    opened = client.expect(" BATCH +")
    ref = opened.split(" BATCH +")[1].split(" ")[0]
    assert opened.endswith(" chathistory #hist")
    lines = client.upto(f" BATCH -{ref}")
    texts = [line.split(" PRIVMSG ", 1)[1].split(" :", 1)[1] for line in lines if " PRIVMSG " in line]
    assert all(f"batch={ref};" in line for line in lines if " PRIVMSG " in line)
    return texts


def test_chathistory_over_the_stored_history(server: ServerProcess, irc_clients) -> None:
    caps = "batch server-time message-tags draft/chathistory echo-message"
    asker = Irc(server, "asker", caps=caps)
    irc_clients.append(asker)
    asker.send("JOIN #hist")
    asker.expect(" 366 asker #hist ")
    texts = [f"line {i}" for i in range(6)]
    tags = echoed(asker, "#hist", texts)
    ids = [t["msgid"] for t in tags]
    assert len(set(ids)) == 6 and all(t["time"].endswith("Z") for t in tags)

    assert batch(asker, "CHATHISTORY LATEST #hist * 3") == texts[3:]
    assert batch(asker, "CHATHISTORY LATEST #hist * 100") == texts
    assert batch(asker, f"CHATHISTORY LATEST #hist msgid={ids[3]} 100") == texts[4:]
    assert batch(asker, f"CHATHISTORY BEFORE #hist msgid={ids[3]} 100") == texts[:3]
    assert batch(asker, f"CHATHISTORY BEFORE #hist msgid={ids[3]} 2") == texts[1:3]
    assert batch(asker, f"CHATHISTORY AFTER #hist msgid={ids[1]} 3") == texts[2:5]
    assert batch(asker, f"CHATHISTORY BETWEEN #hist msgid={ids[0]} msgid={ids[5]} 100") == texts[1:5]
    assert batch(asker, f"CHATHISTORY BETWEEN #hist msgid={ids[5]} msgid={ids[0]} 2") == texts[3:5]
    assert batch(asker, f"CHATHISTORY AROUND #hist msgid={ids[2]} 3") == texts[1:4]
    # a timestamp reference has millisecond precision: lines of the same millisecond are on its side
    earlier = batch(asker, f"CHATHISTORY BEFORE #hist timestamp={tags[5]['time']} 100")
    assert earlier == texts[:len(earlier)] and texts[5] not in earlier
    later = batch(asker, f"CHATHISTORY AFTER #hist timestamp={tags[0]['time']} 100")
    assert later == texts[len(texts) - len(later):] and texts[0] not in later
    asker.send("CHATHISTORY LATEST #elsewhere * 10")
    assert asker.expect("FAIL CHATHISTORY").startswith("FAIL CHATHISTORY INVALID_TARGET LATEST #elsewhere ")

    # a client that asks for history itself gets none on joining; one with batch and
    # server-time gets the recent lines in a chathistory batch; a plain one as marked lines
    self_served = Irc(server, "served", caps=caps)
    irc_clients.append(self_served)
    self_served.send("JOIN #hist", "PING :sync")
    assert not [line for line in self_served.upto("PONG") if " PRIVMSG " in line]
    batched = Irc(server, "batched", caps="batch server-time")
    irc_clients.append(batched)
    batched.send("JOIN #hist")
    ref = batched.expect(" BATCH +").split(" BATCH +")[1].split(" ")[0]
    lines = batched.upto(f" BATCH -{ref}")
    assert [line.split(" PRIVMSG ", 1)[1].split(" :", 1)[1] for line in lines if " PRIVMSG " in line] == texts
    assert all(line.startswith(f"@batch={ref};time=") for line in lines if " PRIVMSG " in line)


def test_json_history_pages_forward_too(server: ServerProcess, connect) -> None:
    jay = connect()
    jay.join("jay", version=2)
    jay.send(type="join_room", room="#fwd")
    jay.expect("history_end", room="#fwd")
    for i in range(5):
        jay.send(type="chat", room="#fwd", message=f"m{i}")
    jay.send(type="history", room="#fwd", limit=50)
    stamps = []
    while True:
        frame = jay.recv(10)
        if frame["type"] == "history_end":
            break
        if frame.get("history"):
            stamps.append(frame["timestamp"])
    assert len(stamps) == 5
    jay.send(type="history", room="#fwd", after=stamps[1], limit=2)
    got = [jay.expect("chat")["message"] for _ in range(2)]
    assert got == ["m2", "m3"]
    assert jay.expect("history_end", room="#fwd")["more"] is True  # older ones than the page's first exist


def test_who_masks_and_userhost(server: ServerProcess, irc_clients) -> None:
    a = Irc(server, "whoa")
    b = Irc(server, "whob")
    loner = Irc(server, "loner")
    irc_clients.extend([a, b, loner])
    for client in (a, b):
        client.send("JOIN #who")
        client.expect(f" 366 {client.nick} #who ")
    loner.expect(" 001 loner ")
    a.send("WHO *")
    lines = a.upto(" 315 ")
    assert sorted(line.split(" ")[7] for line in lines if " 352 " in line) == ["whoa", "whob"]  # not loner
    assert lines[-1].endswith(" 315 whoa * :End of WHO list")
    a.send("WHO loner")  # an exact name finds its user anywhere
    assert a.upto(" 315 ")[0].endswith(" 352 whoa * loner selchat selchat loner H :0 loner")
    b.send("AWAY :lunch")
    b.expect(" 306 ")
    a.send("WHO #who")
    assert [line.split(" ")[8] for line in a.upto(" 315 ") if " 352 " in line] == ["H@", "G"]  # whoa made #who
    a.send("USERHOST whob nobody")
    assert a.expect(" 302 ").endswith(" 302 whoa :whob=-whob@selchat")
    a.send("NOTICE #nowhere :psst", "PING :sync")  # a NOTICE is never answered, not even with an error
    assert [line for line in a.upto("PONG") if "PONG" not in line] == [":selchat 302 whoa :"]


def test_part_reasons_reach_everyone(server: ServerProcess, connect, irc_clients) -> None:
    jay = connect()
    jay.join("jay", version=2)
    jay.send(type="join_room", room="#bye")
    jay.expect("history_end", room="#bye")
    parter = Irc(server, "parter")
    irc_clients.append(parter)
    parter.send("JOIN #bye")
    parter.expect(" 366 parter #bye ")
    parter.send("PART #bye :see you")
    assert parter.expect(" PART ").endswith("PART #bye :see you")
    left = jay.expect("user_left", room="#bye")
    assert left["username"] == "parter" and left["reason"] == "see you"


def test_a_quit_is_told_once_to_irc_users(server: ServerProcess, connect, irc_clients) -> None:
    jay = connect()
    jay.join("jay", version=2)
    watcher = Irc(server, "watcher")
    quitter = Irc(server, "quitter")
    irc_clients.extend([watcher, quitter])
    for client in (watcher, quitter):
        client.send("JOIN #one,#two")
        client.expect(f" 366 {client.nick} #two ")
    for room in ("#one", "#two"):
        jay.send(type="join_room", room=room)
        jay.expect("history_end", room=room)
    quitter.send("QUIT :off")
    assert watcher.expect(" QUIT ") == ":quitter!quitter@selchat QUIT :Quit: off"
    watcher.send("PING :sync")
    assert not [line for line in watcher.upto("PONG") if " QUIT " in line]  # once, not once a room
    rooms = {jay.expect("user_left", username="quitter")["room"] for _ in range(2)}
    assert rooms == {"#one", "#two"}  # JSON clients hear of each room


def test_sasl_after_registration(server: ServerProcess, irc_clients) -> None:
    register(server, "latey", "sesame123")
    late = Irc(server, "guesty", caps="sasl")
    irc_clients.append(late)
    late.expect(" 001 guesty ")
    late.send("AUTHENTICATE PLAIN")
    late.expect("AUTHENTICATE +")
    late.send(f"AUTHENTICATE {plain('latey', 'sesame123')}")
    assert late.expect(" 900 ").endswith(" 900 guesty guesty!guesty@selchat latey :You are now logged in as latey")
    late.expect(" 903 guesty ")
    late.send("WHOIS guesty")
    assert late.expect(" 330 ").endswith(" 330 guesty guesty latey :is logged in as")
    late.send("AUTHENTICATE PLAIN")
    late.expect(" 907 guesty ")
