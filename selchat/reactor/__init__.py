"""The event loop, in parts as Redis splits ae.c from networking.c: ``events`` (the selector and
timers), ``listeners`` (accepting), ``output`` (queues, limits, writes), ``tls`` (the TLS
transport), ``conn`` (a connection and its ``Handler``), and ``core`` (the ``Reactor`` that
joins them). It knows bytes and connections, never chat or JSON."""

from selchat.reactor.conn import Conn, Handler, close_quietly, format_peer
from selchat.reactor.core import Reactor
from selchat.reactor.events import EVENT_READ, EVENT_WRITE, EventLoop, Timer

__all__ = ["EVENT_READ", "EVENT_WRITE", "Conn", "EventLoop", "Handler", "Reactor", "Timer", "close_quietly",
           "format_peer"]
