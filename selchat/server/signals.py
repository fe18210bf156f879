"""SIGINT, SIGTERM and SIGHUP, noticed by the loop: a handler only records the signal, and the
wake-up socket makes select() return so the loop acts on it in its own thread."""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Callable
from typing import Any

from selchat.reactor import Reactor

log = logging.getLogger("selchat.server")


class Signals:
    def __init__(self, reactor: Reactor, reload: Callable[[], None], shutdown: Callable[[], None]) -> None:
        self.reactor = reactor
        self._reload = reload
        self._shutdown = shutdown
        self.wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._signalled: list[int] = []
        self._old_wakeup = -1
        self._old_handlers: dict[int, Any] = {}

    def install(self) -> None:
        self.wake_r, self._wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._old_wakeup = signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        self._old_handlers = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        }
        self.reactor.add_reader(self.wake_r, self._readable)

    def restore(self) -> None:
        signal.set_wakeup_fd(self._old_wakeup)
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        for sock in (self.wake_r, self._wake_w):
            if sock is not None:
                sock.close()

    def _on_signal(self, signum: int, frame: Any) -> None:
        self._signalled.append(signum)

    def _readable(self) -> None:
        try:
            while self.wake_r is not None and self.wake_r.recv(512):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        while self._signalled:
            signum = self._signalled.pop()
            log.info("received %s", signal.Signals(signum).name)
            if signum == signal.SIGHUP:
                self._reload()
            else:
                self._shutdown()
