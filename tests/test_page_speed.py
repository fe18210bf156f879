"""The page stays quick with a big room (issue 22): 10,000 lines of scroll-back and 2,000 members,
and typing measured in Chromium, from the key press to the next frame painted, with the page's
memory. The figures are printed, and written to $SELCHAT_PAGE_FIGURES when it is set (`make
bench-page` keeps them in bench/results/page.md); the test asserts only what the page holds."""

from __future__ import annotations

import json
import os
import socket
import statistics
import time
from pathlib import Path

import pytest

from selchat.codec import encode
from selchat.fdlimit import raise_open_file_limit
from tests.browsing import expect, open_page, pytestmark, say  # noqa: F401 - the marks apply here too
from tests.clients import RawClient

LINES, MEMBERS = 10_000, 2_000
# keydown -> the frame after the input event is painted (two animation frames: drawn, then shown)
MEASURE = """() => {
  window.__typed = [];
  if (window.__measuring) return;
  window.__measuring = true;
  const box = document.getElementById('line');
  box.addEventListener('keydown', () => {
    const start = performance.now();
    box.addEventListener('input', () => requestAnimationFrame(() => requestAnimationFrame(
      () => window.__typed.push(performance.now() - start))), { once: true });
  });
}"""


def _members(address: tuple[str, int], count: int) -> list[socket.socket]:
    """``count`` JSON clients in the lobby, joined without waiting for each welcome."""
    socks = []
    for i in range(count):
        sock = socket.create_connection(address, timeout=10)
        sock.sendall(encode({"type": "join", "username": f"member{i:04d}", "version": 2}))
        socks.append(sock)
    return socks


def _typing(page) -> list[float]:
    """Milliseconds from each key press to the frame that shows it, in the order typed."""
    page.evaluate(MEASURE)
    page.click("#line")
    text = "the quick brown fox jumps over the lazy dog"
    page.keyboard.type(text, delay=40)
    page.wait_for_function(f"window.__typed.length >= {len(text)}")
    assert page.input_value("#line") == text
    return page.evaluate("window.__typed")


def _spread(typed: list[float]) -> dict[str, float]:
    """The first key (the box just focused: the whole page's style is recomputed once), then the rest."""
    rest = sorted(typed[1:])
    return {"first_key_ms": round(typed[0], 1), "median_ms": round(statistics.median(rest), 1),
            "p95_ms": round(rest[int(len(rest) * 0.95) - 1], 1), "max_ms": round(rest[-1], 1)}


def _all_users(client: RawClient) -> list[str]:
    client.send(type="users", room="#lobby")
    page = client.expect("users")
    names = page["users"]
    while page.get("more"):
        client.send(type="users", room="#lobby", after=names[-1])
        page = client.expect("users")
        names += page["users"]
    return names


@pytest.mark.timeout(240)
def test_typing_with_10000_lines_and_2000_members(browser, start_server) -> None:
    raise_open_file_limit(MEMBERS + 256)
    server = start_server("--rate-limit", "0", "--max-clients", str(MEMBERS + 64), "--max-per-address", "0",
                          "--connects-per-minute", "0", "--quiet-above", "100")
    poster = RawClient(server.address)
    members: list[socket.socket] = []
    try:
        poster.join("poster", version=2)
        page = open_page(browser, server, "typist", viewport={"width": 1280, "height": 800})
        empty = _typing(page)  # the same typing in a room with nothing in it: the floor of the measure
        page.fill("#line", "")
        started = time.monotonic()
        poster.sock.sendall(b"".join(encode({"type": "chat", "message": f"line {i:05d} of the scroll-back"})
                                     for i in range(LINES)))
        lines = page.locator("#messages li[data-msg]")
        expect(lines.last).to_contain_text(f"line {LINES - 1:05d}")
        drawn = time.monotonic() - started
        assert lines.count() == LINES
        members = _members(server.address, MEMBERS)
        end = time.monotonic() + 60
        while len(_all_users(poster)) < MEMBERS + 2:  # every member let in (the server accepts in turns)
            assert time.monotonic() < end, "the members did not all join"
            time.sleep(0.2)
        say(page, "/users")
        expect(page.locator("#members li")).to_have_count(MEMBERS + 2)
        typed = _typing(page)
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        figures = {
            "lines": LINES, "members": MEMBERS, "seconds_to_draw_the_lines": round(drawn, 2),
            "empty_room": _spread(empty), "big_room": _spread(typed),
            "js_heap_mb": round(metrics["JSHeapUsedSize"] / 2**20, 1), "dom_nodes": int(metrics["Nodes"]),
        }
        print("page figures:", json.dumps(figures))
        if os.environ.get("SELCHAT_PAGE_FIGURES"):
            Path(os.environ["SELCHAT_PAGE_FIGURES"]).write_text(json.dumps(figures, indent=2) + "\n")
    finally:
        for sock in members:
            sock.close()
        poster.close()
