"""The plain front end, for pipes, files and scripts: lines from standard input, frames (or JSON)
to standard output; and ``run``, which picks a front end."""

from __future__ import annotations

import asyncio
import json
import sys
import threading

from selchat.client.joining import Options, join
from selchat.client.link import QUIT_TIMEOUT, Link, Pacer
from selchat.client.session import Session
from selchat.client.state import ChatState
from selchat.client.words import ClientError
from selchat.render import Renderer


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
        welcome = await join(link, options.name, options, None, show_problem)
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
        if session.status is None:
            show_problem(renderer.problem(f"connection to {link.address} lost"))
        return session.status if session.status is not None else 1
    finally:
        await link.close()


def run(options: Options) -> int:
    """Run a session to its end; the exit status. ClientError carries a one-line reason."""
    if sys.stdin.isatty() and sys.stdout.isatty():
        from selchat.client.terminal import run_interactive  # prompt_toolkit only where a person types
        main = run_interactive
    else:
        main = run_plain
    try:
        return asyncio.run(main(options))
    except KeyboardInterrupt:
        return 0
