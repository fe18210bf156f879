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
    ban(f) {
      line(f.room, [`${f.by} banned ${f.mask}` + (f.list === "bans" ? "" : ` (${f.list.replace("_", " ")})`)], "event",
        f.timestamp);
    },
    unban(f) {
      line(f.room, [`${f.by} lifted the ban on ${f.mask}`], "event", f.timestamp);
    },
    bans(f) {
      const masks = f.masks.map((m) => m.mask);
      line(f.room, [`${f.list.replace("_", " ")} in ${f.room}: ${masks.length ? masks.join(", ") : "nobody"}`], "notice",
        Date.now() / 1000);
    },
    room_registered(f) {
      line(f.room, [`${f.room} is now registered to your account, ${f.founder}`], "notice", Date.now() / 1000);
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

// What can be done about a member of ``r``: talk to them; and, for its operators, give or take a
// role or put them out. A menu of buttons in a dialog, built with DOM calls.
export function memberMenu(r, name, me, send, talk) {
  const dialog = document.getElementById("member-menu");
  const mine = r.roles && r.roles.get(me) === "operator" && r.kind !== "dm";
  const role = r.roles && r.roles.get(name);
  const item = (label, act) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.addEventListener("click", () => { dialog.close(); act(); });
    return button;
  };
  const items = [item(`Message ${name}`, talk)];
  if (mine && name !== me) {
    const set = (to) => () => send({ type: "role", room: r.name, username: name, role: to });
    items.push(role === "operator" ? item("Take operator", set(null)) : item("Make operator", set("operator")));
    if (role !== "operator") items.push(role === "voice" ? item("Take voice", set(null)) : item("Give voice", set("voice")));
    items.push(item(`Put out of ${r.name}`, () => send({ type: "kick", room: r.name, username: name })));
    items.push(item(`Ban from ${r.name}`, () => {
      send({ type: "ban", room: r.name, mask: name });
      send({ type: "kick", room: r.name, username: name, reason: "banned" });
    }));
    items.push(item(`Mute in ${r.name}`, () => send({ type: "ban", room: r.name, mask: `m:${name}` })));
  }
  if (items.length === 1) { talk(); return; }  // nothing else to offer: straight to the conversation
  const title = document.createElement("h2");
  title.textContent = mark(r, name) + name;
  document.getElementById("member-actions").replaceChildren(title, ...items, item("Cancel", () => {}));
  dialog.showModal();
}
