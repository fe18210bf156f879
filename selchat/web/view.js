// The message list of a room: its lines with day separators, a person's consecutive messages under
// one name, links, and the scrolling that keeps the newest in view (or says that more arrived).
// Everything others write goes in as text nodes; links are built with DOM calls, never markup.
"use strict";

import * as reactions from "./reactions.js";

export const SCROLLBACK = 10000;  // lines a room keeps; older ones are fetched again on scrolling up
const GROUP_GAP = 5 * 60;          // seconds: a message this soon after the last one's, by the same person, joins it
const NEAR_BOTTOM = 40;            // pixels: "at the bottom" for deciding to follow new messages
const NEAR_TOP = 60;               // pixels: close enough to the top to fetch the older page
const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;

const box = () => document.getElementById("messages");

const dark = window.matchMedia("(prefers-color-scheme: dark)");

// A name's own colour, the same everywhere, light enough to read on the theme's background.
export function colour(name) {
  let h = 0;
  for (const c of name) h = (h * 31 + c.codePointAt(0)) % 360;
  return `hsl(${h} 55% ${dark.matches ? 70 : 38}%)`;
}

function hhmm(ts) {
  return new Date(ts * 1000).toTimeString().slice(0, 5);
}

function dayKey(ts) {
  const d = new Date(ts * 1000);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

export function dayName(ts, now = Date.now() / 1000) {
  const key = dayKey(ts);
  if (key === dayKey(now)) return "Today";
  if (key === dayKey(now - 86400)) return "Yesterday";
  return new Date(ts * 1000).toLocaleDateString(undefined, { weekday: "long", year: "numeric", month: "long",
    day: "numeric" });
}

// Text with its http(s) links as <a> elements: only those two schemes, checked by the URL parser,
// trailing punctuation left outside ("see https://x.org." links https://x.org).
export function linked(text) {
  const out = [];
  let at = 0;
  for (const m of text.matchAll(URL_RE)) {
    let url = m[0].replace(/[.,;:!?)\]]+$/, "");
    let href = null;
    try {
      const parsed = new URL(url);
      if (parsed.protocol === "http:" || parsed.protocol === "https:") href = parsed.href;
    } catch { href = null; }
    if (!href) continue;
    if (m.index > at) out.push(document.createTextNode(text.slice(at, m.index)));
    const a = document.createElement("a");
    a.href = href;
    a.textContent = url;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    out.push(a);
    at = m.index + url.length;
  }
  if (at < text.length) out.push(document.createTextNode(text.slice(at)));
  return out;
}

export function who(name) {
  const s = document.createElement("span");
  s.className = "who";
  s.style.color = colour(name);
  s.textContent = name;
  return s;
}

// A program's line (a webhook's, or a client that said it is a bot), marked so nobody takes it for a person.
export function botBadge() {
  const s = document.createElement("span");
  s.className = "bot";
  s.textContent = "bot";
  s.title = "a program, not a person";
  return s;
}

// One line: ``parts`` are strings (shown as text) and nodes; ``sender`` groups a chat line.
export function makeLine(parts, cls, ts, sender) {
  const li = document.createElement("li");
  if (cls) li.className = cls;
  if (ts) {
    li.dataset.ts = ts;
    const t = document.createElement("span");
    t.className = "time";
    t.textContent = hhmm(ts);
    li.append(t, " ");
  }
  if (sender) li.dataset.who = sender;
  for (const p of parts) li.append(typeof p === "string" ? document.createTextNode(p) : p);
  return li;
}

function separator(ts) {
  const li = document.createElement("li");
  li.className = "day";
  li.dataset.day = dayKey(ts);
  li.textContent = dayName(ts);
  return li;
}

function groups(prev, li) {
  return prev && li.dataset.who && prev.dataset.who === li.dataset.who && !li.classList.contains("action")
    && !prev.classList.contains("action") && Number(li.dataset.ts) - Number(prev.dataset.ts) < GROUP_GAP;
}

// The items that put ``li`` after ``prev`` (a line with a time, or null): a day separator when
// the day changes; ``li`` marked as continuing ``prev``'s group.
function follow(prev, li) {
  const out = [];
  if (li.dataset.ts && (!prev || dayKey(Number(prev.dataset.ts)) !== dayKey(Number(li.dataset.ts)))) {
    out.push(separator(Number(li.dataset.ts)));
  } else if (groups(prev, li)) {
    li.classList.add("cont");
  }
  out.push(li);
  return out;
}

export function atBottom() {
  const b = box();
  return b.scrollHeight - b.scrollTop - b.clientHeight < NEAR_BOTTOM;
}

export function nearTop() {
  return box().scrollTop < NEAR_TOP;
}

// Lines for the room on screen go into the list once a frame, together: a burst of a thousand
// messages is one layout, not a thousand (reading scrollHeight after each append forces one).
let pending = null;  // {r, items, follows, news}
let shownRoom = null;

export function toBottom() {
  if (pending) pending.follows = true;
  const b = box();
  b.scrollTop = b.scrollHeight;
  document.getElementById("new-below").hidden = true;
}

function flush() {
  const p = pending;
  pending = null;
  if (!p || p.r !== shownRoom) return;  // the room changed: show() drew it whole
  box().append(...p.items.filter((li) => !li.isConnected && !li.dataset.gone));
  trim(p.r);
  if (p.follows) toBottom();
  else if (p.news) document.getElementById("new-below").hidden = false;
}

// A line at the end of room ``r``; on screen when ``shown``, following the view only if it was
// at the bottom (otherwise the "new messages" marker says so).
export function append(r, li, shown) {
  const items = follow(r.lastTimed, li);
  if (li.dataset.ts) r.lastTimed = li;
  r.lines.push(...items);
  if (!shown) { trim(r); return; }
  if (!pending) {
    pending = { r, items: [], follows: atBottom(), news: false };
    requestAnimationFrame(flush);
  }
  pending.items.push(...items);
  if (li.dataset.who) pending.news = true;
}

// After what is pending has been drawn (callbacks of one frame run in the order asked).
export function afterDrawing(fn) {
  requestAnimationFrame(() => fn());
}

// Older lines (oldest first) above what room ``r`` holds, the line looked at kept in place.
export function prepend(r, lis, shown) {
  if (!lis.length) return;
  if (pending) flush();  // what came below first, so that the list's height is the true one
  const batch = [];
  let prev = null;
  for (const li of lis) { batch.push(...follow(prev, li)); prev = li; }
  const b = box();
  const before = b.scrollHeight;  // measured before anything moves: the looked-at line stays put
  const first = r.lines.find((x) => x.dataset.ts);
  const head = r.lines[0];
  if (first && head && head.classList.contains("day") && head.dataset.day === dayKey(Number(prev.dataset.ts))) {
    r.lines.shift();  // the same day goes on: one separator, above the older lines
    if (shown) head.remove();
    if (groups(prev, first)) first.classList.add("cont");
  }
  if (!r.lastTimed) r.lastTimed = prev;
  r.lines.unshift(...batch);
  if (!shown) return;
  b.prepend(...batch);
  b.scrollTop += b.scrollHeight - before;
}

// "The beginning of #room": nothing older to fetch.
export function beginning(r, shown) {
  if (r.lines[0] && r.lines[0].classList.contains("beginning")) return;
  const what = r.kind === "dm" ? `your conversation with ${r.peer}` : r.name;
  const li = makeLine([`This is the beginning of ${what}.`], "beginning");
  r.lines.unshift(li);
  if (shown) box().prepend(li);
}

function trim(r) {
  while (r.lines.length > SCROLLBACK) {
    const gone = r.lines.shift();
    gone.dataset.gone = "1";  // trimmed before it was drawn: it stays out
    if (gone.isConnected) gone.remove();
    r.more = true;  // fetched again when scrolled back up to
  }
}

export function show(r) {
  pending = null;
  shownRoom = r;
  box().replaceChildren(...r.lines);
  toBottom();
}

// "New since you left": a marker line above the first message that arrived while you were away
// (one per room, moved each time you come back to something new).
export function markNew(r) {
  const at = r.lines.indexOf(r.firstUnread);
  if (at < 0) return;
  const old = r.lines.findIndex((li) => li.classList.contains("new-marker"));
  if (old >= 0) r.lines.splice(old, 1)[0].remove();
  const marker = makeLine(["new since you left"], "new-marker");
  r.lines.splice(r.lines.indexOf(r.firstUnread), 0, marker);
  r.firstUnread = null;
}

// Whether ``text`` names ``me`` as a whole word (a mention: marked, and notified).
export function mentions(text, me) {
  if (!me) return false;
  const n = me.toLowerCase();
  const t = text.toLowerCase();
  let i = t.indexOf(n);
  while (i >= 0) {
    const before = i === 0 || !/[a-z0-9_.-]/.test(t[i - 1]);
    const after = i + n.length >= t.length || !/[a-z0-9_.-]/.test(t[i + n.length]);
    if (before && after) return true;
    i = t.indexOf(n, i + 1);
  }
  return false;
}

// A room's line: its sender (a bot's badge), and the text with its links; a reply has the start
// of what it answers above it (``find`` gives that line, if it is on the page).
export function chatItem(f, me, find = () => null) {
  let cls = f.history ? "history" : "";
  if (f.action) cls += " action";
  if (f.username !== me && mentions(f.message, me)) cls += " mention";
  if (f.deleted) cls += " deleted";
  const text = f.deleted ? ["message deleted"] : linked(f.message);
  if (f.edited && !f.deleted) text.push(" ", Object.assign(document.createElement("span"),
    { className: "edited", textContent: "(edited)" }));
  const name = f.bot ? [who(f.username), botBadge()] : [who(f.username)];
  const parts = f.action ? ["* ", ...name, " ", ...text] : [...name, " ", ...text];
  if (f.reply_to) parts.unshift(quote(find(f.reply_to)));
  const li = makeLine(parts, cls.trim(), f.timestamp, f.username);
  li.dataset.msg = "1";  // a stored line: paging older ones starts here
  li.dataset.said = f.message;
  if (f.reply_to) li.classList.add("reply");
  if (!f.deleted) li.append(reactions.adder(li, f.room));  // the palette of reactions, on hover
  if (f.reactions) reactions.paint(li, f.room, f.reactions);
  return li;
}

function quote(answered) {
  const q = document.createElement("span");
  q.className = "quote";
  const said = answered ? (answered.dataset.said || "").split("\n")[0] : "";
  q.textContent = answered ? `↪ ${answered.dataset.who}: ${said.length > 60 ? said.slice(0, 60) + "…" : said}`
    : "↪ an earlier message";
  return q;
}

// A conversation's line.
export function dmItem(f) {
  const li = makeLine([who(f.from), " ", ...linked(f.message)], f.history || f.offline ? "history" : "",
    f.timestamp, f.from);
  li.dataset.msg = "1";
  return li;
}

// The newest stored line of ``name`` in room ``r`` (what /reply answers), as its timestamp.
export function lastSaid(r, name) {
  const said = r.lines.filter((li) => li.dataset.msg && (li.dataset.who || "").toLowerCase() === name.toLowerCase());
  return said.length ? Number(said[said.length - 1].dataset.ts) : null;
}

// One's own line, shown at once (the server echoes nothing to its sender), and followed down.
export function own(r, li) {
  delete li.dataset.msg;  // not a stored line the page could page back from
  append(r, li, true);
  toBottom();
}

// A line edited or deleted (f: the "edited" or "deleted" frame): found by its time, or, for one's
// own, the newest of one's lines shown here (those the page showed itself carry the page's time).
export function changed(r, f, me, item) {
  let li = r.lines.find((line) => Math.abs(Number(line.dataset.ts) - f.id) < 1e-6);
  if (!li && f.by === me) li = [...r.lines].reverse().find((line) => line.dataset.who === me);
  if (!li) return;
  const fresh = f.type === "deleted"
    ? makeLine([who(li.dataset.who), " ", "message deleted"], "deleted", Number(li.dataset.ts), li.dataset.who)
    : item({ room: r.name, username: li.dataset.who, message: f.message, timestamp: Number(li.dataset.ts) });
  if (f.type === "edited") fresh.append(" ", Object.assign(document.createElement("span"),
    { className: "edited", textContent: "(edited)" }));
  fresh.className = [li.className.replace(/\bcont\b/, ""), fresh.className].join(" ").trim();
  li.replaceWith(fresh);
  r.lines[r.lines.indexOf(li)] = fresh;
}
