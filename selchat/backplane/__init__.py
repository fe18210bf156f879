"""Several selchat processes sharing rooms through Redis (``selchat serve --redis URL``), in two
layers: ``resp`` is a RESP client that knows nothing of chat (URLs, commands, one connection
with its greeting, reply FIFO and redialling); ``federation`` is the chat above it (publishing
a turn's events, names, presence, liveness, catching a room up), with ``keys`` (what lives in
Redis and the scripts that run there) and ``reads`` (history pages, topics, room lists, kept
private messages).

What crosses processes:

- A room's events (messages, joins, leaves, topics) are published once to ``selchat:room:KEY``,
  serialized once, and every process with members in that room is subscribed to it. A process
  knows its own publications by its node id and does not deliver them twice. One publishing
  connection keeps each sender's messages in order.
- Names are claimed atomically (a Lua script over ``selchat:name:KEY``), so two processes can
  never admit the same name, even when the claims race; each process renews its claims, and a
  claim lapses when its process dies.
- Presence: who is in which room, on which node, is a hash per room (``selchat:members:KEY``),
  read when a process first subscribes to the room. Each node keeps ``selchat:node:NODE`` alive
  with a short expiry; when a node's key is gone its users are told to have left.
- History and topics live in Redis (``shared_history``): a turn's messages are appended to the
  room's stream by the same script that publishes them, and a process that subscribes to a room
  reads the stream's tail and the topic once the subscription holds, before its newcomers get
  their replay.

Redis going away is not a crash: local delivery goes on, the links are retried with back-off,
and on their return the process subscribes again and registers its names and members anew.
"""

from selchat.backplane.federation import Backplane, Holdings, RoomSync
from selchat.backplane.keys import decode_events, encode_events
from selchat.backplane.resp import RedisTarget, RedisUrlError, RespLink, command, parse_url, tls_context

__all__ = ["Backplane", "Holdings", "RedisTarget", "RedisUrlError", "RespLink", "RoomSync", "command",
           "decode_events", "encode_events", "parse_url", "tls_context"]
