"""An incoming webhook's request as HTTP carries it (``POST /hooks/SECRET``): the body gathered
from h11's events up to hooks.BODY_MAX, then one ``HookPost`` for the hub; and the answer back."""

from __future__ import annotations

from typing import Any

from selchat.events import HookPost
from selchat.hooks import BODY_MAX, PATH, PayloadError, payload
from selchat.outbound import HookAnswer

TOO_BIG = f"a webhook's body is at most {BODY_MAX} bytes"


class HookRequest:
    def __init__(self, secret: str, content_type: str) -> None:
        self.secret = secret
        self.content_type = content_type
        self.parts: list[bytes] = []
        self.size = 0

    def data(self, chunk: bytes) -> bool:
        """False once the body is larger than a webhook's may be."""
        self.size += len(chunk)
        self.parts.append(chunk)
        return self.size <= BODY_MAX

    def post(self) -> HookPost | PayloadError:
        """The post the body makes, or what is wrong with it (answered 400 here: it is the wire's)."""
        try:
            text, username = payload(b"".join(self.parts), self.content_type)
        except PayloadError as exc:
            return exc
        return HookPost(self.secret, text, username)


def refusal(method: str, path: str, headers: dict[str, str]) -> tuple[int, str, list[tuple[str, str]]] | None:
    """Why the request cannot be a webhook's post, as (status, text, headers), before its body."""
    if method != "POST":
        return 405, "a webhook is posted to: POST a JSON body", [("Allow", "POST")]
    if not path[len(PATH):] or "/" in path[len(PATH):]:
        return 404, "no webhook has this URL", []
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > BODY_MAX:
        return 413, TOO_BIG, []
    return None


def continue_line(headers: dict[str, str]) -> bytes:
    """curl asks before a body over 1 KiB (Expect: 100-continue) and waits a second for this."""
    return b"HTTP/1.1 100 Continue\r\n\r\n" if headers.get("expect", "").lower() == "100-continue" else b""


def answer_headers(event: HookAnswer) -> list[tuple[str, Any]]:
    return [("Retry-After", str(event.retry_after))] if event.retry_after else []
