"""`make bench-shared`: what sharing rooms through Redis costs, side by side in one run.

Three set-ups, each loaded by the same `selchat bench` (saturating, every client in the lobby):
one selchat process alone, one with `--redis`, and two with `--redis` with the clients spread
over both. Deliveries are counted at the clients; CPU is summed over every selchat process and
redis-server, read from /proc before and after the run. The figure that matters is CPU seconds
per million deliveries: with `--redis` it should stay close to the process alone, so that N cores
give close to N times the deliveries. Written to bench/results/shared.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
TICK = os.sysconf("SC_CLK_TCK")
SERVE = ["--host", "127.0.0.1", "--port", "0", "--rate-limit", "0", "--max-clients", "4000",
         "--max-per-address", "0", "--connects-per-minute", "0",  # every client is 127.0.0.1
         "--max-output", str(256 << 20), "--handshake-timeout", "60", "--ping-interval", "600",
         "--log-level", "WARNING", "--db", ":memory:"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Proc:
    def __init__(self, args: list[str], listening: str | None = None) -> None:
        self.log = open(os.devnull, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL,
                                     text=True)
        self.port = 0
        if listening:
            assert self.proc.stdout is not None
            line = self.proc.stdout.readline()
            match = re.search(listening, line)
            if not match:
                raise SystemExit(f"did not start: {' '.join(args)}: {line!r}")
            self.port = int(match.group(1))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def start_redis(redis_server: str) -> Proc:
    port = free_port()
    proc = Proc([redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--daemonize", "no"])
    proc.port = port
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc
        except OSError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not answer")


def start_selchat(redis_url: str | None) -> Proc:
    args = [sys.executable, "-m", "selchat", "serve", *SERVE, *(["--redis", redis_url] if redis_url else [])]
    proc = Proc(args, r"listening on 127\.0\.0\.1:(\d+)")
    time.sleep(0.5)  # the Redis links come up (a bench that starts earlier would only join the wait)
    return proc


def run(label: str, servers: list[Proc], redis: Proc | None, clients: int, duration: float,
        load: list[str]) -> dict:
    ports = [a for s in servers for a in ("--port", str(s.port))]
    pids = [s.proc.pid for s in servers] + ([redis.proc.pid] if redis else [])
    before = [cpu(pid) for pid in pids]
    done = subprocess.run([sys.executable, "-m", "selchat", "bench", "--host", "127.0.0.1", *ports,
                           "--clients", str(clients), "--duration", f"{duration:g}", "--workers", "1", *load,
                           "--json"],
                          capture_output=True, text=True, timeout=duration + 120, stdin=subprocess.DEVNULL)
    after = [cpu(pid) for pid in pids]
    if done.returncode != 0:
        return {"setup": label, "failed": done.stderr.strip()[:300]}
    result = json.loads(done.stdout)
    spent = [b - a for a, b in zip(before, after, strict=True)]
    selchat_cpu = sum(spent[: len(servers)])
    redis_cpu = spent[-1] if redis else 0.0
    delivered = result["delivered"]
    row = {"setup": label, "load": " ".join(load) or "saturating", "processes": len(servers), "clients": clients,
           "delivered": delivered,
           "missing": result["missing"], "deliveries_per_s": result["deliveries_per_s"],
           "selchat_cpu_s": round(selchat_cpu, 2), "redis_cpu_s": round(redis_cpu, 2),
           "cpu_per_million": round((selchat_cpu + redis_cpu) / max(1e-9, delivered / 1e6), 3),
           "generator_cpu_s": result["generator_cpu_s"]}
    print(f"  {label:24s} {row['load']:12s} {row['deliveries_per_s'] / 1e6:5.2f}M deliveries/s, "
          f"{row['cpu_per_million']:.3f} CPU s per million (selchat {selchat_cpu:.1f} s, redis {redis_cpu:.1f} s),"
          f" missing {row['missing']}", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=4000.0,
                        help="messages a second for the fixed-load rows (every set-up can carry it)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise SystemExit("redis-server is not installed (Debian: apt-get install redis-server)")
    rows: list[dict] = []
    print(f"bench-shared: {args.clients} clients, {args.duration:g} s a row, {args.rounds} rounds")
    loads = [[], ["--rate", f"{args.rate:g}"]]
    for _ in range(args.rounds):
        for load in loads:
            alone = start_selchat(None)
            try:
                rows.append(run("one process", [alone], None, args.clients, args.duration, load))
            finally:
                alone.stop()
            for count in (1, 2):
                redis = start_redis(redis_server)
                servers = []
                try:
                    servers = [start_selchat(f"redis://127.0.0.1:{redis.port}/0") for _ in range(count)]
                    label = "one process, --redis" if count == 1 else "two processes, --redis"
                    rows.append(run(label, servers, redis, args.clients, args.duration, load))
                finally:
                    for s in servers:
                        s.stop()
                    redis.stop()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "shared.json").write_text(json.dumps(rows, indent=1))
    lines = ["# What sharing rooms through Redis costs", "",
             f"`make bench-shared` (`python bench/shared.py`): {args.clients} clients in the lobby, saturating "
             f"(128 messages in flight) and at {args.rate:g} messages a second, {args.duration:g} s a row, "
             f"{args.rounds} rounds; CPU summed over the selchat processes and redis-server, deliveries "
             "counted at the clients.", "",
             "| set-up | load | deliveries/s | CPU s per million deliveries | selchat CPU | redis CPU | missing |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "failed" in r:
            lines.append(f"| {r['setup']} | failed: {r['failed'][:100]} | | | | | |")
            continue
        lines.append(f"| {r['setup']} | {r['load']} | {r['deliveries_per_s'] / 1e6:.2f}M | {r['cpu_per_million']:.3f} "
                     f"| {r['selchat_cpu_s']:.1f} s | {r['redis_cpu_s']:.1f} s | {r['missing']:,} |")
    lines += ["", "## Medians", ""]
    for load in ("saturating", f"--rate {args.rate:g}"):
        base = None
        for label in ("one process", "one process, --redis", "two processes, --redis"):
            ok = [r for r in rows if r.get("setup") == label and r.get("load") == load and "failed" not in r]
            if not ok:
                continue
            cpu_pm = sorted(r["cpu_per_million"] for r in ok)[len(ok) // 2]
            rate = sorted(r["deliveries_per_s"] for r in ok)[len(ok) // 2]
            base = base or cpu_pm
            lines.append(f"- {load}, {label}: {cpu_pm:.3f} CPU s per million deliveries ({cpu_pm / base:.2f}x), "
                         f"{rate / 1e6:.2f}M deliveries/s")
    (args.out / "shared.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out / 'shared.md'}")


if __name__ == "__main__":
    main()
