"""`make abuse`, part three: squatting, impersonating, exhausting (issue 21, items 10, 11, 12)
and a damaged database (item 19). Same contract as abuse_down.py."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from abuseclients import Failed, Irc, Json

OWNER_PASSWORD = "erin's own password"


def _login(t: Any, name: str, password: str, source: str | None = None) -> tuple[dict[str, Any], float]:
    client = Json(t.address, source or t.source())
    started = time.monotonic()
    frame = client.join(name, login=password)
    waited = time.monotonic() - started
    client.close()
    return frame, waited


def registration_storm(t: Any) -> str:
    """Item 10: many guests registering at once; a real login must not wait behind them all."""
    owner = Json(t.address, t.source())
    owner.join("erin")
    owner.frame(type="register", password=OWNER_PASSWORD)
    owner.expect("registered")
    owner.close()
    _, idle = _login(t, "erin", OWNER_PASSWORD)
    storm = []
    for host in [t.source() for _ in range(8)]:  # 8 addresses of 6 guests: each address may make 5
        for _ in range(6):
            guest = Json(t.address, host)
            guest.join(f"storm{len(storm)}")
            storm.append(guest)
    for n, guest in enumerate(storm):
        guest.frame(type="register", password=f"storm password {n}")
    frame, waited = _login(t, "erin", OWNER_PASSWORD)
    if frame["type"] != "welcome":
        raise Failed(f"the owner's login under the storm: {frame}")
    outcomes: dict[str, int] = {}
    for guest in storm:
        answer = guest.recv(60)
        while answer["type"] not in ("registered", "error"):
            answer = guest.recv(60)
        key = answer.get("code", "registered")
        outcomes[key] = outcomes.get(key, 0) + 1
        guest.close()
    if outcomes.get("too_many_registrations", 0) < 8:
        raise Failed(f"registrations: {outcomes}")
    made = outcomes.get("registered", 0)
    refused = outcomes["too_many_registrations"]
    return (f"{made} accounts made, {refused} too_many_registrations (5 per address, 30 in ten minutes in all); "
            f"a login took {waited * 1000:.0f} ms during the storm, {idle * 1000:.0f} ms idle")


def reserved_names(t: Any) -> str:
    """Item 11: nobody joins as a service or the server, and NickServ's IDENTIFY is answered."""
    refused = []
    for name in ("NickServ", "chanserv", "selchat"):
        guest = Json(t.address, t.source())
        frame = guest.join(name)
        refused.append(frame.get("code") == "invalid_username" and "reserved" in frame.get("message", ""))
        guest.close()
    irc = Irc(t.address, t.source(), "identifier")
    irc.say("PRIVMSG NickServ :IDENTIFY identifier hunter2")
    notice = irc.expect("NOTICE identifier")
    irc.close()
    if not all(refused) or "SASL" not in notice or "hunter2" in t.log():
        raise Failed(f"{refused}, {notice!r}")
    return "NickServ, chanserv and selchat refused as reserved; IDENTIFY answered with a NOTICE about SASL"


def guesses_from_one_address(t: Any) -> str:
    """Item 12: wrong logins from one address stop that address, not the owner elsewhere."""
    guesser = t.source()
    codes = []
    for i in range(8):
        frame, _ = _login(t, "erin", f"guess {i}", guesser)
        codes.append(frame.get("code"))
    if "too_many_logins" not in codes:
        raise Failed(f"8 wrong logins: {codes}")
    started = time.monotonic()
    while (frame := _login(t, "erin", OWNER_PASSWORD)[0])["type"] != "welcome":
        wait = frame.get("message", "").rpartition("try again in ")[2].removesuffix(" s")
        if frame.get("code") != "too_many_logins" or not wait.isdigit() or time.monotonic() - started > 60:
            raise Failed(f"the owner was locked out: {frame}")
        time.sleep(int(wait))
    return (f"the guesser got {codes.count('bad_login')} bad_login, then too_many_logins; the owner, from "
            f"another address, was in after {time.monotonic() - started:.1f} s")


def damaged_database(db: Path, workdir: Path) -> str:
    """Item 19: run after the server stopped: its own file, pages damaged, is one line and exit 2."""
    damaged = workdir / "damaged.db"
    shutil.copyfile(db, damaged)
    size = damaged.stat().st_size
    with damaged.open("r+b") as f:  # page 1 (the schema) stays whole; the tables' pages do not
        f.seek(4096 * 2)
        f.write(b"\xde\xad" * ((size - 4096 * 2) // 2))
    done = subprocess.run([sys.executable, "-m", "selchat", "serve", "--db", str(damaged), "--port", "0"],
                          capture_output=True, text=True, timeout=30)
    if done.returncode != 2 or done.stderr.count("\n") != 1 or "Traceback" in done.stderr:
        raise Failed(f"exit {done.returncode}: {done.stderr[-300:]!r}")
    return f"exit 2 and one line: \"{done.stderr.strip().replace(str(damaged), 'FILE')}\""


CASES = [
    ("10", "a registration storm", registration_storm),
    ("11", "joining as NickServ, ChanServ, the server", reserved_names),
    ("12", "guessing a password from one address", guesses_from_one_address),
]
