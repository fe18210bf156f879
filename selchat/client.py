"""`selchat join`: the terminal client.

Three parts, so that each is tested on its own: ``Link`` is the network side (asyncio streams and
the shared codec), ``parse_input`` turns a typed line into an action (pure), and two front ends
drive them: an interactive one on prompt_toolkit, which keeps the line being typed intact while
messages arrive above it, and a plain one for pipes and scripts.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from selchat.codec import LineDecoder, encode
from selchat.render import Renderer, sanitize

CONNECT_TIMEOUT = 10.0
# A selchat server answers `join` at once; silence this long means something else is listening.
WELCOME_TIMEOUT = 5.0
# After `quit`, how long to wait for the server's last frames and its close.
QUIT_TIMEOUT = 5.0
MAX_FRAME = 1 << 20  # what the client accepts from a server, in bytes a line

COMMANDS = {
    "/help": "this list",
    "/users": "who is online",
    "/msg NAME TEXT": "a private message (also: @NAME TEXT)",
    "/ping": "the round trip to the server, in milliseconds",
    "/quit": "leave (also /exit, /q, Ctrl-D or Ctrl-C)",
}
COMMAND_WORDS = ("/help", "/users", "/msg", "/ping", "/quit", "/exit", "/q")


class ClientError(Exception):
    """A problem the user is told about in one line, with the exit status to leave with."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class Action(NamedTuple):
    kind: str  # chat, dm, users, ping, quit, help, nothing, invalid
    target: str = ""
    text: str = ""


def parse_input(line: str) -> Action:
    """What a typed line asks for. Never sends an unknown command as chat."""
    line = line.rstrip("\r\n")
    if not line.strip():
        return Action("nothing")
    if line.startswith("//"):
        return Action("chat", text=line[1:])  # "//x" sends "/x"
    if line.startswith("@"):
        name, _, text = line[1:].partition(" ")
        if not name or not text.strip():
            return Action("invalid", text="usage: @NAME TEXT")
        return Action("dm", name, text)
    if not line.startswith("/"):
        return Action("chat", text=line)
    word, _, rest = line.partition(" ")
    word = word.lower()
    if word in ("/quit", "/exit", "/q"):
        return Action("quit")
    if word == "/help":
        return Action("help")
    if word == "/users":
        return Action("users")
    if word == "/ping":
        return Action("ping")
    if word == "/msg":
        name, _, text = rest.strip().partition(" ")
        if not name or not text.strip():
            return Action("invalid", text="usage: /msg NAME TEXT")
        return Action("dm", name, text)
    return Action("invalid", text=f"unknown command {sanitize(word)}; type /help for the list")


def help_lines() -> list[str]:
    width = max(map(len, COMMANDS))
    lines = [f"{cmd.ljust(width)}  {what}" for cmd, what in COMMANDS.items()]
    lines.append("anything else is sent to the room; start a line with // to send one that begins with /")
    return lines


def client_ssl_context(cafile: str | None, insecure: bool) -> ssl.SSLContext:
    if insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise ClientError(f"cannot use {cafile} as a CA file: {getattr(exc, 'strerror', None) or exc}") from exc


class Link:
    """One connection to a server: frames out, frames in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: str) -> None:
        self.reader = reader
        self.writer = writer
        self.address = address
        self._decoder = LineDecoder(MAX_FRAME)
        self._ready: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, host: str, port: int, tls: ssl.SSLContext | None = None) -> Link:
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=tls, server_hostname=host if tls else None),
                CONNECT_TIMEOUT,
            )
        except ConnectionRefusedError:
            raise ClientError(f"cannot connect to {address}: connection refused; is selchat serve running there?")
        except socket.gaierror as exc:
            raise ClientError(f"cannot find host {host!r}: {exc.strerror}")
        except (asyncio.TimeoutError, TimeoutError):
            raise ClientError(f"cannot connect to {address}: no answer within {CONNECT_TIMEOUT:g} s")
        except ssl.SSLCertVerificationError as exc:
            raise ClientError(
                f"{address}: the server's TLS certificate is not trusted ({exc.verify_message}); "
                "pass its certificate with --cafile FILE, or --insecure to skip the check"
            )
        except (ssl.SSLError, ConnectionError) as exc:
            if tls is None:
                raise ClientError(f"cannot connect to {address}: {exc}")
            raise ClientError(f"{address}: TLS handshake failed; is the server started with --tls-cert?")
        except OSError as exc:
            raise ClientError(f"cannot connect to {address}: {exc.strerror or exc}")
        sock = writer.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer, address)

    async def send(self, frame: dict[str, Any]) -> None:
        try:
            self.writer.write(encode(frame))
            await self.writer.drain()
        except (ConnectionError, OSError):
            pass  # the reading side notices the loss and says so

    async def next_frame(self) -> dict[str, Any] | None:
        """The next frame, or None when the server has closed the connection."""
        while not self._ready:
            try:
                data = await self.reader.read(65536)
            except (ConnectionError, OSError, ssl.SSLError):
                data = b""
            if not data:
                return None
            for item in self._decoder.feed(data):
                if type(item) is not dict:
                    raise ClientError(f"{self.address} does not speak the selchat protocol ({item})")
                self._ready.append(item)
        return self._ready.pop(0)

    async def close(self) -> None:
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 1.0)
        except (asyncio.TimeoutError, ConnectionError, OSError, ssl.SSLError):
            pass


@dataclass
class ChatState:
    """What the client knows of the room, kept current from the frames it receives."""

    me: str
    users: set[str] = field(default_factory=set)
    max_message: int = 2000
    rate_limit: float = 0.0
    burst: int = 20
    pings: dict[int, float] = field(default_factory=dict)
    next_ping: int = 1

    def learn(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "welcome":
            self.me = str(frame.get("username", self.me))
            self.users = {str(u) for u in frame.get("users") or []}
            if isinstance(frame.get("max_message"), int):
                self.max_message = frame["max_message"]
            if isinstance(frame.get("rate_limit"), (int, float)):
                self.rate_limit = float(frame["rate_limit"])
            if isinstance(frame.get("burst"), int):
                self.burst = frame["burst"]
        elif kind == "users":
            self.users = {str(u) for u in frame.get("users") or []}
        elif kind == "user_joined":
            self.users.add(str(frame.get("username")))
        elif kind == "user_left":
            self.users.discard(str(frame.get("username")))


class Pacer:
    """Keeps a script under the server's rate limit, so piped lines are not refused."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.tokens = float(burst)
        self.burst = float(burst)
        self.at = time.monotonic()

    async def wait(self) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            await asyncio.sleep((1 - self.tokens) / self.rate)
            self.tokens = 1.0
            self.at = time.monotonic()
        self.tokens -= 1


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 5000
    name: str | None = None
    password: str | None = None
    colour: bool = True
    json_output: bool = False
    tls: ssl.SSLContext | None = None


async def join(
    link: Link,
    name: str,
    password: str | None,
    ask_again: Callable[[str], Any] | None,
    show: Callable[[str], None],
) -> dict[str, Any]:
    """Send `join` until the server welcomes us; ``ask_again(reason)`` picks a new name."""
    while True:
        frame: dict[str, Any] = {"type": "join", "username": name}
        if password is not None:
            frame["password"] = password
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
            return reply
        if kind != "error":
            raise ClientError(f"{link.address} answered join with {sanitize(kind)!r}; is it a selchat server?")
        reason = sanitize(reply.get("message", "refused"))
        if reply.get("code") in ("username_taken", "invalid_username") and ask_again is not None:
            show(reason)
            name = await ask_again(reason)
            continue
        if reply.get("code") == "bad_password":
            raise ClientError(f"{reason}: set SELCHAT_PASSWORD or use --password-file")
        raise ClientError(f"cannot join as {sanitize(name)}: {reason}")


class Session:
    """The part both front ends share: incoming frames, typed lines, and how the session ends."""

    def __init__(self, link: Link, state: ChatState, renderer: Renderer, options: Options,
                 out: Callable[[str], None]) -> None:
        self.link = link
        self.state = state
        self.renderer = renderer
        self.options = options
        self.out = out
        self.status: int | None = None  # the exit status, once the session is over
        self.quitting = False

    async def receive(self) -> None:
        """Show frames until the connection ends; sets ``status``."""
        while True:
            frame = await self.link.next_frame()
            if frame is None:
                if self.quitting:
                    self.status = 0
                else:
                    self.out(self.renderer.problem(f"connection to {self.link.address} lost"))
                    self.status = 1
                return
            self.state.learn(frame)
            kind = frame.get("type")
            if kind == "ping":
                await self.link.send({"type": "pong", "id": frame.get("id")})
            if self.options.json_output:
                self.out(json.dumps(frame, ensure_ascii=False, separators=(",", ":")))
            elif kind == "pong" and frame.get("id") in self.state.pings:
                sent = self.state.pings.pop(frame["id"])
                took = (time.monotonic() - sent) * 1000
                self.out(self.renderer.notice(f"pong from {self.link.address}: {took:.1f} ms"))
            else:
                line = self.renderer.frame(frame)
                if line is not None:
                    self.out(line)
            if kind == "shutdown":
                self.status = 0
                return

    async def handle(self, line: str, pacer: Pacer | None = None) -> bool:
        """Act on one typed line; False once the user asked to quit."""
        action = parse_input(line)
        kind = action.kind
        if kind == "nothing":
            return True
        if kind == "invalid":
            self.out(self.renderer.problem(action.text))
        elif kind == "help":
            for text in help_lines():
                self.out(self.renderer.notice(text))
        elif kind == "users":
            await self.link.send({"type": "users"})
        elif kind == "ping":
            ping_id = self.state.next_ping
            self.state.next_ping += 1
            self.state.pings[ping_id] = time.monotonic()
            await self.link.send({"type": "ping", "id": ping_id})
        elif kind == "quit":
            await self.quit()
            return False
        else:
            text = action.text
            if len(text) > self.state.max_message:
                self.out(self.renderer.problem(
                    f"not sent: that line is {len(text)} characters; the server's limit is {self.state.max_message}"
                ))
                return True
            if pacer is not None:
                await pacer.wait()
            if kind == "dm":
                await self.link.send({"type": "dm", "to": action.target, "message": text})
            else:
                await self.link.send({"type": "chat", "message": text})
                if not self.options.json_output and pacer is None:
                    self.out(self.renderer.own_chat(text))  # the server echoes nothing to the sender
        return True

    async def quit(self) -> None:
        self.quitting = True
        await self.link.send({"type": "quit"})


# -- the interactive front end -------------------------------------------------------------------


class _ConnectionOver(Exception):
    """Ends the prompt when the server has gone."""


async def run_interactive(options: Options) -> int:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import Completer, Completion
    from prompt_toolkit.formatted_text import ANSI
    from prompt_toolkit.history import InMemoryHistory
    from prompt_toolkit.patch_stdout import patch_stdout
    from prompt_toolkit.shortcuts import print_formatted_text

    renderer = Renderer(colour=options.colour and not options.json_output)

    def show(text: str) -> None:
        print_formatted_text(ANSI(text))

    state = ChatState(me=options.name or "")

    class ChatCompleter(Completer):
        """Tab completes command names, and user names after @ or /msg (or anywhere in a line)."""

        def get_completions(self, document: Any, complete_event: Any) -> Any:
            text = document.text_before_cursor
            word = document.get_word_before_cursor(WORD=True)
            if text.startswith("/") and " " not in text:
                for command in COMMAND_WORDS:
                    if command.startswith(text.lower()):
                        yield Completion(command, start_position=-len(text))
                return
            prefix = word[1:] if word.startswith("@") else word
            for name in sorted(state.users, key=str.casefold):
                if name.casefold().startswith(prefix.casefold()) and name != state.me:
                    yield Completion(("@" if word.startswith("@") else "") + name, start_position=-len(word))

    # erase_when_done: an accepted line is replaced by its formatted echo, not shown twice
    prompt = PromptSession(
        history=InMemoryHistory(), completer=ChatCompleter(), complete_while_typing=False, erase_when_done=True
    )

    async def ask_name(reason: str = "") -> str:
        while True:
            try:
                name = (await prompt.prompt_async("Your name: ")).strip()
            except (EOFError, KeyboardInterrupt):
                raise ClientError("no name chosen", status=0)
            if name:
                return name

    link = await Link.open(options.host, options.port, options.tls)
    try:
        name = options.name or await ask_name()
        welcome = await join(link, name, options.password, ask_name, lambda r: show(renderer.problem(r)))
        state.learn(welcome)
        renderer.me = state.me
        session = Session(link, state, renderer, options, show)
        show(renderer.frame(welcome) or "")
        others = sorted(state.users - {state.me}, key=str.casefold)
        show(renderer.notice("online: " + (", ".join(sanitize(u) for u in others) or "just you")))
        show(renderer.notice("type /help for commands"))
        message = ANSI(renderer.name(state.me) + "> ") if renderer.colour else f"{state.me}> "

        receiver = asyncio.create_task(session.receive())

        def over(task: asyncio.Task[None]) -> None:
            if prompt.app.is_running:
                prompt.app.exit(exception=_ConnectionOver())

        receiver.add_done_callback(over)
        with patch_stdout(raw=True):
            while not receiver.done():
                try:
                    line = await prompt.prompt_async(message)
                except (EOFError, KeyboardInterrupt):
                    await session.quit()
                    break
                except _ConnectionOver:
                    break
                if not await session.handle(line):
                    break
            if session.quitting:
                try:
                    await asyncio.wait_for(asyncio.shield(receiver), QUIT_TIMEOUT)
                except asyncio.TimeoutError:
                    pass
                show(renderer.notice("bye"))
                return 0
            await receiver  # it ended the session: its status stands
        return session.status if session.status is not None else 1
    finally:
        await link.close()


# -- the plain front end: pipes, files and scripts -----------------------------------------------


def _stdin_lines(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    """Read standard input in a daemon thread: a blocking read cannot hold up the exit."""

    def pump() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="selchat-stdin", daemon=True).start()


async def run_plain(options: Options) -> int:
    if not options.name:
        raise ClientError("--name (or SELCHAT_NAME) is required when standard input is not a terminal")
    renderer = Renderer(colour=False)

    def show(text: str) -> None:
        print(text, flush=True)

    def show_problem(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    link = await Link.open(options.host, options.port, options.tls)
    try:
        welcome = await join(link, options.name, options.password, None, show_problem)
        state = ChatState(me=options.name)
        state.learn(welcome)
        renderer.me = state.me
        session = Session(link, state, renderer, options, show)
        show(json.dumps(welcome, ensure_ascii=False, separators=(",", ":")) if options.json_output
             else renderer.frame(welcome) or "")
        receiver = asyncio.create_task(session.receive())
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        _stdin_lines(asyncio.get_running_loop(), lines)
        pacer = Pacer(state.rate_limit, state.burst)
        while not receiver.done():
            getter = asyncio.ensure_future(lines.get())
            await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                break  # the server ended the session
            line = getter.result()
            if line is None:
                await session.quit()  # end of input
                break
            if not await session.handle(line, pacer):
                break
        if session.quitting:
            try:
                await asyncio.wait_for(asyncio.shield(receiver), QUIT_TIMEOUT)
            except asyncio.TimeoutError:
                receiver.cancel()
            return 0
        await receiver
        return session.status if session.status is not None else 1
    finally:
        await link.close()


def run(options: Options) -> int:
    """Run a session to its end; the exit status. ClientError carries a one-line reason."""
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    main = run_interactive if interactive else run_plain
    try:
        return asyncio.run(main(options))
    except KeyboardInterrupt:
        return 0
