"""Joining: the options a session starts with, and the `join` exchange until the server
welcomes us (asking for another name or a password where someone can answer)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from selchat.client.link import WELCOME_TIMEOUT, Link
from selchat.client.words import ClientError
from selchat.render import sanitize


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 5000
    name: str | None = None
    password: str | None = None  # the server's password
    login: str | None = None  # the account's password: join as that account
    colour: bool = True
    json_output: bool = False
    tls: ssl.SSLContext | None = None


Asker = Callable[[str], Awaitable[str]]


async def join(
    link: Link,
    name: str,
    options: Options,
    ask_again: Asker | None,
    show: Callable[[str], None],
    ask_secret: Asker | None = None,
) -> dict[str, Any]:
    """Send `join` until the server welcomes us. ``ask_again(reason)`` picks a new name and
    ``ask_secret(prompt)`` asks for an account's password, when there is someone to ask."""
    login = options.login
    while True:
        frame: dict[str, Any] = {"type": "join", "username": name, "version": 2}
        if options.password is not None:
            frame["password"] = options.password
        if login is not None:
            frame["login"] = login
        await link.send(frame)
        try:
            reply = await asyncio.wait_for(link.next_frame(), WELCOME_TIMEOUT)
        except asyncio.TimeoutError:
            raise ClientError(
                f"{link.address} did not answer join within {WELCOME_TIMEOUT:g} s; is it a selchat server?"
            )
        if reply is None:
            raise ClientError(f"{link.address} closed the connection before welcoming us")
        kind = reply.get("type")
        if kind == "welcome":
            options.name = str(reply.get("username", name))
            options.login = login  # a reconnect logs in again the same way
            return reply
        if kind != "error":
            raise ClientError(f"{link.address} answered join with {sanitize(kind)!r}; is it a selchat server?")
        code = reply.get("code")
        reason = sanitize(reply.get("message", "refused"))
        if code in ("username_taken", "invalid_username") and ask_again is not None:
            show(reason)
            name = await ask_again(reason)
            continue
        if code in ("name_registered", "account_required", "bad_login") and ask_secret is not None:
            show({"name_registered": f"{sanitize(name)} is a registered account; log in or choose another name",
                  "account_required": "this server admits accounts only: log in"}.get(code, reason))
            login = await ask_secret(f"Password for {name} (Enter to choose another name): ") or None
            if login is None and ask_again is not None:
                name = await ask_again(reason)
            elif login is None:
                raise ClientError(f"cannot join as {sanitize(name)}: {reason}")
            continue
        if code == "bad_password":
            raise ClientError(f"{reason}: set SELCHAT_PASSWORD or use --password-file")
        if code in ("name_registered", "account_required", "bad_login"):
            raise ClientError(f"cannot join as {sanitize(name)}: {reason}; log in with --login (or SELCHAT_LOGIN)")
        raise ClientError(f"cannot join as {sanitize(name)}: {reason}")


