"""`make bench-search`: what full-text search costs and how fast it answers (issue 25).

- builds a file of MESSAGES messages (1,000,000 by default) in 20 rooms through the store's own
  write path (the index kept in the same transactions, as the server keeps it), from a vocabulary
  of 5,000 words with a few common ones, and says how long that took with the index and how
  large the file and the index are;
- times searches the way the server runs them (search.Searcher, the worker's own connection):
  a common word, a rare word, a phrase, a prefix, from:NAME, in:#room and a date range, each
  asked by someone in 5 of the rooms, newest 20 first; p50, p99 and the largest, in ms.
Written to bench/results/search.{md,json}; with ``--copies`` the file is built as a process with
``--redis`` keeps it (each line a copy, inserted one at a time unless already in: rows.copy_rows),
into search-redis.{md,json}. The 200-client saturation rate with the index on and
off is `bench/search.py --saturation` (alternating rounds of `selchat bench`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE.parent))
from selchat import search  # noqa: E402
from selchat.query import parse  # noqa: E402
from selchat.store import Store  # noqa: E402

ROOMS = [f"#room{i}" for i in range(20)]
USERS = [f"user{i}" for i in range(200)]


def vocabulary(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(5000)]


def build(path: str, count: int, rng: random.Random, copies: bool = False) -> tuple[float, list[str]]:
    words = vocabulary(rng)
    common = words[:20]  # said often: the hard case for an index that must page newest first
    store = Store(path, history_max=count, copies=copies)
    store.snapshot()
    start = time.perf_counter()
    ts = 1_700_000_000_000_000
    for batch in range(0, count, 1000):
        for _ in range(min(1000, count - batch)):
            ts += rng.randint(1, 2_000_000)
            text = " ".join(rng.choice(common) if rng.random() < 0.2 else rng.choice(words)
                            for _ in range(rng.randint(3, 14)))
            store.write((rng.choice(ROOMS), ts, rng.choice(USERS), text, 0))
        store.commit()
    took = time.perf_counter() - start
    store.close()
    return took, words


def queries(words: list[str]) -> dict[str, str]:
    return {"a common word": words[0], "a rare word": words[4321], "a phrase": f'"{words[1]} {words[2]}"',
            "a prefix": words[3][:3] + "*", "from:NAME and a word": f"from:user7 {words[0]}",
            "in:#room and a word": f"in:#room3 {words[5]}", "from:NAME alone": "from:user42",
            "a word and dates": f"{words[6]} after:2023-11-18 before:2023-11-22"}


def time_searches(path: str, words: list[str], rounds: int) -> dict[str, dict[str, float]]:
    searcher = search.Searcher(path)
    rooms = {key: key for key in ROOMS[:5]}
    figures = {}
    for label, text in queries(words).items():
        query = parse(text)
        took = []
        for _ in range(rounds):
            start = time.perf_counter()
            found = searcher(query, rooms, None, 20, None)
            took.append((time.perf_counter() - start) * 1000)
            assert not isinstance(found, str), found
        took.sort()
        figures[label] = {"p50_ms": round(statistics.median(took), 2), "p99_ms": round(took[int(len(took) * 0.99)
                          - 1], 2), "max_ms": round(took[-1], 2), "hits": len(found[0])}
        print(f"  {label:24s} p50 {figures[label]['p50_ms']:7.2f} ms  p99 {figures[label]['p99_ms']:7.2f} ms"
              f"  max {figures[label]['max_ms']:7.2f} ms")
    return figures


def index_bytes(path: str) -> int:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        pages = db.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'search%'").fetchone()[0]
    except sqlite3.OperationalError:  # a SQLite built without dbstat
        pages = None
    db.close()
    return int(pages or 0)


def saturation(rounds: int) -> dict[str, list[float]]:
    """The 200-client rate with the index kept and not, alternating, the database in a file."""
    rates: dict[str, list[float]] = {"search on": [], "search off": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for label, flag in (("search on", "--search"), ("search off", "--no-search")):
                db = f"{tmp}/sat-{r}-{flag}.db"
                cmd = (f"{sys.executable} -m selchat serve --max-clients 300 --max-per-address 0"
                       f" --connects-per-minute 0 --rate-limit 0 --max-output 268435456 --handshake-timeout 60"
                       f" --ping-interval 600 --log-level WARNING --db {db} {flag}")
                done = subprocess.run([sys.executable, "-m", "selchat", "bench", "--clients", "200", "--duration",
                                       "5", "--json", "--server-cmd", cmd], capture_output=True, text=True,
                                      timeout=120, stdin=subprocess.DEVNULL)
                rate = json.loads(done.stdout)["deliveries_per_s"]
                rates[label].append(rate)
                print(f"  round {r + 1} {label:10s} {rate / 1e6:6.3f}M deliveries/s")
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=200, help="searches of each kind")
    parser.add_argument("--saturation", type=int, default=0, metavar="ROUNDS",
                        help="also the 200-client rate with the index on and off, this many rounds each")
    parser.add_argument("--copies", action="store_true", help="the file as a --redis process keeps it")
    args = parser.parse_args()
    name = "search-redis" if args.copies else "search"
    rng = random.Random(25)
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/search.db"
        print(f"building {args.messages:,} messages with the index ...")
        took, words = build(path, args.messages, rng, args.copies)
        size = Path(path).stat().st_size
        index = index_bytes(path)
        print(f"  {took:.1f} s ({took / args.messages * 1e6:.1f} us a message), file {size / 1e6:.0f} MB,"
              f" index {index / 1e6:.0f} MB")
        figures = time_searches(path, words, args.rounds)
    result = {"when": datetime.datetime.now().isoformat(timespec="seconds"), "messages": args.messages,
              "build_s": round(took, 1), "file_bytes": size, "index_bytes": index, "searches": figures}
    if args.saturation:
        rates = saturation(args.saturation)
        result["saturation"] = {k: {"median": statistics.median(v), "rounds": v} for k, v in rates.items()}
        on, off = (statistics.median(rates[k]) for k in ("search on", "search off"))
        print(f"  the index costs {(1 - on / off) * 100:.1f} % of the saturation rate (medians)")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    kept = " as a --redis process keeps them (copies)" if args.copies else ""
    lines = [f"# Search over {args.messages:,} messages{kept} ({result['when']})", "",
             f"Built in {took:.1f} s with the index kept; file {size / 1e6:.0f} MB, of which the index"
             f" {index / 1e6:.0f} MB.", "", "| query | p50 ms | p99 ms | max ms | hits |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {v['p50_ms']} | {v['p99_ms']} | {v['max_ms']} | {v['hits']} |" for k, v in figures.items()]
    if args.saturation:
        lines += ["", "| 200 clients, saturation | median | rounds |", "|---|---|---|"]
        lines += [f"| {k} | {v['median'] / 1e6:.3f}M | {', '.join(f'{x / 1e6:.3f}M' for x in v['rounds'])} |"
                  for k, v in result["saturation"].items()]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
