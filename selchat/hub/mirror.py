"""Several processes sharing rooms through Redis (``--redis``): the only part of the hub that
knows there are other processes.

``Mirror`` answers the managers' hooks (see sharing.py) the shared way: names are claimed in
Redis before they are admitted, presence and renames are published, history and topics are
Redis's. ``Heard`` takes news from the other processes (selchat/news.py), entering through
``Hub.hear`` like any command, and keeps the mirror of who is where elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from selchat import news
from selchat import outbound as ev
from selchat.config import LOBBY_ROOM
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import Rooms
from selchat.hub.devices import each, everywhere
from selchat.hub.effects import Ask, Broadcast, Effect, Everywhere, Presence, Relay, Send, Store
from selchat.hub.lines import line_changed
from selchat.hub.messages import line_row, reacted
from selchat.hub.reads import merge_marks
from selchat.hub.roles import SERVICE
from selchat.hub.shares import also_at, gone_from, seen_at, unseen_at
from selchat.hub.state import LOBBY_KEY, Room, Session, State, room_key
from selchat.hub.twins import TwinMoves, Twins
from selchat.records import ClaimName, ListRooms, LoadTopic, MessageRow, ReleaseName, SaveDm
from selchat.roomrules import apply_change, apply_rules, rules_of, speech_checked


def copy_of(room: Room, m: ev.Message) -> MessageRow:
    """The row a line heard from Redis is kept as here, as the process that said it kept it: the
    search index covers what every process said in rooms this one hears."""
    return line_row(room.key, round(m.timestamp * 1_000_000), m.username, m.text, m.action, m.bot, m.tags)


class Mirror:
    """The managers' hooks when rooms are shared: see sharing.Sharing."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.linked = True  # the link to Redis is up, or being made (newcomers wait for rooms' tails)
        self.remote_away: dict[str, str] = {}  # other processes' users who are away: key -> message
        self.twins = Twins(state)  # people here who are on other processes too (hub/twins.py)

    def claim(self, session: Session, key: str, guest: bool, admit: Callable[[], list[Effect]],
              account: str | None = None, share: str | None = None, shown: str | None = None) -> list[Effect]:
        """A name is claimed in Redis before it is admitted here (an atomic claim, never
        check-then-set); ``admit`` runs when the claim comes back (``Names.claimed``), after an
        account's read markers from Redis. An account's name may be held by every process its
        devices are on (multiclient), each of which is then told of the others."""
        session.claiming = (key, guest, admit)
        config = self.state.config
        share = (share or (None if guest else account)) if config.multiclient and config.devices > 1 else None
        follow = share is not None and key == account  # the account's own name: or the one it has elsewhere
        shown = shown or self.state.accounts.get(key) or key
        return [Ask(ClaimName(session.conn_id, key, not guest, account, share, shown, follow))]

    def admitted(self, session: Session, twins: tuple[str, ...]) -> list[Effect]:
        return self.twins.admitted(session, twins)

    def entered(self, room: Room, name: str, now: float) -> list[Effect]:
        effects: list[Effect] = [Presence(room.key, ev.UserJoined(name, room.name, now))]
        if self.twins.nodes:
            conn_id = self.state.names.get(name.casefold())
            if conn_id is not None:
                effects.extend(self.twins.entered(self.state.sessions[conn_id], room))
        return effects

    def left(self, room: Room, event: ev.UserLeft) -> list[Effect]:
        return [Presence(room.key, event), *(self.twins.left(event) if self.twins.nodes else ())]

    def forgotten(self, name: str) -> list[Effect]:
        return [Ask(ReleaseName(name.casefold())), *self.twins.forgotten(name)]

    def copies(self, name: str, dm: ev.DirectMessage, skip: str | None = None) -> list[Effect]:
        return self.twins.copies(name, dm, skip)

    def mark_moved(self, session: Session, key: str, shown: str, at: int) -> list[Effect]:
        return self.twins.mark_moved(session, key, shown, at)

    def kept(self, room: Room, row: MessageRow) -> list[Effect]:
        # kept in the room's stream in Redis, with the turn's publication (backplane); and a copy
        # here, for search (store.py's copies), as for the lines heard from the other processes
        return [Store(row)] if self.state.config.search else []

    def topic_kept(self, room: Room, topic: str, by: str, now: float) -> list[Effect]:
        return []  # kept in Redis, with the turn's messages (backplane)

    def find_user(self, key: str) -> tuple[str, str] | None:
        for room in self.state.rooms.values():
            found = room.remote.get(key)
            if found is not None:
                return found
        return None

    def relay(self, node: str, event: ev.DirectMessage | ev.Kicked) -> list[Effect]:
        return [Relay(node, event)]

    def topic_question(self, session: Session, key: str, found: Room | None, name: str) -> list[Effect] | None:
        if self.linked and (found is None or not found.synced):  # Redis's to say
            return [Ask(LoadTopic(session.conn_id, key, name))]
        return None

    def check_rename(self, session: Session, new: str, old: str) -> None:
        if session.claiming is not None:
            raise ProtocolError(ErrorCode.USERNAME_TAKEN, "a rename is already being checked; wait for it")
        key = new.casefold()
        if key != old.casefold() and self.find_user(key) is not None:
            raise ProtocolError(ErrorCode.USERNAME_TAKEN, f"{new} is taken on another server; choose another name")

    def renamed(self, session: Session, old: str, new: str, event: ev.NickChanged, now: float) -> list[Effect]:
        """The old name is free everywhere, and the rooms' lists say the new one."""
        self.twins.renamed(old, new)
        effects: list[Effect] = [Ask(ReleaseName(old.casefold()))]
        for room in session.rooms.values():
            effects.append(Presence(room.key, ev.UserLeft(old, room.name, now), local=False))
            effects.append(Presence(room.key, ev.UserJoined(new, room.name, now), local=False))
        effects.append(Everywhere(event))
        return effects

    def away_changed(self, event: ev.AwayChanged) -> list[Effect]:
        return [Everywhere(event)]

    def list_rooms(self, session: Session, asked: Rooms) -> list[Effect] | None:
        return [Ask(ListRooms(session.conn_id, asked))] if self.linked else None  # every process's rooms

    def waits(self, room: Room) -> bool:
        return not room.synced and self.linked

    def away_in(self, room: Room) -> list[tuple[str, str]]:
        if not self.remote_away:
            return []
        away = self.remote_away
        return [(name, away[key]) for key, (name, _) in room.remote.items() if key in away]

    def whois(self, key: str, tag: str | None) -> ev.UserInfo | None:
        found = self.find_user(key)
        if found is None:
            return None
        rooms = tuple(r.name for r in self.state.rooms.values() if key in r.remote)
        # what the rooms here know of them; an account's name is only ever its own (guests are refused it)
        return ev.UserInfo(found[0], self.state.accounts.get(key), self.remote_away.get(key), rooms, "", 0.0,
                           found[0], found[0], tag)


class Heard:
    """News from the other processes, into effects for the users here."""

    def __init__(self, state: State, mirror: Mirror, let_in: Callable[[Room, Any], list[Effect]],
                 displace: Callable[[str, float], list[Effect]], kick_here: Callable[..., list[Effect]],
                 moves: TwinMoves) -> None:
        self.state = state
        self.mirror = mirror
        self.moves = moves
        self._let_in = let_in
        self._displace = displace
        self._kick_here = kick_here
        self.table: dict[type, Callable[[Any, float], list[Effect]]] = {
            news.Heard: self.heard, news.RoomSynced: self.synced, news.RoomUnsynced: self.unsynced,
            news.LinkChanged: self.link, news.NodeGone: self.node_gone, news.MembersFound: self.members,
            news.AccountsFound: self.accounts, news.MarksFound: self.marks,
        }
        self._events: dict[type, Callable[[str, Any, float], list[Effect]]] = {
            ev.Message: self.message, ev.UserJoined: self.joined, ev.UserLeft: self.left,
            ev.TopicChanged: self.topic, ev.DirectMessage: self.dm, ev.NickChanged: self.user,
            ev.AwayChanged: self.user, news.Displace: self.displaced, ev.ModeChanged: self.modes,
            ev.Kicked: self.kicked, ev.MessageChanged: self.changed, ev.TagMessage: self.tagged,
            news.Twin: moves.twin, news.TwinParted: moves.parted, news.MarkMoved: moves.mark_moved,
        }

    def heard(self, item: news.Heard, now: float) -> list[Effect]:
        effects: list[Effect] = []
        for event in item.events:
            effects.extend(self._events[type(event)](item.node, event, now))
        return effects

    def _room_of(self, event: Any) -> Room | None:
        return self.state.rooms.get(room_key(event.room))

    def message(self, node: str, m: ev.Message, now: float) -> list[Effect]:
        room = self._room_of(m)
        if room is None:
            return []
        room.recent.append(m)  # kept in Redis's stream by the process it came from
        room.total += 1
        copies = [Store(copy_of(room, m))] if self.state.config.search else []  # and here, for search
        if not room.members:
            return copies
        if room.also and m.username.casefold() in room.also:  # perhaps said by a member here, on another device
            mine = self._devices_in(room, m.username.casefold())
            if mine:
                broadcast = room.broadcast(m)
                broadcast.exclude = mine
                return [broadcast, Send(mine, replace(m, own=True)), *copies]
        return [room.broadcast(m), *copies]

    def _devices_in(self, room: Room, key: str) -> tuple[int, ...]:
        """The devices here of a member of the room (none: not a member here)."""
        conn_id = self.state.names.get(key)
        if conn_id is None or conn_id not in room.members:
            return ()
        return everywhere(self.state.sessions[conn_id])

    def changed(self, node: str, changed: ev.MessageChanged, now: float) -> list[Effect]:
        """A line edited or deleted on another process: so here, in memory, the copy and its index."""
        room = self._room_of(changed)
        if room is None:
            return []
        kept = line_changed(room, changed)
        return [kept, room.broadcast(changed)] if room.members else [kept]

    def tagged(self, node: str, tagged: ev.TagMessage, now: float) -> list[Effect]:
        """Typing or a reaction in a room, from another process (a reaction kept here too)."""
        room = self.state.rooms.get(room_key(tagged.target))
        if room is None:
            return []
        kept = reacted(room, tagged.sender, tagged.tags) if "react=" in tagged.tags else []
        return [room.broadcast(tagged), *kept] if room.members else kept

    def kicked(self, node: str, k: ev.Kicked, now: float) -> list[Effect]:
        """An operator on another process put out a member of this one (relayed here)."""
        room = self._room_of(k)
        conn_id = self.state.names.get(k.username.casefold())
        if room is None or conn_id is None or conn_id not in room.members:
            return []  # gone meanwhile
        return self._kick_here(room, conn_id, room.members[conn_id], k.by, k.reason, now)

    def modes(self, node: str, m: ev.ModeChanged, now: float) -> list[Effect]:
        """Another process's operator changed the room's modes, roles or bans: so here too."""
        room = self._room_of(m)
        if room is None:
            return []
        made = tuple((bool(on), str(letter), who) for on, letter, who in m.changes)
        for on, letter, who in made:
            apply_change(room, on, letter, who, m.by or "", m.timestamp)
        speech_checked(room)
        return [room.broadcast(ev.ModeChanged(m.room, m.by, made, m.timestamp))] if room.members else []

    def topic(self, node: str, t: ev.TopicChanged, now: float) -> list[Effect]:
        room = self._room_of(t)
        if room is None:
            return []
        room.topic, room.topic_by, room.topic_at = t.topic, t.by, t.timestamp
        return [room.broadcast(t)] if room.members else []

    def joined(self, node: str, j: ev.UserJoined, now: float) -> list[Effect]:
        """Someone came into a room on another process: heard of once, however many processes
        their devices bring them in on (hub/shares.py)."""
        room = self._room_of(j)
        if room is None:
            return []
        key = j.username.casefold()
        if self._devices_in(room, key):  # a member here, whose devices there came in too
            also_at(room, key, node)
            return []
        return self._told(room, j) if seen_at(room, key, j.username, node) else []

    def left(self, node: str, gone: ev.UserLeft, now: float) -> list[Effect]:
        """Someone left a room on another process: heard of when the person has left it (a part,
        a kick), or their last process has."""
        room = self._room_of(gone)
        if room is None:
            return []
        key = gone.username.casefold()
        if self._devices_in(room, key):  # a member here too: a part comes as its own news (hub/twins.py)
            return [] if gone.parted else self.moves.still_here(room, key, gone.username, node, now)
        if not (gone_from(room, key) if gone.parted else unseen_at(room, key, node)):
            return []
        if self.mirror.remote_away and self.mirror.find_user(gone.username.casefold()) is None:
            self.mirror.remote_away.pop(gone.username.casefold(), None)
        if gone.kicked_by is not None:  # put out, as the room here hears it
            return self._told(room, ev.Kicked(room.name, gone.username, gone.kicked_by, gone.reason, gone.timestamp))
        return self._told(room, replace(gone, again=False))

    def _told(self, room: Room, event: ev.Event) -> list[Effect]:
        if not room.members or room.quiet(self.state.config.quiet_above):
            return []
        return [room.broadcast(event)]

    def user(self, node: str, event: ev.NickChanged | ev.AwayChanged, now: float) -> list[Effect]:
        """Another process's user renamed or went away (or came back): told to the users here
        who share a room with them."""
        renamed = type(event) is ev.NickChanged
        old = event.old.casefold() if renamed else event.username.casefold()  # type: ignore[union-attr]
        mine = self.moves.twins.of(old, node)
        if mine is not None:  # the person is here too: their devices here follow
            return self.moves.renamed(mine, event, now) if renamed else self.moves.away(mine, event)  # type: ignore[arg-type]
        sharers: dict[int, None] = {}
        in_lobby = False
        for room in self.state.rooms.values():
            found = room.remote.get(old)
            if found is None:
                continue
            if renamed:
                del room.remote[old]
                room.remote[event.new.casefold()] = (event.new, found[1])  # type: ignore[union-attr]
                room.renamed(old, event.new)  # type: ignore[union-attr]
            in_lobby = in_lobby or room.key == LOBBY_KEY
            sharers.update(dict.fromkeys(room.members))
        away = self.mirror.remote_away
        if renamed:
            message = away.pop(old, None)
            if message is not None:
                away[event.new.casefold()] = message  # type: ignore[union-attr]
            event = replace(event, room=LOBBY_ROOM if in_lobby else None)  # type: ignore[arg-type]
        elif event.message:  # type: ignore[union-attr]
            away[old] = event.message  # type: ignore[union-attr]
        else:
            away.pop(old, None)
        return [Send(tuple(sharers), event)] if sharers else []

    def dm(self, node: str, dm: ev.DirectMessage, now: float) -> list[Effect]:
        """A private message relayed from another node to a user here (who may have left since:
        then, if it is an account's, it waits for the account's next login like any other)."""
        state = self.state
        key = (dm.sender if dm.own else dm.to).casefold()  # own: the sender's, from their device there
        target = state.names.get(key)
        if target is None:
            target = state.account_sessions.get(key)
        if target is None:
            if key in state.accounts and not (dm.own or dm.mirrored):  # a copy is the other process's to keep
                return [Store(SaveDm(dm.sender.casefold(), key, replace(dm, offline=True), delivered=False))]
            return []
        recipient = state.sessions[target]
        shown = replace(dm, mirrored=False) if dm.own else replace(dm, away=recipient.away, mirrored=False)
        effects = each(everywhere(recipient), shown)  # on each of its devices
        # between accounts: in this process's file too, so its devices have the conversation
        sender = recipient.account if dm.own else (dm.account or "").casefold()
        to = dm.to.casefold() if dm.own else recipient.account
        if sender in state.accounts and to in state.accounts:
            effects.append(Store(SaveDm(sender, to, replace(shown, own=False, away=None), delivered=True)))  # type: ignore[arg-type]
        return effects

    def displaced(self, node: str, item: news.Displace, now: float) -> list[Effect]:
        return self._displace(item.account, now)

    def synced(self, item: news.RoomSynced, now: float) -> list[Effect]:
        """A room's tail and topic as Redis has them: the waiting newcomers' replays."""
        room = self.state.rooms.get(item.key)
        if room is None:
            return []
        missed = self._missed(room, item.recent)
        room.recent.clear()
        room.recent.extend(item.recent)
        room.recent.extend(item.own_after)  # the newcomers were in the room for these: not replayed
        room.total = item.total
        if item.topic is not None:
            room.topic, room.topic_by, room.topic_at = item.topic
        if item.rules is not None:  # another process's word on its modes, bans and founder
            apply_rules(room, item.rules)
            speech_checked(room)
        room.synced = True
        copies: list[Effect] = [Store(copy_of(room, m)) for m in item.recent] if self.state.config.search else []
        return [*copies, *missed, *self._let_in(room, item.recent), *self.settle(room, now)]

    @staticmethod
    def _missed(room: Room, tail: list[ev.Message]) -> list[Effect]:
        """A room caught up again (a new link) while its members here stayed: the lines of its
        tail they never had, which arrived while the tail was read and so came only in it, are
        theirs now (newcomers waiting get the whole replay instead)."""
        if not room.recent or not room.members:
            return []
        since = room.recent[0].timestamp
        had = {(m.timestamp, m.username) for m in room.recent}
        waiting = tuple(conn_id for conn_id, _ in room.awaiting)
        return [Broadcast(room.roster, len(room.roster), m, waiting) for m in tail
                if m.timestamp > since and (m.timestamp, m.username) not in had]

    def settle(self, room: Room, now: float) -> list[Effect]:
        """One made operator of a room this process thought empty keeps it only if the room was:
        once Redis says others were in it first, the role goes back (ChanServ's -o)."""
        key = room.provisional
        if key is None or not (room.remote or room.synced):
            return []
        room.provisional = None
        if not room.remote or key not in room.ops:  # nobody else: it is theirs, as other processes learn
            return [Store(rules_of(room))] if key in room.ops else []
        name = room.ops.pop(key)
        return [room.broadcast(ev.ModeChanged(room.name, SERVICE, ((False, "o", name),), now))]

    def unsynced(self, item: news.RoomUnsynced, now: float) -> list[Effect]:
        room = self.state.rooms.get(item.key)
        if room is not None:
            room.synced = False
        return []

    def link(self, item: news.LinkChanged, now: float) -> list[Effect]:
        """The link to Redis came or went: while it is away, newcomers get what this process has."""
        self.mirror.linked = item.up
        effects: list[Effect] = []
        if not item.up:
            for room in self.state.rooms.values():
                if room.awaiting:
                    effects.extend(self._let_in(room, None))
        return effects

    def members(self, item: news.MembersFound, now: float) -> list[Effect]:
        room = self.state.room(item.key, item.name)
        for member, node in item.members:
            key = member.casefold()
            if self._devices_in(room, key):  # a member here too, on another process
                also_at(room, key, node)
            else:
                seen_at(room, key, member, node)
        return self.settle(room, now)

    def accounts(self, item: news.AccountsFound, now: float) -> list[Effect]:
        """Accounts registered on other processes: their names are the accounts' here too."""
        for key, name, _, _ in item.accounts:
            self.state.accounts.setdefault(key, name)
        return []

    def marks(self, item: news.MarksFound, now: float) -> list[Effect]:
        return merge_marks(self.state, item.account, item.marks)

    def node_gone(self, item: news.NodeGone, now: float) -> list[Effect]:
        """A process stopped answering (killed, or cut off): its users have left, but for those
        on another process too."""
        self.moves.twins.node_gone(item.node)
        effects: list[Effect] = []
        for room in list(self.state.rooms.values()):
            shared = [key for key, nodes in room.also.items() if item.node in nodes] if room.also else []
            lost = [key for key, (_, where) in room.remote.items() if where == item.node]
            quiet = room.quiet(self.state.config.quiet_above)
            for key in shared:
                if self._devices_in(room, key):
                    name = room.members[self.state.names[key]]
                    effects.extend(self.moves.still_here(room, key, name, item.node, now))
                else:
                    unseen_at(room, key, item.node)
            for key in lost:
                name, _ = room.remote[key]
                if not unseen_at(room, key, item.node):
                    continue  # still on another process
                self.mirror.remote_away.pop(key, None)
                left = ev.UserLeft(name, room.name, now, "server lost")
                effects.append(Presence(room.key, left, local=False, node=item.node))  # out of the shared list too
                if room.members and not quiet:
                    effects.append(room.broadcast(left))
        return effects
