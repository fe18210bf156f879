"""What an abusive guest tries, over real sockets (issue 21): each case fails on the code before
its fix. The pure parts of the same fixes are tested in the hub's and codecs' own tests."""

from __future__ import annotations

from tests.clients import RawClient, Ws
from tests.helpers import ServerProcess

LONE_SURROGATE = "\ud800abcdefghij"  # a JSON string may hold it; no encoding takes it


def test_a_password_that_is_not_text_locks_no_name(server: ServerProcess, sockets: list) -> None:
    """Before: the worker's argon2 failed on it, the name stayed 'being registered' until restart."""
    mallory = RawClient(server.address)
    sockets.append(mallory)
    mallory.join("mallory", version=2)
    mallory.send(type="register", password=LONE_SURROGATE)
    assert "text" in mallory.error("weak_password")["message"]
    mallory.send(type="register", password="a fine password")
    assert mallory.expect("registered")["account"] == "mallory"  # the name was never held
    # over WebSocket the same JSON, and a login with such a password is a wrong one, not a crash
    page = Ws(server)
    sockets.append(page)
    page.send(type="join", username="mallory", version=2, login=LONE_SURROGATE)
    assert page.expect("error")["code"] == "bad_login"
    assert "Traceback" not in server.log() and "failed" not in server.log()
