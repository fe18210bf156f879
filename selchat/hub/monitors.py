"""Who watches whose name (IRCv3 MONITOR): a watcher hears when a name comes online or goes,
by name only, never by mask (the specification's privacy: no following someone through a change
of name). With extended-monitor, watchers also hear a watched person's away, real-name and account
changes, as if they shared a room. Local to this process: with --redis, watching covers the
names on this process only.
"""

from __future__ import annotations

from selchat import outbound as ev
from selchat.config import MONITOR_MAX, NAME_MAX
from selchat.events import Monitor
from selchat.hub.effects import Effect, Send
from selchat.hub.state import Session, State, valid_name


class MonitorManager:
    def __init__(self, state: State) -> None:
        self.state = state
        self.watchers: dict[str, set[int]] = {}  # name key -> the connections watching it
        self.watching: dict[int, set[str]] = {}  # connection -> the name keys it watches

    # -- the command -------------------------------------------------------------------------------
    def monitor(self, session: Session, cmd: Monitor, now: float) -> list[Effect]:
        me = (session.conn_id,)
        mine = self.watching.setdefault(session.conn_id, set())
        if cmd.action == "+":
            added, full = [], []
            for name in dict.fromkeys(cmd.names):
                if not valid_name(name) or len(name) > NAME_MAX:
                    continue  # a mask or no name at all: never watched
                if len(mine) >= MONITOR_MAX and name.casefold() not in mine:
                    full.append(name)
                    continue
                mine.add(name.casefold())
                self.watchers.setdefault(name.casefold(), set()).add(session.conn_id)
                added.append(name)
            effects: list[Effect] = [Send(me, self._status(added))] if added else []
            if full:
                effects.append(Send(me, ev.MonitorFull(MONITOR_MAX, tuple(full))))
            return effects
        if cmd.action == "-":
            for name in cmd.names:
                self._unwatch(session.conn_id, name.casefold())
            return []
        if cmd.action == "C":
            self.forget(session.conn_id)
            return []
        shown = sorted(mine)
        if cmd.action == "L":
            return [Send(me, ev.MonitorList(tuple(shown)))]
        return [Send(me, self._status(shown))]  # "S": where each one stands

    def _status(self, names: list[str]) -> ev.Monitored:
        state = self.state
        online = []
        for name in names:
            conn_id = state.names.get(name.casefold())
            if conn_id is not None:
                online.append(state.sessions[conn_id].name or name)
        offline = [n for n in names if n.casefold() not in state.names]
        return ev.Monitored(tuple(online), tuple(offline))

    def _unwatch(self, conn_id: int, key: str) -> None:
        self.watching.get(conn_id, set()).discard(key)
        watchers = self.watchers.get(key)
        if watchers is not None:
            watchers.discard(conn_id)
            if not watchers:
                del self.watchers[key]

    # -- what the rest of the hub tells it --------------------------------------------------------
    def forget(self, conn_id: int) -> None:
        """A connection is gone (or cleared its list): it watches nobody."""
        for key in self.watching.pop(conn_id, set()):
            self._unwatch(conn_id, key)

    def online(self, name: str) -> list[Effect]:
        watchers = self.watchers.get(name.casefold())
        return [Send(tuple(watchers), ev.Monitored((name,), ()))] if watchers else []

    def offline(self, name: str) -> list[Effect]:
        watchers = self.watchers.get(name.casefold())
        return [Send(tuple(watchers), ev.Monitored((), (name,)))] if watchers else []

    def beyond(self, session: Session, event: ev.Event, sharers: tuple[int, ...]) -> list[Effect]:
        """extended-monitor: watchers who share no room hear a change as if they did."""
        assert session.name is not None
        watchers = self.watchers.get(session.name.casefold())
        if not watchers:
            return []
        shared = set(sharers)
        others = tuple(cid for cid in watchers if cid not in shared)
        return [Send(others, ev.Watched(event))] if others else []
