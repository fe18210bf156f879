"""`selchat serve --workers N`: N server processes on one port, sharing rooms through Redis.

Each worker is an ordinary `selchat serve --redis ...` that binds the same address with
SO_REUSEPORT, so the kernel spreads new connections over them (nginx's ``reuseport``, HAProxy's
``nbproc`` did the same). The supervisor serves nobody itself: it holds the port (a bound socket
that does not listen, so it never takes a connection), starts the workers, restarts one that dies
(waiting longer each time one dies young), and on Ctrl-C or SIGTERM stops them all.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from selchat.logsink import flush_logs

log = logging.getLogger("selchat.supervisor")

# A worker that dies within this many seconds of starting died young: the next start waits
# longer (up to RESTART_MOST), so a worker that cannot start does not spin.
YOUNG = 10.0
RESTART_FIRST = 0.5
RESTART_MOST = 30.0
STOP_GRACE = 10.0  # seconds the workers have to stop cleanly before they are killed


class Supervisor:
    def __init__(self, count: int, host: str, port: int, args: list[str]) -> None:
        self.count = count
        self.host = host
        self.args = args  # serve's arguments for every worker, --host, --port and --workers left out
        self.holder = _hold(host, port)
        self.port = self.holder.getsockname()[1]
        self.workers: list[subprocess.Popen[str] | None] = [None] * count
        self.started_at = [0.0] * count
        self.delay = [RESTART_FIRST] * count
        self.due = [0.0] * count  # when a dead worker may start again
        self.stopping = False

    def command(self) -> list[str]:
        return [sys.executable, "-m", "selchat", "serve", *self.args, "--host", self.host, "--port",
                str(self.port), "--reuse-port"]

    def start(self, index: int) -> None:
        proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "selchat listening on ..." once it is serving
        if "listening on" not in line:
            log.error("worker %d did not start: %s", index + 1, line.strip() or f"exit status {proc.wait()}")
        else:
            log.info("worker %d is pid %d", index + 1, proc.pid)
        self.workers[index] = proc
        self.started_at[index] = time.monotonic()

    def run(self) -> int:
        def stop(signum: int, frame: Any) -> None:
            self.stopping = True

        def reload(signum: int, frame: Any) -> None:  # kill -HUP on the supervisor reaches every worker
            for proc in self.workers:
                if proc is not None and proc.poll() is None:
                    proc.send_signal(signal.SIGHUP)

        old = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        old[signal.SIGHUP] = signal.signal(signal.SIGHUP, reload)
        try:
            for i in range(self.count):
                self.start(i)
            shown = f"[{self.host}]" if ":" in self.host else self.host
            print(f"selchat listening on {shown}:{self.port} ({self.count} workers)", flush=True)
            while not self.stopping:
                self._watch()
                flush_logs()
                time.sleep(0.2)  # the supervisor's only work: a glance at its children
            return self._stop_all()
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
            self.holder.close()

    def _watch(self) -> None:
        now = time.monotonic()
        for i, proc in enumerate(self.workers):
            if proc is not None and proc.poll() is None:
                continue
            if proc is not None:
                status = proc.returncode
                young = now - self.started_at[i] < YOUNG
                self.delay[i] = min(RESTART_MOST, self.delay[i] * 2) if young else RESTART_FIRST
                self.due[i] = now + self.delay[i]
                log.warning("worker %d (pid %d) exited with status %s; restarting in %.1f s",
                            i + 1, proc.pid, status, self.delay[i])
                if proc.stdout is not None:
                    proc.stdout.close()
                self.workers[i] = None
            if now >= self.due[i]:
                self.start(i)

    def _stop_all(self) -> int:
        log.info("stopping %d workers", self.count)
        alive = [p for p in self.workers if p is not None and p.poll() is None]
        for proc in alive:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for proc in alive:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for proc in self.workers:
            if proc is not None and proc.stdout is not None:
                proc.stdout.close()
        return 0


def _hold(host: str, port: int) -> socket.socket:
    """Bind (not listen) with SO_REUSEPORT: it keeps the port, and a port of 0 becomes a real one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock
