"""The baseline a user would pick instead of selchat: Redis pub/sub, started for a bench run as
`selchat serve` is, on a free loopback port, saying ``listening on HOST:PORT`` once it answers.

``python -m selchat.bench.redisd --host H --port 0``: this process becomes ``redis-server`` (so
the bench's CPU and memory figures are Redis's own), and a child it forks says where it listens
once a PING is answered. Nothing is kept on disk, and a subscriber's output is not capped (as
the bench's selchat gets ``--max-output`` 256 MiB): a run measures delivery, not a policy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import time

WAIT = 10.0  # seconds for Redis to answer


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def answered(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m selchat.bench.redisd")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    binary = shutil.which("redis-server")
    if binary is None:
        print("redis-server is not installed (apt-get install redis-server): no Redis baseline", file=sys.stderr)
        return 1
    port = args.port or free_port(args.host)
    if os.fork() == 0:  # the child: says where, once Redis answers, and goes
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and not answered(args.host, port):
            time.sleep(0.02)
        print(f"listening on {args.host}:{port}", flush=True)
        os._exit(0)
    os.execv(binary, [binary, "--port", str(port), "--bind", args.host, "--save", "", "--appendonly", "no",
                      "--protected-mode", "no", "--logfile", os.devnull, "--loglevel", "warning",
                      "--client-output-buffer-limit", "pubsub 0 0 0", "--maxclients", "100000"])
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
