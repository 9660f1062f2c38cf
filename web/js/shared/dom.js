// DOM helpers. Nothing here (or anywhere in the page) assigns innerHTML: user text becomes text nodes.
import { parseMarkdown } from "./markdown.js";

/** h("li.msg.mine", {dataset: {id}, onclick}, "text", child…) → an element. */
export function h(spec, props, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  if (props && (typeof props !== "object" || props instanceof Node || Array.isArray(props))) {
    children.unshift(props);
    props = null;
  }
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const MENTION_RE = /(^|[^\w@])@([a-z0-9_.-]{2,32})/gi;
// The elements a message's Markdown may become; any other token opens a plain span.
const TAGS = new Set(["p", "ul", "ol", "li", "blockquote", "strong", "em", "s"]);

/** Message text as nodes: its Markdown subset (markdown.js) built element by element, never parsed as HTML;
 * links only to http(s) addresses (new tab) or mailto:, @mentions of known names stand out. */
export function richText(text, isMention = () => false) {
  const root = document.createDocumentFragment();
  renderTokens(parseMarkdown(text), root, isMention);
  return [...root.childNodes];
}

function renderTokens(tokens, parent, isMention) {
  const stack = [parent];
  for (const token of tokens) {
    const top = stack[stack.length - 1];
    if (token.nesting === 1) {
      const el = token.hidden ? top : openElement(token);  // a tight list's items hide their paragraphs
      if (el !== top) top.append(el);
      stack.push(el);
    } else if (token.nesting === -1) {
      stack.pop();
    } else if (token.type === "inline") {
      renderTokens(token.children, top, isMention);
    } else {
      append(top, [leaf(token, top, isMention)]);
    }
  }
}

function openElement(token) {
  if (token.tag === "a") {
    const href = linkHref(token.attrGet("href"));
    if (!href) return h("span");
    return href.startsWith("mailto:") ? h("a", {href}) : h("a", {href, target: "_blank", rel: "noopener noreferrer"});
  }
  if (token.tag === "ol") return h("ol", {start: token.attrGet("start") || undefined});
  return h(TAGS.has(token.tag) ? token.tag : "span");
}

function leaf(token, parent, isMention) {
  switch (token.type) {
    case "text": return parent.tagName === "A" ? token.content : mentions(token.content, isMention);
    case "code_inline": return h("code", token.content);
    case "code_block":
    case "fence": return h("pre", {tabIndex: 0}, h("code", token.content.replace(/\n$/, "")));
    case "softbreak":
    case "hardbreak": return h("br");
    default: return token.content;
  }
}

/** A link's address if it is http(s) (safeUrl) or mailto:, else null. */
function linkHref(raw) {
  const href = safeUrl(raw);
  if (href) return href;
  try {
    const url = new URL(raw);
    return url.protocol === "mailto:" ? url.href : null;
  } catch {
    return null;
  }
}

function mentions(text, isMention) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(MENTION_RE)) {
    const name = match[2].replace(/\.+$/, "");
    const kind = isMention(name.toLowerCase());
    if (!kind) continue;
    const start = match.index + match[1].length;
    nodes.push(text.slice(last, start), h(`span.mention${kind === "me" ? ".self" : ""}`, "@" + name));
    last = start + 1 + name.length;
  }
  nodes.push(text.slice(last));
  return nodes.filter((n) => n !== "");
}

/** The URL if it is http(s), else null: never javascript:, data: or anything else. */
export function safeUrl(raw) {
  try {
    const url = new URL(raw);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

export function displayName(user) {
  if (!user) return "?";
  const full = [user.fname, user.lname].filter(Boolean).join(" ").trim();
  return full || user.username || "?";
}

/** A round avatar: the picture when the user has an http(s) one, else initials on a colour of their name;
 * with a presence ("online" / "offline"), a dot that presence:update keeps current. */
export function avatar(user, userId, size = "", presence = null) {
  const name = displayName(user);
  const el = h(`span.avatar${size ? "." + size : ""}`, {dataset: {user: userId || ""}, "aria-hidden": "true"});
  if (presence) el.classList.add("presence", presence);
  const src = user && user.avatarUrl && safeUrl(user.avatarUrl);
  if (src) {
    el.append(h("img", {src, alt: "", loading: "lazy", referrerpolicy: "no-referrer"}));
  } else {
    el.textContent = initials(name);
    el.classList.add(`hue-${hash(user?.username || name) % 8}`);
  }
  return el;
}

function initials(name) {
  const parts = name.split(/[\s._-]+/).filter(Boolean);
  return ((parts[0]?.[0] || "?") + (parts.length > 1 ? parts[1][0] : parts[0]?.[1] || "")).toUpperCase();
}

function hash(s) {
  let x = 0;
  for (const c of s) x = (x * 31 + c.codePointAt(0)) >>> 0;
  return x;
}

/** A random id for a send, usable where crypto.randomUUID is not (plain http on a LAN address). */
export function newClientId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return "w-" + [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A username as typed in a form: without its @, trimmed, lowercase. */
export const cleanName = (name) => name.trim().replace(/^@/, "").toLowerCase();

/** The events every picker panel shares (the emoji and GIF pickers): keys in its search box go to
 * `picker.onKey`, Escape anywhere in it closes it and gives the focus back, a press in its grid leaves the focus
 * in the search box, and a click on an option (an element matching `option`) calls `pick(thatElement)`. */
export function wirePicker(picker, {root, search, grid, option, pick}) {
  search.addEventListener("keydown", (e) => picker.onKey(e));
  root.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    e.preventDefault();
    e.stopPropagation();
    picker.close(true);
  });
  grid.addEventListener("mousedown", (e) => e.preventDefault());
  grid.addEventListener("click", (e) => {
    const found = e.target.closest(option);
    if (found) pick(found);
  });
}

/** Make option `index` of a picker (its `options`, the search box that owns them) the active one, as the
 * search box's aria-activedescendant, scrolled into view; an index with no option leaves none active. */
export function activateOption(picker, index) {
  const before = picker.options[picker.active];
  before?.classList.remove("active");
  before?.setAttribute("aria-selected", "false");
  picker.active = index;
  const el = picker.options[index];
  if (!el) return picker.search.removeAttribute("aria-activedescendant");
  el.classList.add("active");
  el.setAttribute("aria-selected", "true");
  picker.search.setAttribute("aria-activedescendant", el.id);
  el.scrollIntoView({block: "nearest"});
}
