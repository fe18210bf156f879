// selchat in the browser: the JSON protocol (docs/protocol.md, v2) over a WebSocket at /ws.
// Everything others write is put on the page with textContent, never as markup. The message
// list and its scrolling are view.js's; what is typed, commands.js's.
"use strict";

import { REFUSALS, askPassword, offerRegister } from "./account.js";
import { HELP, command } from "./commands.js";
import { keys, recall } from "./keys.js";
import { memberMenu, runningHandlers } from "./running.js";
import * as notes from "./notify.js";
import * as reactions from "./reactions.js";
import * as reads from "./reads.js";
import * as search from "./search.js";
import * as typing from "./typing.js";
import * as side from "./sidebar.js";
import * as view from "./view.js";

const { closeDrawers } = side;

const $ = (id) => document.getElementById(id);
const state = {
  ws: null, name: null, login: null, serverpw: null, joined: false, everJoined: false,
  rooms: new Map(),      // room or "@name" (a conversation) -> {name, kind, topic, members, lines, unread, ...}
  order: [],             // rooms in the order joined
  current: "#lobby",
  retry: 1000, refused: false,
  maxMessage: 0,         // characters a message may hold, from the welcome
  listing: null,         // the pages of a long list of rooms so far
  lastSent: "",          // the last line typed, for Up in an empty box
};


const now = () => Date.now() / 1000;
const isCurrent = (name) => name.toLowerCase() === state.current.toLowerCase();

function room(name) {
  const key = name.toLowerCase();
  for (const [k, r] of state.rooms) if (k.toLowerCase() === key) return r;
  const dm = name.startsWith("@");
  const r = { name, kind: dm ? "dm" : "room", peer: dm ? name.slice(1) : null, topic: "", members: new Map(),
    lines: [], lastTimed: null, last: 0, more: false, loadingOlder: false, refill: false, older: [],
    unread: 0, mentions: 0, firstUnread: null };
  state.rooms.set(name, r);
  return r;
}

// A private conversation, in the sidebar beside the rooms: "@bob".
function conversation(peer) {
  const r = room("@" + peer);
  r.members = new Map([[r.peer, null], [state.name, null]]);
  return r;
}

// Not in front of you: another room, or the tab is hidden (the count is cleared on coming back).
const unseen = (name) => !isCurrent(name) || document.hidden;

// What is in front of you is read, here and (marked on the server) on your other devices.
function looked(r) { if (!unseen(r.name)) reads.seen(r); }

function arrived(r, li, mention, title, body) {
  if (!unseen(r.name)) { reads.seen(r); return; }
  side.unread(state, r, li, mention);
  if (mention || r.kind === "dm") notes.notify(r.name, title, body);
  drawRooms();
}

// Show room ``name``; the box's draft stays with the room it was typed in.
function pick(name) {
  closeDrawers();
  const box = $("line");
  room(state.current).draft = box.value;
  state.current = room(name).name;
  box.value = room(state.current).draft || "";
  box.dispatchEvent(new Event("input"));  // the box's height follows the draft
  drawRoom();
}

const sidebarOrder = () => [...state.order, ...[...state.rooms.values()].filter((r) => r.kind === "dm")
  .map((r) => r.name)];

function send(frame) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(frame));
}

// -- drawing -------------------------------------------------------------------------------------
function line(roomName, parts, cls, ts = now(), sender = null) {
  const li = view.makeLine(parts, cls, ts, sender);
  view.append(room(roomName), li, isCurrent(roomName));
  return li;
}

const chatItem = (f) => view.chatItem(f, state.name,
  (ts) => room(f.room).lines.find((li) => Math.abs(Number(li.dataset.ts) - ts) < 1e-6));
const dmItem = (f) => view.dmItem(f);

function chatLine(f) {
  const r = room(f.room);
  if (!f.history) typing.spoke(r.name, f.username, state.current);
  if (f.timestamp <= r.last) return;  // seen already (a replay after reconnecting)
  r.last = f.timestamp;
  const li = chatItem(f);
  view.append(r, li, isCurrent(f.room));
  if ((!f.history || r.refilling) && f.username !== state.name) {
    arrived(r, li, li.classList.contains("mention"), `${f.username} in ${r.name}`, f.message);
  }
}

function drawRoom() {
  const r = room(state.current);
  $("room-name").textContent = r.kind === "dm" ? r.peer : r.name;
  $("topic").textContent = r.kind === "dm" ? "— a private conversation" : r.topic ? "— " + r.topic : "";
  bell(notes.isMuted(r.name));
  if (r.unread) view.markNew(r);  // "new since you left", above the first of them
  side.read(state, r);
  reads.seen(r);
  view.show(r);
  typing.draw(state.current);
  drawMembers();
  drawRooms();
  olderIfShort();
}

function awayOf(name) {
  for (const r of state.rooms.values()) if (r.members.get(name)) return r.members.get(name);
  return null;
}

// A member clicked: a private conversation with them, and for an operator of the room, its roles
// and putting them out (running.js's menu).
function drawMembers() {
  const r = room(state.current);
  side.drawMembers(r, awayOf, (name) => memberMenu(r, name, state.name, send, () => {
    closeDrawers();
    pick(conversation(name).name);
    $("line").focus();
  }));
}

function drawRooms() { side.drawRooms(state, pick); }

function drawAllRooms(rooms) {
  side.drawAllRooms(rooms, (name) => { closeDrawers(); send({ type: "join_room", room: name }); });
}

function status(text) { $("status").textContent = text; }

// -- older pages ------------------------------------------------------------------------------------
// The page before the oldest line shown; a conversation's first page too (a guest's conversations
// are kept while it is online).
function older() {
  const r = room(state.current);
  if (r.loadingOlder) return;
  const dm = r.kind === "dm";
  if (dm ? r.fetched && !r.more : !r.more) return;
  const oldest = r.lines.find((li) => li.dataset.msg);
  if (!oldest && !dm) return;
  r.loadingOlder = r.fetched = true;
  const page = { type: "history", limit: 50, ...(oldest ? { before: Number(oldest.dataset.ts) } : {}) };
  send(dm ? { ...page, with: r.peer } : { ...page, room: r.name });
}

// A list shorter than its box cannot be scrolled up: fetch the older page at once.
function olderIfShort() {
  view.afterDrawing(() => {
    const box = $("messages");
    if (box.scrollHeight <= box.clientHeight) older();
  });
}

// -- the protocol -------------------------------------------------------------------------------
const handlers = {
  welcome(f) {
    state.joined = true;
    state.name = f.username;
    state.account = f.account || null;
    state.maxMessage = f.max_message;
    state.retry = 1000;
    $("login").hidden = true;
    $("chat").hidden = false;
    status("");
    const r = room(f.room);
    r.members = new Map(f.users.map((u) => [u, null]));
    r.topic = f.topic || "";
    if (!state.order.includes(f.room)) state.order.push(f.room);
    for (const name of state.order) {  // back after a reconnect: the same rooms, and what was missed
      room(name).refill = state.everJoined;
      if (name !== f.room) send({ type: "join_room", room: name });
    }
    if (f.motd && !state.everJoined) {  // the message of the day, once
      for (const text of f.motd.split("\n")) if (text.trim()) line(f.room, [text], "notice");
    }
    state.everJoined = true;
    send({ type: "users", room: f.room });  // who is away: the welcome names only who is here
    send({ type: "rooms" });
    send({ type: "conversations" });  // with what is unread in each, read or not on another device
    drawRoom();
  },
  read(f) {
    reads.heard(f, (m) => (m.with ? conversation(m.with) : room(m.room)), (r) => { side.read(state, r); drawRooms(); });
  },
  unread(f) { reads.counts(f, room, conversation, (r) => !unseen(r.name)); side.drawTitle(state); drawRooms(); },
  conversations(f) { handlers.unread({ conversations: f.conversations }); },
  error(f) {
    if (!state.joined) {
      $("login-error").textContent = f.message + (REFUSALS[f.code] ? " " + REFUSALS[f.code] : "");
      state.refused = true;
      state.ws.close();
      return;
    }
    if (f.code === "bad_search" || f.code === "search_off") return search.refused(f.message);
    line(state.current, ["! " + f.message], "error");
  },
  typing(f) { typing.heard(f, () => state.current, state.name); },
  reaction(f) { reactions.frame(f, room(f.room).lines); },
  edited(f) { view.changed(room(f.room), f, state.name, chatItem); },
  deleted(f) { view.changed(room(f.room), f, state.name, chatItem); },
  search_results(f) {
    search.found(f, (where, ts) => {  // a hit opens its room (or conversation) at it
      if (where.startsWith("@")) conversation(where.slice(1));
      pick(where);
      search.seek(room(where), ts, older);
    });
  },
  room_joined(f) {
    const r = room(f.room);
    r.members = new Map(f.users.map((u) => [u, null]));
    r.topic = f.topic || "";
    if (!state.order.includes(r.name)) { state.order.push(r.name); pick(r.name); } else drawRoom();
    send({ type: "users", room: r.name });
    send({ type: "rooms" });
  },
  chat(f) {
    const r = room(f.room);
    if (r.loadingOlder && f.history) r.older.push(f); else chatLine(f);
  },
  history_end(f) {
    const r = f.with ? conversation(f.with) : room(f.room);
    if (r.loadingOlder) {  // an older page, oldest first: put it above what is shown, in order
      const known = new Set(r.lines.map((li) => li.dataset.msg && li.dataset.ts));
      const items = r.older.filter((old) => !known.has(String(old.timestamp))).map(f.with ? dmItem : chatItem);
      view.prepend(r, items, isCurrent(r.name));
      r.older = [];
      r.loadingOlder = false;
      r.more = f.more;
    } else if (!r.lines.some((li) => li.dataset.msg) || r.more === false) {
      r.more = f.more;
    }
    if (!r.more) view.beginning(r, isCurrent(r.name));
    search.seekOn(r, older);  // a search's hit being looked for in this room's older pages
    r.refilling = false;
    if (r.refill && r.last) {  // fill the gap since the last line seen before the reconnect
      r.refill = false;
      r.refilling = true;  // what was said meanwhile is unread, like what arrives live
      send({ type: "history", room: r.name, after: r.last, limit: 200 });
    }
    if (isCurrent(r.name)) { olderIfShort(); looked(r); }
  },
  room_left(f) {
    state.order = state.order.filter((n) => n.toLowerCase() !== f.room.toLowerCase());
    if (isCurrent(f.room)) state.current = state.order[0] || "#lobby";
    drawRoom();
    send({ type: "rooms" });
  },
  user_joined(f) {
    const r = room(f.room);
    r.members.set(f.username, null);
    line(f.room, [`→ ${f.username} joined`], "event", f.timestamp);
    if (isCurrent(f.room)) drawMembers();
  },
  user_left(f) {
    const r = room(f.room);
    r.members.delete(f.username);
    const why = f.reason ? ` (${f.reason})` : "";
    line(f.room, [`← ${f.username} left${why}`], "event", f.timestamp);
    if (isCurrent(f.room)) drawMembers();
  },
  topic(f) {
    const r = room(f.room);
    r.topic = f.topic;
    if (f.by && f.timestamp) line(f.room, [`${f.by} set the topic: ${f.topic}`], "event", f.timestamp);
    if (isCurrent(f.room)) $("topic").textContent = r.topic ? "— " + r.topic : "";
  },
  nick(f) {
    if (f.from === state.name) state.name = f.to;
    for (const [name, r] of state.rooms) {
      if (r.members.has(f.from)) {
        const away = r.members.get(f.from);
        r.members.delete(f.from);
        r.members.set(f.to, away);
        line(name, [`${f.from} is now known as ${f.to}`], "event", f.timestamp);
      }
    }
    drawMembers();
  },
  away(f) {
    for (const r of state.rooms.values()) if (r.members.has(f.username)) r.members.set(f.username, f.message);
    drawMembers();
  },
  users(f) {
    const r = room(f.room);
    const away = f.away || {};
    const part = f.users.map((u) => [u, away[u] || null]);
    // a big room's members come in parts: each "continued" part adds to the one before
    r.members = f.continued ? new Map([...r.members, ...part]) : new Map(part);
    const roles = Object.entries(f.roles || {});
    r.roles = f.continued ? new Map([...(r.roles || []), ...roles]) : new Map(roles);
    if (f.more && f.users.length) send({ type: "users", room: f.room, after: f.users[f.users.length - 1] });
    if (f.topic !== undefined) r.topic = f.topic;
    if (isCurrent(f.room)) drawMembers();
  },
  rooms(f) {  // a long list comes in pages: ask for the next, draw once it is whole
    const all = (state.listing || []).concat(f.rooms);
    if (f.more && f.rooms.length && all.length < 10000) {
      state.listing = all;
      send({ type: "rooms", after: f.rooms[f.rooms.length - 1].room });
      return;
    }
    state.listing = null;
    drawAllRooms(all);
  },
  dm(f) {  // a line of a conversation: the other's, or the receipt of one's own, or a page's
    const mine = f.from === state.name;
    const r = conversation(mine ? f.to : f.from);
    if (f.history && r.loadingOlder) { r.older.push(f); return; }
    const li = dmItem(f);
    view.append(r, li, isCurrent(r.name));
    if (!mine) arrived(r, li, true, `${f.from} (private)`, f.message);
    else drawRooms();
  },
  server(f) { line(state.current, ["*** " + f.message], "notice", f.timestamp); },
  shutdown(f) {  // a restart is reconnected after, as a lost connection is; a shutdown for good is not
    line(state.current, ["*** " + f.message], "notice", f.timestamp);
    if (f.reconnect === false) {
      state.refused = true;
      status("the server has shut down; reload the page to try again");
    }
  },
  registered(f) {
    state.account = f.account;
    line(state.current, [f.message || `${f.account} is now your account`], "notice");
  },
  whois(f) {
    const where = f.rooms.length ? ` in ${f.rooms.join(", ")}` : "";
    const acct = f.account ? `, account ${f.account}` : "";
    const away = f.away ? `, away: ${f.away}` : "";
    line(state.current, [`${f.username}${where}${acct}${away}`], "notice");
  },
  ping(f) { send({ type: "pong", id: f.id }); },
  pong(f) {  // the answer to /ping: its id is when it was sent
    if (typeof f.id !== "string" || !f.id.startsWith("page-")) return;
    const took = performance.now() - Number(f.id.slice(5));
    line(state.current, [`pong from the server: ${took.toFixed(1)} ms`], "notice");
  },
};

Object.assign(handlers, runningHandlers({ room, line, drawn: (name) => { if (isCurrent(name)) drawMembers(); } }));

function connect() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const ws = new WebSocket(scheme + location.host + "/ws");
  state.ws = ws;
  state.refused = false;
  ws.onopen = () => {
    const join = { type: "join", username: state.name, version: 2 };
    if (state.login) join.login = state.login;
    if (state.serverpw) join.password = state.serverpw;
    send(join);
  };
  ws.onmessage = (msg) => {
    let f;
    try { f = JSON.parse(msg.data); } catch { return; }
    const handle = handlers[f.type];
    if (handle) handle(f);
  };
  ws.onclose = () => {
    const was = state.joined;
    state.joined = false;
    if (state.refused || !state.everJoined) return;  // a refused join: the form says why
    status("disconnected; reconnecting…");
    setTimeout(connect, state.retry);
    state.retry = Math.min(state.retry * 2, 10000);
    if (was) line(state.current, ["connection lost; reconnecting"], "error");
  };
}

// -- typing -------------------------------------------------------------------------------------
function typed(text) {
  const asked = command(text, state.current, (name) => view.lastSaid(room(state.current), name));
  if (asked === null) {  // /help: the list, a line each
    line(state.current, ["commands:"], "notice");
    for (const [words, what] of HELP) line(state.current, [`  ${words} — ${what}`], "notice");
  } else if (typeof asked === "string") {
    line(state.current, [asked], "notice");
  } else if (asked.type === "register-dialog") {
    if (asked.typed) line(state.current, ["the password is asked for here, not typed in the box where it shows"], "notice");
    askPassword(state.name);
  } else {
    if (asked.type === "quit") state.refused = true;
    if (asked.type === "dm") pick(conversation(asked.to).name);  // the conversation opens, as in a sidebar
    send(asked);
    if (asked.type === "react") reactions.frame({ ...asked, username: state.name }, room(state.current).lines);
    if (asked.type === "chat" && asked.reply_to) {  // one's own reply, shown now (no echo), its quote above
      view.own(room(state.current), chatItem({ ...asked, username: state.name, timestamp: now() }));
    }
  }
}

$("say").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("line").value;
  if (!text.trim()) return;
  const size = [...text].length;  // the server counts characters, not UTF-16 units
  if (state.maxMessage && size > state.maxMessage) {  // kept in the box, to shorten
    line(state.current, [`that is ${size} characters; this server takes at most ${state.maxMessage} a message`],
      "error");
    return;
  }
  $("line").value = "";
  if (!text.toLowerCase().startsWith("/register")) state.lastSent = text;
  if (text.startsWith("/") && !text.startsWith("//")) { typed(text); return; }
  const message = text.startsWith("//") ? text.slice(1) : text;
  const here = room(state.current);
  if (here.kind === "dm") {  // the server's receipt puts it in the conversation
    send({ type: "dm", to: here.peer, message });
    return;
  }
  send({ type: "chat", room: state.current, message });
  // the server does not echo one's own lines: show it now, and follow it down
  line(state.current, [view.who(state.name), " ", ...view.linked(message)], "", now(), state.name);
  view.toBottom();
});

$("messages").addEventListener("scroll", () => {
  if (view.nearTop()) older();
  if (view.atBottom()) $("new-below").hidden = true;
});
$("new-below").addEventListener("click", () => view.toBottom());

// -- the header's bell, the phone's drawers, coming back to the tab ---------------------------------
side.drawers();
function bell(muted) { side.bell(muted); }
$("bell").addEventListener("click", () => bell(notes.toggleMuted(state.current)));
notes.offer($("ask-notify"));
document.addEventListener("visibilitychange", () => {  // back to the tab: what is on screen is read
  if (document.hidden || !state.joined) return;
  side.read(state, room(state.current));
  looked(room(state.current));
  drawRooms();
});

offerRegister(send);
search.searchBox(send);
reactions.init(send, () => state.name);
reads.init(send);
keys({ rooms: sidebarOrder, current: () => state.current, pick,
  join: (name) => send({ type: "join_room", room: name }) });
recall($("line"), () => state.lastSent);
typing.typingBox($("line"), send, () => state.current);

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  $("login-error").textContent = "";
  state.name = $("name").value.trim();
  state.login = $("password").value || null;
  state.serverpw = $("serverpw").value || null;
  connect();
});
