"""What a whole room hears, as IRC lines: rendered once per capability set and shared by every
connection with that set, so a broadcast is encoded once per set, not once per person."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from selchat import outbound as ev
from selchat.wire.irc import multiline
from selchat.wire.irc.lines import CTCP, LINE_MAX, SERVER, fit, flat, mask, msgid, time_tag


class IrcWire:
    """What a room hears, rendered once per capability set."""

    _interned: dict[tuple[frozenset[str], str], IrcWire] = {}

    def __init__(self, caps: frozenset[str], server: str = SERVER) -> None:
        self.caps = caps
        self.server = server
        self.server_time = "server-time" in caps
        self.tags = "message-tags" in caps
        self.account_tag = "account-tag" in caps
        self.extended_join = "extended-join" in caps
        self.multiline = multiline.CAP in caps and "batch" in caps
        self.redaction = "draft/message-redaction" in caps

    @classmethod
    def for_caps(cls, caps: frozenset[str], server: str = SERVER) -> IrcWire:
        wire = cls._interned.get((caps, server))
        if wire is None:
            wire = cls._interned[(caps, server)] = cls(caps, server)
        return wire

    def _out(self, source: str, rest: str, timestamp: float | None = None, batch: str | None = None,
             ident: bool = False, client_tags: str = "", account: str | None = None, bot: bool = False) -> bytes:
        tags = [client_tags] if client_tags and self.tags else []
        if bot and self.tags:
            tags.append("bot")
        if account and self.account_tag:
            tags.append(f"account={account}")
        if batch is not None:
            tags.append(f"batch={batch}")
        if self.server_time and timestamp is not None:
            tags.append(time_tag(timestamp))
        if ident and self.tags and timestamp is not None:
            tags.append(f"msgid={msgid(timestamp)}")
        head = f"@{';'.join(tags)} " if tags else ""
        return fit(f"{head}:{source} {rest}")

    def message(self, sender: str, target: str, text: str, timestamp: float, action: bool, notice: bool,
                history: bool = False, batch: str | None = None, tags: str = "", account: str | None = None,
                bot: bool = False, joins: tuple[int, ...] = ()) -> bytes:
        verb = "NOTICE" if notice else "PRIVMSG"
        if history and not self.server_time:
            text = f"[{time.strftime('%H:%M', time.localtime(timestamp))}] {text}"
        prefix = f"{verb} {target} :" + (f"{CTCP}ACTION " if action else "")
        suffix = CTCP if action else ""
        source = mask(sender)
        # (a client may leave out the colon before a last word: one byte less than we write)
        if "\n" not in text and not joins and len(prefix.encode()) + len(text.encode()) + len(suffix) + 1 <= LINE_MAX:
            # what an IRC client could send in one line arrives in one line, cut by _out on a
            # character boundary if the sender's mask pushes it past 512 bytes, as servers do
            return self._out(source, prefix + text + suffix, timestamp, batch, True, tags, account, bot)
        # several lines, or one too long (from the page or selchat join): a multiline batch, or
        # else the lines one by one, long ones split, so that IRC users read it whole
        room = LINE_MAX - len(f":{source} {prefix}{suffix}\r\n".encode()) - 8
        lines = multiline.pieces(text, joins, room)
        if self.multiline:
            return multiline.as_batch(self, source, prefix, suffix, lines, timestamp, batch, tags, account, bot)
        out = []
        for piece, _ in lines:
            if piece:  # the first line carries the message's id (as ergo does), blank ones are left out
                out.append(self._out(source, prefix + piece + suffix, timestamp, batch, not out, tags, account, bot))
        return b"".join(out)

    def encode(self, event: ev.Event) -> bytes | None:
        render = _RENDER.get(type(event))
        return render(self, event) if render is not None else None

    # -- one renderer an event type (the table below) ---------------------------------------------
    def _said(self, m: ev.Message) -> bytes:
        return self.message(m.username, m.status + m.room, m.text, m.timestamp, m.action, m.notice, m.history,
                            None, m.tags, m.account, m.bot, m.joins)

    def _tagged(self, t: ev.TagMessage) -> bytes | None:
        if not self.tags:
            return None  # only tags: nothing for a client without message-tags
        return self._out(mask(t.sender), f"TAGMSG {t.target}", t.timestamp, None, True, t.tags)

    def _changed(self, e: ev.MessageChanged) -> bytes:
        """A line deleted: REDACT for a client with draft/message-redaction, else a NOTICE saying so
        (as ergo does); edited: a NOTICE with the new text (IRC has no edits)."""
        if e.text is None and self.redaction:
            reason = f" :{flat(e.reason)}" if e.reason else ""
            return self._out(mask(e.by), f"REDACT {e.room} {msgid(e.line)}{reason}", e.timestamp)
        said = "deleted a message" if e.text is None else f"edited a message: {flat(e.text)}"
        return self._out(mask(e.by), f"NOTICE {e.room} :{e.by} {said}", e.timestamp)

    def _joined(self, j: ev.UserJoined) -> bytes:
        if self.extended_join:  # the account (* for none) and the real name too
            return self._out(mask(j.username), f"JOIN {j.room} {j.account or '*'} :{flat(j.realname or j.username)}",
                             j.timestamp)
        return self._out(mask(j.username), f"JOIN {j.room}", j.timestamp)

    def _account(self, a: ev.AccountChanged) -> bytes | None:
        if "account-notify" not in self.caps:
            return None
        return self._out(mask(a.username), f"ACCOUNT {a.account or '*'}")

    def _realname(self, r: ev.RealnameChanged) -> bytes | None:
        if "setname" not in self.caps:
            return None
        return self._out(mask(r.username), f"SETNAME :{flat(r.realname)}")

    def _invited(self, i: ev.Invited) -> bytes | None:
        """The room hears of an invitation with invite-notify (the invited and the inviter: replies.py)."""
        if "invite-notify" not in self.caps:
            return None
        return self._out(mask(i.by), f"INVITE {i.username} {i.room}", i.timestamp, account=i.account)

    def _left(self, left: ev.UserLeft) -> bytes | None:
        if left.parted:
            reason = f" :{flat(left.reason)}" if left.reason else ""
            return self._out(mask(left.username), f"PART {left.room}{reason}", left.timestamp)
        if left.again:
            return None  # QUIT is said once, whatever rooms were shared
        return self._out(mask(left.username), f"QUIT :{flat(left.reason or 'Quit')}", left.timestamp)

    def _topic(self, t: ev.TopicChanged) -> bytes:
        return self._out(mask(t.by), f"TOPIC {t.room} :{flat(t.topic)}", t.timestamp)

    def _nick(self, n: ev.NickChanged) -> bytes:
        return self._out(mask(n.old), f"NICK {n.new}", n.timestamp)

    def _away(self, a: ev.AwayChanged) -> bytes | None:
        if "away-notify" not in self.caps:
            return None
        return self._out(mask(a.username), f"AWAY :{flat(a.message)}" if a.message else "AWAY")

    def _kicked(self, k: ev.Kicked) -> bytes:
        return self._out(mask(k.by), f"KICK {k.room} {k.username} :{flat(k.reason or k.by)}", k.timestamp)

    def _mode(self, m: ev.ModeChanged) -> bytes | None:
        if m.by is None:
            return None  # a question's answer: the asker's codec says it (324)
        letters, args, sign = "", [], ""
        for on, letter, who in m.changes:
            if sign != ("+" if on else "-"):
                sign = "+" if on else "-"
                letters += sign
            letters += letter
            if who is not None:
                args.append(who)
        return self._out(mask(m.by), " ".join([f"MODE {m.room} {letters}", *args]), m.timestamp)

    def _announced(self, an: ev.Announcement) -> bytes:
        return self._out(self.server, f"NOTICE * :{flat(an.text)}", an.timestamp)

    def _shutdown(self, sd: ev.Shutdown) -> bytes:
        return b"ERROR :Server restarting\r\n" if sd.reconnect else f"ERROR :{flat(sd.text)}\r\n".encode()


_RENDER: dict[type, Callable[[IrcWire, Any], bytes | None]] = {
    ev.Message: IrcWire._said, ev.UserJoined: IrcWire._joined, ev.UserLeft: IrcWire._left,
    ev.MessageChanged: IrcWire._changed,
    ev.TopicChanged: IrcWire._topic, ev.NickChanged: IrcWire._nick, ev.AwayChanged: IrcWire._away,
    ev.Announcement: IrcWire._announced, ev.Shutdown: IrcWire._shutdown, ev.Kicked: IrcWire._kicked,
    ev.ModeChanged: IrcWire._mode, ev.TagMessage: IrcWire._tagged, ev.AccountChanged: IrcWire._account,
    ev.RealnameChanged: IrcWire._realname, ev.Invited: IrcWire._invited,
}
