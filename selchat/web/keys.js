// The keyboard: Alt-1..9 and Alt-Up/Down between rooms, Ctrl-K to jump to a room by name, Up in an
// empty box for the last line you sent; and the box keeps a draft per room.
"use strict";

const $ = (id) => document.getElementById(id);

// ``rooms()``: the sidebar's order (rooms, then conversations); ``current()`` the one on screen;
// ``pick(name)`` shows one; ``join(name)`` joins one not yet joined.
export function keys({ rooms, current, pick, join }) {
  document.addEventListener("keydown", (e) => {
    const list = rooms();
    const at = list.findIndex((n) => n.toLowerCase() === current().toLowerCase());
    if (e.altKey && !e.ctrlKey && e.key >= "1" && e.key <= "9") {
      const name = list[Number(e.key) - 1];
      if (name) { e.preventDefault(); pick(name); }
    } else if (e.altKey && (e.key === "ArrowUp" || e.key === "ArrowDown") && list.length) {
      e.preventDefault();
      const step = e.key === "ArrowUp" ? -1 : 1;
      pick(list[(at + step + list.length) % list.length]);
    } else if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") {
      e.preventDefault();
      jumper(list, pick, join);
    }
  });
}

// Ctrl-K: a name, with the rooms and conversations offered as it is typed.
function jumper(list, pick, join) {
  const dialog = $("jump");
  const input = $("jump-to");
  $("jump-names").replaceChildren(...list.map((name) => {
    const option = document.createElement("option");
    option.value = name;
    return option;
  }));
  input.value = "";
  dialog.showModal();
  input.focus();
  dialog.onsubmit = (e) => {
    e.preventDefault();
    const wanted = input.value.trim();
    dialog.close();
    if (!wanted) return;
    const found = list.find((n) => n.toLowerCase() === wanted.toLowerCase())
      || list.find((n) => n.toLowerCase().includes(wanted.toLowerCase()));
    if (found) pick(found);
    else join(wanted.startsWith("#") ? wanted : "#" + wanted);
  };
}

// The box: Enter sends, Shift+Enter starts another line of the same message (a paste keeps its
// lines), and the box grows with what is in it; Up when it is empty brings back the last message
// sent, to edit and send again.
export function recall(box, lastSent) {
  const fit = () => {  // an empty box is one row (Chromium counts a wrapped placeholder in scrollHeight)
    box.style.height = "auto";
    if (box.value && box.scrollHeight > box.clientHeight + 2) box.style.height = box.scrollHeight + 2 + "px";
  };
  box.addEventListener("input", fit);
  box.form.addEventListener("submit", () => setTimeout(fit));
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      box.form.requestSubmit();
      return;
    }
    if (e.key === "ArrowUp" && !e.altKey && box.value === "" && lastSent()) {
      e.preventDefault();
      box.value = lastSent();
      fit();
      box.setSelectionRange(box.value.length, box.value.length);
    }
  });
}
