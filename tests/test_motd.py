"""The message of the day (--motd FILE): shown at join by every protocol."""

from __future__ import annotations

from pathlib import Path

from tests.clients import Irc, RawClient, Terminal, Ws, finished, port_args

MOTD = "Be kind.\nThe server restarts on Sundays at 03:00."


def test_every_protocol_shows_the_message_of_the_day(start_server, tmp_path: Path, spawn) -> None:
    motd = tmp_path / "motd.txt"
    motd.write_text(MOTD + "\n")
    server = start_server("--motd", str(motd))
    v1, v2 = RawClient(server.address), RawClient(server.address)
    irc = Irc(server, "ircmotd")
    text = Terminal(server.address)
    page = Ws(server)
    try:
        assert v1.join("oldclient")["message"].endswith("\n" + MOTD)  # v1: after the welcome text
        welcome = v2.join("newclient", version=2)
        assert welcome["motd"] == MOTD
        assert irc.expect(" 375 ").endswith(" 375 ircmotd :- selchat Message of the day -")
        assert irc.expect(" 372 ").endswith(" 372 ircmotd :- Be kind.")
        assert irc.expect(" 372 ").endswith(" :- The server restarts on Sundays at 03:00.")
        irc.expect(" 376 ircmotd :End of /MOTD command.")
        irc.send("MOTD")
        assert irc.expect(" 372 ").endswith(" 372 ircmotd :- Be kind.")
        text.wait("Your name:")
        text.say("texter")
        text.wait("The server restarts on Sundays at 03:00.")
        page.send(type="join", username="webmotd", version=2)
        assert page.expect("welcome")["motd"] == MOTD
        child = spawn(*port_args(server), "--name", "termmotd", "--no-color")
        child.expect("Be kind.")
        child.expect("The server restarts on Sundays at 03:00.")
        child.sendline("/quit")
        assert finished(child) == 0
    finally:
        for client in (v1, v2, irc, text, page):
            client.close()


def test_without_a_motd_irc_says_so(server) -> None:
    irc = Irc(server, "nomotd")
    try:
        irc.expect(" 422 nomotd :MOTD File is missing")
    finally:
        irc.close()
