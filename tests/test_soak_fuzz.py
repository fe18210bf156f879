"""Short runs of the soak and the fuzzer (`make soak` and `make fuzz` run them for longer)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT


def run(script: str, *args: str, timeout: float) -> dict:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args, "--json"],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )
    report = json.loads(done.stdout)
    assert done.returncode == (0 if report["ok"] else 1)
    return report


@pytest.mark.timeout(90)
def test_short_soak() -> None:
    report = run("soak.py", "--duration", "15", "--clients", "60", "--seed", "2", timeout=80)
    assert report["problems"] == []
    assert report["server_alive"] and report["server_tracebacks"] == 0
    assert report["wb_lost"] == 0 and report["wb_duplicated"] == 0 and report["wb_dropped"] == 0
    assert report["wb_received"] == report["wb_expected"] > 0
    assert report["server_fds_end"] == report["server_fds_start"]
    assert report["connections"] > 60  # misbehaving clients came back after being dropped
    assert report["errors_seen"].get("bad_frame", 0) > 0 and report["errors_seen"].get("rate_limited", 0) > 0
    # the well behaved and the rest came in all four protocols (and plain HTTP for the page)
    assert set(report["connections_by_wire"]) >= {"json", "irc", "text", "ws", "http"}
    assert "1 min" not in report["server_rss_mb_at"]  # sampled at 1, 5 and 10 minutes only: a short run has none


@pytest.mark.timeout(60)
def test_short_fuzz() -> None:
    report = run("fuzz.py", "--duration", "8", "--seed", "5", timeout=50)
    assert report["problems"] == []
    assert report["server_alive"] and report["server_tracebacks"] == 0
    assert report["wb_lost"] == 0 and report["wb_received"] == report["wb_expected"] > 0
    assert report["server_fds_end"] == report["server_fds_start"]
    assert report["bytes_sent"] > 1_000_000
    # every codec was fuzzed: JSON, IRC, text, WebSocket and HTTP (and raw first bytes for the sniffer)
    assert all(report["bytes_by_wire"].get(codec, 0) > 10_000 for codec in ("json", "irc", "text", "ws", "http", "raw"))


@pytest.mark.timeout(240)
def test_make_abuse_replays_every_abuse_and_the_well_behaved_lose_nothing() -> None:
    """`make abuse` whole (about 40 s): every case holds, and the chatters lost nothing."""
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "abuse.py")], capture_output=True, text=True,
                          timeout=220, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and line.endswith("| ok |")]
    assert len(rows) == 19  # items 1 to 19
    assert "lost 0, duplicated 0, disconnected 0" in done.stdout and "0 tracebacks" in done.stdout
