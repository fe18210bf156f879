"""IRCv3 capabilities of issue 23 over real sockets: labeled-response (ACK, a lone labeled line, a
batch, and an answer from the worker inside its batch, with what was sent behind it waiting)."""

from __future__ import annotations

from tests.clients import Irc, RawClient
from tests.helpers import ServerProcess

LABELED = "batch labeled-response message-tags server-time echo-message draft/chathistory"


def _irc(server: ServerProcess, sockets: list, name: str, caps: str = LABELED) -> Irc:
    client = Irc(server, name, caps)
    sockets.append(client)
    client.expect(" 001 ")
    return client


def test_labeled_answers_come_alone_acked_or_in_one_batch(server: ServerProcess, sockets: list) -> None:
    irc = _irc(server, sockets, "labeler")
    irc.send("@label=a1 PING :one", "@label=a2 PONG :nothing", "@label=a3 JOIN #labels", "@label=a4 FOO")
    assert irc.expect("PONG").startswith("@label=a1 :selchat PONG selchat :one")
    assert irc.expect("ACK") == "@label=a2 :selchat ACK"
    start = irc.expect("BATCH +")
    assert start.startswith("@label=a3 ") and start.endswith(" labeled-response")
    batch = start.split(" ")[3][1:]
    seen: list[str] = []
    irc.expect(f"BATCH -{batch}", seen)
    assert seen[0].startswith(f"@batch={batch}") and " JOIN #labels" in seen[0]
    assert all(line.startswith(f"@batch={batch}") for line in seen[:-1]) and any(" 366 " in x for x in seen)
    assert irc.expect(" 421 ").startswith("@label=a4 ")


def test_a_labeled_history_page_stays_in_its_batch(server: ServerProcess, sockets: list) -> None:
    irc = _irc(server, sockets, "historian")
    irc.send("JOIN #kept")
    irc.expect(" 366 ")
    irc.send(*(f"PRIVMSG #kept :line {n}" for n in range(3)))
    irc.expect("line 2")
    irc.send("@label=h1 CHATHISTORY LATEST #kept * 10", "PING :behind")
    start = irc.expect("BATCH +")
    assert start.startswith("@label=h1 ")
    seen: list[str] = []
    irc.expect("PONG", seen)  # the PING waited for the page
    texts = [line.rsplit(" :", 1)[1] for line in seen if " PRIVMSG #kept " in line]
    assert texts == ["line 0", "line 1", "line 2"]
    assert any(" chathistory #kept" in line for line in seen)
    assert seen[-2].startswith(":selchat BATCH -")  # the labeled batch ends before the PONG


def test_an_answer_from_the_worker_is_labeled_when_it_comes(start_server, sockets: list) -> None:
    server = start_server("--operators", "chief")
    account = RawClient(server.address)
    sockets.append(account)
    account.join("chief", version=2)
    account.send(type="register", password="the chief's password")
    account.expect("registered")
    account.close()
    irc = _irc(server, sockets, "oper")
    irc.send("@label=o1 OPER chief :the chief's password", "@label=o2 PING :after")  # argon2, in the worker
    start = irc.expect("BATCH +")
    assert start.startswith("@label=o1 ")
    batch = start.split(" ")[3][1:]
    seen: list[str] = []
    irc.expect(f"BATCH -{batch}", seen)
    assert any(" 381 oper " in line and line.startswith(f"@batch={batch}") for line in seen)
    assert irc.expect("PONG").startswith("@label=o2 ")


def test_client_tags_and_tagmsg_reach_only_those_with_message_tags(server: ServerProcess, sockets: list) -> None:
    tagger = _irc(server, sockets, "tagger")
    reader = _irc(server, sockets, "reader", "message-tags")
    plain = _irc(server, sockets, "plain", "")
    for client in (tagger, reader, plain):
        client.send("JOIN #tags")
        client.expect(" 366 ")
    tagger.send("@+draft/reply=123;secret=no PRIVMSG #tags :a reply", "@+typing=active TAGMSG #tags")
    said = reader.expect("PRIVMSG #tags")
    assert said.startswith("@+draft/reply=123;msgid=") and "secret" not in said
    assert reader.expect("TAGMSG").startswith("@+typing=active;msgid=")
    assert plain.expect("PRIVMSG #tags") == ":tagger!tagger@selchat PRIVMSG #tags :a reply"
    plain.send("PING :end")
    seen: list[str] = []
    plain.expect("PONG", seen)
    assert not any("TAGMSG" in line for line in seen)  # only tags: nothing for one without message-tags
    reader.send("PRIVMSG #tags " + "b" * 496)  # a whole line without a colon arrives as one line
    line = tagger.expect("b" * 40)
    assert line.rsplit(" :", 1)[1].startswith("b" * 400) and line.encode().count(b"b") <= 496


def test_whox_answers_the_fields_asked_for_in_their_order(server: ServerProcess, sockets: list) -> None:
    asker = _irc(server, sockets, "asker", "")
    other = _irc(server, sockets, "other", "")
    for client in (asker, other):
        client.send("JOIN #whox")
        client.expect(" 366 ")
    asker.send("WHO #whox %nat,42", "WHO other %rn")
    first = asker.expect(" 354 ")
    assert first.split(" ")[2:6] == ["asker", "42", "asker", ":0"]  # t, n, a: no account
    asker.expect(" 315 asker #whox ")
    assert asker.expect(" 354 ").endswith(" 354 asker other :other")  # n, then r


def test_extended_join_account_tag_account_notify_setname_and_invite_notify(server: ServerProcess,
                                                                            sockets: list) -> None:
    caps = "extended-join account-tag account-notify setname invite-notify message-tags"
    watcher = _irc(server, sockets, "watcher", caps)
    watcher.send("JOIN #caps")
    watcher.expect(" 366 ")
    member = _irc(server, sockets, "member", "")
    member.send("JOIN #caps")
    assert watcher.expect(" JOIN #caps").endswith("JOIN #caps * :member")  # no account, the real name
    account = RawClient(server.address)
    sockets.append(account)
    account.join("member2", version=2)
    account.send(type="join_room", room="#caps")
    account.expect("room_joined")
    account.send(type="register", password="a password of member2")
    account.expect("registered")
    assert watcher.expect(" ACCOUNT ").endswith("member2!member2@selchat ACCOUNT member2")
    account.send(type="chat", room="#caps", message="logged in now")
    said = watcher.expect("logged in now")
    assert said.startswith("@") and "account=member2" in said.split(" ", 1)[0]
    member.send("SETNAME :A New Name")
    assert watcher.expect(" SETNAME ").endswith("member!member@selchat SETNAME :A New Name")
    member.send("SETNAME :")
    assert " FAIL SETNAME INVALID_REALNAME " in member.expect(" FAIL ")
    watcher.send("INVITE nobody #caps", "MODE #caps +i")
    watcher.expect(" 401 ")
    watcher.expect("MODE #caps +i")
    outsider = _irc(server, sockets, "outsider", "")
    watcher.send("INVITE outsider #caps")
    watcher.expect(" 341 watcher outsider :#caps")
    assert outsider.expect(" INVITE ").endswith("INVITE outsider #caps")
    assert member.expect("MODE #caps +i")  # member has no invite-notify: it hears no INVITE
    account.send(type="users", room="#caps")
    account.expect("users")


def test_no_implicit_names_leaves_names_out_of_a_join(server: ServerProcess, sockets: list) -> None:
    quiet = _irc(server, sockets, "quiet", "no-implicit-names")
    quiet.send("JOIN #hushed", "PING :joined")
    seen: list[str] = []
    quiet.expect("PONG", seen)
    assert any(" JOIN #hushed" in line for line in seen) and not any(" 353 " in line for line in seen)


def test_monitor_says_who_comes_and_goes_and_extended_monitor_their_away(server: ServerProcess,
                                                                         sockets: list) -> None:
    watcher = _irc(server, sockets, "watcher", "extended-monitor away-notify")
    watcher.send("MONITOR + friend,*!*@masks,stranger", "MONITOR L")
    assert watcher.expect(" 731 ").endswith(" 731 watcher :friend,stranger")  # a mask is never watched
    assert watcher.expect(" 732 ").endswith(":friend,stranger")
    watcher.expect(" 733 ")
    friend = RawClient(server.address)
    sockets.append(friend)
    friend.join("friend", version=2)
    assert watcher.expect(" 730 ").endswith(" 730 watcher :friend!friend@selchat")
    friend.send(type="away", message="lunch")
    assert watcher.expect(" AWAY ").endswith("friend!friend@selchat AWAY :lunch")  # no room shared
    friend.send(type="nick", username="Friend")  # only the case: no news
    friend.send(type="nick", username="pal")
    assert watcher.expect(" 731 ").endswith(" 731 watcher :Friend")
    watcher.send("MONITOR - friend", "MONITOR S")
    assert watcher.expect(" 731 ").endswith(" 731 watcher :stranger")


def test_chathistory_of_a_conversation_and_targets(server: ServerProcess, sockets: list) -> None:
    caps = "batch server-time message-tags draft/chathistory"
    one = _irc(server, sockets, "one", caps)
    two = _irc(server, sockets, "two", caps)
    one.send("JOIN #place")
    one.expect(" 366 ")
    one.send("PRIVMSG #place :in the room", "PRIVMSG two :hello two")
    two.expect("hello two")
    two.send("PRIVMSG one :hello one")
    one.expect("hello one")
    one.send("CHATHISTORY LATEST two * 10")
    start = one.expect("BATCH +")
    assert start.endswith(" chathistory two")
    seen: list[str] = []
    one.expect("BATCH -", seen)
    assert [line.rsplit(" :", 1)[1] for line in seen if " PRIVMSG " in line] == ["hello two", "hello one"]
    one.send("CHATHISTORY TARGETS timestamp=2020-01-01T00:00:00.000Z timestamp=2262-01-01T00:00:00.000Z 10")
    one.expect("draft/chathistory-targets")
    seen = []
    one.expect("BATCH -", seen)
    assert [line.split(" ")[4] for line in seen if " CHATHISTORY TARGETS " in line] == ["#place", "two"]
    two.send("QUIT")
    two.sock.close()
    again = _irc(server, sockets, "two", caps)  # another guest under the name: not the same person
    again.send("CHATHISTORY LATEST one * 10")
    seen = []
    again.expect("BATCH -", seen)
    assert not any(" PRIVMSG " in line for line in seen)


def test_a_bot_says_so_in_whois_who_and_a_tag(server: ServerProcess, sockets: list) -> None:
    bot = _irc(server, sockets, "beeper", "")
    bot.send("MODE beeper +B")
    assert bot.expect("MODE beeper").endswith("MODE beeper +B")
    reader = _irc(server, sockets, "reader", "message-tags")
    for client in (bot, reader):
        client.send("JOIN #bots")
        client.expect(" 366 ")
    bot.send("PRIVMSG #bots :beep")
    assert reader.expect(":beep").startswith("@bot;")
    reader.send("WHOIS beeper", "WHO #bots")
    assert reader.expect(" 335 ").endswith("beeper :is a bot")
    rows = [reader.expect(" 352 "), reader.expect(" 352 ")]
    assert any(row.split(" ")[7] == "beeper" and "B" in row.split(" ")[8] for row in rows)


def test_statusmsg_reaches_only_the_rooms_operators(server: ServerProcess, sockets: list) -> None:
    chief = _irc(server, sockets, "chief", "")
    chief.send("JOIN #staff")
    chief.expect(" 366 ")
    plain = _irc(server, sockets, "plain", "")
    plain.send("JOIN #staff")
    plain.expect(" 366 ")
    deputy = RawClient(server.address)
    sockets.append(deputy)
    deputy.join("deputy", version=2)
    deputy.join_room("#staff")
    chief.send("MODE #staff +o deputy")
    deputy.expect("role")
    plain.send("PRIVMSG @#staff :for the operators")
    assert chief.expect("for the operators").endswith("PRIVMSG @#staff :for the operators")
    said = deputy.expect("chat")
    assert (said["message"], said["to"], said["room"]) == ("for the operators", "operators", "#staff")
    chief.send("PRIVMSG #staff :for everyone")
    seen: list[str] = []
    plain.expect("for everyone", seen)
    assert not any("for the operators" in line for line in seen)  # the line for the operators never came
    deputy.send(type="history", room="#staff")
    kept = []
    while (frame := deputy.recv())["type"] != "history_end":
        if frame.get("history"):
            kept.append(frame.get("message"))
    assert kept == ["for everyone"]  # never kept: it was not the room's


def test_invite_alone_lists_ones_invitations(server: ServerProcess, sockets: list) -> None:
    host = _irc(server, sockets, "host", "")
    guest = _irc(server, sockets, "guest", "")
    host.send("JOIN #party")
    host.expect(" 366 ")
    host.send("INVITE guest #party")
    guest.expect(" INVITE guest ")
    guest.send("INVITE")
    assert guest.expect(" 336 ").endswith(" 336 guest :#party")
    guest.expect(" 337 guest ")
