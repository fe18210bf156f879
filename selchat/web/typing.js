// Typing (IRCv3 +typing, docs/protocol.md "typing"): while a line is being written the room (or
// the person) is told, at most every 3 seconds, and "done" once it is sent or emptied; who is
// typing where one looks is said under the room's name, for 6 seconds after the last notice.
"use strict";

const $ = (id) => document.getElementById(id);
const EVERY = 3000;  // ms between "active" notices, as IRCv3's typing spec asks
const SHOWN = 6000;  // ms a notice is shown without another
const typists = new Map();  // "room\0name" -> {room, name, until}

export function typingBox(box, send, target) {
  let sentAt = 0;
  let to = null;
  const tell = (state) => {
    const where = to || target();
    if (!where) return;
    send(where.startsWith("@") ? { type: "typing", to: where.slice(1), state } : { type: "typing", room: where, state });
  };
  box.addEventListener("input", () => {
    if (!box.value.trim() || box.value.startsWith("/")) {  // emptied, or a command: nothing to say
      if (sentAt) tell("done");
      sentAt = 0;
      return;
    }
    if (Date.now() - sentAt < EVERY) return;
    to = target();
    sentAt = Date.now();
    tell("active");
  });
  box.form.addEventListener("submit", () => {
    if (sentAt) tell("done");
    sentAt = 0;
    to = null;
  });
}

// A notice heard: ``where`` is the room, or "@name" for a conversation.
export function heard(f, current, me) {
  if (f.username === me) return;
  const where = f.room || "@" + f.username;
  const key = where.toLowerCase() + "\0" + f.username;
  if (f.state === "active") typists.set(key, { where, name: f.username, until: Date.now() + SHOWN });
  else typists.delete(key);
  draw(current());
  setTimeout(() => draw(current()), SHOWN + 50);
}

// Someone who spoke has stopped typing (``current``: the room on screen).
export function spoke(where, name, current) {
  if (typists.delete(where.toLowerCase() + "\0" + name)) draw(current);
}

export function draw(current) {
  const now = Date.now();
  const names = [];
  for (const [key, t] of typists) {
    if (t.until < now) typists.delete(key);
    else if (t.where.toLowerCase() === current.toLowerCase()) names.push(t.name);
  }
  const line = $("typing");
  line.textContent = !names.length ? "" : names.length === 1 ? `${names[0]} is typing…`
    : names.length < 4 ? `${names.join(", ")} are typing…` : "several people are typing…";
}
