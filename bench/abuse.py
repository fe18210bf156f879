"""`make abuse`: every abuse of issue 21 replayed against a running server with its default limits,
while well-behaved clients (one each in JSON, IRC, text mode and WebSocket) chat throughout and
count every message they should have had.

Each case (bench/abuse_down.py, abuse_forge.py, abuse_squat.py) tries one abuse and says in a line
what the server did; each attacker comes from an address of its own in 127.0.0.0/8, so that the
per-address limits the cases test never touch the well-behaved clients on 127.0.0.1. The report
is a Markdown table (docs/reliability.md holds the last one).

    python bench/abuse.py                        # `make abuse`
    python bench/abuse.py --markdown out.md      # the report written to a file as well
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import abuse_down
import abuse_forge
import abuse_squat
from abuseclients import Failed
from soak import Soak, rss_mb

from selchat import __version__
from selchat.bench import BenchError, StartedServer


class Target:
    """The server under abuse, as the cases see it."""

    def __init__(self, server: StartedServer) -> None:
        self.server = server
        self.address = ("127.0.0.1", server.port)
        self._sources = itertools.count()

    def source(self) -> str:
        """A loopback address no other client of this run has used (127.0.1.2 onwards)."""
        n = next(self._sources)
        return f"127.0.{n // 200 + 1}.{n % 200 + 2}"

    def rss_mb(self) -> float:
        return rss_mb(self.server.proc.pid)

    def log(self) -> str:
        """The server's log so far, read without moving the file offset the server writes at."""
        fd = self.server.log.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode("utf-8", "replace")


def run_cases(t: Target, cases: list[tuple[str, str, Any]]) -> list[dict[str, Any]]:
    results = []
    for item, title, case in cases:
        started = time.monotonic()
        try:
            outcome, ok = case(t), True
        except Failed as exc:
            outcome, ok = f"FAILED: {exc}", False
        except Exception as exc:  # a case's own bug: said, and the run goes on
            outcome, ok = f"FAILED: {type(exc).__name__}: {exc} ({traceback.extract_tb(exc.__traceback__)[-1]})", False
        results.append({"item": item, "abuse": title, "outcome": outcome, "ok": ok,
                        "seconds": round(time.monotonic() - started, 1)})
        print(f"  {item:>3} {'ok' if ok else 'FAILED'} {title}: {outcome}", file=sys.stderr)
    return results


def wait_ready(soak: Soak, alive: Any) -> None:
    end = time.monotonic() + 20
    while not soak.chatters_ready():
        if time.monotonic() > end or not alive():
            raise BenchError("the well-behaved clients did not all join within 20 s")
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="selchat-abuse-"))
    db = workdir / "abuse.db"
    command = [sys.executable, "-m", "selchat", "serve", "--port", "0", "--db", str(db)]
    server = StartedServer(command)
    t = Target(server)
    alive = lambda: server.proc.poll() is None  # noqa: E731
    soak = Soak(t.address, clients=4, well_behaved=4, seed=1, mix="soak", chat_interval=0.5, garbage_pause=0.2)
    chatting = threading.Thread(target=soak.run, args=(3600.0, alive), daemon=True)
    started = time.monotonic()
    chatting.start()
    try:
        wait_ready(soak, alive)
        cases = sorted(abuse_down.CASES + abuse_forge.CASES + abuse_squat.CASES, key=lambda c: int(c[0]))
        results = run_cases(t, cases)
        time.sleep(1.0)  # the chatters' last messages in flight
        soak.halted = True
        chatting.join(30)
    finally:
        log = server.stop()
    results += run_cases(t, [("19", "a database with damaged pages",
                              lambda _: abuse_squat.damaged_database(db, workdir))])
    report = format_report(results, soak, log, time.monotonic() - started, "selchat serve --port 0 --db FILE")
    print(report)
    if args.markdown:
        args.markdown.write_text(report + "\n")
    return 0 if all(r["ok"] for r in results) and soak.report.ok and "Traceback" not in log else 1


def format_report(results: list[dict[str, Any]], soak: Soak, log: str, seconds: float, command: str) -> str:
    r = soak.report
    lines = [
        f"`make abuse` on {time.strftime('%Y-%m-%d')}, selchat {__version__}, against `{command}` "
        "(every limit at its default):",
        "",
        "| item | abuse | what the server did | |",
        "|---|---|---|---|",
        *[f"| {x['item']} | {x['abuse']} | {x['outcome']} | {'ok' if x['ok'] else '**FAILED**'} |" for x in results],
        "",
        f"Meanwhile four well-behaved clients on 127.0.0.1, one each in JSON, IRC, text mode and WebSocket, "
        f"chatted for {seconds:.0f} s: {r.messages_sent:,} messages sent, {r.wb_received:,} of the "
        f"{r.wb_expected:,} receipts due arrived; lost {r.wb_lost}, duplicated {r.wb_duplicated}, "
        f"disconnected {r.wb_dropped}; latency p99 {r.wb_p99_ms} ms, max {r.wb_max_ms} ms. "
        f"The server logged {log.count('Traceback')} tracebacks.",
    ]
    lines += [f"- problem: {p}" for p in r.problems]
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"abuse: {exc}", file=sys.stderr)
        sys.exit(1)
