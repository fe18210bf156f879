"""`make bench-ceiling`: the server's ceiling beside Redis pub/sub's, measured with an independent C
load generator (../shared/loadgen, which `selchat bench` is not: its own Python generator runs out
of CPU first). 200 clients in one room, 128 messages in flight, 64-byte messages, rounds
alternating: selchat with history in a file, Redis pub/sub (200 subscribers, 4 publishers), and
with ``--before DIR`` an older checkout (its first version, say) started with the flags it knows.
Then p99 at 200 messages a second for selchat and Redis. Written to bench/results/ceiling.md.

The loadgen is a measuring instrument, not a dependency: without ``--loadgen`` (or ``$LOADGEN``)
this says how to build it and stops.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))
from run import machine  # noqa: E402

from selchat.bench.redisd import answered, free_port  # noqa: E402

JSON_LOAD = ["-l", '{"type":"join","username":"u%d"}\\n', "-R", "welcome",
             "-m", '{"type":"chat","message":"T=%lu %P"}\\n', "-S", "93"]
REDIS_LOAD = ["-P", "4", "-l", "SUBSCRIBE room\\r\\n", "-R", "subscribe",
              "-m", "PUBLISH room T=%lu%P\\r\\n", "-S", "79"]


def selchat_server(checkout: Path, port: int, db: str, today: bool) -> list[str]:
    """`selchat serve` from a checkout; an older one gets only the flags every version has."""
    cmd = [sys.executable, "-m", "selchat", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--rate-limit", "0", "--max-clients", "1000", "--log-level", "WARNING"]
    if today:
        cmd += ["--max-per-address", "0", "--connects-per-minute", "0", "--max-output", str(256 << 20), "--db", db]
    return cmd


def wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while not answered("127.0.0.1", port) and time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server on port {port} exited: {proc.returncode}")
        time.sleep(0.05)


def one(loadgen: str, server: str, checkout: Path, rate: float | None, duration: float) -> dict:
    """One row: the server started on a free port, the loadgen's JSON summary, the server stopped."""
    port = free_port("127.0.0.1")
    with tempfile.TemporaryDirectory() as tmp:
        if server == "redis":
            cmd = [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1",
                   "--save", "", "--appendonly", "no", "--client-output-buffer-limit", "pubsub 0 0 0"]
            env = None
        else:
            cmd = selchat_server(checkout, port, str(Path(tmp) / "history.db"), server == "selchat")
            env = {**os.environ, "PYTHONPATH": str(checkout)}
        proc = subprocess.Popen(cmd, cwd=checkout if server != "redis" else None, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_listening(port, proc)
            load = REDIS_LOAD if server == "redis" else JSON_LOAD
            pace = ["-r", f"{rate:g}"] if rate else ["-w", "1000000", "--max-inflight", "128"]
            done = subprocess.run([loadgen, "-p", str(port), "-n", "200", "-d", f"{duration:g}", *pace, *load,
                                   "--server-pid", str(proc.pid)], capture_output=True, text=True,
                                  timeout=duration + 120, stdin=subprocess.DEVNULL)
            return json.loads(done.stdout) if done.returncode == 0 else {"failed": done.stderr.strip()[:200]}
        finally:
            proc.terminate()
            proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loadgen", default=os.environ.get("LOADGEN"), help="the built C load generator")
    parser.add_argument("--before", help="an older checkout (the first version: git worktree add DIR 3479bba)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    if not args.loadgen or not Path(args.loadgen).exists():
        print("build the C load generator first: cc -O2 -o /tmp/loadgen ../shared/loadgen/loadgen.c -lm, "
              "then --loadgen /tmp/loadgen", file=sys.stderr)
        return 2
    checkouts = {"selchat": ROOT, "redis": ROOT}
    if args.before:
        checkouts["first version"] = Path(args.before).resolve()
    rows: dict[str, list[dict]] = {name: [] for name in checkouts}
    latency: dict[str, list[dict]] = {"selchat": [], "redis": []}
    for n in range(args.rounds):
        print(f"round {n + 1} of {args.rounds}", flush=True)
        for name, checkout in checkouts.items():
            rows[name].append(one(args.loadgen, name, checkout, None, args.duration))
        for name in latency:
            latency[name].append(one(args.loadgen, name, ROOT, 200, args.duration))
    write(rows, latency, args)
    return 0


def write(rows: dict[str, list[dict]], latency: dict[str, list[dict]], args: argparse.Namespace) -> None:
    def ok(results: list[dict]) -> list[dict]:
        return [r for r in results if "failed" not in r]

    def median(results: list[dict], key: str) -> float:
        values = [r[key] for r in ok(results)]
        return statistics.median(values) if values else float("nan")

    redis = median(rows["redis"], "deliveries_per_s")
    lines = ["# The server's ceiling beside Redis pub/sub", "",
             f"{datetime.date.today()}, {machine()}; `make bench-ceiling` (the C loadgen, 200 clients in one room, "
             f"128 in flight, {args.duration:g} s a row, {args.rounds} rounds alternating).", "",
             "| server | rounds (M deliveries/s) | median | against Redis | server CPU % | missing |",
             "|---|---|---|---|---|---|"]
    for name, results in rows.items():
        rates = ", ".join(f"{r['deliveries_per_s'] / 1e6:.2f}" for r in ok(results))
        lines.append(f"| {name} | {rates} | {median(results, 'deliveries_per_s') / 1e6:.2f} "
                     f"| {median(results, 'deliveries_per_s') / redis:.2f}x | {median(results, 'server_cpu_pct'):.0f} "
                     f"| {sum(r['missing'] for r in ok(results))} |")
    lines += ["", "| at 200 messages/s | p50 ms, each round | p99 ms, each round | median p99 |", "|---|---|---|---|"]
    for name, results in latency.items():
        p50s = ", ".join(f"{r['p50_ms']:.2f}" for r in ok(results))
        p99s = ", ".join(f"{r['p99_ms']:.2f}" for r in ok(results))
        lines.append(f"| {name} | {p50s} | {p99s} | {median(results, 'p99_ms'):.2f} |")
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ceiling.md").write_text(text)
    (RESULTS / "ceiling.json").write_text(json.dumps({"saturating": rows, "at_200": latency}, indent=1) + "\n")
    print()
    print(text)


if __name__ == "__main__":
    sys.exit(main())
