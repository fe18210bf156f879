"""Shared test tools: a real `selchat serve` process on a free port, and a raw-socket client.

Everything waits on conditions with deadlines, never on bare sleeps.
"""

from __future__ import annotations

import json
import os
import re
import select
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 10.0


def wait_for(predicate: Callable[[], Any], timeout: float = DEADLINE, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout``."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def chat_lines(prefix: str, count: int) -> bytes:
    """``count`` chat frames, ``prefix0`` ... in one buffer, to arrive in one read."""
    return b"".join(
        json.dumps({"type": "chat", "message": f"{prefix}{i}"}).encode() + b"\n" for i in range(count)
    )


def selchat_cmd(*args: str) -> list[str]:
    if args[:1] == ("serve",) and "--db" not in args:
        args = (*args, "--db", ":memory:")  # never a selchat.db in the checkout
    return [sys.executable, "-m", "selchat", *args]


class ServerProcess:
    """`selchat serve` in its own process, on 127.0.0.1 and a port the kernel picked."""

    def __init__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        stdin: Any = subprocess.DEVNULL,
        ulimit: int | None = None,
    ):
        # closed in stop(); the server process writes to it meanwhile
        self.log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="selchat-log-", suffix=".txt", delete=False
        )
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        command = selchat_cmd("serve", "--host", "127.0.0.1", "--port", "0", "--log-level", "DEBUG", *args)
        if ulimit is not None:  # run under a low open-file limit, soft and hard
            command = ["bash", "-c", f"ulimit -n {ulimit} && exec {shlex.join(command)}"]
        self.proc = subprocess.Popen(
            command,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=self.log_file,
            env=full_env,
            cwd=ROOT,
        )
        try:
            line = self._readline(DEADLINE)
            match = re.match(r"selchat listening on (?:\[([^\]]+)\]|([^\s:]+)):(\d+)", line)
            if not match:
                raise AssertionError(f"server did not start: {line!r}\n{self.log()}")
            self.host = match.group(1) or match.group(2)
            self.port = int(match.group(3))
        except BaseException:
            self.cleanup()  # never leave a server running behind a failed start
            raise

    def _readline(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return ""
        return self.proc.stdout.readline().decode()

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def log(self) -> str:
        return Path(self.log_file.name).read_text(errors="replace")

    def wait_log(self, text: str, timeout: float = DEADLINE) -> None:
        wait_for(lambda: text in self.log(), timeout, f"{text!r} in the server log")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = DEADLINE) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.log_file.close()
        return self.proc.returncode

    def cleanup(self) -> None:
        self.stop()
        Path(self.log_file.name).unlink(missing_ok=True)


