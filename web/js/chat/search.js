// The search panel: in the open conversation or in all of mine (grouped by conversation), as I type, 20
// results at a time; the words found are marked (their other forms and the beginning being typed too); a
// result opens its conversation at the message. Arrow keys move between the results.
import { $, $$, displayName, h, replace } from "../shared/dom.js";
import { formatDateTime, t } from "../shared/i18n.js";
import { plainText } from "../shared/markdown.js";
import { state } from "./state.js";

const LIMIT = 20;
const TYPING_MS = 250;      // a search leaves once typing pauses this long
const EXCERPT_CHARS = 80;   // text kept before the first word found, in a long message
const PHONE = "(max-width: 760px)";

export class SearchPanel {
  /** view: the open conversation (its id, and going to a result in it); bus: "panel:opened" ("search"),
   * "conversation:open-at" ({convId, seq}) for a result in another conversation; another side panel
   * opening closes this one. */
  constructor({api, view, bus}) {
    Object.assign(this, {api, view, bus});
    bus.on("panel:opened", (name) => ["gallery", "scheduled"].includes(name) && this.close());
    this.panel = $("#search");
    this.input = $("#search-input");
    this.results = $("#search-results");
    this.status = $("#search-status");
    this.more = $("#search-more");
    this.toggle = $("#search-toggle");
    this.scope = "conversation";
    this.keepFor = null;      // a conversation opened from a result: the panel stays as it is there
    this.generation = 0;      // answers to an older query are dropped
    this.toggle.setAttribute("aria-controls", "search");
    this.toggle.setAttribute("aria-expanded", "false");
    this.toggle.addEventListener("click", () => (this.panel.hidden ? this.open() : this.close()));
    $("#search-close").addEventListener("click", () => this.close(true));
    $("#search-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.run();
    });
    this.input.addEventListener("input", () => {
      clearTimeout(this.typing);
      this.typing = setTimeout(() => this.run(), TYPING_MS);
    });
    this.input.addEventListener("keydown", (e) => this.onInputKey(e));
    for (const radio of $$("#search-scope input")) {
      radio.addEventListener("change", () => {
        this.scope = radio.value;
        this.noteEncryption();
        this.run();
      });
    }
    this.more.addEventListener("click", () => this.run(this.next));
    this.results.addEventListener("click", (e) => {
      const item = e.target.closest("button[data-seq]");
      if (item) this.go(item.dataset.conv, Number(item.dataset.seq));
    });
    this.results.addEventListener("keydown", (e) => this.onResultKey(e));
  }

  /** The open conversation changed: the panel closes and forgets, unless a result of the panel opened it
   * (then it keeps its results: open on a desktop, a tap away on a phone). */
  reset() {
    this.toggle.hidden = !state.features.search;
    if (this.keepFor && this.keepFor === state.activeId) return;
    this.keepFor = null;
    this.close();
    this.input.value = "";
    this.clear();
  }

  clear() {
    replace(this.results);
    replace(this.status);
    this.more.hidden = true;
    this.next = null;
  }

  open() {
    this.bus.emit("panel:opened", "search");
    this.noteEncryption();
    this.panel.hidden = false;
    this.toggle.setAttribute("aria-expanded", "true");
    this.input.focus();
  }

  close(refocus = false) {
    if (this.panel.hidden) return;
    this.panel.hidden = true;
    this.toggle.setAttribute("aria-expanded", "false");
    if (refocus) this.toggle.focus();
  }

  /** In an encrypted conversation the server matches blind tokens of whole words (docs/security.md): a
   * beginning of a word finds nothing there, and the panel says so when its scope holds such a conversation. */
  noteEncryption() {
    const encrypted = this.scope === "all" ? [...state.convs.values()].some((c) => c.encrypted)
      : Boolean(state.convs.get(this.view.convId)?.encrypted);
    $("#search-encrypted").hidden = !encrypted;
    this.input.setAttribute("aria-describedby", encrypted ? "search-hint search-encrypted" : "search-hint");
  }

  /** Redraw in the page's language (the results' dates and counts). */
  rerender() {
    if (this.input.value.trim() && !this.panel.hidden) this.run();
  }

  /** The query's first page, or the page after `before` (a seq in the conversation, a message id in all). */
  async run(before = null) {
    clearTimeout(this.typing);
    const query = this.input.value.replace(/^\s+/, "");
    const convId = this.view.convId;
    const scope = this.scope;
    const generation = ++this.generation;
    if (!before) this.clear();
    if (!query.trim()) return replace(this.status, t("search.empty"));
    replace(this.status, t("search.searching"));
    const params = new URLSearchParams({q: query, limit: LIMIT});
    if (before) params.set("before", before);
    const path = scope === "all" ? `/api/search?${params}` : `/api/conversations/${convId}/search?${params}`;
    let page;
    try {
      page = await this.api.get(path);
    } catch (exc) {
      if (generation !== this.generation) return;
      if (exc.missingRoute && !before && scope === "conversation") {
        state.features.search = false;   // this server has no search route yet
        this.reset();
      }
      return replace(this.status, exc.code === "invalid_query" ? t("search.invalid") : t("search.failed"));
    }
    if (generation !== this.generation) return;
    const groups = scope === "all" ? page.results
      : [{conversation: {id: convId, ...state.convs.get(convId)}, messages: page.messages}];
    this.draw(groups, query, scope === "all");
    const last = groups.at(-1)?.messages.at(-1);
    this.next = scope === "all" ? page.next : last?.seq ?? null;
    this.more.hidden = !page.hasMore;
    const count = $$("button[data-seq]", this.results).length;
    replace(this.status, count ? t(page.hasMore ? "search.countMore" : "search.count", {count})
      : t(scope === "all" ? "search.noneAll" : "search.none", {query: query.trim()}));
  }

  /** Results appended, grouped under their conversation's title and group (all conversations), or flat. */
  draw(groups, query, grouped) {
    const words = queryWords(query);
    for (const {conversation, messages} of groups) {
      const items = messages.map((m) => h("li", h("button.result", {type: "button",
        dataset: {seq: m.seq, conv: conversation.id}},
        h("span.result-meta", h("strong", displayName(m.senderInfo)), " · ", formatDateTime(new Date(m.createdAt))),
        h("span.result-text", markWords(excerpt(plainText(m.content), words), words)))));
      if (!grouped) {
        this.results.append(...items);
        continue;
      }
      let list = $(`ol[data-conv="${conversation.id}"]`, this.results);   // (a next page may continue a group)
      if (!list) {
        const group = state.groups.get(conversation.groupId)?.name;
        list = h("ol.search-hits", {dataset: {conv: conversation.id}});
        this.results.append(h("li.search-group",
          h("h4.search-group-title", h("span", conversation.title || t("search.untitled")),
            group ? h("span.search-group-name", group) : null), list));
      }
      list.append(...items);
    }
  }

  /** A result: the message in its conversation (opened first if it is another one). */
  go(convId, seq) {
    if (window.matchMedia(PHONE).matches) this.close();
    if (convId === this.view.convId) return this.view.goTo(seq);
    this.keepFor = convId;
    this.bus.emit("conversation:open-at", {convId, seq});
  }

  onInputKey(e) {
    if (e.key === "Escape") {
      e.preventDefault();
      this.close(true);
    } else if (e.key === "ArrowDown") {
      const first = $("button[data-seq]", this.results);
      if (first) {
        e.preventDefault();
        first.focus();
      }
    }
  }

  /** Up and Down move between results (Up from the first goes back to the box), Home and End to the ends,
   * Escape back to the box. */
  onResultKey(e) {
    const buttons = $$("button[data-seq]", this.results);
    const at = buttons.indexOf(document.activeElement);
    if (at < 0) return;
    const to = {ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: buttons.length - 1}[e.key];
    if (e.key === "Escape" || to === -1) {
      e.preventDefault();
      return this.input.focus();
    }
    if (to === undefined) return;
    e.preventDefault();
    (buttons[to] || (to >= buttons.length && !this.more.hidden ? this.more : buttons[at])).focus();
  }
}

// -- marking the words found -------------------------------------------------------------------------
const WORD = /[\p{L}\p{N}_]+/gu;
const fold = (text) => text.normalize("NFD").replace(/\p{Diacritic}/gu, "").toLowerCase();

/** The words to mark: those of the query, folded, without exclusions (-word). */
export function queryWords(query) {
  return query.split(/\s+/).filter((w) => w && !w.startsWith("-"))
    .flatMap((w) => [...fold(w).matchAll(WORD)].map((m) => m[0]));
}

/** Whether a word of the text is one the server matched for a query word: the same word, a word it begins
 * (the prefix being typed), or another form of it (the server stems in the text's language; here, a word
 * sharing all of the query word but its last two letters, at least three, stands for that). */
export function matchesWord(word, queryWord) {
  if (queryWord.length < 2) return word === queryWord;
  if (word.startsWith(queryWord)) return true;
  const root = Math.max(3, queryWord.length - 2);
  return queryWord.length >= 4 && word.length >= root && word.slice(0, root) === queryWord.slice(0, root);
}

/** Text as nodes, each word matching a query word in a <mark>. */
export function markWords(text, words) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(WORD)) {
    const folded = fold(match[0]);
    if (!words.some((w) => matchesWord(folded, w))) continue;
    nodes.push(text.slice(last, match.index), h("mark", match[0]));
    last = match.index + match[0].length;
  }
  nodes.push(text.slice(last));
  return nodes.filter((n) => n !== "");
}

/** A long message from a little before its first word found, so that the mark is in sight. */
function excerpt(text, words) {
  for (const match of text.matchAll(WORD)) {
    if (!words.some((w) => matchesWord(fold(match[0]), w))) continue;
    if (match.index <= EXCERPT_CHARS) return text;
    const start = text.lastIndexOf(" ", match.index - EXCERPT_CHARS / 2);
    return "…" + text.slice(start > 0 ? start + 1 : match.index - EXCERPT_CHARS / 2);
  }
  return text;
}
