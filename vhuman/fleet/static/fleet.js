// vhuman fleet page: every room, refreshed every 2 s from api/rooms (same origin).
"use strict";
const roomsEl = document.getElementById("rooms");
const cards = new Map();

function text(el, value) { el.textContent = value === null || value === undefined ? "–" : String(value); }

function card(room) {
  let c = cards.get(room.id);
  if (c) return c;
  const root = document.createElement("article");
  root.className = "room";
  const link = document.createElement("a");
  link.href = "rooms/" + encodeURIComponent(room.id) + "/";
  link.textContent = room.id;
  const img = document.createElement("img");
  img.alt = "room " + room.id;
  const dl = document.createElement("dl");
  const fields = {};
  for (const [key, label] of [["state", "state"], ["fps", "fps"], ["viewers", "viewers"],
                              ["segment", "segment"], ["line", "line"], ["restarts", "restarts"],
                              ["node", "node"]]) {
    const dt = document.createElement("dt"); dt.textContent = label;
    const dd = document.createElement("dd"); dl.append(dt, dd); fields[key] = dd;
  }
  root.append(link, img, dl);
  roomsEl.append(root);
  c = { root, img, fields };
  cards.set(room.id, c);
  return c;
}

async function refresh() {
  try {
    const res = await fetch("api/rooms", { cache: "no-store" });
    const doc = await res.json();
    text(document.getElementById("name"), doc.name);
    const running = doc.rooms.filter((r) => r.state === "running").length;
    text(document.getElementById("summary"), running + " / " + doc.rooms.length + " rooms running");
    const now = Date.now();
    for (const room of doc.rooms) {
      const c = card(room);
      c.fields.state.className = "state-" + room.state;
      for (const key of Object.keys(c.fields)) text(c.fields[key], room[key]);
      if (room.state === "running") c.img.src = "rooms/" + encodeURIComponent(room.id) + "/thumb.jpg?t=" + now;
    }
  } catch (err) {
    text(document.getElementById("summary"), "gateway unreachable: " + err);
  }
}
refresh();
setInterval(refresh, 2000);
