"""The glue between the reactor and the chat core, as parts with one job each (see app.py)."""

from selchat.server.app import ChatServer, error_payload, raise_fd_limit, server_ssl_context
from selchat.server.session import host_of

__all__ = ["ChatServer", "error_payload", "host_of", "raise_fd_limit", "server_ssl_context"]
