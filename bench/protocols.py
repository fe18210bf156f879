"""`make bench-protocols`: deliveries a second with JSON, IRC, mixed and WebSocket clients, side by side in
one run (200 clients saturating the lobby), rows alternating round by round. With
``--before DIR`` (a checkout of older selchat code) a row measures that code's JSON-only rate
beside today's, so a regression shows as a ratio from one run. Written to
bench/results/protocols.{md,json}.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))
from history import run  # noqa: E402
from run import machine  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--before", help="a checkout of older selchat code: its JSON-only rate as a row")
    args = parser.parse_args()
    common = ["--clients", str(args.clients), "--duration", f"{args.duration:g}"]
    rows = {
        "json": [*common, "--protocol", "json"],
        "irc": [*common, "--protocol", "irc"],
        "mixed (half IRC)": [*common, "--protocol", "mixed"],
        "ws (JSON over WebSocket)": [*common, "--protocol", "ws"],
    }
    if args.before:
        before = Path(args.before).resolve()
        server = (f"env PYTHONPATH={shlex.quote(str(before))} {shlex.quote(sys.executable)} -m selchat serve"
                  f" --max-clients {args.clients + 64} --rate-limit 0 --max-output 268435456 --log-level WARNING"
                  " --db :memory:")
        rows = {"json, code before": [*common, "--server-cmd", server], **rows}
    got: dict[str, list[dict]] = {label: [] for label in rows}
    for n in range(args.rounds):
        print(f"round {n + 1} of {args.rounds}")
        for label, bench_args in rows.items():
            got[label].append(run(label, bench_args, 4 * args.duration + 120))

    def median(label: str) -> float:
        values = [r["deliveries_per_s"] for r in got[label] if "failed" not in r]
        return statistics.median(values) if values else float("nan")

    lines = [
        "# Deliveries a second by protocol",
        "",
        f"{datetime.date.today()}, {machine()}; `make bench-protocols` ({args.rounds} rounds, "
        f"{args.duration:g} s a row, {args.clients} clients saturating the lobby, rows alternating).",
        "",
        "| clients speak | rounds (M deliveries/s) | median | against JSON | missing |",
        "|---|---|---|---|---|",
    ]
    base = median("json")
    for label in rows:
        ok = [r for r in got[label] if "failed" not in r]
        rates = ", ".join(f"{r['deliveries_per_s'] / 1e6:.3f}" for r in ok)
        lines.append(f"| {label} | {rates} | {median(label) / 1e6:.3f} | {median(label) / base:.2f}x "
                     f"| {sum(r['missing'] for r in ok)} |")
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "protocols.md").write_text(text)
    (RESULTS / "protocols.json").write_text(json.dumps(got, indent=1) + "\n")
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
