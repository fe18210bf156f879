"""The interactive front end, on prompt_toolkit: the line being typed stays intact while messages
arrive above it; Tab completes, Alt-1..9 switch rooms, PageUp scrolls back; a lost connection
is reconnected with back-off while the prompt stays."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.formatted_text import ANSI
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.patch_stdout import patch_stdout
from prompt_toolkit.shortcuts import print_formatted_text

from selchat.client.joining import Options, join
from selchat.client.link import QUIT_TIMEOUT, Link
from selchat.client.session import BACKOFF_FIRST, BACKOFF_MAX, Session
from selchat.client.state import ChatState
from selchat.client.words import COMMAND_WORDS, ClientError
from selchat.render import Renderer, sanitize

TYPING_EVERY = 3.0  # seconds between "active" notices while typing (IRCv3 typing)


class _ConnectionOver(Exception):
    """Ends the prompt when the server has gone."""


class ChatCompleter(Completer):
    """Tab completes command names, rooms (after #), and user names after @ or /msg (or anywhere)."""

    def __init__(self, state: ChatState) -> None:
        self.state = state

    def get_completions(self, document: Any, complete_event: Any) -> Any:
        state = self.state
        text = document.text_before_cursor
        word = document.get_word_before_cursor(WORD=True)
        if text.startswith("/") and " " not in text:
            for command in COMMAND_WORDS:
                if command.startswith(text.lower()):
                    yield Completion(command, start_position=-len(text))
            return
        if word.startswith("#") or text.lower().startswith(("/join ", "/part ", "/names ")):
            rooms = {r.casefold(): r for r in [*state.known_rooms, *state.rooms]}
            prefix = word if word.startswith("#") else "#" + word
            for room in sorted(rooms.values(), key=str.casefold):
                if room.casefold().startswith(prefix.casefold()):
                    yield Completion(room, start_position=-len(word))
            return
        prefix = word[1:] if word.startswith("@") else word
        for name in sorted(state.users, key=str.casefold):
            if name.casefold().startswith(prefix.casefold()) and name != state.me:
                yield Completion(("@" if word.startswith("@") else "") + name, start_position=-len(word))


class Terminal:
    """One interactive session: the prompt, its keys, the connection and its reconnects."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.renderer = Renderer(colour=options.colour and not options.json_output)
        self.state = ChatState(me=options.name or "")
        self.session: Session | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        # erase_when_done: an accepted line is replaced by its formatted echo, not shown twice
        self.prompt: PromptSession[str] = PromptSession(
            history=InMemoryHistory(), completer=ChatCompleter(self.state), complete_while_typing=False,
            erase_when_done=True, key_bindings=self._keys(), refresh_interval=1.0)
        self.typed_at = 0.0  # when this terminal last said it is typing (at most every TYPING_EVERY s)
        self.prompt.default_buffer.on_text_changed += self._typing

    def show(self, text: str) -> None:
        print_formatted_text(ANSI(text))

    def typing_now(self) -> str | None:
        """Who is typing in the room on screen (the page's "bob is typing…"), said before the prompt
        (a bottom toolbar needs a terminal that reports its cursor, which not every one does)."""
        names = self.state.typing_in(self.state.current, time.monotonic())
        if not names:
            return None
        return (" and ".join(names[:3]) + (" and others" if len(names) > 3 else "")
                + (" are" if len(names) > 1 else " is") + " typing…")

    def _typing(self, buffer: Any) -> None:
        """A line being typed (not a command) is said to the room: "active" every few seconds, as
        IRCv3's typing asks; "done" once the line is emptied or sent (the server drops repeats)."""
        session, state = self.session, self.state
        if session is None or not session.connected or state.version < 2:
            return
        text, now = buffer.text, time.monotonic()
        if text and not text.startswith("/") and now - self.typed_at >= TYPING_EVERY:
            self.typed_at = now
            self._later(session.link.send({"type": "typing", "room": state.current, "state": "active"}))
        elif not text and self.typed_at:
            self.typed_at = 0.0
            self._later(session.link.send({"type": "typing", "room": state.current, "state": "done"}))

    def _keys(self) -> KeyBindings:
        keys = KeyBindings()
        for n in range(1, 10):
            @keys.add("escape", str(n))
            def _switch(event: Any, n: int = n) -> None:
                if self.session is not None and n <= len(self.state.rooms):
                    self.session.switch(self.state.rooms[n - 1])
                    event.app.invalidate()

        @keys.add("escape", "enter")
        def _newline(event: Any) -> None:
            """Alt-Enter starts another line of the same message (a paste keeps its lines too)."""
            event.current_buffer.insert_text("\n")

        @keys.add("pageup")
        def _older(event: Any) -> None:
            if self.session is not None:
                self._later(self.session.page_up())
        return keys

    def _later(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def message(self) -> Any:
        """The prompt: the current room and your name."""
        state = self.state
        room = f"[{state.current}] " if state.version >= 2 else ""
        waiting = [f"{r} {n}" + ("@" if m else "") for r, n, m in state.unread_rooms()]
        if waiting:  # the switcher's other rooms with lines unread (Alt-1..9), @: one names you
            room = "(" + ", ".join(waiting) + ") " + room
        typing = self.typing_now()
        if typing:
            room = f"({sanitize(typing)}) " + room
        if self.renderer.colour:
            return ANSI(room + self.renderer.name(state.me) + "> ")
        return f"{room}{state.me}> "

    async def ask_name(self, reason: str = "") -> str:
        while True:
            try:
                name = (await self.prompt.prompt_async("Your name: ")).strip()
            except (EOFError, KeyboardInterrupt):
                raise ClientError("no name chosen", status=0)
            if name:
                return name

    async def ask_secret(self, question: str) -> str:
        try:
            return await self.prompt.prompt_async(question, is_password=True)
        except (EOFError, KeyboardInterrupt):
            return ""

    async def start(self) -> Session:
        """Connect, join, and greet."""
        options, renderer, state = self.options, self.renderer, self.state
        link = await Link.open(options.host, options.port, options.tls)
        try:
            name = options.name or await self.ask_name()
            welcome = await join(link, name, options, self.ask_name, lambda r: self.show(renderer.problem(r)),
                                 self.ask_secret)
        except BaseException:
            await link.close()
            raise
        state.learn(welcome)
        renderer.me = state.me
        session = self.session = Session(link, state, renderer, options, self.show, self.ask_secret)
        session.reconnects = True
        self.show(renderer.frame(welcome) or "")
        others = sorted(state.users - {state.me}, key=str.casefold)
        self.show(renderer.notice("online: " + (", ".join(sanitize(u) for u in others) or "just you")))
        self.show(renderer.notice("type /help for commands"))
        if state.version >= 2:
            session.quiet_lists += 1
            await link.send({"type": "rooms"})  # the rooms there are, for Tab
        return session

    async def connection(self, session: Session) -> None:
        """Receive until the end; when the connection is lost, reconnect with back-off."""
        while True:
            await session.receive()
            await session.link.close()
            if session.quitting or session.status is not None:
                return
            session.connected = False
            link, welcome = await self._reconnect(session)
            await session.resume(link, welcome)

    async def _reconnect(self, session: Session) -> tuple[Link, dict[str, Any]]:
        options, renderer = self.options, self.renderer
        delay = BACKOFF_FIRST
        while True:
            self.show(renderer.problem(f"connection to {session.link.address} lost; reconnecting in {delay:g} s"
                                       " (Ctrl-D quits)"))
            await asyncio.sleep(delay)
            try:
                new = await Link.open(options.host, options.port, options.tls)
            except ClientError:
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            try:
                return new, await join(new, options.name or self.state.me, options, None, self.show)
            except ClientError as exc:
                await new.close()
                self.show(renderer.problem(exc.message))
                delay = min(delay * 2, BACKOFF_MAX)

    async def run(self) -> int:
        session = await self.start()
        receiver = asyncio.create_task(self.connection(session))
        prompt = self.prompt

        def over(task: asyncio.Task[None]) -> None:
            if prompt.app.is_running:
                prompt.app.exit(exception=_ConnectionOver())

        receiver.add_done_callback(over)
        try:
            with patch_stdout(raw=True):
                await self._read_lines(session, receiver)
                if session.quitting:
                    return await self._bye(session, receiver)
                await receiver  # it ended the session: its status stands
            return session.status if session.status is not None else 1
        finally:
            for task in (*self.tasks, receiver):
                task.cancel()
            await session.link.close()

    async def _read_lines(self, session: Session, receiver: asyncio.Task[None]) -> None:
        while not receiver.done():
            try:
                line = await self.prompt.prompt_async(self.message)
            except (EOFError, KeyboardInterrupt):
                await session.quit()
                return
            except _ConnectionOver:
                return
            if not await session.handle(line):
                return
            if self.typed_at and session.connected:  # sent (or a command): no longer typing
                self.typed_at = 0.0
                await session.link.send({"type": "typing", "room": self.state.current, "state": "done"})

    async def _bye(self, session: Session, receiver: asyncio.Task[None]) -> int:
        if not session.connected:
            receiver.cancel()
            self.show(self.renderer.notice("bye"))
            return 1  # gave up on a lost connection
        try:
            await asyncio.wait_for(asyncio.shield(receiver), QUIT_TIMEOUT)
        except asyncio.TimeoutError:
            receiver.cancel()
        self.show(self.renderer.notice("bye"))
        return 0


async def run_interactive(options: Options) -> int:
    return await Terminal(options).run()
