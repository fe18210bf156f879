"""IRC (RFC 1459/2812 as modern clients speak it, and the IRCv3 capabilities selchat offers):
bytes in, the hub's commands out; the hub's events in, IRC lines out. Sans-I/O, like the JSON
codec: nothing here touches a socket or a clock.

Two halves, for speed. ``IrcWire`` (wire.py) renders what a whole room hears (a PRIVMSG, a JOIN,
a topic) and is shared by every connection with the same capabilities, so a broadcast is encoded
once per capability set, not once per person. ``IrcCodec`` (codec.py) is one connection: its
parser, its registration, its nick, and the replies only it gets (numerics name their
recipient). The verbs are a table (commands.py), the replies too (replies.py); lines.py has the
words both use.
"""

from selchat.wire.irc.codec import IrcCodec
from selchat.wire.irc.lines import SERVER, mask, msgid, parse_line, parse_time, reference
from selchat.wire.irc.wire import IrcWire

__all__ = ["SERVER", "IrcCodec", "IrcWire", "mask", "msgid", "parse_line", "parse_time", "reference"]
