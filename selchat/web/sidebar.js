// The lists beside the messages: your rooms and conversations with what is unread in each, every
// room on the server, the members of the one on screen; and the tab's title and icon, which say
// how much is unread while you look elsewhere.
"use strict";

import { mark } from "./running.js";
import { colour } from "./view.js";

const $ = (id) => document.getElementById(id);

// The tab's icon: a speech bubble, with a dot when something is unread (an SVG data: URL, which
// the page's Content-Security-Policy allows for images).
function icon(dot) {
  const bubble = "<path d='M6 8h52a4 4 0 0 1 4 4v30a4 4 0 0 1-4 4H26l-12 10V46H6a4 4 0 0 1-4-4V12a4 4 0 0 1 4-4z'"
    + " fill='%232b6cb0'/>";
  const mark = dot ? "<circle cx='52' cy='14' r='11' fill='%23d93025' stroke='white' stroke-width='3'/>" : "";
  return `data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 64 64'>${bubble}${mark}</svg>`;
}

export function drawTitle(state) {
  let total = 0;
  for (const r of state.rooms.values()) total += r.unread;
  document.title = total ? `(${total}) selchat` : "selchat";
  const link = $("favicon");
  const href = icon(total > 0);
  if (link.getAttribute("href") !== href) link.setAttribute("href", href);
}

// A message arrived in ``r`` while it was not in front of you: counted, and marked where it starts.
export function unread(state, r, li, mention) {
  if (!r.unread) r.firstUnread = li;
  r.unread += 1;
  if (mention || r.kind === "dm") r.mentions += 1;
  drawTitle(state);
}

export function read(state, r) {
  if (!r.unread) return;
  r.unread = 0;
  r.mentions = 0;
  drawTitle(state);
}

function entry(state, r, onPick) {
  const li = document.createElement("li");
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = r.kind === "dm" ? r.peer : r.name;
  li.append(name);
  if (r.name.toLowerCase() === state.current.toLowerCase()) li.classList.add("current");
  if (r.unread) {
    li.classList.add("unread");
    const badge = document.createElement("span");
    badge.className = r.mentions ? "badge mention" : "badge";
    badge.textContent = String(r.mentions || r.unread);
    badge.title = r.mentions ? `${r.mentions} for you, ${r.unread} unread` : `${r.unread} unread`;
    li.append(badge);
  }
  li.addEventListener("click", () => onPick(r.name));
  return li;
}

export function drawRooms(state, onPick) {
  const rooms = state.order.map((name) => state.rooms.get(name)).filter(Boolean);
  $("my-rooms").replaceChildren(...rooms.map((r) => entry(state, r, onPick)));
  const talks = [...state.rooms.values()].filter((r) => r.kind === "dm");
  $("conversations").replaceChildren(...talks.map((r) => entry(state, r, onPick)));
  $("conversations-head").hidden = !talks.length;
}

export function drawAllRooms(rooms, onJoin) {
  $("all-rooms").replaceChildren(...rooms.map((r) => {
    const li = document.createElement("li");
    li.textContent = r.room + " ";
    const c = document.createElement("span");
    c.className = "count";
    c.textContent = `(${r.users})`;
    li.append(c);
    if (r.topic) li.title = r.topic;
    li.addEventListener("click", () => onJoin(r.room));
    return li;
  }));
}

// The members of ``r``; ``awayOf`` knows who is away from any room they share with you.
export function drawMembers(r, awayOf, onPick) {
  const items = [...r.members.keys()].sort((a, b) => a.localeCompare(b)).map((name) => {
    const away = awayOf(name);
    const li = document.createElement("li");
    li.textContent = mark(r, name) + name;
    li.style.color = away ? "" : colour(name);
    if (away) { li.className = "away"; li.title = "away: " + away; }
    li.addEventListener("click", () => onPick(name));
    return li;
  });
  $("members").replaceChildren(...items);
}

// The header's bell: this room's notifications on, or muted (drawn by the style sheet, no font needed).
export function bell(muted) {
  $("bell").classList.toggle("muted", muted);
  $("bell").setAttribute("aria-pressed", String(muted));
  $("bell").title = muted ? "notifications for this room are off: turn them on"
    : "notifications for this room: turn them off";
}

// A phone's rooms and members: drawers over the messages, closed by a tap beside them.
export function closeDrawers() {
  for (const pane of document.querySelectorAll(".pane")) pane.classList.remove("open");
  $("scrim").hidden = true;
}

function openDrawer(id) {
  closeDrawers();
  $(id).classList.add("open");
  $("scrim").hidden = false;
}

export function drawers() {
  $("open-rooms").addEventListener("click", () => openDrawer("rooms-pane"));
  $("open-members").addEventListener("click", () => openDrawer("members-pane"));
  $("scrim").addEventListener("click", closeDrawers);
}
