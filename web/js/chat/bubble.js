// Parts of a message's bubble that need more than its text: the reply's quote, the words the group's filter
// masked (said why), and long texts shown collapsed with "Show more" / "Show less".
import { h } from "../shared/dom.js";
import { t } from "../shared/i18n.js";
import { plainText } from "../shared/markdown.js";

const MASKED_RUN = /•+/g;
// Texts that may be taller than the collapsed height: measured once drawn (see LongTexts.measure);
// shorter ones are never measured.
const LONG_CHARS = 600;
const LONG_LINES = 10;

/** A reply's copy of its parent: who wrote it, its first words as they are now (the server rewrites them
 * after an edit), or that it was deleted (then the server sends no text of it). */
export const quoteOf = (quote, spec, props = {}) =>
  h(`${spec}${quote.deleted ? ".quote-deleted" : ""}`, props, h("span.quote-name", quote.username),
    h("span.quote-text", quote.deleted ? t("quote.deleted") : plainText(quote.excerpt)));

/** The runs of "•" the group's filter put in place of words (the server says so: metadata.masked) become
 * spans that say why, to the eye (a title, a tap) and to screen readers (their label replaces the dots). */
export function markMasked(textEl) {
  const walker = document.createTreeWalker(textEl, NodeFilter.SHOW_TEXT);
  const nodes = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) if (node.data.includes("•")) nodes.push(node);
  const why = t("view.masked");
  for (const node of nodes) {
    const parts = [];
    let last = 0;
    for (const match of node.data.matchAll(MASKED_RUN)) {
      parts.push(node.data.slice(last, match.index),
        h("span.masked", {role: "img", title: why, "aria-label": why, dataset: {action: "masked"}}, match[0]));
      last = match.index + match[0].length;
    }
    parts.push(node.data.slice(last));
    node.replaceWith(...parts.filter((p) => p !== ""));
  }
  return textEl;
}

/** Long texts, collapsed to a few lines with a button; which ones a person expanded is kept by message
 * (a redraw after a reaction or an edit keeps it open), for as long as the conversation is open. */
export class LongTexts {
  constructor() {
    this.expanded = new Set();   // message ids
    this.long = new Set();       // message ids measured taller than the clamp: a redraw has its button at once
    this.pending = new Set();    // texts drawn collapsed, not measured yet
    this.frame = 0;
  }

  reset() {
    this.expanded.clear();
    this.long.clear();
    this.pending.clear();
  }

  /** The text of a message, clamped when it may be long; measured in the next frame (layout is read once
   * per frame for every text drawn in it, never while drawing). */
  wrap(textEl, id, content) {
    if (!content || (content.length < LONG_CHARS && content.split("\n").length <= LONG_LINES)) return textEl;
    const open = this.expanded.has(id);
    const box = h(`div.long${open ? ".open" : ""}`, {dataset: {id}}, textEl);
    textEl.id = `text-${id}`;
    if (!open) textEl.classList.add("clamped");
    if (this.long.has(id)) {
      box.append(this.button(box));
      return box;
    }
    this.pending.add(box);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.measure());
    return box;
  }

  /** Clamped texts that fit anyway lose their clamp; the others get their button. */
  measure() {
    this.frame = 0;
    const boxes = [...this.pending].filter((box) => box.isConnected);
    this.pending.clear();
    const overflows = boxes.map((box) => {
      const text = box.firstElementChild;
      return box.classList.contains("open") || text.scrollHeight > text.clientHeight + 2;
    });
    boxes.forEach((box, i) => {
      if (!overflows[i]) return box.firstElementChild.classList.remove("clamped");
      this.long.add(box.dataset.id);
      box.append(this.button(box));
    });
  }

  button(box) {
    const open = box.classList.contains("open");
    return h("button.more", {type: "button", dataset: {action: "more"}, "aria-expanded": String(open),
      "aria-controls": box.firstElementChild.id}, open ? t("view.showLess") : t("view.showMore"));
  }

  /** "Show more" / "Show less" pressed. Returns the box, so the caller may keep it on screen. */
  toggle(button) {
    const box = button.closest(".long");
    const open = !box.classList.contains("open");
    box.classList.toggle("open", open);
    box.firstElementChild.classList.toggle("clamped", !open);
    if (open) this.expanded.add(box.dataset.id);
    else this.expanded.delete(box.dataset.id);
    button.replaceWith(this.button(box));
    box.querySelector("button.more").focus({preventScroll: true});
    return box;
  }

  /** Open a message's text (a search result or a link lands on it: all of it is to be seen). */
  open(li) {
    const button = li.querySelector(".long:not(.open) > button.more");
    if (button) this.toggle(button);
  }
}
