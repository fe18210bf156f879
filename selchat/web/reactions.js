// Reactions (IRCv3 +draft/react, docs/protocol.md "react"): each line's reactions as badges,
// "👍 2", pressed when one of them is yours; a badge clicked adds yours or takes it back, and
// /react NAME 👍 reacts to NAME's last line.
"use strict";

let send = () => {};
let me = () => null;

export function init(sendFrame, myName) {
  send = sendFrame;
  me = myName;
}

// Draw ``li``'s reactions (``found``: reaction -> names, as the server keeps them).
export function paint(li, room, found) {
  li._reactions = found || li._reactions || {};
  let row = li.querySelector(".reactions");
  const shown = Object.entries(li._reactions).filter(([, who]) => who.length);
  if (!shown.length) {
    if (row) row.remove();
    return;
  }
  if (!row) {
    row = document.createElement("span");
    row.className = "reactions";
    li.append(row);
  }
  row.replaceChildren(...shown.map(([reaction, who]) => {
    const button = document.createElement("button");
    button.type = "button";
    const mine = who.includes(me());
    button.setAttribute("aria-pressed", String(mine));
    button.title = who.join(", ");
    button.textContent = `${reaction} ${who.length}`;
    button.addEventListener("click", () => {
      send({ type: "react", room, id: Number(li.dataset.ts), reaction, on: !mine });
      heard({ username: me(), reaction, on: !mine }, li, room);  // the server echoes nothing to its sender
    });
    return button;
  }));
}

// A reaction frame (or one's own, which the server does not echo), on its line among ``lines``.
export function frame(f, lines) {
  const li = lines.find((line) => Math.abs(Number(line.dataset.ts) - f.id) < 1e-6);
  if (li) heard(f, li, f.room);
}

// A reaction on line ``li``.
export function heard(f, li, room) {
  const found = { ...(li._reactions || {}) };
  const who = (found[f.reaction] || []).filter((name) => name !== f.username);
  found[f.reaction] = f.on ? [...who, f.username] : who;
  paint(li, room, found);
}
