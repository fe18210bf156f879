"""Property tests (hypothesis): the codec under any chunking, and the chat core's invariants.

HYPOTHESIS_PROFILE=long runs many more examples than CI does.
"""

from __future__ import annotations

import itertools
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from selchat.codec import FrameError, LineDecoder, encode
from selchat.config import ServerConfig
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import Chat, Dm, Join, Quit, Users
from selchat.hub import Broadcast, Close, Hub, Store
from selchat.outbound import Message, UserJoined

settings.register_profile("ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
frames = st.dictionaries(st.text(max_size=10), json_values, max_size=5)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def decode_all(chunks: list[bytes], max_frame: int = 16384) -> list:
    decoder = LineDecoder(max_frame)
    out: list = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    return [(r.code, r.message) if isinstance(r, FrameError) else r for r in out]


@given(st.lists(frames, max_size=8), st.lists(st.integers(min_value=0), max_size=12))
def test_frames_survive_any_chunking(items: list[dict], cuts: list[int]) -> None:
    stream = b"".join(encode(f) for f in items)
    assert decode_all(chunked(stream, cuts)) == items


@given(st.binary(max_size=600), st.lists(st.integers(min_value=0), max_size=12), st.integers(8, 64))
def test_any_bytes_decode_the_same_however_split_and_never_raise(
    data: bytes, cuts: list[int], max_frame: int
) -> None:
    whole = decode_all([data], max_frame)
    assert decode_all(chunked(data, cuts), max_frame) == whole
    assert decode_all([bytes([b]) for b in data], max_frame) == whole


@given(st.lists(st.integers(1, 300), min_size=1, max_size=6), st.lists(st.integers(min_value=0), max_size=8))
def test_each_oversized_line_is_reported_once(lengths: list[int], cuts: list[int]) -> None:
    max_frame = 100
    stream = b"".join(b"x" * n + b"\n" for n in lengths)
    results = decode_all(chunked(stream, cuts), max_frame)
    too_large = [r for r in results if isinstance(r, tuple) and r[0] is ErrorCode.FRAME_TOO_LARGE]
    assert len(too_large) == sum(1 for n in lengths if n > max_frame)
    assert len(results) == len(lengths)  # every other line is a bad_frame (x... is not JSON)


names = st.sampled_from(["alice", "Alice", "bob", "BOB", "carol", "x" * 33, "bad name", "d.e-f_1"])
messages = st.sampled_from(["hi", "", "  ", "x" * 50, "émoji 😀"])


class HubMachine(RuleBasedStateMachine):
    """Random sequences of connects, joins, chats, private messages and leaves."""

    connections = Bundle("connections")

    def __init__(self) -> None:
        super().__init__()
        self.hub = Hub(ServerConfig(max_message=40, rate_limit=0))
        self.next_id = 1
        self.open: set[int] = set()
        self.joined: dict[int, str] = {}
        self.now = 0.0

    def check_effects(self, effects: list, actor: int) -> None:
        for effect in effects:
            if isinstance(effect, Close):
                assert effect.conn_id == actor
                continue
            if isinstance(effect, Store):
                continue
            targets = set(effect.audience if isinstance(effect, Broadcast) else effect.targets)
            if isinstance(effect, Broadcast):
                targets.discard(effect.exclude)
                assert effect.exclude is None or effect.exclude == actor
                if type(effect.event) in (Message, UserJoined):
                    assert actor not in targets  # no echo to the sender
            # nothing is ever addressed to a closed connection or, except replies, an unjoined one
            assert targets <= self.open
            assert targets <= set(self.joined) | {actor}

    @rule(target=connections)
    def connect(self) -> int:
        cid = self.next_id
        self.next_id += 1
        self.hub.connect(cid, self.now)
        self.open.add(cid)
        return cid

    def handle(self, cid: int, command: object) -> list | None:
        self.now += 0.01
        try:
            effects = self.hub.handle(cid, command, self.now)  # type: ignore[arg-type]
        except ProtocolError:
            return None
        return effects

    @rule(cid=connections, name=names)
    def join(self, cid: int, name: str) -> None:
        if cid not in self.open:
            return
        effects = self.handle(cid, Join(name))
        if effects is not None:
            assert cid not in self.joined
            assert name.casefold() not in {n.casefold() for n in self.joined.values()}
            self.joined[cid] = name
            self.check_effects(effects, cid)
        else:
            assert (
                cid in self.joined
                or name.casefold() in {n.casefold() for n in self.joined.values()}
                or not (1 <= len(name) <= 32 and " " not in name)
            )

    @rule(cid=connections, text=messages)
    def chat(self, cid: int, text: str) -> None:
        if cid in self.open:
            effects = self.handle(cid, Chat(text))
            assert (effects is not None) == (cid in self.joined and bool(text.strip()) and len(text) <= 40)
            if effects is not None:
                self.check_effects(effects, cid)

    @rule(cid=connections, to=names, text=messages)
    def dm(self, cid: int, to: str, text: str) -> None:
        if cid in self.open:
            effects = self.handle(cid, Dm(to, text))
            if effects is not None:
                self.check_effects(effects, cid)

    @rule(cid=connections)
    def users(self, cid: int) -> None:
        if cid in self.open:
            effects = self.handle(cid, Users())
            if effects is not None:
                self.check_effects(effects, cid)
                assert set(effects[0].event.users) == set(self.joined.values())

    @rule(cid=consumes(connections), polite=st.booleans())
    def leave(self, cid: int, polite: bool) -> None:
        if cid not in self.open:
            return
        if polite:
            effects = self.handle(cid, Quit())
            assert effects == [Close(cid, "quit")]
        self.open.discard(cid)
        was_joined = self.joined.pop(cid, None)
        effects = self.hub.disconnect(cid, self.now, None if polite else "connection lost")
        self.check_effects(effects, cid)
        assert bool(effects) == (was_joined is not None)

    @invariant()
    def names_unique_and_everyone_in_the_lobby(self) -> None:
        names = self.hub.usernames()
        assert len({n.casefold() for n in names}) == len(names)
        assert sorted(names, key=str.casefold) == sorted(self.joined.values(), key=str.casefold)
        assert set(self.hub.connections()) == self.open
        for cid, name in self.joined.items():
            assert self.hub.find(name) == cid
            assert self.hub.name_of(cid) == name


HubMachine.TestCase.settings = settings(stateful_step_count=40, deadline=None)  # examples: the profile's
TestHub = HubMachine.TestCase
