"""One load, step by step: start the worker processes, wait for their clients to join, start the
login storm if asked, let them send, collect their reports, and stop every process it started.

The server's CPU and memory are read at the steps between (``Probe``), so the figures of joining,
idling and sending are told apart."""

from __future__ import annotations

import math
import multiprocessing
import time
from typing import Any

from selchat.bench.load import _login_storm, _worker
from selchat.bench.procs import StartedServer, _proc_cpu, _proc_peak_rss_mb, _proc_rss_mb
from selchat.bench.spec import JOIN_TIMEOUT, SLOT, BenchError, Spec
from selchat.fdlimit import raise_open_file_limit


def receive(proc: Any, pipe: Any, timeout: float, progress: Any = None, shared: Any = None,
            workers: int = 0) -> dict[str, Any]:
    """A worker's next report; BenchError if it died or went silent."""
    deadline = time.monotonic() + timeout
    while not pipe.poll(0.5):
        if not proc.is_alive():
            raise BenchError(f"a load-generator worker died (exit status {proc.exitcode})")
        if time.monotonic() > deadline:
            raise BenchError(f"a load-generator worker did not report within {timeout:g} s")
        if progress:
            progress(shared, workers, time.monotonic())
    return pipe.recv()


def check_open_files(spec: Spec, workers: int) -> None:
    """Every worker holds its share of the sockets: say so before connecting if they cannot fit."""
    per_worker = math.ceil(spec.clients / workers) + 64
    soft = raise_open_file_limit(spec.clients + 256)
    if soft is not None and soft < per_worker:
        raise BenchError(f"{spec.clients} clients over {workers} worker{'s' if workers > 1 else ''} need "
                         f"{per_worker} open files each, and the limit is {soft}: raise it (ulimit -n) or "
                         "add --workers")


class Probe:
    """Readings of the server's CPU time and memory, by name, when the bench started it."""

    def __init__(self, server: StartedServer | None) -> None:
        self.pid = server.proc.pid if server is not None else None
        self.cpu: dict[str, float] = {}
        self.rss_mb: dict[str, float] = {}

    def read(self, step: str, rss: bool = False) -> None:
        if self.pid is None:
            return
        cpu = _proc_cpu(self.pid)
        if cpu is not None:
            self.cpu[step] = cpu
        if rss and (mb := _proc_rss_mb(self.pid)) is not None:
            self.rss_mb[step] = mb

    def spent(self, first: str, last: str) -> float | None:
        if first in self.cpu and last in self.cpu:
            return self.cpu[last] - self.cpu[first]
        return None

    def peak_rss_mb(self) -> float | None:
        return _proc_peak_rss_mb(self.pid) if self.pid is not None else None


class Run:
    """The worker processes of one load and their reports."""

    def __init__(self, spec: Spec, senders: int, probe: Probe) -> None:
        self.spec, self.senders, self.probe = spec, senders, probe
        self.workers = spec.workers
        self.context = multiprocessing.get_context("spawn")
        self.shared = self.context.RawArray("q", self.workers * SLOT)
        self.go, self.close = self.context.Event(), self.context.Event()
        self.procs: list[Any] = []
        self.pipes: list[Any] = []
        self.storm: Any = None
        self.storm_pipe: Any = None
        self.joins: list[dict[str, Any]] = []
        self.results: list[dict[str, Any]] = []
        self.limits: dict[str, Any] = {}
        self.join_seconds = 0.0
        self.logins_done = 0

    def run(self, progress: Any = None) -> None:
        """Every step; whatever fails, no process it started outlives it."""
        try:
            started = time.monotonic()
            self.start_workers()
            self.wait_joined()
            self.join_seconds = time.monotonic() - started
            self.probe.read("joined", rss=True)
            self.start_storm()
            self.probe.read("before")
            self.go.set()
            timeout = self.spec.duration + self.spec.drain + 60
            self.results = [receive(proc, pipe, timeout, progress, self.shared, self.workers)
                            for proc, pipe in zip(self.procs, self.pipes, strict=True)]
            self.probe.read("after")
            self.stop_storm()
        except BaseException:
            for proc in [*self.procs, self.storm]:
                if proc is not None:
                    proc.kill()  # a worker may be waiting for a start that will never come
            raise
        finally:
            self.stop()

    def start_workers(self) -> None:
        spec, workers = self.spec, self.workers
        share, extra = divmod(spec.clients, workers)
        sender_share, sender_extra = divmod(self.senders, workers)
        first = 0
        for w in range(workers):
            count = share + (1 if w < extra else 0)
            my_senders = sender_share + (1 if w < sender_extra else 0)
            parent, child = self.context.Pipe()
            proc = self.context.Process(target=_worker, daemon=True, args=(
                w, spec, first, count, my_senders, self.shared, child, self.go, self.close))
            proc.start()
            child.close()
            self.procs.append(proc)
            self.pipes.append(parent)
            first += count

    def wait_joined(self) -> None:
        for proc, pipe in zip(self.procs, self.pipes, strict=True):
            message = receive(proc, pipe, JOIN_TIMEOUT + 30)
            if "error" in message:
                raise BenchError(message["error"])
            self.limits = self.limits or message.get("limits") or {}
            self.joins.append(message)

    def start_storm(self) -> None:
        if not self.spec.logins:
            return
        self.storm_pipe, child = self.context.Pipe()
        self.storm = self.context.Process(target=_login_storm, args=(self.spec, child, self.close), daemon=True)
        self.storm.start()
        child.close()
        receive(self.storm, self.storm_pipe, JOIN_TIMEOUT)  # its clients are connected

    def stop_storm(self) -> None:
        if self.storm is not None:
            self.close.set()
            self.logins_done = receive(self.storm, self.storm_pipe, 30)["logins"]
            self.storm_pipe.close()

    def stop(self) -> None:
        self.close.set()
        for proc in [*self.procs, *([self.storm] if self.storm is not None else [])]:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for pipe in self.pipes:
            pipe.close()
