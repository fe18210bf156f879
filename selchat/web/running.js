// Who runs a room, on the page: someone put out, a role given or taken, the room's modes; the
// member list marks operators (@) and voiced members (+).
"use strict";

const ROLE = { operator: "an operator", voice: "a voice" };

// ``room(name)`` the page's room, ``line(name, parts, cls, ts)`` a line in it, ``drawn(name)``
// redraws its members if it is on screen.
export function runningHandlers({ room, line, drawn }) {
  return {
    kicked(f) {
      const why = f.reason ? ` (${f.reason})` : "";
      line(f.room, [`${f.by} put ${f.username} out${why}`], "event", f.timestamp);
      room(f.room).members.delete(f.username);
      drawn(f.room);
    },
    role(f) {
      const r = room(f.room);
      const roles = r.roles || (r.roles = new Map());
      if (f.given) roles.set(f.username, f.role);
      else if (roles.get(f.username) === f.role) roles.delete(f.username);
      line(f.room, [`${f.by} ${f.given ? "made" : "no longer made"} ${f.username} ${ROLE[f.role]}`], "event", f.timestamp);
      drawn(f.room);
    },
    invited(f) {
      line(f.room, [`${f.by} invited ${f.username} to ${f.room}`], "notice", f.timestamp);
    },
    room_mode(f) {
      const said = [];
      if ("moderated" in f) said.push(f.moderated ? "moderated: only operators and voiced members speak" : "open to all");
      if ("topic_locked" in f) said.push(f.topic_locked ? "the topic is the operators'" : "anyone sets the topic");
      line(f.room, [(f.by ? `${f.by} made ${f.room} ` : `${f.room} is `) + said.join("; ")], "event",
        f.timestamp || Date.now() / 1000);
    },
  };
}

// "@" for an operator, "+" for a voice: shown before a member's name.
export function mark(r, name) {
  const role = r.roles && r.roles.get(name);
  return role === "operator" ? "@" : role === "voice" ? "+" : "";
}
