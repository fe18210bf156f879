"""`selchat bench`: a load generator for protocol v1 chat servers.

Clients are spread over worker processes, each a selectors loop, so the generator can use every
core the server does not. Workers publish their sent and delivered counts in a shared array
(one writer per slot, no lock), so each can see how many messages are in flight in total: a
message is in flight until every other client has received it, and deliveries / (clients - 1)
messages are complete. Deliveries are counted without decoding: ``bytes.count`` of the chat
frame's prefix over whole lines. Only sampled messages, at a few receivers per worker, have
their send time (carried in the message text) parsed for latency.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import sys
import tempfile
import time
from array import array
from dataclasses import asdict
from typing import Any

from selchat.bench.load import make_login_accounts
from selchat.bench.procs import StartedServer, raise_fd_limit, selchat_server_command
from selchat.bench.run import Probe, Run, check_open_files
from selchat.bench.spec import DELIVERED, PACE_SHARE, SENT, SLOT, BenchError, Result, Spec


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def run_bench(spec: Spec, *, server: StartedServer | None = None, label: str = "",
              progress: Any = None) -> Result:
    """Run one load; the caller owns ``server`` (if any) and stops it."""
    senders = spec.clients if spec.senders is None else min(spec.senders, spec.clients)
    spec.workers = max(1, min(spec.workers, spec.clients))
    spec.flood_control = server is None  # the servers the bench starts run with --rate-limit 0
    check_open_files(spec, spec.workers)
    probe = Probe(server)
    probe.read("start")
    run = Run(spec, senders, probe)
    run.run(progress)
    result = _report(spec, label, senders, run)
    _server_figures(result, spec, server, probe)
    result.bottleneck = _bottleneck(result)
    return result


def _sorted(blobs: list[bytes]) -> list[float]:
    values = array("d")
    for blob in blobs:
        values.frombytes(blob)
    return sorted(values)


def _report(spec: Spec, label: str, senders: int, run: Run) -> Result:
    """The generator's side of the figures, from the workers' reports."""
    results, joins = run.results, run.joins
    elapsed = max(1e-9, max(r["finished"] for r in results) - min(r["start"] for r in results))
    sent = sum(r["sent"] for r in results)
    delivered = sum(r["delivered"] for r in results)
    expected = sum(r["expected"] for r in results)
    latencies = _sorted([r["latencies"] for r in results])
    waits = _sorted([j["waits"] for j in joins])
    return Result(
        server=label, clients=spec.clients, senders=senders, workers=spec.workers, size=spec.size,
        window=None if spec.rate else spec.window, rate=spec.rate, duration=spec.duration,
        joined=spec.clients, join_seconds=round(run.join_seconds, 3),
        sent=sent, sent_per_s=round(sent / min(elapsed, spec.duration), 1),
        delivered=delivered, expected=expected, missing=max(0, expected - delivered),
        deliveries_per_s=round(delivered / elapsed, 1),
        latency_ms={
            name: round(_percentile(latencies, q) * 1000, 3)
            for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
        } if latencies else {},
        samples=len(latencies),
        errors=sum(r["errors"] for r in results),
        drops=sum(r["drops"] + r["left"] for r in results),
        elapsed=round(elapsed, 3),
        generator_cpu_s=round(sum(r["cpu"] for r in results), 2),
        rooms=spec.rooms, db=spec.db, logins=spec.logins, logins_done=run.logins_done,
        protocol=spec.protocol,
        refused=sum(r["refused"] for r in results),
        rate_limit=run.limits.get("rate_limit"), burst=run.limits.get("burst"),
        connect_join_s=round(max(j["welcomed_at"] for j in joins) - min(j["connected_at"] for j in joins), 3),
        welcome_ms={name: round(_percentile(waits, q) * 1000, 1)
                    for name, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0))} if waits else {},
    )


def _server_figures(result: Result, spec: Spec, server: StartedServer | None, probe: Probe) -> None:
    """The server's side, when the bench started it: CPU while joining and sending, memory."""
    if server is None:
        return
    join_cpu = probe.spent("start", "joined")
    if join_cpu is not None:
        result.join_cpu_s = round(join_cpu, 2)
    idle_rss = probe.rss_mb.get("joined")
    if idle_rss is not None:
        result.server_idle_rss_mb = round(idle_rss, 1)
        if server.base_rss_mb is not None:
            result.rss_per_client_kb = round((idle_rss - server.base_rss_mb) * 1024 / spec.clients, 2)
    sending = probe.spent("before", "after")
    if sending is not None:
        result.server_cpu_s = round(sending, 2)
        peak = probe.peak_rss_mb()
        result.server_peak_rss_mb = round(peak, 1) if peak is not None else None


def _bottleneck(r: Result) -> str:
    """Which side ran out of CPU: the server's one thread, or the generator's workers."""
    gen = r.generator_cpu_s / (r.elapsed * r.workers)
    if r.refused:
        return "the server's flood control (see refused)"
    if r.server_cpu_s is None:
        return "generator" if gen > 0.9 else "not the generator (the server's CPU is not measured)"
    srv = r.server_cpu_s / r.elapsed
    if srv > 0.9 and gen > 0.9:
        return "both (each at its CPU limit)"
    if srv > 0.9:
        return "server"
    if gen > 0.9:
        return "generator"
    return "neither (bound by the window or rate)"


def progress_printer(spec: Spec, started: float) -> Any:
    last = [0.0, 0, 0]

    def show(shared: Any, workers: int, now: float) -> None:
        sent = sum(shared[i * SLOT + SENT] for i in range(workers))
        delivered = sum(shared[i * SLOT + DELIVERED] for i in range(workers))
        dt = now - last[0] if last[0] else 0.5
        rate = (delivered - last[2]) / dt if dt > 0 else 0
        last[:] = [now, sent, delivered]
        sys.stderr.write(
            f"\r  {min(now - started, spec.duration):5.1f}s  sent {sent:,}  delivered {delivered:,}"
            f"  ({rate / 1e6:.2f}M deliveries/s)   "
        )
        sys.stderr.flush()

    return show


def format_table(r: Result) -> str:
    lat = r.latency_ms
    mode = f"rate {r.rate:g} msg/s" if r.rate else f"window {r.window}"
    rows = [
        f"selchat bench: {r.clients} clients ({r.senders} sending), {r.size}-byte messages, {mode}, "
        f"{r.duration:g} s, {r.workers} worker{'s' if r.workers != 1 else ''}",
        f"server: {r.server}",
        f"  clients joined     {r.joined:,} in {r.join_seconds:.2f} s"
        + (f" (first connect to last welcome {r.connect_join_s:.2f} s; each welcomed after p50 "
           f"{r.welcome_ms['p50']:.1f} ms, p99 {r.welcome_ms['p99']:.1f}, max {r.welcome_ms['max']:.1f})"
           if r.welcome_ms else ""),
        f"  messages sent      {r.sent:,}  ({r.sent_per_s:,.0f}/s)",
        f"  deliveries         {r.delivered:,}  ({r.deliveries_per_s / 1e6:.2f}M/s)"
        f"  expected {r.expected:,}, missing {r.missing:,}",
        "  latency (ms)       "
        + (f"p50 {lat['p50']:.2f}  p90 {lat['p90']:.2f}  p99 {lat['p99']:.2f}  max {lat['max']:.2f}"
           f"  ({r.samples:,} samples)" if lat else "no samples"),
        f"  errors / drops     {r.errors:,} / {r.drops:,}",
    ]
    if r.rate_limit:
        rows.append(f"  flood control      the server allows {r.rate_limit:g} messages a second per client: each "
                    f"sender kept to {PACE_SHARE * r.rate_limit:g}/s, so this measures the policy, not the server "
                    "(start it with --rate-limit 0 for that)")
    if r.refused:
        rows.append(f"  refused            {r.refused:,} messages by flood control: not expected anywhere, not missing")
    if r.rooms:
        rows.insert(2, f"  rooms              {r.rooms} (each message to one room)")
    if r.protocol != "json":
        mixed = " (every other client IRC)" if r.protocol == "mixed" else ""
        rows.insert(2, f"  protocol           {r.protocol}{mixed}")
    if r.db:
        rows.insert(2, f"  database           {r.db}")
    if r.logins:
        rows.append(f"  logins             {r.logins_done:,} by {r.logins} clients during the run")
    if r.server_idle_rss_mb is not None:
        per = f", {r.rss_per_client_kb:.1f} KB a client" if r.rss_per_client_kb is not None else ""
        rows.append(f"  server RSS idle    {r.server_idle_rss_mb:.1f} MB with everyone joined{per}")
    if r.join_cpu_s is not None:
        rows.append(f"  server CPU joining {r.join_cpu_s:.2f} s")
    if r.server_cpu_s is not None:
        rss = f", peak RSS {r.server_peak_rss_mb:.1f} MB" if r.server_peak_rss_mb else ""
        rows.append(f"  server CPU         {r.server_cpu_s:.2f} s ({r.server_cpu_s / r.elapsed:.0%} of a core){rss}")
    rows.append(
        f"  generator CPU      {r.generator_cpu_s:.2f} s ({r.generator_cpu_s / (r.elapsed * r.workers):.0%}"
        f" of {r.workers} core{'s' if r.workers != 1 else ''})"
    )
    rows.append(f"  bottleneck         {r.bottleneck}")
    return "\n".join(rows)


def main(spec: Spec, *, server_cmd: str | None, target_given: bool, json_output: bool) -> Result:
    server: StartedServer | None = None
    shown_ports = ",".join(map(str, spec.ports)) if len(spec.ports) > 1 else str(spec.port)
    label = f"{spec.host}:{shown_ports} (already running)"
    scratch: tempfile.TemporaryDirectory[str] | None = None
    if spec.logins and (target_given or server_cmd):
        raise BenchError("--logins needs the bench to start its own selchat (it creates the accounts)")
    if not target_given:
        raise_fd_limit(spec.clients + spec.logins + 256)
        if spec.protocol == "redis" and not server_cmd:  # the baseline: Redis pub/sub, started likewise
            server_cmd = f"{shlex.quote(sys.executable)} -m selchat.bench.redisd"
        if server_cmd:
            command = [*shlex.split(server_cmd), "--host", "127.0.0.1", "--port", "0"]
            name = "redis-server" if server_cmd.endswith("selchat.bench.redisd") else os.path.basename(
                shlex.split(server_cmd)[-1])
        else:
            db = spec.db
            if spec.logins and db == ":memory:":
                scratch = tempfile.TemporaryDirectory(prefix="selchat-bench-")
                db = spec.db = os.path.join(scratch.name, "bench.db")
            if spec.logins:
                make_login_accounts(db, spec.logins)
            command = selchat_server_command(spec.clients + spec.logins, db)
            name = "selchat"
        server = StartedServer(command)
        spec.host, spec.port = server.host, server.port
        label = f"{name} (started by the bench, pid {server.proc.pid})"
    try:
        show = progress_printer(spec, time.monotonic()) if sys.stderr.isatty() and not json_output else None
        result = run_bench(spec, server=server, label=label, progress=show)
        if show:
            sys.stderr.write("\r" + " " * 90 + "\r")
        return result
    finally:
        if server is not None:
            server.stop()
        if scratch is not None:
            scratch.cleanup()


def to_json(result: Result) -> str:
    return json.dumps(asdict(result))
