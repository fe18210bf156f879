"""`selchat join`: the terminal client.

Parts that are each tested on their own: ``link`` is the network side (asyncio streams and the
shared codec), ``words`` turns a typed line into an action (pure) and ``typed`` carries it out,
``state`` is what the client knows of the chat, ``joining`` the join exchange, ``session`` what
both front ends share; the front ends are ``terminal`` (prompt_toolkit, which keeps the line
being typed intact while messages arrive above it) and ``plain`` (pipes and scripts).
"""

from selchat.client.joining import Options, join
from selchat.client.link import Link, Pacer, client_ssl_context
from selchat.client.plain import run, run_plain
from selchat.client.state import ChatState
from selchat.client.words import Action, ClientError, help_lines, parse_input

__all__ = ["Action", "ChatState", "ClientError", "Link", "Options", "Pacer", "client_ssl_context", "help_lines", "join",
           "parse_input", "run", "run_plain"]
