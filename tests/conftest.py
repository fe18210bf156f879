from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pytest

from tests.browsing import browser  # noqa: F401 - the fixture, for every browser test
from tests.clients import ENV, RawClient
from tests.helpers import DEADLINE, ROOT, ServerProcess, selchat_cmd
from tests.redisserver import REDIS, Redis


def _open_fds() -> set[str]:
    try:
        return set(os.listdir("/proc/self/fd"))
    except OSError:  # pragma: no cover - no /proc
        return set()


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test leaves as many descriptors and threads as it found (pyftpdlib's conftest).
    ``@pytest.mark.foreign_threads("prefix")`` excuses a library's idle pool threads by name
    (Playwright leaves its asyncio executor's)."""
    fds = _open_fds()
    threads = set(threading.enumerate())
    marker = request.node.get_closest_marker("foreign_threads")
    foreign = tuple(marker.args) if marker else ()
    yield
    leaked_threads = [t for t in threading.enumerate()
                      if t not in threads and t.is_alive() and not (foreign and t.name.startswith(foreign))]
    assert not leaked_threads, f"threads left running: {leaked_threads}"
    leaked = _open_fds() - fds
    # A descriptor may be freed a moment later by the garbage collector; ask once more after it.
    if leaked:
        import gc

        gc.collect()
        leaked = _open_fds() - fds
    assert not leaked, f"descriptors left open: {sorted(leaked)}"


@pytest.fixture
def start_server() -> Iterator[Callable[..., ServerProcess]]:
    """Start `selchat serve` with extra arguments; every server started is stopped afterwards."""
    started: list[ServerProcess] = []

    def start(*args: str, **kwargs: object) -> ServerProcess:
        server = ServerProcess(*args, **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.cleanup()


@pytest.fixture
def server(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    return start_server()


@pytest.fixture
def connect(server: ServerProcess) -> Iterator[Callable[..., RawClient]]:
    """Open raw clients to the default server; all are closed afterwards."""
    clients: list[RawClient] = []

    def open_client(address: tuple[str, int] | None = None) -> RawClient:
        client = RawClient(address or server.address)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        client.close()


@pytest.fixture
def redis() -> Iterator[Redis]:
    """A redis-server of this test's own, stopped afterwards (skips where none is installed)."""
    if REDIS is None:
        pytest.skip("redis-server (Debian's redis-server package) is not installed; .ci/run installs it")
    server = Redis()
    yield server
    server.stop()


@pytest.fixture
def sockets() -> Iterator[list]:
    """Clients a test opens (any with close()), closed after it whatever happened."""
    opened: list = []
    yield opened
    for client in opened:
        client.close()


@pytest.fixture
def irc_clients(sockets: list) -> list:
    return sockets


@pytest.fixture
def spawn() -> Iterator[Callable[..., pexpect.spawn]]:
    children: list[pexpect.spawn] = []

    def start(*args: str, env: dict[str, str] | None = None) -> pexpect.spawn:
        child = pexpect.spawn(
            sys.executable,
            ["-m", "selchat", "join", *args],
            env={**ENV, **(env or {})},
            cwd=str(ROOT),
            encoding="utf-8",
            timeout=10,
            dimensions=(30, 120),
        )
        children.append(child)
        return child

    yield start
    for child in children:
        if child.isalive():
            child.terminate(force=True)
        child.close()


@pytest.fixture(scope="module")
def cert_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    result = subprocess.run(
        selchat_cmd(
            "cert", "--host", "localhost", "--host", "127.0.0.1", "--cert", str(cert), "--key", str(key)
        ),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert result.returncode == 0, result.stderr
    assert "selchat join --tls --cafile" in result.stdout
    assert key.stat().st_mode & 0o077 == 0  # the key is private
    return cert, key

