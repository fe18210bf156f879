"""Search: the query checked here (query.py, pure), the look-up in the worker (search.py), the
hits said back; only in the rooms the asker is in now and its own conversations."""

from __future__ import annotations

from selchat import outbound as ev
from selchat.errors import ErrorCode, ProtocolError
from selchat.events import Search
from selchat.hub.effects import Ask, Effect, Send
from selchat.hub.state import Session, State
from selchat.query import PAGE_MAX, QueryError, parse
from selchat.records import SearchFound, SearchRequest


class SearchManager:
    def __init__(self, state: State) -> None:
        self.state = state

    def search(self, session: Session, cmd: Search, now: float) -> list[Effect]:
        state = self.state
        if not state.config.search:
            raise ProtocolError(ErrorCode.SEARCH_OFF, "this server keeps no search index")
        state.spend_token(session, now)
        try:
            query = parse(cmd.query)
        except QueryError as exc:
            raise ProtocolError(ErrorCode.BAD_SEARCH, str(exc)) from None
        rooms = {key: room.name for key, room in session.rooms.items()}
        limit = max(1, min(cmd.limit, PAGE_MAX))
        return [Ask(SearchRequest(session.conn_id, query, rooms, session.account, limit, cmd.before, cmd.query,
                                  cmd.tag))]

    def found(self, session: Session, result: SearchFound, now: float) -> list[Effect]:
        if result.failed is not None:
            return [Send((session.conn_id,), ev.SearchResults(result.text, (), False, result.tag, result.failed))]
        return [Send((session.conn_id,), ev.SearchResults(result.text, result.hits, result.more, result.tag))]
