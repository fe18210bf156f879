"""`selchat bench` on small runs against real servers: exact counts, and its error paths."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from tests.helpers import ROOT, selchat_cmd


def run_bench(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        selchat_cmd("bench", *args), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def exact(result: dict, clients: int) -> None:
    assert result["clients"] == clients and result["joined"] == clients
    assert result["sent"] > 0
    assert result["expected"] == result["sent"] * (clients - 1)
    assert result["delivered"] == result["expected"]
    assert result["missing"] == 0
    assert result["errors"] == 0 and result["drops"] == 0


def test_saturating_run_with_its_own_server() -> None:
    done = run_bench("--clients", "6", "--duration", "1", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    exact(result, 6)
    assert result["samples"] > 0 and result["latency_ms"]["p50"] <= result["latency_ms"]["p99"]
    assert result["server_cpu_s"] is not None and result["server_peak_rss_mb"] > 0
    assert result["server"].startswith("selchat (started by the bench")


def test_table_output_and_two_workers() -> None:
    done = run_bench("--clients", "7", "--duration", "1", "--workers", "2", "--senders", "3")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "7 clients (3 sending)" in out and "2 workers" in out
    assert ", missing 0" in out
    for label in ("clients joined", "messages sent", "deliveries", "latency (ms)", "bottleneck"):
        assert label in out


@pytest.mark.parametrize("protocol", ["irc", "mixed", "ws"])
def test_irc_mixed_and_websocket_clients(protocol: str) -> None:
    done = run_bench("--clients", "6", "--duration", "1", "--protocol", protocol, "--json")
    assert done.returncode == 0, done.stderr
    exact(json.loads(done.stdout), 6)


@pytest.mark.parametrize("protocol", ["irc", "mixed", "ws"])
def test_irc_and_websocket_clients_in_rooms(protocol: str) -> None:
    done = run_bench("--clients", "6", "--rooms", "2", "--duration", "1", "--protocol", protocol, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["joined"] == 6 and result["missing"] == 0 and result["delivered"] == result["expected"] > 0


def test_a_server_with_flood_control_is_measured_within_it(start_server) -> None:
    """Against a server that refuses floods (as `selchat serve` does by default) the bench keeps
    each sender under the announced rate and says so: nothing refused, nothing counted missing."""
    server = start_server()  # flood control on: 10 a second, bursts of 20
    args = ("--clients", "6", "--duration", "1", "--host", "127.0.0.1", "--port", str(server.port))
    done = run_bench(*args, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    exact(result, 6)
    assert result["rate_limit"] == 10.0 and result["burst"] == 20 and result["refused"] == 0
    assert result["sent"] <= 6 * 10  # 9 a second each, for a second
    table = run_bench(*args).stdout
    assert "flood control      the server allows 10 messages a second per client" in table
    assert "--rate-limit 0" in table and ", missing 0" in table


def test_fixed_rate_against_a_running_server(start_server) -> None:
    server = start_server("--rate-limit", "0")
    done = run_bench("--clients", "4", "--duration", "1", "--rate", "40", "--host", "127.0.0.1",
                     "--port", str(server.port), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    exact(result, 4)
    assert 30 <= result["sent"] <= 50  # 40 a second for a second
    assert result["samples"] == result["sent"] * 3  # at this rate every delivery is sampled
    assert result["server_cpu_s"] is None  # not ours to measure


def test_a_baseline_server() -> None:
    command = f"{sys.executable} {ROOT / 'bench' / 'threaded_server.py'}"
    done = run_bench("--clients", "4", "--duration", "1", "--server-cmd", command, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    exact(result, 4)
    assert result["server"].startswith("threaded_server.py")


@pytest.mark.parametrize("rooms", ["0", "2"])
def test_redis_pub_sub_as_the_baseline(rooms: str) -> None:
    """The same generator against redis-server, which the bench starts itself: every subscriber,
    the publisher too (Redis delivers it its own), has every message."""
    import shutil

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server (Debian's redis-server package) is not installed; .ci/run installs it")
    done = run_bench("--clients", "6", "--rooms", rooms, "--duration", "1", "--protocol", "redis", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["server"].startswith("redis-server (started by the bench") and result["joined"] == 6
    each = 6 if rooms == "0" else 3
    assert result["sent"] > 0 and result["expected"] == result["sent"] * each
    assert result["delivered"] == result["expected"] and result["missing"] == 0
    assert result["errors"] == 0 and result["drops"] == 0 and result["samples"] > 0
    assert result["server_cpu_s"] is not None


def test_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = run_bench("--clients", "3", "--duration", "1", "--host", "127.0.0.1", "--port", str(port))
    assert done.returncode == 1
    assert done.stderr.strip() == f"selchat: cannot connect to 127.0.0.1:{port}: connection refused"


def test_server_full(start_server) -> None:
    server = start_server("--max-clients", "3")
    done = run_bench("--clients", "5", "--duration", "1", "--host", "127.0.0.1", "--port", str(server.port))
    assert done.returncode == 1
    assert "is full" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_server_that_does_not_start() -> None:
    done = run_bench("--clients", "3", "--duration", "1", "--server-cmd", f"{sys.executable} -c pass")
    assert done.returncode == 1
    assert "the server did not start" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--host", "127.0.0.1"], "--host needs --port"),
        (["--port", "5000", "--server-cmd", "x"], "does not go with --host/--port"),
        (["--clients", "1"], "--clients"),
    ],
)
def test_usage_errors(args: list[str], text: str) -> None:
    done = run_bench(*args)
    assert done.returncode == 2 and text in done.stderr


def test_join_timing_and_memory_per_client_are_reported() -> None:
    done = run_bench("--clients", "40", "--duration", "0.5", "--rate", "4", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert 0 < result["connect_join_s"] < 30
    assert 0 < result["welcome_ms"]["p50"] <= result["welcome_ms"]["p99"] <= result["welcome_ms"]["max"]
    assert result["server_idle_rss_mb"] > 0 and result["rss_per_client_kb"] is not None
    assert result["join_cpu_s"] is not None


def test_it_says_where_it_runs_out_of_descriptors(server) -> None:  # type: ignore[no-untyped-def]
    import shlex

    host, port = server.address
    command = shlex.join(selchat_cmd("bench", "--host", host, "--port", str(port), "--clients", "200",
                                     "--workers", "1", "--duration", "0.5"))
    done = subprocess.run(["bash", "-c", f"ulimit -n 100 && exec {command}"], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines == ["selchat: 200 clients over 1 worker need 264 open files each, and the limit is 100: "
                     "raise it (ulimit -n) or add --workers"]
