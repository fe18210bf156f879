"""irctest's controller for selchat, as Ergo, InspIRCd and ngIRCd each have one in irctest.

Not collected by selchat's own pytest (irctest is not a dependency): ``make irctest IRCTEST=DIR``
runs irctest's server tests from a checkout at DIR with ``--controller tests.irctest_selchat``.
Each test gets a fresh ``selchat serve`` on the port irctest picked, with an in-memory database;
accounts for the tests that need them are registered through selchat's own JSON protocol.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl as ssl_module
import time
from pathlib import Path
from typing import Any

from irctest.basecontrollers import BaseServerController, DirectoryBasedController
from irctest.runner import NotImplementedByController

ROOT = Path(__file__).resolve().parents[1]


def selchat_command() -> list[str]:
    """How to start selchat: $SELCHAT, else the project's .venv, else the PATH."""
    if os.environ.get("SELCHAT"):
        return [os.environ["SELCHAT"]]
    local = ROOT / ".venv" / "bin" / "selchat"
    if local.exists():
        return [str(local)]
    found = shutil.which("selchat")
    if found is None:
        raise RuntimeError("selchat is not installed: run `make test` once, or set SELCHAT")
    return [found]



# irctest's server operator (its tests send OPER operuser operpassword)
OPER = ("operuser", "operpassword")

class SelchatController(BaseServerController, DirectoryBasedController):
    software_name = "selchat"
    supported_sasl_mechanisms = {"PLAIN"}
    supports_sts = False
    extban_mute_char = "m"  # m:MASK on the ban list mutes (hub/masks.py), as ergo's

    def run(
        self,
        hostname: str,
        port: int,
        *,
        password: str | None,
        ssl: bool,
        run_services: bool,
        faketime: str | None,
        websocket_hostname: str | None,
        websocket_port: int | None,
    ) -> None:
        if websocket_hostname is not None or websocket_port is not None:
            raise NotImplementedByController("Websocket")
        if self.test_config.account_registration_before_connect or self.test_config.account_registration_requires_email:
            # an account is a joined name made one (REGISTER after the welcome), with no e-mail
            raise NotImplementedByController("account registration before connecting, or with an e-mail")
        assert self.proc is None
        # irctest hands out 0.0.0.0 (every interface); selchat listens on loopback only, which
        # irctest's clients reach all the same when they connect to 0.0.0.0
        self.hostname, self.port = "127.0.0.1", port
        self.password, self.ssl = password, ssl
        self.create_config()
        assert self.directory is not None
        command = [
            *selchat_command(), "serve", "--host", self.hostname, "--port", str(port), "--db", ":memory:",
            # irctest's clients send bursts no person would: flood control off, as in irctest's
            # configurations of other servers; any password length is an account password
            "--rate-limit", "0", "--password-min", "1", "--irc-name", "My.Little.Server", "--log-level", "warning",
            "--operators", OPER[0],  # irctest's OPER: an account of selchat's, made once the port is open
        ]
        if password is not None:
            with self.open_file("password") as fd:
                fd.write(password + "\n")
            command += ["--password-file", str(self.directory / "password")]
        if ssl:
            self.gen_ssl()
            command += ["--tls-cert", str(self.pem_path), "--tls-key", str(self.key_path)]
        self.proc = self.execute(command)

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.hostname, self.port), timeout=10)
        if self.ssl:
            context = ssl_module.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl_module.CERT_NONE
            sock = context.wrap_socket(sock)
        return sock

    def wait_for_port(self) -> None:
        """Until the server answers an IRC QUIT (irctest's own probe would be a person at nc)."""
        deadline = time.monotonic() + 60
        while not self.port_open:
            self.check_is_alive()
            try:
                sock = self._connect()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(self._port_wait_interval)
                continue
            with sock:
                sock.sendall(b"CAP LS\r\nQUIT :chkport\r\n")
                data = b""
                while b"ERROR" not in data:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            self.port_open = True
            self.registerUser(None, *OPER)

    def wait_for_services(self) -> None:
        """Accounts are selchat's own: there are no services to wait for."""

    def registerUser(self, case: Any, username: str, password: str | None = None) -> None:
        """An account, made the way a selchat user makes one: join, then register."""
        assert password is not None
        self.wait_for_port()
        with self._connect() as sock:
            reader = sock.makefile("rb")

            def send(frame: dict[str, Any]) -> None:
                sock.sendall(json.dumps(frame).encode() + b"\n")

            def expect(kind: str) -> dict[str, Any]:
                while True:
                    line = reader.readline()
                    if not line:
                        raise RuntimeError(f"selchat closed the connection before {kind}")
                    frame = json.loads(line)
                    if frame.get("type") == "error":
                        raise RuntimeError(f"selchat refused: {frame}")
                    if frame.get("type") == kind:
                        return frame

            send({"type": "join", "username": username, "version": 2, "password": self.password})
            expect("welcome")
            send({"type": "register", "password": password})
            expect("registered")
            send({"type": "quit"})


def get_irctest_controller_class() -> type[SelchatController]:
    return SelchatController
