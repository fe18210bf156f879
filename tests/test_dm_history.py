"""A private conversation's history (issue 22's conversations, issue 24's groundwork): kept
between accounts, paged newest first with ``before``, over real sockets and in the store."""

from __future__ import annotations

from selchat.codec import encode
from selchat.outbound import DirectMessage
from selchat.records import SaveDm
from selchat.store import SCHEMA_VERSION, Store
from tests.clients import RawClient
from tests.helpers import ServerProcess


def test_the_store_pages_a_conversation_both_ways_and_no_one_else_s() -> None:
    store = Store(":memory:")
    for i in range(7):
        sender, recipient = (("amy", "bob") if i % 2 else ("bob", "amy"))
        store.write(SaveDm(sender, recipient, DirectMessage(sender, recipient, f"m{i}", 1000.0 + i), delivered=True))
    store.write(SaveDm("amy", "cat", DirectMessage("amy", "cat", "not bob's", 1003.5), delivered=True))
    page, more = store.dm_history("amy", "bob", None, 4)
    assert [d.text for d in page] == ["m3", "m4", "m5", "m6"] and more
    page, more = store.dm_history("bob", "amy", page[0].timestamp, 4)  # the same from the other side
    assert [d.text for d in page] == ["m0", "m1", "m2"] and not more
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store.close()


def _account(server: ServerProcess, name: str) -> RawClient:
    client = RawClient(server.address)
    client.join(name, version=2)
    client.send(type="register", password=f"{name}'s password")
    client.expect("registered")
    return client


def _page(client: RawClient, **asked) -> tuple[list[dict], dict]:
    client.send(type="history", **asked)
    dms = []
    while (frame := client.recv())["type"] != "history_end" or "with" not in frame:  # not a room's replay
        if frame["type"] == "dm" and frame.get("history"):
            dms.append(frame)
    return dms, frame


def test_a_conversation_is_paged_from_the_newest(start_server, sockets: list) -> None:
    server = start_server("--rate-limit", "0")
    amy, bob, cat = (_account(server, n) for n in ("amy", "bob", "cat"))
    sockets.extend([amy, bob, cat])
    amy.sock.sendall(b"".join(encode({"type": "dm", "to": "bob", "message": f"amy {i}"}) for i in range(60)))
    bob.sock.sendall(b"".join(encode({"type": "dm", "to": "amy", "message": f"bob {i}"}) for i in range(60)))
    cat.send(type="dm", to="amy", message="from cat")
    amy.send(type="ping", id="sent")
    amy.expect("pong")
    bob.send(type="ping", id="sent")
    bob.expect("pong")
    seen: list[dict] = []
    before = None
    while True:
        asked = {"with": "Bob", "limit": 50, **({"before": before} if before else {})}
        dms, end = _page(amy, **asked)
        assert end["with"] == "bob" and len(dms) <= 50  # the account's own name
        seen = dms + seen
        if not end["more"]:
            break
        before = dms[0]["timestamp"]
    assert len(seen) == 120 and {d["from"] for d in seen} == {"amy", "bob"}  # cat's is not in it
    assert [d["timestamp"] for d in seen] == sorted(d["timestamp"] for d in seen)
    guest = RawClient(server.address)
    sockets.append(guest)
    guest.join("guest", version=2)
    guest.send(type="dm", to="amy", message="a guest's word")
    amy.expect("dm", message="a guest's word")
    dms, end = _page(guest, **{"with": "amy"})  # a guest's conversation, kept while it is online
    assert [d["message"] for d in dms] == ["a guest's word"] and end["more"] is False
    guest.close()
    amy.send(type="ping", id="gone")
    amy.expect("pong")
    other = RawClient(server.address)
    sockets.append(other)
    other.join("guest", version=2)  # someone else under the name: not the same conversation
    dms, end = _page(other, **{"with": "amy"})
    assert dms == [] and end["more"] is False
