"""A redis-server of the tests' own (Debian's redis-server package; .ci/run installs it), on a
free loopback port."""

from __future__ import annotations

import shutil
import socket
import subprocess

from selchat.backplane import command
from tests.helpers import DEADLINE, wait_for

REDIS = shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """A redis-server of our own on a loopback port, which a test may stop and start again;
    with ``tls`` (a certificate and its key) it speaks TLS only."""

    def __init__(self, tls: tuple[str, str] | None = None) -> None:
        self.port = free_port()
        self.tls = tls
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        assert REDIS is not None
        ports = ["--port", str(self.port)]
        if self.tls is not None:
            cert, key = self.tls
            ports = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", cert, "--tls-key-file", key,
                     "--tls-ca-cert-file", cert, "--tls-auth-clients", "no"]
        self.proc = subprocess.Popen([REDIS, *ports, "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--daemonize", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        wait_for(self._answers, what="redis-server to answer PING")

    def _answers(self) -> bool:
        import ssl

        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as raw:
                s = raw
                if self.tls is not None:
                    s = ssl.create_default_context(cafile=self.tls[0]).wrap_socket(raw, server_hostname="127.0.0.1")
                s.sendall(command("PING"))
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def query(self, *args: str) -> bytes:
        """One command's reply line, raw (``:1``, ``+OK``)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=DEADLINE) as s:
            s.sendall(command(*args))
            return s.recv(4096).split(b"\r\n")[0]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(DEADLINE)
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"
