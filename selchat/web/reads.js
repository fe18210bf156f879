// Read markers (docs/protocol.md, "Read markers"): what you read on this page is marked on the
// server, so your other devices clear it at once; what you read on another device clears here;
// and the counts the server keeps come back after a reload or on a new device, with your list of
// conversations.
"use strict";

const EVERY = 1000;  // a room's marker goes out at most once a second (each costs a message's token)
const marked = new Map();  // room or "@name" -> the newest line marked read
const sentAt = new Map();  // -> when its marker was last sent (ms)
const waiting = new Map();  // -> the timer of one held back

let send = () => {};

export function init(sender) { send = sender; }

const where = (r) => (r.kind === "dm" ? { with: r.peer } : { room: r.name });

// The newest line the server sent in ``r`` (one's own, shown before the server has it, has none).
function newest(r) {
  for (let i = r.lines.length - 1; i >= 0; i -= 1) {
    const li = r.lines[i];
    if (li.dataset.msg && li.dataset.ts) return Number(li.dataset.ts);
  }
  return 0;
}

// ``r`` is on screen, in front of you: it is read up to its newest line.
export function seen(r) {
  const ts = newest(r);
  if (!ts || ts <= (marked.get(r.name) || 0)) return;
  marked.set(r.name, ts);
  if (waiting.has(r.name)) return;
  const wait = (sentAt.get(r.name) || -EVERY) + EVERY - Date.now();
  const go = () => {
    waiting.delete(r.name);
    sentAt.set(r.name, Date.now());
    send({ type: "read", ...where(r), timestamp: marked.get(r.name) });
  };
  if (wait <= 0) go(); else waiting.set(r.name, setTimeout(go, wait));
}

// A marker from the server: yours from another device (or the answer to this page's own). What
// it covers is read here too; ``clear`` empties the room's count.
export function heard(f, find, clear) {
  const r = find(f);
  if (!r || typeof f.timestamp !== "number") return;
  if (f.timestamp > (marked.get(r.name) || 0)) marked.set(r.name, f.timestamp);
  if (f.timestamp >= newest(r)) clear(r);
}

// The server's counts after a join or on asking, and the list of your conversations with theirs.
export function counts(f, room, conversation, shown) {
  for (const c of f.rooms || []) {
    const r = room(c.room);
    if (shown(r)) continue;  // on screen: read as it is drawn
    r.unread = c.unread;
    r.mentions = c.mentions;
  }
  for (const c of f.conversations || []) {
    const r = conversation(c.with);
    if (shown(r)) continue;
    r.unread = Math.max(r.unread, c.unread);
    r.mentions = r.unread;
  }
}
