// Reactions (IRCv3 +draft/react, docs/protocol.md "react"): each line's reactions as badges,
// "👍 2", pressed when one of them is yours; a badge clicked adds yours or takes it back; a line's
// ☺ button opens a palette of the usual ones; and /react NAME 👍 reacts to NAME's last line.
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

// The palette's reactions: Slack's and GitHub's usual few, so one click covers most.
export const PALETTE = ["👍", "❤️", "😂", "🎉", "😮", "😢", "👀", "✅"];

let palette = null;  // one palette, moved to the line it is opened for

function closePalette() {
  if (palette) palette.hidden = true;
}

// The button that opens the palette for ``li`` (a room's stored line).
export function adder(li, room) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "react-add";
  button.title = "add a reaction";
  button.setAttribute("aria-label", "add a reaction");
  // The glyph is drawn by the style sheet, so copying a line never copies "☺" with it.
  button.addEventListener("click", (e) => { e.stopPropagation(); open(li, room, button); });
  return button;
}

function open(li, room, button) {
  if (!palette) {
    palette = document.createElement("div");
    palette.id = "react-palette";
    palette.setAttribute("role", "menu");
    document.body.append(palette);
    document.addEventListener("click", closePalette);
    document.addEventListener("keydown", (e) => { if (e.key === "Escape") closePalette(); });
  }
  palette.replaceChildren(...PALETTE.map((reaction) => {
    const choice = document.createElement("button");
    choice.type = "button";
    choice.setAttribute("role", "menuitem");
    choice.textContent = reaction;
    choice.addEventListener("click", () => {
      closePalette();
      const mine = ((li._reactions || {})[reaction] || []).includes(me());
      if (mine) return;  // yours already: its badge takes it back
      send({ type: "react", room, id: Number(li.dataset.ts), reaction, on: true });
      heard({ username: me(), reaction, on: true }, li, room);  // the server echoes nothing to its sender
    });
    return choice;
  }));
  const at = button.getBoundingClientRect();
  palette.style.left = `${Math.max(4, Math.min(at.left, window.innerWidth - 300))}px`;
  palette.style.top = `${at.bottom + 4}px`;
  palette.hidden = false;
  palette.querySelector("button").focus();
}
