"""One person on devices on several processes at once (hub/twins.py, hub/shares.py), without
sockets: three pure hubs, and a small stand-in for Redis between them that keeps the name claims
and the rooms' members as the Lua scripts do and carries what each publishes to the others."""

from __future__ import annotations

from collections import deque
from typing import Any

from selchat import news
from selchat import outbound as ev
from selchat.events import Chat, Dm, Join, JoinRoom, LeaveRoom, MarkRead, Nick
from selchat.hub import Ask, Broadcast, Presence
from selchat.hub.effects import Everywhere, Relay
from selchat.hub.shares import gone_from, here_too, seen_at, still_elsewhere, unseen_at
from selchat.hub.state import Room
from selchat.records import (
    CheckLogin,
    ClaimName,
    LoadOfflineDms,
    LoginChecked,
    NameClaimed,
    OfflineDms,
    ReleaseName,
    SaveDm,
)
from selchat.server.shared import SHARED_BROADCASTS
from tests.hubdriver import Driver


# -- a room's count of people on several processes ---------------------------------------------------
def test_a_person_on_two_other_processes_is_one_member_until_both_have_gone() -> None:
    room = Room("#dev", "#dev", 10)
    assert seen_at(room, "alice", "alice", "A")  # heard: she came
    assert not seen_at(room, "alice", "alice", "B")  # the same person, from another process: not again
    assert room.names() == ["alice"] and room.size() == 1
    assert not unseen_at(room, "alice", "A")  # gone from one: still on the other, which is named now
    assert room.remote["alice"] == ("alice", "B")
    assert unseen_at(room, "alice", "B")  # gone from the last: she has left
    assert room.names() == [] and not room.also


def test_a_member_here_also_on_another_process() -> None:
    room = Room("#dev", "#dev", 10)
    seen_at(room, "alice", "alice", "A")
    room.add(7, "alice")
    assert here_too(room, "alice")  # she was in it on A: nobody hears her come here
    assert room.names() == ["alice"] and room.also == {"alice": {"A"}}
    room.remove(7)
    assert still_elsewhere(room, "alice", "alice")  # her device here went: she is A's again
    assert room.remote == {"alice": ("alice", "A")} and not room.also
    assert not still_elsewhere(room, "alice", "alice")  # and now nowhere beside: a leave
    seen_at(room, "bob", "bob", "A")
    seen_at(room, "bob", "bob", "B")
    assert gone_from(room, "bob") and "bob" not in room.remote and not room.also  # a part: gone from all at once


# -- three processes ----------------------------------------------------------------------------------
class Node(Driver):
    """A pure hub as one process: what it would publish or ask of Redis goes to the Net."""

    def __init__(self, net: Net, name: str, **config: Any) -> None:
        super().__init__(shared=True, rate_limit=0, **config)
        self.net, self.name = net, name
        self.hub.state.accounts.update(alice="alice", bob="bob")
        self.hearing = False

    def broadcast(self, effect: Broadcast) -> None:
        super().broadcast(effect)
        if not self.hearing and type(effect.event) in SHARED_BROADCASTS:
            self.net.publish(self, effect.event.room.casefold(), effect.event)

    def presence(self, effect: Presence) -> None:
        self.net.presence(self, effect)

    def relay(self, effect: Relay) -> None:
        self.net.later(self.net.nodes[effect.node], news.Heard(self.name, [effect.event]))

    def everywhere(self, effect: Everywhere) -> None:
        for node in self.net.others(self):
            self.net.later(node, news.Heard(self.name, [effect.event]))

    def ask(self, effect: Ask) -> None:
        self.net.ask(self, effect.request)

    def hear(self, item: Any) -> None:
        self.hearing = True
        try:
            super().hear(item)
        finally:
            self.hearing = False


class Net:
    """Redis, as far as the hubs need it: claims, members, channels; in order, until quiet."""

    def __init__(self, *names: str, **config: Any) -> None:
        self.claims: dict[str, dict[str, str]] = {}  # name key -> node -> account ("": a guest's)
        self.members: dict[str, dict[str, str]] = {}  # room key -> name -> node
        self.heard: set[tuple[str, str]] = set()  # (node, room key) subscribed
        self.person: dict[str, dict[str, str]] = {}  # account -> node -> the name it is under there
        self.queue: deque[tuple[Node, Any, int | None]] = deque()
        self.nodes = {name: Node(self, name, **config) for name in names}

    def others(self, node: Node) -> list[Node]:
        return [n for n in self.nodes.values() if n is not node]

    def later(self, node: Node, item: Any, conn_id: int | None = None) -> None:
        self.queue.append((node, item, conn_id))

    def run(self) -> None:
        while self.queue:
            node, item, conn_id = self.queue.popleft()
            if conn_id is None:
                node.hear(item)
            else:
                node.complete(conn_id, item)

    def publish(self, source: Node, room_key: str, event: Any) -> None:
        for node in self.others(source):  # those that hear the room: it has members there
            if node.hub.has_local_members(room_key) or room_key == "#lobby":
                self.later(node, news.Heard(source.name, [event]))

    def presence(self, source: Node, effect: Presence) -> None:
        members = self.members.setdefault(effect.room_key, {})
        name = effect.event.username
        heard = (source.name, effect.room_key)
        if type(effect.event) is ev.UserJoined:
            if heard not in self.heard:  # subscribed now: who is in it already (federation._fetch_members)
                self.heard.add(heard)
                found = [(n, where) for n, where in members.items() if where != source.name]
                self.later(source, news.MembersFound(effect.room_key, effect.event.room, found))
                self.later(source, news.RoomSynced(effect.room_key, [], 0, None))  # and its (empty) tail
            members[name] = source.name
        else:
            if members.get(name) == (effect.node or source.name):  # keys.LEAVE
                del members[name]
            if not source.hub.has_local_members(effect.room_key):
                self.heard.discard(heard)
        if effect.local:
            self.publish(source, effect.room_key, effect.event)

    def ask(self, source: Node, request: Any) -> None:
        kind = type(request)
        if kind is CheckLogin:
            self.later(source, LoginChecked(request.account_key, True, request.account_key), request.conn_id)
        elif kind is ClaimName:  # keys.CLAIM, and Claims._follow
            seen = self.person.get(request.share or "", {})
            name = next((n for where, n in seen.items() if where != source.name and n.casefold() != request.name_key),
                        None) if request.follow else None
            held = self.claims.setdefault(name.casefold() if name else request.name_key, {})
            others = [n for n in held if n != source.name]
            ok = all(request.share and held[n] == request.share for n in others)
            if ok:
                held[source.name] = request.share or ""
                if request.share:
                    self.person.setdefault(request.share, {})[source.name] = name or request.shown
            answer = NameClaimed(request.name_key, ok, tuple(others) if ok else (), name)
            self.later(source, answer, request.conn_id)
        elif kind is ReleaseName and source.hub.find(request.name_key) is None:  # keys.RELEASE
            account = self.claims.get(request.name_key, {}).pop(source.name, None)
            seen = self.person.get(account or "", {})
            if seen.get(source.name, "").casefold() == request.name_key:
                del seen[source.name]
        elif kind is LoadOfflineDms:
            self.later(source, OfflineDms(()), request.conn_id)

    def login(self, node: str, cid: int, nick: str = "alice") -> None:
        self.nodes[node].connect(cid)
        self.nodes[node].do(cid, Join(nick, replay=True, login="correct horse"))
        self.run()

    def guest(self, node: str, cid: int, name: str) -> None:
        self.nodes[node].connect(cid)
        self.nodes[node].do(cid, Join(name, replay=True))
        self.run()

    def do(self, node: str, cid: int, command: Any) -> None:
        self.nodes[node].do(cid, command)
        self.run()


def _types(frames: list[dict], *kinds: str) -> list[dict]:
    return [f for f in frames if f["type"] in kinds]


def test_devices_on_two_processes_are_one_person_to_a_third() -> None:
    net = Net("A", "B", "C")
    a, b, c = net.nodes["A"], net.nodes["B"], net.nodes["C"]
    net.login("A", 1)  # the laptop, on A
    net.do("A", 1, JoinRoom("#dev"))
    net.guest("C", 3, "carol")
    net.do("C", 3, JoinRoom("#dev"))
    net.guest("B", 4, "dave")  # and dave on B, where the phone comes
    net.do("B", 4, JoinRoom("#dev"))
    c.take(3), b.take(4), a.take(1)
    net.login("B", 2)  # the phone, on B: in the laptop's rooms, as the same person
    assert {f["room"] for f in _types(b.take(2), "room_joined")} == {"#dev"}
    for frames in (c.take(3), b.take(4), a.take(1)):  # nobody hears a second join
        assert _types(frames, "user_joined", "user_left") == []
    assert b.hub.usernames("#dev") == ["alice", "carol", "dave"]
    assert c.hub.usernames("#dev") == ["alice", "carol", "dave"] and c.hub.state.rooms["#dev"].size() == 3
    assert set(net.claims["alice"]) == {"A", "B"}

    net.do("B", 2, Chat("from the phone", room="#dev"))
    laptop = _types(a.take(1), "chat")
    assert [(f["message"], f.get("own")) for f in laptop] == [("from the phone", True)]
    assert [f.get("own") for f in _types(c.take(3), "chat")] == [None]

    net.do("A", 1, JoinRoom("#ops"))  # a join on one is a join on the other
    assert [f["room"] for f in _types(b.take(2), "room_joined")] == ["#ops"]
    net.do("B", 2, LeaveRoom("#ops"))  # and a part
    assert [f["room"] for f in _types(a.take(1), "room_left")] == ["#ops"]
    assert "#ops" not in a.hub.state.sessions[1].rooms

    net.do("C", 3, Dm("alice", "psst"))  # to every device, on every process
    assert [f["message"] for f in _types(a.take(1), "dm")] == ["psst"]
    assert [f["message"] for f in _types(b.take(2), "dm")] == ["psst"]
    net.do("A", 1, Dm("carol", "hi"))  # and the sender's other devices show it as theirs
    assert [(f["message"], f.get("own")) for f in _types(b.take(2), "dm")] == [("hi", True)]
    assert [f["message"] for f in _types(c.take(3), "dm")] == ["psst", "hi"]  # its own copy, then alice's

    stamp = laptop[0]["timestamp"]
    net.do("A", 1, MarkRead("#dev", stamp))  # read on one: at once on the other
    assert [f["timestamp"] for f in _types(b.take(2), "read")] == [stamp]
    assert b.hub.state.read_marks["alice"]["#dev"] == round(stamp * 1_000_000)

    net.do("B", 2, Nick("alicia"))  # a rename on one is the other's
    assert a.hub.name_of(1) == "alicia" and a.hub.find("alicia") == 1
    assert c.hub.usernames("#dev") == ["alicia", "carol", "dave"]
    assert [f["to"] for f in _types(c.take(3), "nick")] == ["alicia"]  # once
    assert set(net.claims["alicia"]) == {"A", "B"} and not net.claims.get("alice")

    a.drop(1)  # one process's device gone: nobody hears of it
    net.run()
    assert _types(c.take(3), "user_left") == [] and c.hub.usernames("#dev") == ["alicia", "carol", "dave"]
    assert _types(b.take(4), "user_left") == []
    assert net.members["#dev"]["alicia"] == "B"  # B said so again after A's leave
    b.drop(2)
    net.run()
    for frames in (c.take(3), b.take(4)):  # the last device: now she has left, once
        assert [f["username"] for f in _types(frames, "user_left") if f["room"] == "#dev"] == ["alicia"]
    assert c.hub.usernames("#dev") == ["carol", "dave"] and not net.claims.get("alicia")


def test_a_process_that_dies_leaves_the_person_on_the_other() -> None:
    net = Net("A", "B", "C")
    a, c = net.nodes["A"], net.nodes["C"]
    net.login("A", 1)
    net.do("A", 1, JoinRoom("#dev"))
    net.guest("C", 3, "carol")
    net.do("C", 3, JoinRoom("#dev"))
    net.login("B", 2)
    c.take(3)
    c.hear(news.NodeGone("A"))  # A was killed: alice is still on B
    net.run()
    assert _types(c.take(3), "user_left") == [] and c.hub.usernames("#dev") == ["alice", "carol"]
    net.nodes["B"].hear(news.NodeGone("A"))
    net.run()
    assert net.members["#dev"]["alice"] == "B"
    c.hear(news.NodeGone("B"))  # and then B: now she has gone
    net.run()
    assert [f["username"] for f in _types(c.take(3), "user_left") if f["room"] == "#dev"] == ["alice"]
    assert a.hub.find("alice") == 1  # A's own hub knows nothing of its death, of course


def test_a_conversation_is_kept_on_each_process_of_the_person() -> None:
    net = Net("A", "B", "C")
    a, b, c = net.nodes["A"], net.nodes["B"], net.nodes["C"]
    net.login("A", 1)
    net.login("B", 2)
    net.login("C", 3, "bob")
    for node in (a, b, c):
        node.stored.clear()
    net.do("C", 3, Dm("alice", "from bob"))
    net.do("A", 1, Dm("bob", "from alice"))
    for node in (a, b):  # each process of alice's keeps both lines of the conversation, once
        kept = sorted((w.sender_key, w.recipient_key, w.dm.text) for w in node.stored if type(w) is SaveDm)
        assert kept == [("alice", "bob", "from alice"), ("bob", "alice", "from bob")]
    assert [(f["from"], f.get("own")) for f in _types(b.take(2), "dm")] == [("bob", None), ("alice", True)]


def test_a_new_device_on_another_process_takes_the_nick_the_person_has() -> None:
    net = Net("A", "B", "C")
    a, b, c = net.nodes["A"], net.nodes["B"], net.nodes["C"]
    net.login("A", 1)
    net.do("A", 1, JoinRoom("#dev"))
    net.guest("C", 3, "carol")
    net.do("C", 3, JoinRoom("#dev"))
    net.do("A", 1, Nick("alicia"))
    assert net.person["alice"] == {"A": "alicia"}
    net.login("A", 12)  # a second device on A claims the name the person has, not the account's
    assert a.hub.name_of(12) == "alicia" and not net.claims.get("alice") and net.person["alice"] == {"A": "alicia"}
    c.take(3)
    net.login("B", 2)  # logs in to alice: comes in as alicia, beside the laptop
    assert b.hub.name_of(2) == "alicia" and [f["username"] for f in _types(b.take(2), "welcome")] == ["alicia"]
    assert _types(c.take(3), "user_joined") == [] and c.hub.usernames("#dev") == ["alicia", "carol"]
    assert set(net.claims["alicia"]) == {"A", "B"} and not net.claims.get("alice")
    a.drop(1)
    a.drop(12)
    net.run()
    assert net.person["alice"] == {"B": "alicia"}


def test_a_line_to_a_person_on_three_devices_over_two_processes_is_three_deliveries() -> None:
    net = Net("A", "B", "C")
    a, b, c = net.nodes["A"], net.nodes["B"], net.nodes["C"]
    net.login("A", 1)
    net.do("A", 1, JoinRoom("#dev"))
    net.login("A", 11)  # a second device on A
    net.login("B", 2)
    net.guest("C", 3, "carol")
    net.do("C", 3, JoinRoom("#dev"))
    assert [f["room"] for f in _types(a.take(11), "room_joined")] == ["#dev"]
    for node, cid in ((a, 1), (b, 2), (c, 3)):
        node.take(cid)
    net.do("C", 3, Chat("to everyone", room="#dev"))
    said = {cid: len(_types(node.take(cid), "chat")) for node, cid in ((a, 1), (a, 11), (b, 2))}
    assert said == {1: 1, 11: 1, 2: 1}  # once a device, and A's two from the one broadcast
    net.do("A", 11, Chat("from the second", room="#dev"))  # and the person's own line: once on each other device
    mine = {cid: [f.get("own") for f in _types(node.take(cid), "chat")] for node, cid in ((a, 1), (b, 2))}
    assert mine == {1: [True], 2: [True]}
    assert [(f["message"], f.get("own")) for f in _types(c.take(3), "chat")] == [("from the second", None)]


def test_in_a_room_too_large_to_announce_the_person_stays_listed_as_their_devices_go() -> None:
    net = Net("A", "B", "C", quiet_above=2)
    a, c = net.nodes["A"], net.nodes["C"]
    net.login("A", 1)
    net.do("A", 1, JoinRoom("#big"))
    net.guest("A", 4, "dave")
    net.do("A", 4, JoinRoom("#big"))
    net.guest("C", 3, "carol")
    net.do("C", 3, JoinRoom("#big"))
    net.login("B", 2)
    assert a.hub.usernames("#big") == c.hub.usernames("#big") == ["alice", "carol", "dave"]
    a.drop(1)  # A's device goes: still in #big on B, as A and C both list
    net.run()
    assert a.hub.usernames("#big") == c.hub.usernames("#big") == ["alice", "carol", "dave"]
    net.nodes["B"].drop(2)
    net.run()
    assert a.hub.usernames("#big") == c.hub.usernames("#big") == ["carol", "dave"]
