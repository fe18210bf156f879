"""--metrics HOST:PORT: the Prometheus text format on a listener of its own, parsed with
prometheus-client's own parser and checked against a known sequence of events."""

from __future__ import annotations

import re
import socket
import subprocess

from prometheus_client.parser import text_string_to_metric_families

from selchat.counters import Histogram
from tests.clients import Irc, RawClient
from tests.helpers import DEADLINE, selchat_cmd, wait_for


def _get(address: tuple[str, int], path: str = "/metrics", method: str = "GET") -> tuple[str, dict, str]:
    with socket.create_connection(address, timeout=DEADLINE) as sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return status, headers, body.decode()


def _samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _metrics_address(server) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    server.wait_log("metrics at http://127.0.0.1:")  # the log says it (stdout too, for a person)
    match = re.search(r"metrics at http://127\.0\.0\.1:(\d+)/metrics", server.log())
    assert match
    return ("127.0.0.1", int(match.group(1)))


def test_counters_follow_a_known_sequence_of_events(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("--metrics", "127.0.0.1:0", "--rate-limit", "0.5", "--burst", "2")
    address = _metrics_address(server)
    status, headers, body = _get(address)
    assert status == "HTTP/1.1 200 OK" and headers["Content-Type"].startswith("text/plain; version=")
    before = _samples(body)
    assert before[("selchat_joins_total", ())] == 0 and before[("selchat_users", ())] == 0

    alice, bob = RawClient(server.address), RawClient(server.address)
    ircy = Irc(server, "ircy")
    try:
        alice.join("alice")
        bob.join("bob")
        ircy.send("JOIN #lobby")
        ircy.expect(" 366 ircy #lobby ")
        for text in ("one", "two", "three"):  # the burst is 2: the third is refused
            alice.send(type="chat", message=text)
        assert alice.error("rate_limited")["code"] == "rate_limited"
        assert bob.expect("chat", message="two")["username"] == "alice"
        ircy.expect("PRIVMSG #lobby :two")
        bob.send(type="quit")
        bob.wait_closed()
        wait_for(lambda: _samples(_get(address)[2])[("selchat_users", ())] == 2, what="bob gone")
        got = _samples(_get(address)[2])
    finally:
        alice.close()
        bob.close()
        ircy.close()
    assert got[("selchat_joins_total", ())] == 3
    assert got[("selchat_messages_total", ())] == 2
    assert got[("selchat_deliveries_total", ())] == 4  # two messages, to bob and ircy each
    assert got[("selchat_rate_limited_total", ())] == 1
    assert got[("selchat_errors_total", (("code", "rate_limited"),))] == 1
    assert got[("selchat_connections_opened_total", (("protocol", "json"),))] == 2
    assert got[("selchat_connections_opened_total", (("protocol", "irc"),))] == 1
    assert got[("selchat_connections", (("protocol", "json"),))] == 1
    assert got[("selchat_connections", (("protocol", "irc"),))] == 1
    assert got[("selchat_connections", (("protocol", "metrics"),))] == 1  # this scrape
    assert got[("selchat_closes_total", (("reason", "quit"),))] == 1
    assert got[("selchat_closes_total", (("reason", "metrics answered"),))] >= 2
    assert got[("selchat_users", ())] == 2 and got[("selchat_rooms", ())] == 1
    assert got[("selchat_received_bytes_total", ())] > 0 and got[("selchat_sent_bytes_total", ())] > 0
    assert got[("selchat_slow_consumers_total", ())] == 0
    turns = got[("selchat_loop_turn_seconds_count", ())]
    assert turns > 0 and got[("selchat_loop_turn_seconds_bucket", (("le", "+Inf"),))] == turns
    assert got[("selchat_db_commit_seconds_count", ())] >= 1  # the two messages were stored


def test_the_listener_answers_only_metrics(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("--metrics", "127.0.0.1:0", "--handshake-timeout", "0.5")
    address = _metrics_address(server)
    assert _get(address, "/")[0] == "HTTP/1.1 404 Not Found"
    assert _get(address, "/metrics", "POST")[0] == "HTTP/1.1 405 Method Not Allowed"
    status, headers, body = _get(address, "/metrics", "HEAD")
    assert status == "HTTP/1.1 200 OK" and int(headers["Content-Length"]) > 0 and body == ""
    with socket.create_connection(address, timeout=DEADLINE) as sock:
        sock.sendall(b"\x16\x03\x01garbage\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 400 Bad Request")
    # the chat port does not serve metrics, and the metrics port no chat
    with socket.create_connection(server.address, timeout=DEADLINE) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 404")
    client = RawClient(address)
    try:
        client.send(type="join", username="nobody")
        assert client.sock.recv(4096).startswith(b"HTTP/1.1 408")  # no whole request: timed out
    finally:
        client.close()


def test_a_bad_metrics_address_is_one_line() -> None:
    done = subprocess.run(selchat_cmd("serve", "--metrics", "nowhere"), capture_output=True, text=True,
                          timeout=DEADLINE, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "selchat: --metrics: 'nowhere' is not HOST:PORT (127.0.0.1:9100, [::1]:9100 or :9100)"]


def test_histogram_buckets_are_cumulative() -> None:
    h = Histogram((0.001, 0.01))
    for value in (0.0005, 0.001, 0.005, 2.0):
        h.observe(value)
    assert h.buckets() == [("0.001", 2.0), ("0.01", 3.0), ("+Inf", 4.0)]
    assert abs(h.sum - 2.0065) < 1e-9
