// Search (docs/protocol.md, "Search"): the box opens with the 🔍 button (or Ctrl-F twice: the
// browser's own find comes first), the hits are listed newest first, and a hit opens its room
// with older pages fetched until the line is there, scrolled to and marked.
"use strict";

import * as view from "./view.js";

const $ = (id) => document.getElementById(id);
const PAGES_TO_SEEK = 40;  // older pages fetched looking for a hit (of 50 lines: 2,000 lines back)
let seeking = null;         // {room, ts, pages}: a hit being looked for in its room's older pages

export function searchBox(send) {
  const dialog = $("search");
  $("open-search").addEventListener("click", () => {
    dialog.showModal();
    $("search-query").select();
  });
  $("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const query = $("search-query").value.trim();
    if (!query) return;
    $("search-said").textContent = "searching…";
    $("search-hits").replaceChildren();
    send({ type: "search", query, limit: 50 });
  });
}

// The answer: each hit a button that opens it.
export function found(f, open) {
  const hits = f.results || [];
  $("search-said").textContent = hits.length
    ? `${hits.length}${f.more ? "+" : ""} found, newest first` : `nothing found for ${f.query}`;
  $("search-hits").replaceChildren(...hits.map((hit) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    const where = hit.room || "@" + hit.with;
    const when = new Date(hit.timestamp * 1000).toLocaleString();
    button.append(view.who(hit.username), ` in ${where}, ${when}: `, hit.message);
    button.addEventListener("click", () => {
      $("search").close();
      open(where, hit.timestamp);
    });
    li.append(button);
    return li;
  }));
}

export function refused(message) {
  $("search-said").textContent = message;
}

// Open room ``r`` at the line of time ``ts``: shown if it is there, else looked for page by page.
export function seek(r, ts, older) {
  seeking = { room: r.name, ts, pages: 0 };
  seekOn(r, older);
}

// After a page arrived in ``r``: the hit is there (scrolled to, marked), or the next page is asked.
export function seekOn(r, older) {
  if (!seeking || seeking.room.toLowerCase() !== r.name.toLowerCase()) return;
  const li = r.lines.find((line) => Math.abs(Number(line.dataset.ts) - seeking.ts) < 1e-6);
  if (li) {
    seeking = null;
    li.classList.add("found");
    li.scrollIntoView({ block: "center" });
    setTimeout(() => li.classList.remove("found"), 4000);
    return;
  }
  if (!r.more || ++seeking.pages > PAGES_TO_SEEK) {
    seeking = null;
    return;
  }
  older();
}
