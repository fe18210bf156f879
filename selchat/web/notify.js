// Desktop notifications for private messages and mentions while the tab is hidden. Permission is
// asked for only from a visible button (browsers ignore, or hold against a site, a request made
// on load); each room's notifications can be turned off, and that is remembered in this browser.
"use strict";

const MUTED_KEY = "selchat.muted";
const supported = () => "Notification" in window;

function mutedRooms() {
  try { return new Set(JSON.parse(localStorage.getItem(MUTED_KEY) || "[]")); } catch { return new Set(); }
}

export function isMuted(room) {
  return mutedRooms().has(room.toLowerCase());
}

export function toggleMuted(room) {
  const muted = mutedRooms();
  const key = room.toLowerCase();
  if (muted.has(key)) muted.delete(key); else muted.add(key);
  try { localStorage.setItem(MUTED_KEY, JSON.stringify([...muted])); } catch { /* private mode: for now only */ }
  return muted.has(key);
}

// The button that asks, shown only while the browser has not been asked.
export function offer(button) {
  button.hidden = !supported() || Notification.permission !== "default";
  button.addEventListener("click", async () => {
    await Notification.requestPermission();
    button.hidden = Notification.permission !== "default";
  });
}

export function notify(room, title, body) {
  if (!supported() || Notification.permission !== "granted" || !document.hidden || isMuted(room)) return null;
  const note = new Notification(title, { body, tag: room.toLowerCase() });
  note.onclick = () => { window.focus(); note.close(); };
  return note;
}
