"""Baseline: a thread per client, as the classic tutorials write it. Deliberately untuned.

One thread per connection reads lines; a shared list of clients under one lock; each message is
sent with a blocking ``sendall`` to every other client while the lock is held. Speaks the part of
protocol v1 that `selchat bench` uses: join, chat, user_joined, user_left.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time

clients: list[tuple[socket.socket, str]] = []
lock = threading.Lock()


def frame(**fields: object) -> bytes:
    return (json.dumps(fields) + "\n").encode()


def broadcast(data: bytes, exclude: socket.socket | None) -> None:
    with lock:
        for conn, _ in clients:
            if conn is not exclude:
                try:
                    conn.sendall(data)
                except OSError:
                    pass


def handle(conn: socket.socket) -> None:
    name = None
    reader = conn.makefile("rb")
    try:
        for line in reader:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("type") == "join" and name is None:
                name = msg.get("username")
                with lock:
                    clients.append((conn, name))
                    users = [n for _, n in clients]
                conn.sendall(frame(type="welcome", username=name, room="lobby", users=users, message="Welcome"))
                broadcast(frame(type="user_joined", username=name, room="lobby",
                                message=f"{name} joined the chat", timestamp=time.time()), conn)
            elif msg.get("type") == "chat" and name is not None:
                broadcast(frame(type="chat", username=name, room="lobby", message=msg.get("message"),
                                timestamp=time.time()), conn)
            elif msg.get("type") == "quit":
                break
    except OSError:
        pass
    finally:
        with lock:
            clients[:] = [(c, n) for c, n in clients if c is not conn]
        if name is not None:
            broadcast(frame(type="user_left", username=name, room="lobby",
                            message=f"{name} left the chat", timestamp=time.time()), None)
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    args = parser.parse_args()
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((args.host, args.port))
    server.listen(1024)
    host, port = server.getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    try:
        while True:
            conn, _ = server.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
