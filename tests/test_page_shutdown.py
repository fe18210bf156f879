"""The page and the server's stop (issue 27): after a shutdown for good (the console's /shutdown)
the page says so and stops knocking; a restart is reconnected after, as a lost connection is."""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace

import pexpect

from tests.browsing import expect, open_page, pytestmark  # noqa: F401 - the marks apply here too
from tests.helpers import ROOT


def test_a_shutdown_for_good_is_said_and_not_reconnected_after(browser) -> None:
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONUNBUFFERED": "1"}
    console = pexpect.spawn(sys.executable, ["-m", "selchat", "serve", "--port", "0", "--host", "127.0.0.1",
                                             "--db", ":memory:"], env=env, cwd=str(ROOT), encoding="utf-8",
                            timeout=10)
    try:
        console.expect(r"selchat listening on 127\.0\.0\.1:(\d+)")
        server = SimpleNamespace(port=int(console.match.group(1)))
        console.expect("console: type to announce")
        page = open_page(browser, server, "reader")
        console.sendline("/shutdown")
        expect(page.locator("#messages li", has_text="Server is shutting down")).to_have_count(1)
        expect(page.locator("#status")).to_have_text("the server has shut down; reload the page to try again")
        console.expect(pexpect.EOF)
    finally:
        if console.isalive():
            console.terminate(force=True)
        console.close()
