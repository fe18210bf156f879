"""`make bench-history`: what history and accounts cost, side by side in one run.

- saturation, 200 clients in the lobby: the database in memory against a file (WAL);
- the same with the clients spread over 10 rooms;
- p99 latency of 200 clients chatting at 200 messages a second, without and with another 200
  clients logging in to accounts (argon2) all the time.

Rows alternate round by round so that the machine's drift hits each alike; the table gives every
round and the median, and the ratios are computed from the medians. Written to
bench/results/history.{md,json}.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))
from run import machine  # noqa: E402


def run(label: str, args: list[str], timeout: float) -> dict:
    print(f"  {label:44s}", end="", flush=True)
    done = subprocess.run([sys.executable, "-m", "selchat", "bench", *args, "--json"], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        print(" failed:", done.stderr.strip()[:200])
        return {"failed": done.stderr.strip()}
    result = json.loads(done.stdout)
    print(f" {result['deliveries_per_s'] / 1e6:6.3f}M deliveries/s  p99 {result['latency_ms'].get('p99')} ms"
          f"  missing {result['missing']}  logins {result['logins_done']}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    d = f"{args.duration:g}"
    scratch = tempfile.TemporaryDirectory(prefix="selchat-bench-history-")
    db = str(Path(scratch.name) / "bench.db")
    rows = {
        "lobby, :memory:": ["--clients", "200", "--duration", d, "--db", ":memory:"],
        "lobby, file": ["--clients", "200", "--duration", d, "--db", db],
        "10 rooms, :memory:": ["--clients", "200", "--rooms", "10", "--duration", d, "--db", ":memory:"],
        "10 rooms, file": ["--clients", "200", "--rooms", "10", "--duration", d, "--db", db],
        "200 msg/s, file": ["--clients", "200", "--rate", "200", "--duration", str(2 * args.duration), "--db", db],
        "200 msg/s, file, 200 logging in": ["--clients", "200", "--rate", "200", "--duration",
                                            str(2 * args.duration), "--logins", "200"],
    }
    got: dict[str, list[dict]] = {label: [] for label in rows}
    for n in range(args.rounds):
        print(f"round {n + 1} of {args.rounds}")
        for label, bench_args in rows.items():
            for path in Path(scratch.name).glob("bench.db*"):
                path.unlink()  # every row starts from an empty database
            got[label].append(run(label, bench_args, 4 * args.duration + 120))
    scratch.cleanup()

    def median(label: str, key: str) -> float:
        values = [r[key] if key != "p99" else r["latency_ms"]["p99"] for r in got[label] if "failed" not in r]
        return statistics.median(values) if values else float("nan")

    lines = [
        "# What history and accounts cost",
        "",
        f"{datetime.date.today()}, {machine()}; `make bench-history` ({args.rounds} rounds, {d} s a row, "
        "rows alternating). Every row starts the server with an empty database.",
        "",
        "| workload | rounds: deliveries/s (M) | median | p99 ms, rounds | median p99 | missing |",
        "|---|---|---|---|---|---|",
    ]
    for label in rows:
        ok = [r for r in got[label] if "failed" not in r]
        rates = ", ".join(f"{r['deliveries_per_s'] / 1e6:.3f}" for r in ok)
        p99s = ", ".join(f"{r['latency_ms']['p99']:.2f}" for r in ok)
        lines.append(f"| {label} | {rates} | {median(label, 'deliveries_per_s') / 1e6:.3f} | {p99s} "
                     f"| {median(label, 'p99'):.2f} | {sum(r['missing'] for r in ok)} |")
    lobby = median("lobby, file", "deliveries_per_s") / median("lobby, :memory:", "deliveries_per_s")
    rooms = median("10 rooms, file", "deliveries_per_s") / median("10 rooms, :memory:", "deliveries_per_s")
    logins = median("200 msg/s, file, 200 logging in", "p99") / median("200 msg/s, file", "p99")
    done = sum(r.get("logins_done", 0) for r in got["200 msg/s, file, 200 logging in"])
    lines += [
        "",
        f"- file database against `:memory:`, saturating: **{lobby:.2f}x** in the lobby, **{rooms:.2f}x** in 10 rooms"
        " (goal: at least 0.9x).",
        f"- p99 while 200 clients log in, against none: **{logins:.2f}x** (goal: at most 2x); {done} logins completed"
        " in those rounds.",
    ]
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "history.md").write_text(text)
    (RESULTS / "history.json").write_text(json.dumps(got, indent=1) + "\n")
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
