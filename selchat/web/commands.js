// What is typed into the box: a line of chat, or a command in the words `selchat join` uses.
"use strict";

// The terminal's own list (selchat/client/words.py), in the same words.
export const HELP = [
  ["/help", "this list"],
  ["/join #ROOM [KEY]", "join a room (with its key, if it has one), or switch to one you are in"],
  ["/part [#ROOM]", "leave the current room (or the one named)"],
  ["/list", "every room, with its people and topic"],
  ["/names [#ROOM]", "who is in the current room (or the one named), and who is away"],
  ["/users", "who is in the lobby"],
  ["/topic [TEXT]", "show the current room's topic, or set it"],
  ["/me TEXT", "an action: * alice waves"],
  ["/msg NAME TEXT", "a private message"],
  ["/reply NAME TEXT", "answer NAME's last line in this room (quoted above yours)"],
  ["/react NAME 👍", "react to NAME's last line in this room (click a reaction to add yours or take it back)"],
  ["/edit TEXT, /delete", "change or delete your last line in this room, for everyone"],
  ["/nick NAME", "change your name"],
  ["/away [TEXT]", "say you are away (without TEXT: back)"],
  ["/whois NAME", "who someone is, and where"],
  ["/register", "make your name an account (the password is asked for)"],
  ["/ping", "the round trip to the server, in milliseconds"],
  ["/op NAME, /deop NAME", "make someone an operator of the room, or not (operators)"],
  ["/voice NAME, /devoice NAME", "let someone speak in a moderated room, or not (operators)"],
  ["/kick NAME [REASON]", "put someone out of the room (operators)"],
  ["/invite NAME", "ask someone into the room"],
  ["/ban NAME, /unban NAME", "keep someone out of the room, or let them back (m:NAME only mutes them)"],
  ["/bans", "who is banned from the room"],
  ["/register-room", "make the room you run your account's: its modes, bans and operators are kept"],
  ["/quit", "leave"],
];

// The frame a command line asks for, or a string to show (help, or how to use a command), or null.
export function command(text, here, lastSaid = () => null) {
  const [word, ...rest] = text.split(" ");
  const arg = rest.join(" ").trim();
  switch (word.toLowerCase()) {
    case "/join": case "/j": {  // /join #room WORD: a room with a key
      const [name, key] = rest;
      if (!name) return "usage: /join #ROOM [KEY]";
      return { type: "join_room", room: name.startsWith("#") ? name : "#" + name, ...(key ? { key } : {}) };
    }
    case "/part": case "/leave": return { type: "leave_room", room: arg || here };
    case "/me": return arg ? { type: "chat", room: here, message: arg, action: true } : "usage: /me TEXT";
    case "/nick": return arg ? { type: "nick", username: arg } : "usage: /nick NAME";
    case "/msg": {
      const [to, ...words] = rest;
      return to && words.length ? { type: "dm", to, message: words.join(" ") } : "usage: /msg NAME TEXT";
    }
    case "/reply": {
      const [to, ...words] = rest;
      if (!to || !words.length) return "usage: /reply NAME TEXT";
      const answered = lastSaid(to.replace(/^@/, ""));
      return answered ? { type: "chat", room: here, message: words.join(" "), reply_to: answered }
        : `${to} has said nothing here to reply to`;
    }
    case "/react": {
      const [to, reaction] = rest;
      if (!to || !reaction) return "usage: /react NAME 👍";
      const line = lastSaid(to.replace(/^@/, ""));
      return line ? { type: "react", room: here, id: line, reaction, on: true } : `${to} has said nothing here to react to`;
    }
    case "/edit": return arg ? { type: "edit", room: here, id: "last", message: arg } : "usage: /edit NEW TEXT";
    case "/delete": return { type: "delete", room: here, id: "last" };
    case "/topic": return { type: "topic", room: here, topic: arg || null };
    case "/away": return { type: "away", message: arg || null };
    case "/back": return { type: "away", message: null };
    case "/names": return { type: "users", room: arg || here };
    case "/users": return { type: "users", room: "#lobby" };
    case "/list": case "/rooms": return { type: "rooms" };
    case "/whois": return arg ? { type: "whois", username: arg } : "usage: /whois NAME";
    case "/invite": return arg ? { type: "invite", room: here, username: arg } : "usage: /invite NAME";
    case "/kick": {
      const [who, ...why] = rest;
      return who ? { type: "kick", room: here, username: who, ...(why.length ? { reason: why.join(" ") } : {}) }
        : "usage: /kick NAME [REASON]";
    }
    case "/ban": case "/unban": return arg ? { type: word.toLowerCase().slice(1), room: here, mask: arg }
      : `usage: ${word} NAME`;
    case "/bans": return { type: "bans", room: here };
    case "/register-room": return { type: "register_room", room: here };
    case "/op": case "/voice": return arg ? { type: "role", room: here, username: arg,
      role: word.toLowerCase() === "/op" ? "operator" : "voice" } : `usage: ${word} NAME`;
    case "/deop": case "/devoice": return arg ? { type: "role", room: here, username: arg, role: null }
      : `usage: ${word} NAME`;
    // the password is asked for in a password field, never typed here where it shows
    case "/register": return { type: "register-dialog", typed: Boolean(arg) };
    case "/ping": return { type: "ping", id: `page-${performance.now()}` };
    case "/quit": case "/exit": case "/q": return { type: "quit" };
    case "/help": return null;
    default: return `unknown command ${word}; /help lists them`;
  }
}
