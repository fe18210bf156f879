"""`make bench`: the same `selchat bench` workloads against selchat and the baselines, side by side
in one run, written to bench/results/latest.{md,json,png}: Redis pub/sub (what a user would pick
instead: `selchat bench --protocol redis` starts redis-server and drives it with the same
generator, each client subscribed to the channel and publishing on it), and two small Python
chat servers, one a thread a client and one on asyncio.

Ratios are only meaningful between rows of one run: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SERVERS = {
    "selchat": None,
    "redis": "--protocol redis",  # the bench starts redis-server itself (a row that fails says why)
    "threaded": f"{shlex.quote(sys.executable)} {shlex.quote(str(HERE / 'threaded_server.py'))}",
    "asyncio": f"{shlex.quote(sys.executable)} {shlex.quote(str(HERE / 'asyncio_server.py'))}",
}
FIXED_RATE = 200.0
# many clients that join at once and then listen, at a chat's pace (issue 14's table)
STORM_RATE = 4.0


def bench(server: str, clients: int, duration: float, rate: float | None,
          extra: tuple[str, ...] = ()) -> tuple[list[str], dict]:
    args = ["selchat", "bench", "--clients", str(clients), "--duration", f"{duration:g}", *extra]
    if rate:
        args += ["--rate", f"{rate:g}"]
    shown = list(args)  # as a person would type it
    if server == "redis":
        args += ["--protocol", "redis"]
        shown += ["--protocol", "redis"]
    elif SERVERS[server]:
        args += ["--server-cmd", SERVERS[server]]
        shown += ["--server-cmd", f"'python bench/{server}_server.py'"]
    args.append("--json")
    print(f"  {server:8s} {clients:5d} clients, {'rate ' + format(rate, 'g') if rate else 'saturating':>12s} ...",
          end="", flush=True)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "selchat", *args[1:]],
            capture_output=True, text=True, timeout=duration + 120, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        print(" timed out")
        return shown, {"server": server, "clients": clients, "rate": rate, "failed": "timed out"}
    if done.returncode != 0:
        print(f" failed: {done.stderr.strip()[:200]}")
        return shown, {"server": server, "clients": clients, "rate": rate, "failed": done.stderr.strip()[:300]}
    result = json.loads(done.stdout)
    result["server"] = server
    print(f" {result['deliveries_per_s'] / 1e6:6.2f}M deliveries/s, p99 {result['latency_ms'].get('p99', 'n/a')} ms")
    return shown, result


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores ({model or platform.processor() or 'unknown CPU'}), "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}")


def fmt_row(r: dict) -> str:
    load = f"rate {r['rate']:g}/s" if r.get("rate") else "saturating"
    if "failed" in r:
        return f"| {r['server']} | {r['clients']} | {load} | failed: {r['failed'][:80]} |" + " |" * 11
    lat = {k: r["latency_ms"].get(k, float("nan")) for k in ("p50", "p99", "max")}
    return (
        f"| {r['server']} | {r['clients']} | {load} | {r['sent_per_s']:,.0f} "
        f"| {r['deliveries_per_s'] / 1e6:.3f}M "
        f"| {lat['p50']:.2f} | {lat['p99']:.2f} | {lat['max']:.2f} "
        f"| {r['missing']:,} | {r['errors']}/{r['drops']} | {r['join_seconds']:.2f} "
        f"| {r['server_cpu_s']:.1f} s | {r['generator_cpu_s']:.1f} s | {r['server_peak_rss_mb'] or 0:.1f} "
        f"| {r['bottleneck']} |"
    )


def find(results: list[dict], server: str, clients: int, rate: float | None) -> dict | None:
    for r in results:
        if r["server"] == server and r["clients"] == clients and r.get("rate") == rate and "failed" not in r:
            return r
    return None


def ratios(results: list[dict], clients_list: list[int]) -> list[str]:
    lines = []
    for clients in clients_list:
        ours = find(results, "selchat", clients, None)
        if not ours:
            continue
        for base in ("redis", "threaded", "asyncio"):
            theirs = find(results, base, clients, None)
            if theirs and theirs["deliveries_per_s"]:
                ratio = ours["deliveries_per_s"] / theirs["deliveries_per_s"]
                lines.append(f"- {clients} clients, saturating: selchat / {base} = **{ratio:.1f}x** "
                             f"({ours['deliveries_per_s'] / 1e6:.2f}M vs {theirs['deliveries_per_s'] / 1e6:.3f}M "
                             "deliveries/s)")
    return lines


def chart(results: list[dict], clients_list: list[int], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for server in SERVERS:
        xs, tput, lat_x, p99 = [], [], [], []
        for clients in clients_list:
            r = find(results, server, clients, None)
            if r:
                xs.append(clients)
                tput.append(r["deliveries_per_s"] / 1e6)
            r = find(results, server, clients, FIXED_RATE)
            if r and r["latency_ms"]:
                lat_x.append(clients)
                p99.append(r["latency_ms"]["p99"])
        left.plot(xs, tput, marker="o", label=server)
        right.plot(lat_x, p99, marker="o", label=server)
    left.set(title="Saturation: deliveries per second", xlabel="clients", ylabel="million deliveries/s",
             xscale="log", yscale="log")
    right.set(title=f"p99 latency at {FIXED_RATE:g} messages/s", xlabel="clients", ylabel="ms",
              xscale="log", yscale="log")
    for ax in (left, right):
        ax.set_xticks(clients_list, [str(c) for c in clients_list])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", default="50,200,1000", help="comma-separated client counts")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of sending per run")
    parser.add_argument("--storm", default="1000,5000,10000",
                        help="client counts for the many-clients table (join at once, then 4 msg/s); '' for none")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    clients_list = [int(c) for c in args.clients.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    results: list[dict] = []
    commands: list[str] = []
    print(f"selchat bench matrix on {machine()}")
    for clients in clients_list:
        for server in SERVERS:
            for rate in (None, FIXED_RATE):
                shown, result = bench(server, clients, args.duration, rate)
                results.append(result)
                commands.append(" ".join(shown))
    half = None
    ours = find(results, "selchat", 200, None)
    if ours:
        half = round(ours["sent_per_s"] / 2)
        shown, result = bench("selchat", 200, args.duration, float(half))
        result["note"] = "half of selchat's saturation rate"
        results.append(result)
        commands.append(" ".join(shown))
    storms: list[dict] = []
    for clients in [int(c) for c in args.storm.split(",") if c]:
        shown, result = bench("selchat", clients, args.duration, STORM_RATE, ("--workers", "1"))
        result["note"] = "many clients"
        storms.append(result)
        commands.append(" ".join(shown))
    (args.out / "latest.json").write_text(json.dumps(results + storms, indent=1))
    chart(results, clients_list, args.out / "latest.png")
    header = ("| server | clients | load | msgs/s | deliveries/s | p50 ms | p99 ms | max ms | missing | errors/drops "
              "| join s | server CPU | generator CPU | server peak RSS MB | bottleneck |")
    lines = [
        "# selchat bench results",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC on {machine()}, by `make bench` (`python bench/run.py`).",
        f"Each row: `selchat bench --clients N --duration {args.duration:g}`, 64-byte messages, every client",
        "sending and receiving; saturating rows keep 128 messages in flight in total (a message is in flight",
        f"until every other client has it), fixed-rate rows offer {FIXED_RATE:g} messages/s in total. The bench",
        "starts each server itself on a free loopback port. 'bottleneck' is the side whose CPU ran out.",
        "",
        header,
        "|" + "---|" * 15,
        *[fmt_row(r) for r in results],
        "",
        "## Ratios (same run)",
        "",
        *ratios(results, clients_list),
    ]
    if half is not None:
        r = results[-1]
        if "failed" not in r:
            lines.append(f"- selchat at 200 clients and half its saturation rate ({half:,} messages/s): "
                         f"p99 {r['latency_ms'].get('p99', float('nan')):.2f} ms")
    fixed = find(results, "selchat", 200, FIXED_RATE)
    if fixed:
        lines.append(f"- selchat at 200 clients and {FIXED_RATE:g} messages/s: p99 {fixed['latency_ms']['p99']:.2f} ms")
    big = find(results, "selchat", 1000, None)
    if big:
        lines.append(f"- selchat at 1000 clients: joined in {big['join_seconds']:.2f} s, missing {big['missing']}, "
                     f"peak RSS {big['server_peak_rss_mb']:.1f} MB")
    if storms:
        lines += ["", f"## Many clients: all join at once, then {STORM_RATE:g} messages a second", "",
                  "Each client connects, joins the lobby and listens; 'connect+join' runs from the first connect to",
                  "the last welcome, 'welcome p99/max' is each client's own wait from its connect to its welcome;",
                  "'RSS a client' is (server RSS with everyone joined - RSS before anyone connected) / clients.",
                  "Rooms over --quiet-above (1000) announce no joins; see docs/architecture.md.", "",
                  "| clients | connect+join s | welcome p99 / max ms | server peak RSS MB | RSS a client KB "
                  "| p99 fan-out ms | missing | server CPU |",
                  "|" + "---|" * 8]
        for r in storms:
            if "failed" in r:
                lines.append(f"| {r['clients']} | failed: {r['failed'][:100]} |" + " |" * 6)
                continue
            w = r.get("welcome_ms") or {}
            lines.append(f"| {r['clients']:,} | {r['connect_join_s']:.2f} | {w.get('p99', float('nan')):.0f} / "
                         f"{w.get('max', float('nan')):.0f} | {r['server_peak_rss_mb'] or 0:.1f} "
                         f"| {r['rss_per_client_kb'] or 0:.1f} | {r['latency_ms'].get('p99', float('nan')):.1f} "
                         f"| {r['missing']:,} | {r['server_cpu_s']:.1f} s |")
    lines += ["", "## Commands", "", "```", *commands, "```", "", "![chart](latest.png)", ""]
    (args.out / "latest.md").write_text("\n".join(lines))
    print(f"wrote {args.out / 'latest.md'}, latest.json and latest.png")


if __name__ == "__main__":
    main()
