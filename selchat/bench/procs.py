"""The server under test as a process: started, watched (CPU, memory) and stopped."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import tempfile

from selchat.bench.spec import LISTENING, BenchError
from selchat.fdlimit import raise_open_file_limit


def _proc_cpu(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _proc_rss_mb(pid: int) -> float | None:
    return _proc_status_mb(pid, "VmRSS:")


def _proc_peak_rss_mb(pid: int) -> float | None:
    return _proc_status_mb(pid, "VmHWM:")


def _proc_status_mb(pid: int, key: str) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def raise_fd_limit(needed: int) -> None:
    raise_open_file_limit(needed)  # a shortfall shows up as a connect error, said in one line


class StartedServer:
    """A server process the bench started on a free loopback port, and stops afterwards."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        # The log goes to a file, not a pipe: a pipe nobody reads during the run fills up, and
        # then the server blocks on its next log line.
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = LISTENING.search(line)
        if not match:
            err = self.stop()
            raise BenchError(f"the server did not start: {shlex.join(command)}: {(line + err).strip()[:300]}")
        self.host = match.group(1) or match.group(2)
        self.port = int(match.group(3))
        self.base_rss_mb = _proc_rss_mb(self.proc.pid)  # listening, nobody connected yet

    def stop(self) -> str:
        """Stop the server; its log."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.communicate()
        self.log.seek(0)
        text = self.log.read()
        self.log.close()
        return text


def selchat_server_command(clients: int, db: str = ":memory:") -> list[str]:
    return [
        sys.executable, "-m", "selchat", "serve", "--host", "127.0.0.1", "--port", "0",
        "--max-clients", str(clients + 16), "--max-per-address", "0", "--connects-per-minute", "0",
        "--rate-limit", "0", "--max-output", str(256 << 20),
        "--handshake-timeout", "60", "--ping-interval", "600", "--log-level", "WARNING", "--db", db,
        "--max-rooms", "1000", "--max-rooms-total", "0", "--new-rooms-per-user", "0",
    ]


