"""Fuzz a live server: random and mutated frames and byte streams from many connections at once,
while well-behaved clients check that they are still served, in order and without loss.

Uses the soak harness (bench/soak.py) with only fuzzing clients, pausing less between units: each
speaks one protocol and sends bench/soakfuzz.py's units for it, or any codec's from its first byte.
Seeded: a failure is reproduced by running again with the same --seed.

    python bench/fuzz.py --duration 120 --seed 7     # `make fuzz`: JSON, IRC, text, WebSocket and HTTP
"""

from __future__ import annotations

import sys

from soak import main

from selchat.bench import BenchError

if __name__ == "__main__":
    argv = sys.argv[1:]
    if not any(a.startswith("--duration") for a in argv):
        argv = ["--duration", "120", *argv]
    if not any(a.startswith("--clients") for a in argv):
        argv = ["--clients", "40", "--well-behaved", "4", *argv]
    try:
        sys.exit(main(argv, mix="fuzz"))
    except BenchError as exc:
        print(f"fuzz: {exc}", file=sys.stderr)
        sys.exit(1)
