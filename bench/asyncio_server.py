"""Baseline: a plain asyncio server, as people usually write one. Deliberately untuned.

``asyncio.start_server``, ``readline``, ``json.loads``, and a write (with ``drain``) to every
other client's writer. Speaks the part of protocol v1 that `selchat bench` uses: join, chat,
user_joined, user_left.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

writers: dict[asyncio.StreamWriter, str] = {}


def frame(**fields: object) -> bytes:
    return (json.dumps(fields) + "\n").encode()


async def broadcast(data: bytes, exclude: asyncio.StreamWriter | None) -> None:
    for writer in list(writers):
        if writer is not exclude:
            try:
                writer.write(data)
                await writer.drain()
            except (ConnectionError, OSError):
                pass


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    name = None
    try:
        while line := await reader.readline():
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("type") == "join" and name is None:
                name = msg.get("username")
                writers[writer] = name
                writer.write(frame(type="welcome", username=name, room="lobby", users=list(writers.values()),
                                   message="Welcome"))
                await broadcast(frame(type="user_joined", username=name, room="lobby",
                                      message=f"{name} joined the chat", timestamp=time.time()), writer)
            elif msg.get("type") == "chat" and name is not None:
                await broadcast(frame(type="chat", username=name, room="lobby", message=msg.get("message"),
                                      timestamp=time.time()), writer)
            elif msg.get("type") == "quit":
                break
    except (ConnectionError, OSError):
        pass
    finally:
        writers.pop(writer, None)
        if name is not None:
            await broadcast(frame(type="user_left", username=name, room="lobby",
                                  message=f"{name} left the chat", timestamp=time.time()), None)
        writer.close()


async def serve(host: str, port: int) -> None:
    server = await asyncio.start_server(handle, host, port, backlog=1024)
    bound = server.sockets[0].getsockname()
    print(f"listening on {bound[0]}:{bound[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5002)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.host, args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
