// selchat in the browser: the JSON protocol (docs/protocol.md, v2) over a WebSocket at /ws.
// Everything others write is put on the page with textContent, never as markup.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  ws: null, name: null, login: null, serverpw: null, joined: false, everJoined: false,
  rooms: new Map(),      // room -> {topic, members: Map(name -> away), lines: [], last, more, loadingOlder}
  order: [],             // rooms in the order joined
  current: "#lobby",
  retry: 1000, refused: false,
  maxMessage: 0,         // characters a message may hold, from the welcome
  listing: null,         // the pages of a long list of rooms so far
};

function colour(name) {
  let h = 0;
  for (const c of name) h = (h * 31 + c.codePointAt(0)) % 360;
  return `hsl(${h} 55% 38%)`;
}

function hhmm(ts) {
  const d = new Date(ts * 1000);
  return d.toTimeString().slice(0, 5);
}

function room(name) {
  const key = name.toLowerCase();
  for (const [k, r] of state.rooms) if (k.toLowerCase() === key) return r;
  const r = { name, topic: "", members: new Map(), lines: [], last: 0, more: false, loadingOlder: false, refill: false,
    older: [] };
  state.rooms.set(name, r);
  return r;
}

function send(frame) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(frame));
}

// -- drawing -------------------------------------------------------------------------------------
function line(roomName, parts, cls, ts, prepend) {
  const r = room(roomName);
  const li = document.createElement("li");
  if (cls) li.className = cls;
  if (ts) {
    li.dataset.ts = ts;
    const t = document.createElement("span");
    t.className = "time";
    t.textContent = hhmm(ts);
    li.append(t, " ");
  }
  for (const p of parts) {
    if (typeof p === "string") li.append(document.createTextNode(p));
    else li.append(p);
  }
  if (prepend) r.lines.unshift(li); else r.lines.push(li);
  if (r.lines.length > 2000) r.lines.shift();
  if (roomName.toLowerCase() === state.current.toLowerCase()) {
    const box = $("messages");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    if (prepend) {
      const before = box.scrollHeight;
      box.prepend(li);
      box.scrollTop += box.scrollHeight - before;
    } else {
      box.append(li);
      if (atBottom) box.scrollTop = box.scrollHeight;
    }
  }
  return li;
}

function who(name) {
  const s = document.createElement("span");
  s.className = "who";
  s.style.color = colour(name);
  s.textContent = name;
  return s;
}

function mentions(text) {
  if (!state.name) return false;
  const n = state.name.toLowerCase();
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

function chatLine(f, prepend) {
  const r = room(f.room);
  if (!prepend && f.timestamp <= r.last) return;  // seen already (a replay after reconnecting)
  if (!prepend) r.last = Math.max(r.last, f.timestamp);
  let cls = f.history ? "history" : "";
  if (f.username !== state.name && mentions(f.message)) cls += " mention";
  const parts = f.action ? ["* ", who(f.username), " " + f.message] : [who(f.username), " " + f.message];
  line(f.room, parts, cls, f.timestamp, prepend).dataset.msg = "1";  // a stored line: paging starts here
}

function drawRoom() {
  const r = room(state.current);
  $("room-name").textContent = r.name;
  $("topic").textContent = r.topic ? "— " + r.topic : "";
  $("messages").replaceChildren(...r.lines);
  $("messages").scrollTop = $("messages").scrollHeight;
  drawMembers();
  drawRooms();
}

function drawMembers() {
  const r = room(state.current);
  const items = [...r.members.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([name, away]) => {
    const li = document.createElement("li");
    li.textContent = name;
    li.style.color = away ? "" : colour(name);
    if (away) { li.className = "away"; li.title = "away: " + away; }
    li.addEventListener("click", () => { $("line").value = `/msg ${name} `; $("line").focus(); });
    return li;
  });
  $("members").replaceChildren(...items);
}

function drawRooms() {
  $("my-rooms").replaceChildren(...state.order.map((name) => {
    const li = document.createElement("li");
    li.textContent = name;
    if (name.toLowerCase() === state.current.toLowerCase()) li.className = "current";
    li.addEventListener("click", () => { state.current = name; drawRoom(); });
    return li;
  }));
}

function drawAllRooms(rooms) {
  $("all-rooms").replaceChildren(...rooms.map((r) => {
    const li = document.createElement("li");
    li.textContent = r.room + " ";
    const c = document.createElement("span");
    c.className = "count";
    c.textContent = `(${r.users})`;
    li.append(c);
    if (r.topic) li.title = r.topic;
    li.addEventListener("click", () => send({ type: "join_room", room: r.room }));
    return li;
  }));
}

function status(text) { $("status").textContent = text; }

// -- the protocol -------------------------------------------------------------------------------
const handlers = {
  welcome(f) {
    state.joined = true;
    state.name = f.username;
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
      for (const text of f.motd.split("\n")) if (text.trim()) line(f.room, [text], "notice", Date.now() / 1000);
    }
    state.everJoined = true;
    send({ type: "rooms" });
    drawRoom();
  },
  error(f) {
    if (!state.joined) {
      $("login-error").textContent = f.message;
      state.refused = true;
      state.ws.close();
      return;
    }
    line(state.current, ["! " + f.message], "error", Date.now() / 1000);
  },
  room_joined(f) {
    const r = room(f.room);
    r.members = new Map(f.users.map((u) => [u, null]));
    r.topic = f.topic || "";
    if (!state.order.includes(r.name)) { state.order.push(r.name); state.current = r.name; }
    drawRoom();
    send({ type: "users", room: r.name });
    send({ type: "rooms" });
  },
  chat(f) {
    const r = room(f.room);
    if (r.loadingOlder && f.history) r.older.push(f); else chatLine(f, false);
  },
  history_end(f) {
    const r = room(f.room);
    if (r.loadingOlder) {  // an older page, oldest first: put it above what is shown, in order
      for (const old of r.older.reverse()) chatLine(old, true);
      r.older = [];
      r.loadingOlder = false;
      r.more = f.more;
      return;
    }
    if (!r.lines.length || r.more === false) r.more = f.more;
    if (r.refill && r.last) {  // fill the gap since the last line seen before the reconnect
      r.refill = false;
      send({ type: "history", room: r.name, after: r.last, limit: 200 });
    }
  },
  room_left(f) {
    state.order = state.order.filter((n) => n.toLowerCase() !== f.room.toLowerCase());
    if (state.current.toLowerCase() === f.room.toLowerCase()) state.current = state.order[0] || "#lobby";
    drawRoom();
    send({ type: "rooms" });
  },
  user_joined(f) {
    const r = room(f.room);
    r.members.set(f.username, null);
    line(f.room, [`→ ${f.username} joined`], "event", f.timestamp);
    if (f.room.toLowerCase() === state.current.toLowerCase()) drawMembers();
  },
  user_left(f) {
    const r = room(f.room);
    r.members.delete(f.username);
    const why = f.reason ? ` (${f.reason})` : "";
    line(f.room, [`← ${f.username} left${why}`], "event", f.timestamp);
    if (f.room.toLowerCase() === state.current.toLowerCase()) drawMembers();
  },
  topic(f) {
    const r = room(f.room);
    r.topic = f.topic;
    if (f.by && f.timestamp) line(f.room, [`${f.by} set the topic: ${f.topic}`], "event", f.timestamp);
    if (f.room.toLowerCase() === state.current.toLowerCase()) drawRoom();
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
    if (f.more && f.users.length) send({ type: "users", room: f.room, after: f.users[f.users.length - 1] });
    if (f.topic !== undefined) r.topic = f.topic;
    if (f.room.toLowerCase() === state.current.toLowerCase()) drawMembers();
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
  dm(f) {
    const mine = f.from === state.name;
    const head = mine ? `→ ${f.to}: ` : `${f.from} → you: `;
    line(state.current, [head + f.message], "notice" + (mine ? "" : " mention"), f.timestamp);
  },
  server(f) { line(state.current, ["*** " + f.message], "notice", f.timestamp); },
  shutdown(f) { line(state.current, ["*** " + f.message], "notice", f.timestamp); },
  registered(f) { line(state.current, [f.message || `${f.account} is now your account`], "notice", Date.now() / 1000); },
  whois(f) {
    const where = f.rooms.length ? ` in ${f.rooms.join(", ")}` : "";
    const acct = f.account ? `, account ${f.account}` : "";
    const away = f.away ? `, away: ${f.away}` : "";
    line(state.current, [`${f.username}${where}${acct}${away}`], "notice", Date.now() / 1000);
  },
  ping(f) { send({ type: "pong", id: f.id }); },
  pong() {},
};

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
    if (was) line(state.current, ["connection lost; reconnecting"], "error", Date.now() / 1000);
  };
}

// -- typing -------------------------------------------------------------------------------------
const HELP = "/join #room, /part [#room], /me text, /nick name, /msg name text, /topic text, /away [text], "
  + "/back, /users, /rooms, /whois name, /register password, /quit";

function command(text) {
  const [word, ...rest] = text.split(" ");
  const arg = rest.join(" ").trim();
  const here = state.current;
  switch (word.toLowerCase()) {
    case "/join": return arg ? send({ type: "join_room", room: arg.startsWith("#") ? arg : "#" + arg }) : null;
    case "/part": case "/leave": return send({ type: "leave_room", room: arg || here });
    case "/me": return arg ? send({ type: "chat", room: here, message: arg, action: true }) : null;
    case "/nick": return arg ? send({ type: "nick", username: arg }) : null;
    case "/msg": {
      const [to, ...words] = rest;
      return to && words.length ? send({ type: "dm", to, message: words.join(" ") }) : null;
    }
    case "/topic": return send({ type: "topic", room: here, topic: arg || null });
    case "/away": return send({ type: "away", message: arg || "away" });
    case "/back": return send({ type: "away", message: null });
    case "/users": return send({ type: "users", room: here });
    case "/rooms": return send({ type: "rooms" });
    case "/whois": return arg ? send({ type: "whois", username: arg }) : null;
    case "/register": return arg ? send({ type: "register", password: arg }) : null;
    case "/quit": state.refused = true; send({ type: "quit" }); return null;
    default: line(here, [HELP], "notice", Date.now() / 1000); return null;
  }
}

$("say").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("line").value;
  if (!text.trim()) return;
  const size = [...text].length;  // the server counts characters, not UTF-16 units
  if (state.maxMessage && size > state.maxMessage) {  // kept in the box, to shorten
    line(state.current, [`that is ${size} characters; this server takes at most ${state.maxMessage} a message`],
      "error", Date.now() / 1000);
    return;
  }
  $("line").value = "";
  if (text.startsWith("/") && !text.startsWith("//")) { command(text); return; }
  const message = text.startsWith("//") ? text.slice(1) : text;
  send({ type: "chat", room: state.current, message });
  // the server does not echo one's own lines: show it now
  line(state.current, [who(state.name), " " + message], "", Date.now() / 1000);
});

$("messages").addEventListener("scroll", () => {
  const r = room(state.current);
  if ($("messages").scrollTop > 0 || !r.more || r.loadingOlder) return;
  const oldest = r.lines.find((li) => li.dataset.msg);
  if (!oldest) return;
  r.loadingOlder = true;
  send({ type: "history", room: r.name, before: Number(oldest.dataset.ts), limit: 50 });
});

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  $("login-error").textContent = "";
  state.name = $("name").value.trim();
  state.login = $("password").value || null;
  state.serverpw = $("serverpw").value || null;
  connect();
});
