"""Names claimed across processes: a name is this node's once a script inside Redis says so,
so two processes can never admit the same name even when their claims race."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from selchat.backplane import keys
from selchat.backplane.resp import Reply, RespLink
from selchat.news import Displace
from selchat.reactor import Reactor

if TYPE_CHECKING:
    from selchat.backplane.federation import Holdings

log = logging.getLogger("selchat.backplane")

# A name claim names its node, and a claim whose node's liveness key has lapsed is free (so a
# killed process's names are free again within the node's TTL); the claim's own expiry only
# collects what a killed process leaves behind, and its owner renews it well before.
CLAIM_TTL = 3600
# A login to an account whose session is on another node: that node ends it, and the claim on
# the name is tried again after DISPLACE_WAIT, doubling, DISPLACE_TRIES times.
DISPLACE_WAIT = 0.05
DISPLACE_TRIES = 6

# done(ok, twins, name): the claim's answer, with the other nodes that hold the name for the same
# account, and the name claimed instead when the account is under another one elsewhere
Claimed = Callable[[bool, tuple[str, ...], "str | None"], None]


class Claims:
    """This node's claims on names, over the command link."""

    def __init__(self, cmd: RespLink, reactor: Reactor, node: str, holdings: Holdings) -> None:
        self.cmd = cmd
        self.reactor = reactor
        self.node = node
        self.holdings = holdings

    def claim(self, name_key: str, done: Claimed, displace: bool = False, share: str = "", shown: str = "",
              follow: bool = False) -> None:
        """Claim a name for this node; ``done(True, (), None)`` also when Redis is away (local rules
        then). ``share`` (an account): the name may be held by other nodes for that same account,
        which ``done`` is told of (the person's devices there, hub/twins.py); with ``follow``, a name
        the account has on another node is claimed instead, and ``done`` is told which.
        ``displace`` (an account's login): the node holding the name otherwise is told to end its
        session of the account, and the claim is tried again until that node has let the name go."""
        tries = 0

        def answered(reply: Reply) -> None:
            nonlocal tries
            if isinstance(reply, Exception):  # Redis said no to the script itself: local rules, and say why
                if not isinstance(reply, ConnectionError):
                    log.error("claiming a name in Redis failed: %s", reply)
                done(True, (), None)
            elif isinstance(reply, list) and len(reply) == 2 and reply[0] == b"as" and isinstance(reply[1], bytes):
                self._follow(reply[1].decode(), name_key, done, displace, share, shown)
            elif isinstance(reply, list):
                done(True, tuple(node.decode() for node in reply if isinstance(node, bytes)), None)
            elif not displace or not isinstance(reply, bytes) or tries == DISPLACE_TRIES:
                done(False, (), None)
            else:
                if tries == 0:
                    self.cmd.send(("PUBLISH", keys.node_channel(reply.decode()),
                                   b"\n" + keys.encode_events(self.node, [Displace(name_key)])))
                tries += 1
                self.reactor.call_later(DISPLACE_WAIT * 2 ** (tries - 1), again)

        def again() -> None:
            if not self.cmd.send(self.args(name_key, share, shown, follow), answered):
                done(True, (), None)
        again()

    def _follow(self, name: str, name_key: str, done: Claimed, displace: bool, share: str, shown: str) -> None:
        """The account is ``name`` on another node: that name is claimed beside it, or (taken
        meanwhile) the one asked for after all."""
        def claimed(ok: bool, twins: tuple[str, ...], _: str | None) -> None:
            if ok:
                done(True, twins, name)
            else:
                self.claim(name_key, done, displace, share, shown)
        self.claim(name.casefold(), claimed, False, share, name)

    def args(self, name_key: str, share: str = "", shown: str = "", follow: bool = False) -> tuple[Any, ...]:
        return ("EVAL", keys.CLAIM, 1, keys.name_key(name_key), self.node, CLAIM_TTL, keys.NODE_KEY, share,
                shown or name_key, "1" if follow else "", keys.PERSON)

    def release(self, name_key: str) -> None:
        self.cmd.send(("EVAL", keys.RELEASE, 1, keys.name_key(name_key), self.node, keys.PERSON, name_key))

    def renew(self) -> None:
        """Every name this process holds, claimed again (a new link, or the claims' renewal)."""
        for name_key, share, shown in self.holdings.local_names():
            self.cmd.send(self.args(name_key, share, shown))
