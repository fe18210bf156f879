"""The running server's side of ``selchat account delete`` and the like (upkeep.py): each second
a look for requests in the database; each one found is made to the hub's state and once more in
the file, then marked applied, which the command waits for."""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import TYPE_CHECKING

from selchat import upkeep
from selchat.hooks import outgoing_of

if TYPE_CHECKING:
    from selchat.hub.effects import Effect
    from selchat.server.app import ChatServer

log = logging.getLogger("selchat.server")

# How often the database is asked: one indexed read of an empty answer (microseconds), and the
# command waits about this long for its confirmation.
POLL = 1.0


class UpkeepPoller:
    def __init__(self, server: ChatServer) -> None:
        self.server = server
        self.last = 0

    def start(self) -> None:
        db = self.server.store.db
        try:
            self.last = upkeep.newest(db)
        except sqlite3.Error as exc:
            log.error("cannot read the operator's requests in %s: %s", self.server.store.path, exc)
            return
        self.server.reactor.call_later(POLL, self.poll)

    def poll(self) -> None:
        server = self.server
        store = server.store
        try:
            found = upkeep.since(store.db, self.last)
            for request in found:
                store.commit()  # the server's own writes first, so the change covers them too
                upkeep.redo(store.db, request)
                self.last = request.id
                server.apply(self.apply(request))
        except sqlite3.Error as exc:  # busy past its timeout, or the disk: tried again next time
            log.warning("the operator's requests in %s: %s", store.path, exc)
        server.reactor.call_later(POLL, self.poll)

    def apply(self, request: upkeep.Request) -> list[Effect]:
        hub, now = self.server.hub.upkeep, self.server.wall_clock()
        if request.action == "delete_account":
            log.info("account %s deleted by the operator", request.subject)
            return hub.account_deleted(request.subject, now)
        if request.action == "rename_account":
            log.info("account %s renamed %s by the operator", request.subject, request.detail)
            return hub.account_renamed(request.subject, request.detail, now)
        if request.action in ("add_hook", "delete_hook"):
            made = request.action == "add_hook"
            log.info("webhook %s %s by the operator", request.subject, "made" if made else "deleted")
            if not made:
                return hub.hook_named(request.subject, False)
            hook = json.loads(request.detail)
            listens = outgoing_of(request.subject, hook["name"], hook["room"], hook.get("send_to"),
                                  json.dumps(hook.get("words") or []))
            return hub.hook_named(request.subject, listens or True)
        log.info("room %s deleted by the operator", request.subject)
        self.server.store.forget_room(request.subject)
        return hub.room_deleted(request.subject, now)
