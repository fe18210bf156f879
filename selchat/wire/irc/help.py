"""IRC's HELP (and HELPOP, its older name): a few lines on each command this server knows,
answered by the codec itself as 704, 705 and 706 (Modern IRC's numerics), 524 for a subject
it has none on."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from selchat.wire.irc.codec import IrcCodec

TOPICS: dict[str, tuple[str, ...]] = {
    "INDEX": ("selchat speaks IRC: rooms are channels, and a room's history is kept.",
              "HELP COMMAND tells more about each of these commands:",
              "AWAY CAP CHATHISTORY INFO INVITE JOIN KICK KILL LIST LUSERS MODE MOTD NAMES NICK NOTICE OPER",
              "PART PING PRIVMSG QUIT TAGMSG TIME TOPIC USERHOST WALLOPS WHO WHOIS WHOWAS"),
    "AWAY": ("AWAY [:MESSAGE]", "Say you are away (without a message: back)."),
    "CAP": ("CAP LS 302 | CAP REQ :CAPABILITIES | CAP LIST | CAP END", "The IRCv3 capabilities this server has."),
    "CHATHISTORY": ("CHATHISTORY LATEST|BEFORE|AFTER|AROUND|BETWEEN TARGET REFERENCE... LIMIT",
                    "A page of a room's kept history (draft/chathistory)."),
    "INFO": ("INFO", "What this server is."),
    "INVITE": ("INVITE NICK #ROOM", "Ask someone into a room you are in (an operator's, if it is +i)."),
    "JOIN": ("JOIN #ROOM[,#ROOM...] [KEY[,KEY...]]", "Come into rooms; a room nobody is in is made for you,",
             "and you are its operator."),
    "KICK": ("KICK #ROOM NICK [:REASON]", "Put someone out of a room you run."),
    "KILL": ("KILL NICK [:REASON]", "End someone's connection (server operators)."),
    "LIST": ("LIST", "The rooms, with how many are in each and their topics."),
    "LUSERS": ("LUSERS", "How many are online."),
    "MODE": ("MODE #ROOM [+|-]LETTERS [VALUES]",
             "A room's modes: m moderated, n no messages from outside, t topic for operators, s secret,",
             "i invite only, k KEY, l LIMIT, b/e/I MASK (bans, exceptions, invite exceptions), o/v NICK."),
    "MOTD": ("MOTD", "The message of the day."),
    "NAMES": ("NAMES #ROOM", "Who is in a room."),
    "NICK": ("NICK NAME", "Change your name."),
    "NOTICE": ("NOTICE TARGET :TEXT", "Like PRIVMSG, but never answered automatically."),
    "OPER": ("OPER ACCOUNT PASSWORD", "Become a server operator (an account the server names as one)."),
    "PART": ("PART #ROOM [:REASON]", "Leave a room."),
    "PING": ("PING TOKEN", "The server answers PONG with the same token."),
    "PRIVMSG": ("PRIVMSG TARGET :TEXT", "Say something to a room (#ROOM) or to one person (NICK)."),
    "QUIT": ("QUIT [:REASON]", "Leave the server."),
    "TAGMSG": ("TAGMSG TARGET", "Only tags (typing, reactions) to a room or a person (message-tags)."),
    "TIME": ("TIME", "The server's time."),
    "TOPIC": ("TOPIC #ROOM [:TEXT]", "Show a room's topic, or set it."),
    "USERHOST": ("USERHOST NICK...", "Who is online, and whether they are away."),
    "WALLOPS": ("WALLOPS :TEXT", "A word to every server operator (server operators)."),
    "WHO": ("WHO #ROOM|MASK", "Who is in a room, or whose name matches."),
    "WHOIS": ("WHOIS NICK", "Who someone is, and which rooms they are in."),
    "WHOWAS": ("WHOWAS NICK [COUNT]", "Who had a name that is free now."),
}


def help_lines(c: IrcCodec, subject: str | None) -> list[bytes]:
    key = (subject or "INDEX").upper()
    lines = TOPICS.get(key)
    shown = subject or "*"
    if lines is None:
        return [c.numeric("524", shown, "No help is available on that subject")]
    first, *rest = lines
    return [c.numeric("704", shown, first), *(c.numeric("705", shown, line) for line in rest),
            c.numeric("706", shown, "End of /HELP")]
