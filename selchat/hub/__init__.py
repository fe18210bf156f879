"""Users, names, rooms, topics, accounts and routing: commands in, effects out.

A package of managers over one state, as ergo's server composes a client, channel and account
manager: ``core`` (the Hub and its dispatch tables), ``state`` (sessions, rooms, registries),
``names``, ``accounts``, ``rooms``, ``messages``, ``queries``, and ``sharing``/``mirror`` (one
process alone, or several through Redis). See docs/architecture.md.
"""

from selchat.hub.core import Hub
from selchat.hub.effects import Ask, Broadcast, Close, Effect, Everywhere, Fail, Presence, Relay, Send, Store
from selchat.hub.state import LOBBY_KEY, Room, Session, room_key, valid_name

__all__ = [
           "LOBBY_KEY",
           "Ask",
           "Broadcast",
           "Close",
           "Effect",
           "Everywhere",
           "Fail",
           "Hub",
           "Presence",
           "Relay",
           "Room",
           "Send",
           "Session",
           "Store",
           "room_key",
           "valid_name",
]
