// The emoji picker: the full Unicode set of emojibase-data, named in the page's language and loaded the first
// time the picker opens; by category, searched as you type, recently used ones first. One component serves the
// composer (insert at the caret) and reactions; the keyboard works it (arrows, Enter, Escape).
import { h, replace, activateOption, wirePicker } from "../shared/dom.js";
import { currentLanguage, t } from "../shared/i18n.js";

const RECENT_KEY = "chat.emoji.recent";
const RECENT_MAX = 24;
const RESULTS_MAX = 120;
const COMPONENTS = 2;     // emojibase's group of lone skin tones and hair styles: parts of emoji, not emoji
const MARGIN = 8;
// emojibase writes 👍 as "👍\uFE0F"; the selector changes nothing after a character shown as an emoji anyway, and
// without it the emoji is the one keyboards type and the server keeps (schemas/payloads/messages.py).
const REDUNDANT_SELECTOR = /(?<=\p{Emoji_Presentation})\uFE0F/gu;

const sets = new Map();   // language → Promise of the set (see buildSet)

/** Lower case, without accents: "Café" finds "cafe". */
const fold = (text) => text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();

async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

/** The set in that language (English too for other languages: searching in English works everywhere). */
function loadSet(lang) {
  if (!sets.has(lang)) {
    const loading = Promise.all([fetchJson(`/vendor/emoji-${lang}.json`), fetchJson(`/vendor/emoji-groups-${lang}.json`),
      lang === "en" ? null : fetchJson("/vendor/emoji-en.json")]).then((parts) => buildSet(...parts));
    loading.catch(() => sets.delete(lang));   // tried again at the next opening
    sets.set(lang, loading);
  }
  return sets.get(lang);
}

/** {groups: [{name, emoji}], byChar}: each emoji once (its skin tones are variants, not more emoji), with the
 * words it is found by: its label and tags, then the English ones. */
function buildSet(data, messages, english) {
  const inEnglish = new Map((english || []).map((e) => [e.hexcode, e]));
  const groups = new Map(messages.groups.filter((g) => g.order !== COMPONENTS)
    .map((g) => [g.order, {name: g.message, emoji: []}]));
  const byChar = new Map();
  for (const e of [...data].sort((a, b) => a.order - b.order)) {
    const group = groups.get(e.group);
    if (!group) continue;
    const en = inEnglish.get(e.hexcode);
    const item = {char: e.unicode.replace(REDUNDANT_SELECTOR, ""), label: e.label, name: fold(e.label), tags: (e.tags || []).map(fold),
      english: en ? [en.label, ...(en.tags || [])].map(fold) : []};
    group.emoji.push(item);
    byChar.set(item.char, item);
  }
  return {groups: [...groups.values()], byChar};
}

/** How well an emoji answers one word of a search (lower is better), or -1. */
function rank(item, word) {
  if (item.name.startsWith(word)) return 0;
  if (item.name.includes(` ${word}`)) return 1;
  if (item.tags.some((tag) => tag.startsWith(word))) return 2;
  if (item.name.includes(word) || item.tags.some((tag) => tag.includes(word))) return 3;
  const [label = "", ...tags] = item.english;
  if (label.startsWith(word) || label.includes(` ${word}`)) return 4;
  if (tags.some((tag) => tag.startsWith(word))) return 5;
  return -1;
}

export function searchEmoji(set, query) {
  const words = fold(query).split(/\s+/).filter(Boolean);
  const found = [];
  for (const group of set.groups) {
    for (const item of group.emoji) {
      const ranks = words.map((word) => rank(item, word));
      if (!ranks.includes(-1)) found.push([ranks.reduce((a, b) => a + b, 0), found.length, item]);
    }
  }
  return found.sort((a, b) => a[0] - b[0] || a[1] - b[1]).slice(0, RESULTS_MAX).map(([, , item]) => item);
}

function recentlyUsed() {
  try {
    const list = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
    return Array.isArray(list) ? list.filter((c) => typeof c === "string") : [];
  } catch {
    return [];
  }
}

function remember(char) {
  const list = [char, ...recentlyUsed().filter((c) => c !== char)].slice(0, RECENT_MAX);
  try {
    localStorage.setItem(RECENT_KEY, JSON.stringify(list));
  } catch { /* storage full or refused: the picker still works, without the recent ones */ }
}

export class EmojiPicker {
  /** root: the picker's element (#emoji-picker: a search box, the grid, a status line). */
  constructor(root) {
    this.root = root;
    this.search = root.querySelector("input");
    this.grid = root.querySelector("[role=listbox]");
    this.status = root.querySelector("[role=status]");
    this.options = [];
    this.active = -1;
    this.search.addEventListener("input", () => this.render());
    wirePicker(this, {root, search: this.search, grid: this.grid, option: "[data-emoji]",
                      pick: (option) => this.pick(option.dataset.emoji)});
    document.addEventListener("pointerdown", (e) => {
      if (!this.root.hidden && !this.root.contains(e.target) && !this.opener?.contains(e.target)) this.close(false);
    });
  }

  get open() {
    return !this.root.hidden;
  }

  /** Open by this button (pressed again: closes); onPick(emoji) gets the emoji picked. */
  async show(opener, onPick) {
    if (this.open && this.opener === opener) return this.close(true);
    this.opener = opener;
    this.onPick = onPick;
    this.search.value = "";
    this.root.hidden = false;
    opener.setAttribute("aria-expanded", "true");
    this.place();
    this.search.focus({preventScroll: true});
    const lang = currentLanguage();
    if (this.set?.lang !== lang) {
      this.set = null;
      replace(this.grid);
      this.status.textContent = t("emoji.loading");
      try {
        this.set = {lang, ...await loadSet(lang)};
      } catch {
        this.status.textContent = t("emoji.unavailable");
        return;
      }
    }
    if (this.opener === opener && this.open) this.render();
  }

  /** restoreFocus: back to the button that opened it (Escape, pressed again); not after a pick or a click away. */
  close(restoreFocus) {
    if (!this.open) return;
    this.root.hidden = true;
    this.opener?.setAttribute("aria-expanded", "false");
    if (restoreFocus) this.opener?.focus();
    this.opener = null;
    this.onPick = null;
  }

  /** Next to its button, inside the window: above it if there is room, else below; on a phone, full width. */
  place() {
    const box = this.opener.getBoundingClientRect();
    const width = this.root.offsetWidth;
    const height = this.root.offsetHeight;
    const left = Math.max(MARGIN, Math.min(window.innerWidth - width - MARGIN, box.right - width));
    const above = box.top - height - 6;
    const top = above >= MARGIN ? above : Math.min(box.bottom + 6, window.innerHeight - height - MARGIN);
    this.root.style.left = `${left}px`;
    this.root.style.top = `${Math.max(MARGIN, top)}px`;
  }

  render() {
    if (!this.set) return;
    const query = this.search.value.trim();
    let sections;
    if (query) {
      sections = [{name: t("emoji.results"), emoji: searchEmoji(this.set, query)}];
    } else {
      const recent = recentlyUsed().map((c) => this.set.byChar.get(c)).filter(Boolean);
      sections = [...(recent.length ? [{name: t("emoji.recent"), emoji: recent}] : []), ...this.set.groups];
    }
    this.options = [];
    replace(this.grid, sections.filter((s) => s.emoji.length).map((section, i) => {
      const heading = `emoji-group-${i}`;
      return h("div.emoji-group", {role: "group", "aria-labelledby": heading},
        h("div.emoji-heading", {id: heading}, section.name),
        h("div.emoji-cells", section.emoji.map((item) => this.option(item))));
    }));
    const count = this.options.length;
    this.status.textContent = query ? (count ? t("emoji.found", {count}) : t("emoji.none", {query})) : "";
    this.grid.scrollTop = 0;
    this.activate(query && count ? 0 : -1);
  }

  option(item) {
    const el = h("button.emoji-option", {type: "button", role: "option", tabindex: "-1", id: `emoji-option-${this.options.length}`,
      title: item.label, "aria-label": item.label, "aria-selected": "false", dataset: {emoji: item.char}}, item.char);
    this.options.push(el);
    return el;
  }

  activate(index) {
    activateOption(this, index);
  }

  /** Up and down: to the row above or below (the nearest emoji in it); left and right once an emoji is active
   * (before that, they move in the search text). */
  onKey(e) {
    if (e.isComposing) return;
    const moves = {ArrowDown: 1, ArrowUp: -1};
    if (e.key in moves) {
      e.preventDefault();
      return this.activate(this.active < 0 ? 0 : this.rowNeighbour(moves[e.key]));
    }
    if ((e.key === "ArrowRight" || e.key === "ArrowLeft") && this.active >= 0) {
      e.preventDefault();
      const next = this.active + (e.key === "ArrowRight" ? 1 : -1);
      return this.activate(Math.max(0, Math.min(this.options.length - 1, next)));
    }
    if (e.key === "Enter") {
      e.preventDefault();
      const el = this.options[this.active];
      if (el) this.pick(el.dataset.emoji);
    }
  }

  /** The emoji of the next (or previous) row nearest in x to the active one; the rows wrap per category. */
  rowNeighbour(direction) {
    const from = this.options[this.active];
    const top = from.offsetTop;
    const x = from.offsetLeft;
    let row = null;
    let best = this.active;
    for (let i = this.active + direction; i >= 0 && i < this.options.length; i += direction) {
      const el = this.options[i];
      if (el.offsetTop === top) continue;
      if (row === null) row = el.offsetTop;
      if (el.offsetTop !== row) break;
      if (best === this.active || Math.abs(el.offsetLeft - x) < Math.abs(this.options[best].offsetLeft - x)) best = i;
    }
    return best;
  }

  pick(char) {
    const onPick = this.onPick;
    remember(char);
    this.close(false);
    onPick?.(char);
  }
}
