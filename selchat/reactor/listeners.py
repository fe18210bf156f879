"""The listening sockets: each with the handler its connections get, whether they count against
the client limit, and its TLS; accepting in bounded batches, and pausing when out of descriptors."""

from __future__ import annotations

import errno
import logging
import socket
import ssl
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from selchat.reactor.conn import DISCONNECTED, Handler
from selchat.reactor.events import EventLoop

log = logging.getLogger("selchat.reactor")

# accept() failures that mean "out of descriptors or memory": pause accepting instead of spinning.
ACCEPT_EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
ACCEPT_PAUSE = 0.5
ACCEPTS_PER_TURN = 256
# When a turn's batch was not enough and the kernel's accept queue is this full, another batch
# follows in the same turn: a full queue drops a connect, and its client waits a second for
# TCP's retry (three, if dropped again) where a longer turn costs everyone else milliseconds.
# Bounded by the backlog itself, as Redis bounds a call's accepts (MAX_ACCEPTS_PER_CALL, 1000).
QUEUE_FULL_SHARE = 0.25
TCP_INFO_QUEUE = struct.Struct("II")  # tcp_info's tcpi_unacked, tcpi_sacked: a listener's queue and backlog
TCP_INFO_QUEUE_AT = 24
TCP_INFO_QUEUE_END = TCP_INFO_QUEUE_AT + TCP_INFO_QUEUE.size


@dataclass(slots=True)
class Listener:
    sock: socket.socket
    handler: Handler
    counted: bool  # its connections count against max_conns (the metrics port's do not)
    tls: ssl.SSLContext | None


Admit = Callable[[socket.socket, Any, Listener], None]


class Listeners:
    """Every listening socket of the loop; ``admit`` takes what is accepted."""

    def __init__(self, loop: EventLoop, admit: Admit) -> None:
        self.loop = loop
        self.admit = admit
        self.all: list[Listener] = []
        self.paused = False

    def listen(self, host: str, port: int, handler: Handler, *, backlog: int = socket.SOMAXCONN,
               counted: bool = True, tls: ssl.SSLContext | None = None, reuse_port: bool = False) -> tuple[str, int]:
        """Bind and listen; returns the bound (host, port). Raises OSError as bind() does."""
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, type_, proto, _, addr = infos[0]
        sock = socket.socket(family, type_, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:  # several processes on one port (serve --workers): the kernel spreads connections
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(addr)
            sock.listen(backlog)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        listener = Listener(sock, handler, counted, tls)
        self.all.append(listener)
        if not self.paused:
            self.loop.add_reader(sock, partial(self.accept, listener))
        bound = sock.getsockname()
        return bound[0], bound[1]

    def accept(self, listener: Listener) -> None:
        accepted = 0
        while self.accept_batch(listener):
            accepted += ACCEPTS_PER_TURN
            queued, backlog = accept_queue(listener.sock)
            if queued <= backlog * QUEUE_FULL_SHARE or accepted >= backlog:
                return

    def accept_batch(self, listener: Listener) -> bool:
        """Accept up to a batch; True when the batch was full (more may be waiting)."""
        for _ in range(ACCEPTS_PER_TURN):
            try:
                sock, addr = listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return False
            except OSError as exc:
                if exc.errno in ACCEPT_EXHAUSTED:
                    log.error("accept failed (%s); pausing accepts for %.1fs", exc, ACCEPT_PAUSE)
                    self.pause(ACCEPT_PAUSE)
                    return False
                if exc.errno in DISCONNECTED or exc.errno == errno.EPROTO:
                    continue
                raise
            self.admit(sock, addr, listener)
        return not self.paused

    def pause(self, delay: float) -> None:
        if self.paused:
            return
        self.paused = True
        for listener in self.all:
            self.loop.remove_reader(listener.sock)
        self.loop.call_later(delay, self.resume)

    def resume(self) -> None:
        if not self.paused or self.loop.stop_at is not None:
            return
        self.paused = False
        for listener in self.all:
            self.loop.add_reader(listener.sock, partial(self.accept, listener))

    def close(self) -> None:
        for listener in self.all:
            if not self.paused:
                self.loop.remove_reader(listener.sock)
            listener.sock.close()
        self.all = []
        self.paused = True


def accept_queue(sock: socket.socket) -> tuple[int, int]:
    """(connections waiting in the kernel's accept queue, its size) of a listening socket: Linux's
    TCP_INFO tells a listener both, as ``ss -lt`` shows them. (0, 0) where it cannot be asked."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_QUEUE_END)
    except (OSError, AttributeError):  # not TCP (a Unix socket), or no TCP_INFO on this system
        return 0, 0
    if len(info) < TCP_INFO_QUEUE_END:
        return 0, 0
    queued, backlog = TCP_INFO_QUEUE.unpack_from(info, TCP_INFO_QUEUE_AT)
    return queued, backlog
