"""Search (issue 25, its first part): the query as typed, the FTS5 index kept with the history
(pruned with it, rebuilt after --no-search), and `search` over a real socket and in `selchat join`."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from selchat import search
from selchat.outbound import DirectMessage
from selchat.query import QueryError, parse
from selchat.records import SaveDm
from selchat.store import Store
from tests.clients import RawClient, port_args
from tests.helpers import ServerProcess


def test_a_query_as_people_type_it() -> None:
    q = parse('"build failed" deploy* from:Bob in:#Dev after:2026-11-01 before:2026-12-01')
    assert q.match == '"build failed" AND "deploy"*'
    assert (q.sender, q.place) == ("bob", "#dev")
    assert q.after == time.mktime(time.strptime("2026-11-02", "%Y-%m-%d"))  # the day itself is in neither
    assert q.before == time.mktime(time.strptime("2026-12-01", "%Y-%m-%d"))
    assert parse("NOT OR ( ) NEAR").match == '"NOT" AND "OR" AND "NEAR"'  # FTS5's words are words here
    assert parse("from:alice").match == "" and parse("from:alice").sender == "alice"
    for bad, said in (("", "say what to look for"), ("()", "say what to look for"), ("before:soon x", "not a date"),
                      ("x" * 401, "at most 400")):
        with pytest.raises(QueryError, match=said):
            parse(bad)


def _stored(tmp_path: Path, **kwargs: object) -> Store:
    store = Store(str(tmp_path / "history.db"), **kwargs)  # type: ignore[arg-type]
    store.snapshot()
    return store


def _find(store: Store, text: str, rooms: dict[str, str] | None = None) -> list[str]:
    hits, _ = search.run(store.db, parse(text), rooms or {"#dev": "#dev"}, None, 50, None)
    return [h.text for h in hits]


def test_the_index_follows_the_history(tmp_path: Path) -> None:
    store = _stored(tmp_path, history_max=20)
    for i in range(30):
        store.write(("#dev", 1_000_000 + i, "bob", f"line {i} about {'deploys' if i % 2 else 'builds'}", 0))
    store.commit()
    # pruned to the newest 20 (and the 5 % slack): the old lines are gone from the index too
    assert _find(store, "line") == [f"line {i} about {'deploys' if i % 2 else 'builds'}" for i in range(29, 9, -1)]
    assert _find(store, "deploys")[:2] == ["line 29 about deploys", "line 27 about deploys"]
    assert _find(store, "deploys", {"#ops": "#ops"}) == []  # only the rooms asked about
    store.db.execute("INSERT INTO search (search) VALUES ('integrity-check')")  # raises if the index is off
    store.close()


def test_copies_of_shared_lines_are_indexed_once(tmp_path: Path) -> None:
    """--redis: a line heard twice (a room's tail, then its publication), and another process's
    line of the same microsecond, never cost a commit; what went in is found, once."""
    store = _stored(tmp_path, copies=True)
    store.write(("#dev", 1_000_001, "bob", "the deploy is done", 0))
    store.commit()
    store.write(("#dev", 1_000_001, "bob", "the deploy is done", 0))  # heard again
    store.write(("#dev", 1_000_001, "eve", "a deploy of the same microsecond", 0))  # another clock
    store.write(("#dev", 1_000_002, "ann", "deploy \ud800 with a lone surrogate", 0))
    store.commit()
    assert _find(store, "deploy") == ["deploy \ufffd with a lone surrogate", "the deploy is done"]
    store.db.execute("INSERT INTO search (search) VALUES ('integrity-check')")
    store.close()


def test_ones_own_conversations_are_found(tmp_path: Path) -> None:
    store = _stored(tmp_path)
    store.write(SaveDm("alice", "bob", DirectMessage("alice", "bob", "the secret plan", 5.0), True))
    store.write(SaveDm("carol", "dave", DirectMessage("carol", "dave", "another secret", 6.0), True))
    store.commit()
    hits, _ = search.run(store.db, parse("secret"), {}, "bob", 10, None)
    assert [(h.peer, h.username, h.text) for h in hits] == [("alice", "alice", "the secret plan")]
    assert search.run(store.db, parse("secret in:@carol"), {}, "bob", 10, None)[0] == []
    assert search.run(store.db, parse("secret"), {}, None, 10, None)[0] == []  # a guest's are not kept
    store.close()


def test_search_off_leaves_the_index_to_be_rebuilt(tmp_path: Path) -> None:
    off = _stored(tmp_path, searchable=False)
    off.write(("#dev", 2_000_000, "bob", "written while search was off", 0))
    off.commit()
    assert _find(off, "written") == []
    off.close()
    on = _stored(tmp_path)  # a start with search on rebuilds it first
    assert _find(on, "written") == ["written while search was off"]
    on.close()


def test_a_slow_search_is_stopped_with_words(tmp_path: Path, monkeypatch) -> None:
    store = _stored(tmp_path)
    for i in range(20_000):
        store.write(("#big", 3_000_000 + i, "bob", f"common word {i}", 0))
    store.commit()
    monkeypatch.setattr(search, "SEARCH_TIME", 0.0)
    # "bob." is "bob" to the index, so every line is read back and none is by "bob.": the slow kind
    said = search.Searcher(store.path)(parse("common from:bob."), {"#big": "#big"}, None, 10, None)
    assert said == "that search took over 0 s; narrow it with in:#room, from:NAME or a date"
    monkeypatch.setattr(search, "SEARCH_TIME", 5.0)
    hits, more = search.Searcher(store.path)(parse("common"), {"#big": "#big"}, None, 10, None)
    assert len(hits) == 10 and more and hits[0].text == "common word 19999"
    store.close()


def _results(client: RawClient, query: str, **extra: object) -> dict:
    client.send(type="search", query=query, **extra)
    while True:
        frame = client.recv()
        if frame["type"] in ("search_results", "error"):
            return frame


def test_search_over_a_socket(start_server, tmp_path: Path) -> None:
    server: ServerProcess = start_server("--db", str(tmp_path / "chat.db"), "--rate-limit", "0")
    alice = RawClient(server.address)
    alice.join("alice", version=2)
    alice.join_room("#dev")
    bob = RawClient(server.address)
    bob.join("bob", version=2)
    bob.join_room("#dev")
    bob.join_room("#secret")
    for room, text in (("#dev", "the build failed on main"), ("#dev", "Build is green again"),
                       ("#secret", "build notes nobody else may read"), ("#lobby", "café at noon")):
        bob.send(type="chat", room=room, message=text)
    bob.send(type="ping", id="said")
    bob.expect("pong")  # all of bob's lines are in before alice's
    alice.send(type="chat", room="#dev", message="thanks for the build")
    found = _results(alice, "build")
    assert [(r["room"], r["username"], r["message"]) for r in found["results"]] == [
        ("#dev", "alice", "thanks for the build"), ("#dev", "bob", "Build is green again"),
        ("#dev", "bob", "the build failed on main")]  # newest first, never #secret, which alice is not in
    assert found["more"] is False and found["query"] == "build"
    assert [r["message"] for r in _results(alice, '"build failed"')["results"]] == ["the build failed on main"]
    assert [r["message"] for r in _results(alice, "build from:bob")["results"]] == [
        "Build is green again", "the build failed on main"]
    assert [r["message"] for r in _results(alice, "cafe in:#lobby")["results"]] == ["café at noon"]
    page = _results(alice, "build", limit=2)
    assert page["more"] is True
    rest = _results(alice, "build", limit=2, before=page["results"][-1]["timestamp"])
    assert [r["message"] for r in rest["results"]] == ["the build failed on main"]
    assert _results(alice, "before:someday x")["code"] == "bad_search"
    hit = _results(alice, "failed")["results"][0]  # a hit opens the history around it
    alice.send(type="history", room="#dev", around=hit["timestamp"], limit=3)
    around = []
    while (frame := alice.recv())["type"] != "history_end":
        around.append(frame.get("message"))
    assert "the build failed on main" in around
    alice.close()
    bob.close()


def test_search_in_the_terminal(spawn, start_server, tmp_path: Path) -> None:
    server = start_server("--db", str(tmp_path / "chat.db"))
    bob = RawClient(server.address)
    bob.join("bob", version=2)
    bob.send(type="chat", message="the deploy is at five")
    bob.send(type="ping", id="said")
    bob.expect("pong")
    child = spawn(*port_args(server), "--name", "alice", "--no-color")
    child.expect(r"\[#lobby\] alice>")
    child.sendline("/search deploy")
    child.expect(r"1 found for deploy, newest first:")
    child.expect(r"\[\d{4}-\d\d-\d\d \d\d:\d\d\] #lobby bob: the deploy is at five")
    child.sendline("/search nothing-like-it")
    child.expect("nothing found for nothing-like-it")
    bob.close()


def test_a_deleted_room_is_not_found(tmp_path: Path) -> None:
    from selchat import upkeep

    store = _stored(tmp_path)
    store.write(("#gone", 4_000_000, "bob", "remember this", 0))
    store.commit()
    upkeep.request(store.db, "delete_room", "#gone")
    assert _find(store, "remember", {"#gone": "#gone"}) == []
    assert store.db.execute("SELECT count(*) FROM search WHERE search MATCH 'remember'").fetchone()[0] == 0
    store.close()
    assert sqlite3.connect(store.path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_broken_index_never_costs_a_message(tmp_path: Path, caplog, monkeypatch) -> None:
    store = _stored(tmp_path)
    store.write(("#dev", 6_000_000, "bob", "before the damage", 0))
    store.commit()
    with monkeypatch.context() as broken:  # a write to the index fails, as a damaged one's would
        broken.setattr(search, "INDEX", "INSERT INTO no_such_index VALUES (?, ?, ?, ?)")
        store.write(("#dev", 6_000_001, "bob", "after the damage", 0))
        store.commit()
    assert [m.text for m in store.history("#dev", "#dev", None, 10)[0]] == ["before the damage", "after the damage"]
    assert not store.searchable and "the search index" in caplog.text
    store.close()
    again = _stored(tmp_path)  # the next start rebuilds it
    assert _find(again, "damage") == ["after the damage", "before the damage"]
    again.close()


def test_irc_search_is_soju_s(start_server, tmp_path: Path) -> None:
    from tests.clients import Irc

    server = start_server("--db", str(tmp_path / "irc.db"))
    carol = Irc(server, "carol", caps="batch server-time message-tags soju.im/search")
    carol.send("JOIN #dev")
    carol.expect("366")
    carol.send("PRIVMSG #dev :the build failed", "PRIVMSG #dev :lunch", "PRIVMSG #dev :build fixed")
    carol.send("PING :sync")
    carol.expect("PONG")
    carol.send("SEARCH text=build;in=#dev;limit=10")
    seen: list[str] = []
    carol.expect("BATCH -", seen)
    lines = [line for line in seen if "PRIVMSG" in line or "BATCH" in line]
    assert " BATCH +" in lines[0] and lines[0].endswith("soju.im/search")
    assert [line.split(" PRIVMSG #dev :", 1)[1] for line in lines[1:-1]] == ["the build failed", "build fixed"]
    assert all("time=" in line and "msgid=" in line for line in lines[1:-1])
    carol.send("SEARCH text=;limit=5")
    assert "FAIL SEARCH INVALID_PARAMS" in carol.expect("FAIL SEARCH")
    carol.send("SEARCH text=build;before=yesterday")
    assert "before is a time" in carol.expect("FAIL SEARCH")
    carol.close()
