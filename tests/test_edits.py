"""Edit and delete (issue 25): one's own lines, and any as the room's operator (delete); seen by
JSON, IRC (REDACT with draft/message-redaction, a NOTICE without) and text mode; history keeps the
new text or a marker, never the deleted text, after a restart too; search follows."""

from __future__ import annotations

from pathlib import Path

from tests.browsing import expect, open_page, pytestmark  # noqa: F401 - the marks apply here too
from tests.clients import Irc, RawClient, Terminal, port_args


def _search(client: RawClient, query: str) -> list[str]:
    client.send(type="search", query=query)
    return [r["message"] for r in client.expect("search_results")["results"]]


def test_edit_and_delete_over_json_and_after_a_restart(start_server, tmp_path: Path) -> None:
    db = str(tmp_path / "edits.db")
    server = start_server("--db", db)
    alice = RawClient(server.address)
    alice.join("alice", version=2)
    alice.join_room("#dev")  # the first one in: its operator
    bob = RawClient(server.address)
    bob.join("bob", version=2)
    bob.join_room("#dev")
    alice.send(type="chat", room="#dev", message="teh build is red")
    first = bob.expect("chat", message="teh build is red")
    alice.send(type="edit", room="#dev", id="last", message="the build is red")
    edited = bob.expect("edited")
    assert (edited["id"], edited["message"], edited["by"]) == (first["timestamp"], "the build is red", "alice")
    bob.send(type="chat", room="#dev", message="my password is hunter2")
    leak = alice.expect("chat", message="my password is hunter2")
    bob.send(type="edit", room="#dev", id=first["timestamp"], message="mine now")
    assert bob.error("not_yours")["message"] == "only its sender may edit that message"
    alice.send(type="delete", room="#dev", id=leak["timestamp"], reason="a password")  # as the room's operator
    gone = bob.expect("deleted")
    assert (gone["id"], gone["by"], gone["reason"]) == (leak["timestamp"], "alice", "a password")
    bob.send(type="chat", room="#dev", message="oops")
    oops = alice.expect("chat", message="oops")
    alice.send(type="delete", room="#dev", id=oops["timestamp"] + 0.5)  # no such line
    assert alice.error("unknown_message")
    assert _search(alice, "password") == [] and _search(alice, "build") == ["the build is red"]
    assert _search(alice, "teh") == []
    for client in (alice, bob):
        client.close()
    server.stop()
    again = start_server("--db", db)
    reader = RawClient(again.address)
    reader.join("reader", version=2)
    reader.join_room("#dev")
    kept = reader.history("#dev")
    assert [(f["message"], f.get("edited", 0) > 0, f.get("deleted", False)) for f in kept] == [
        ("the build is red", True, False), ("", False, True), ("oops", False, False)]
    assert _search(reader, "password") == []
    reader.close()


def test_irc_redact(start_server) -> None:
    server = start_server()
    caps = "message-tags echo-message batch server-time draft/message-redaction draft/chathistory"
    op = Irc(server, "op", caps=caps)
    op.send("JOIN #dev")
    op.expect("366")
    user = Irc(server, "user", caps="message-tags echo-message")  # no redaction: a NOTICE instead
    user.send("JOIN #dev")
    user.expect("366")
    user.send("PRIVMSG #dev :spam spam")
    line = op.expect("PRIVMSG #dev :spam spam")
    msgid = next(tag.split("=", 1)[1] for tag in line[1:].split(" ")[0].split(";") if tag.startswith("msgid="))
    user.send(f"REDACT #dev {msgid}")  # its own: allowed
    assert op.expect("REDACT #dev").endswith(f"REDACT #dev {msgid}")
    assert "user deleted a message" in user.expect("NOTICE #dev")
    op.send("PRIVMSG #dev :mine")
    mine = op.expect("PRIVMSG #dev :mine")  # the echo, with its msgid
    mine_id = next(tag.split("=", 1)[1] for tag in mine[1:].split(" ")[0].split(";") if tag.startswith("msgid="))
    user.send(f"REDACT #dev {mine_id}")
    assert "FAIL REDACT REDACT_FORBIDDEN #dev " + mine_id in user.expect("FAIL REDACT")
    op.send("REDACT #dev 123", "REDACT #nowhere 123", "REDACT #dev notanid", "REDACT #elsewhere notanid")
    assert "FAIL REDACT UNKNOWN_MSGID #dev 123" in op.expect("FAIL REDACT")
    assert "FAIL REDACT INVALID_TARGET #nowhere" in op.expect("FAIL REDACT")
    assert "FAIL REDACT UNKNOWN_MSGID #dev notanid" in op.expect("FAIL REDACT")
    assert "FAIL REDACT INVALID_TARGET #elsewhere" in op.expect("FAIL REDACT")  # the room is checked first
    op.send("CHATHISTORY LATEST #dev * 10")
    seen: list[str] = []
    op.expect("BATCH -", seen)
    assert not any("spam spam" in s for s in seen) and any(":mine" in s for s in seen)
    op.close()
    user.close()


def test_the_terminal_text_mode_and_page_see_changes(browser, spawn, start_server) -> None:
    server = start_server()
    child = spawn(*port_args(server), "--name", "alice", "--no-color")
    child.expect(r"\[#lobby\] alice>")
    nc = Terminal(server.address)
    nc.wait("Your name:")
    nc.say("carol")
    nc.wait("Welcome to selchat, carol")
    page = open_page(browser, server, "page")
    bob = RawClient(server.address)
    bob.join("bob", version=2)
    bob.send(type="chat", room="#lobby", message="lunch at 1")
    child.expect("bob: lunch at 1")
    expect(page.locator("#messages li", has_text="lunch at 1")).to_have_count(1)
    bob.send(type="edit", room="#lobby", id="last", message="lunch at 2")
    child.expect("bob edited bob's \"lunch at 1\": lunch at 2")
    nc.wait("* bob edited a message in #lobby: lunch at 2")
    edited = page.locator("#messages li", has_text="lunch at 2")
    expect(edited.locator(".edited")).to_have_text("(edited)")
    bob.send(type="delete", room="#lobby", id="last")
    child.expect("bob deleted bob's \"lunch at 2\"")
    nc.wait("* bob deleted a message in #lobby")
    expect(page.locator("#messages li.deleted")).to_contain_text("message deleted")
    child.sendline("my own typo")
    bob.expect("chat", message="my own typo")
    child.sendline("/edit my own line")
    assert bob.expect("edited")["message"] == "my own line"
    page.fill("#line", "from the page")
    page.press("#line", "Enter")
    bob.expect("chat", message="from the page")
    page.fill("#line", "/delete")
    page.press("#line", "Enter")
    assert bob.expect("deleted")["by"] == "page"
    expect(page.locator("#messages li.deleted")).to_have_count(2)  # its own line, found by the page too
    page.close()
    nc.close()
    bob.close()


def test_a_private_message_is_deleted_and_edited_by_its_sender(start_server, tmp_path) -> None:
    """REDACT on a nick, and JSON's delete and edit "with" someone: the sender's own messages only,
    on both sides, and gone from the conversation's history."""
    import os
    import subprocess

    from tests.helpers import selchat_cmd
    from tests.test_devices import PASSWORD, irc_device

    db = str(tmp_path / "dms.db")
    env = {**os.environ, "SELCHAT_ACCOUNT_PASSWORD": PASSWORD}
    for name in ("alice", "bob"):
        subprocess.run(selchat_cmd("account", "add", name, "--db", db), env=env, check=True, capture_output=True,
                       timeout=60)
    server = start_server("--db", db, "--rate-limit", "0")
    bob = RawClient(server.address)
    alice = irc_device(server, "alice", "alice")
    try:
        alice.send("CAP REQ :draft/message-redaction echo-message")
        alice.expect("ACK")
        bob.join("bob", version=2, login=PASSWORD)
        alice.send("PRIVMSG bob :a secret")
        said = bob.expect("dm")
        msgid = alice.expect("PRIVMSG bob :a secret").split("msgid=")[1].split(";")[0].split(" ")[0]
        bob.send(type="delete", **{"with": "alice"}, id=said["timestamp"])
        assert bob.error("not_yours")
        alice.send(f"REDACT bob {msgid}")
        alice.expect(f"REDACT bob {msgid}")
        gone = bob.expect("deleted")
        assert (gone["with"], gone["id"], gone["by"]) == ("alice", said["timestamp"], "alice")
        bob.send(type="dm", to="alice", message="typo hre")
        mine = bob.expect("dm")
        bob.send(type="edit", **{"with": "alice"}, id=mine["timestamp"], message="typo here")
        assert bob.expect("edited")["message"] == "typo here"
        alice.expect("edited a message: typo here")
        bob.send(type="history", **{"with": "alice"}, limit=10)
        texts = []
        while (frame := bob.recv())["type"] != "history_end":
            texts.append(frame["message"])
        assert texts == ["typo here"]  # the deleted one is gone, the edited one changed
        alice.send("REDACT bob 123")
        assert "FAIL REDACT UNKNOWN_MSGID bob 123" in alice.expect("FAIL REDACT")
    finally:
        bob.close()
        alice.close()
