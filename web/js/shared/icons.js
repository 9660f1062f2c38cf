// Stroke icons (24×24), built as SVG elements: no icon font, no third-party file.
import { h } from "./dom.js";

const PATHS = {
  send: "M4 12 20 4l-4 16-4-7-8-1Z M12 13l8-9",
  search: "M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14Z M20 20l-4-4",
  back: "M15 18l-6-6 6-6",
  plus: "M12 5v14 M5 12h14",
  users: "M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8Z M2 21v-1a6 6 0 0 1 12 0v1 M16 3.5a4 4 0 0 1 0 7.5 M22 21v-1a6 6 0 0 0-4-5.6",
  smile: "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18Z M8 14s1.5 2 4 2 4-2 4-2 M9 9h.01 M15 9h.01",
  reply: "M9 14 4 9l5-5 M4 9h10a6 6 0 0 1 6 6v4",
  edit: "M4 20h4L19 9l-4-4L4 16v4Z M13.5 6.5l4 4",
  trash: "M4 7h16 M10 11v6 M14 11v6 M6 7l1 13h10l1-13 M9 7V4h6v3",
  close: "M6 6l12 12 M18 6 6 18",
  logout: "M15 4h4v16h-4 M10 17l5-5-5-5 M15 12H3",
  // leaving a conversation (not signing out): an open door and the way out
  leave: "M3 21h11 M5 21V3h8v2 M13 17v4 M5 3l8 2v16 M10 12v1 M16 12h6 M19 9l3 3-3 3",
  more: "M5 11a1 1 0 1 0 0 2 1 1 0 0 0 0-2Z M12 11a1 1 0 1 0 0 2 1 1 0 0 0 0-2Z M19 11a1 1 0 1 0 0 2 1 1 0 0 0 0-2Z",
  user: "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8Z M4 21v-1a7 7 0 0 1 16 0v1",
  clock: "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18Z M12 7v5l3 2",
  alert: "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18Z M12 8v5 M12 16h.01",
  down: "M12 5v14 M6 13l6 6 6-6",
  hash: "M5 9h14 M5 15h14 M10 4 8 20 M16 4l-2 16",
  shield: "M12 3 5 6v5c0 4.5 3 8.3 7 10 4-1.7 7-5.5 7-10V6l-7-3Z",
  flag: "M5 21V4 M5 4h11l-2 4 2 4H5",
  check: "M5 12.5 10 17l9-10",
  filter: "M4 5h16l-6 8v6l-4 2v-8L4 5Z",
  sliders: "M4 7h10 M18 7h2 M4 17h4 M12 17h8 M16 5v4 M10 15v4",
  history: "M3 12a9 9 0 1 0 3-6.7L3 8 M3 3v5h5 M12 7v5l3 2",
  mute: "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18Z M5.6 5.6l12.8 12.8",
  image: "M5 4h14a1 1 0 0 1 1 1v14a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1Z M4 16l5-5 4 4 2-2 5 5 M15 9h.01",
  film: "M4 5h16v14H4V5Z M8 5v14 M16 5v14 M4 9h4 M4 15h4 M16 9h4 M16 15h4",
  mic: "M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3Z M5 11a7 7 0 0 0 14 0 M12 18v3",
  file: "M14 3H7a1 1 0 0 0-1 1v16a1 1 0 0 0 1 1h10a1 1 0 0 0 1-1V7l-4-4Z M14 3v4h4 M9 13h6 M9 17h4",
  download: "M12 4v11 M7 10l5 5 5-5 M5 20h14",
  play: "M8 5v14l11-7L8 5Z",
  pause: "M8 5v14 M16 5v14",
  forward: "M9 18l6-6-6-6",
  clip: "M20 11.5 12.2 19.3a5 5 0 0 1-7.1-7.1l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7l-8.5 8.5a1.7 1.7 0 0 1-2.4-2.4L15 6.9",
  heart: "M12 20s-7-4.4-7-10a4 4 0 0 1 7-2.6A4 4 0 0 1 19 10c0 5.6-7 10-7 10Z",
  album: "M4 7h16v12H4V7Z M7 4h10 M8 15l3-3 2 2 1-1 3 3",
  upload: "M12 20V9 M7 14l5-5 5 5 M5 4h14",
  inbox: "M4 13h4l2 3h4l2-3h4 M4 13l2-8h12l2 8v6H4v-6Z",
  // notifications (notifications.js, scheduled.js)
  bell: "M6 16V11a6 6 0 0 1 12 0v5l2 2H4l2-2Z M10 20a2 2 0 0 0 4 0",
  bellOff: "M6 16V11a6 6 0 0 1 9.5-4.9 M18 11v5l2 2H8 M10 20a2 2 0 0 0 4 0 M4 4l16 16",
  // encryption at rest (the conversation's header)
  lock: "M6 11h12v10H6V11Z M8.5 11V7.5a3.5 3.5 0 0 1 7 0V11 M12 15v2",
  at: "M16 12a4 4 0 1 1-8 0 4 4 0 0 1 8 0Z M16 12v1.5a2.5 2.5 0 0 0 5 0V12a9 9 0 1 0-3.5 7.1",
};

const NS = "http://www.w3.org/2000/svg";

export function icon(name) {
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(NS, "path");
  path.setAttribute("d", PATHS[name]);
  svg.append(path);
  return svg;
}

/** An icon-only button: its label is both the tooltip and the accessible name. */
export function iconButton(spec, label, name, props = {}) {
  return h(spec, {type: "button", title: label, "aria-label": label, ...props}, icon(name));
}
