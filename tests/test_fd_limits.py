"""Running short of file descriptors: a clear warning at start, and no spin or crash on EMFILE."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

from tests.clients import RawClient
from tests.helpers import DEADLINE, selchat_cmd


def test_warns_when_the_open_file_limit_is_too_low() -> None:
    command = "ulimit -n 48 && exec " + shlex.join(
        selchat_cmd("serve", "--port", "0", "--max-clients", "500")
    )
    proc = subprocess.Popen(
        ["bash", "-c", command], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().startswith(b"selchat listening on")
        warning = proc.stderr.readline().decode()
        assert "open-file limit is 48" in warning and "--max-clients 500" in warning
        assert "ulimit -n" in warning
    finally:
        proc.terminate()
        proc.communicate(timeout=DEADLINE)


def test_out_of_descriptors_pauses_accepting_and_recovers(start_server) -> None:
    server = start_server("--max-clients", "100", "--max-per-address", "0", "--connects-per-minute", "0", ulimit=40)
    clients = []
    try:
        for i in range(60):  # more than the 40 descriptors the server has
            c = RawClient(server.address)
            c.send_raw(json.dumps({"type": "join", "username": f"u{i}"}).encode() + b"\n")
            clients.append(c)
        server.wait_log("pausing accepts")
        clients[0].expect("welcome")
        for c in clients[:30]:
            c.close()
        # the waiting connections are accepted once descriptors free up
        for c in clients[30:]:
            c.expect("welcome")
        assert server.proc.poll() is None
        stat = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu = int(stat[11]) + int(stat[12])  # utime + stime, in clock ticks
        assert cpu / os.sysconf("SC_CLK_TCK") < 5  # paused, not spinning on accept()
    finally:
        for c in clients:
            c.close()
