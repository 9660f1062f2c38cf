// The GIF picker (contract v3): a panel opened from the composer, with the conversation's trending GIFs first,
// then search as you type. Everything goes through this server (`GET /api/gifs/trending|search`): the page never
// contacts a provider, and shows only the server's preview URLs. Keyboard: the focus stays in the search box
// (combobox pattern, like the emoji picker); arrows move in the grid, Enter sends, Escape closes and gives the
// focus back to the button. The button stays hidden where there is nothing to show: a group's library with no
// GIF, a server without the routes, a conversation the user cannot read.
import { $, h, replace, activateOption, wirePicker } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { errorText, t } from "../shared/i18n.js";
import { GIF_CREDIT_KEYS } from "../shared/texts.js";
import { state } from "./state.js";

const TYPING_MS = 300;       // a search leaves once typing pauses this long
const LIMIT = 24;
const KNOWN_MS = 60_000;     // a group's first trending answer (and whether it has GIFs at all) is kept this long
const MARGIN = 8;
const PREVIEWS_KEPT = 200;   // object URLs of previews kept (a reopened panel shows them at once)
const PHONE = "(max-width: 760px)";
// A library GIF's preview is the media's thumbnail route, which needs the Bearer header an <img> cannot send:
// it is shown through a presigned URL (MediaUrls), like every file of the page.
const MEDIA_CONTENT = /^\/api\/media\/([0-9a-f]{24})\/content\?(?:.*&)?variant=(\w+)/;
// Answers that mean "no GIFs here" rather than "something failed": the button is not shown.
const ABSENT = new Set(["forbidden", "not_a_member", "not_found"]);

/** Whether an answer of trending has something to offer: a provider always may (search), a library only if
 * it holds at least one GIF (an empty library has nothing to search either). */
export const offersGifs = (answer) => answer.provider !== "library" || answer.gifs.length > 0;

export class GifPicker {
  /** api: REST; mediaUrls: presigned URLs of library previews; send(convId, gif): the choice goes to the outbox. */
  constructor({api, mediaUrls, send}) {
    Object.assign(this, {api, mediaUrls, send});
    this.root = $("#gif-picker");
    this.button = $("#gif-button");
    this.search = $("#gif-search");
    this.grid = $("#gif-grid");
    this.status = $("#gif-status");
    this.credit = $("#gif-credit");
    this.blobs = new Map();     // preview path → Promise of its object URL
    this.known = new Map();     // groupId (or convId) → {at, answer} | {at, error}: the first trending answer
    this.options = [];
    this.gifs = [];
    this.active = -1;
    this.generation = 0;        // answers to an older query are dropped
    this.button.hidden = true;
    this.button.addEventListener("click", () => (this.open ? this.close(true) : this.show()));
    this.search.addEventListener("input", () => {
      clearTimeout(this.typing);
      this.typing = setTimeout(() => this.run(), TYPING_MS);
    });
    wirePicker(this, {root: this.root, search: this.search, grid: this.grid, option: "[data-index]",
                      pick: (option) => this.choose(Number(option.dataset.index))});
    this.root.addEventListener("click", (e) => {
      if (e.target.closest("[data-action=gif-retry]")) this.run();
    });
    document.addEventListener("pointerdown", (e) => {
      if (this.open && !this.root.contains(e.target) && !this.button.contains(e.target)) this.close(false);
    });
    window.addEventListener("resize", () => this.open && this.place());
  }

  /** Signed in (maybe as someone else): nothing kept from an earlier session (offers are per user). */
  reset() {
    this.close(false);
    this.known = new Map();
    for (const made of this.blobs.values()) made.then((objectUrl) => URL.revokeObjectURL(objectUrl), () => {});
    this.blobs = new Map();
  }

  get open() {
    return !this.root.hidden;
  }

  /** The composer's conversation changed: the panel closes; the button shows once the conversation's group
   * is known to have GIFs (its first trending answer, asked once a minute at most). */
  async forConversation(convId) {
    this.close(false);
    this.convId = convId;
    this.button.hidden = true;
    if (!convId) return;
    const known = await this.trending(convId);
    if (this.convId !== convId) return;
    this.button.hidden = known.answer ? !offersGifs(known.answer) : ABSENT.has(known.error) || known.missing;
  }

  /** The group's trending answer ({answer} or {error, missing}), kept KNOWN_MS; a failure is asked again. */
  trending(convId) {
    const key = state.convs.get(convId)?.groupId || convId;
    let entry = this.known.get(key);
    if (!entry || Date.now() - entry.at >= KNOWN_MS) {
      entry = {at: Date.now(), pending: this.api.get(`/api/gifs/trending?${new URLSearchParams({convId})}`).then(
        (answer) => ({answer}), (exc) => ({error: exc.code, missing: exc.missingRoute}))};
      this.known.set(key, entry);
      entry.pending.then((value) => { if (value.error) entry.at = 0; });
    }
    return entry.pending;
  }

  show() {
    if (!this.convId || this.button.disabled) return;
    this.root.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    this.search.value = "";
    this.place();
    this.search.focus({preventScroll: true});
    this.run();
  }

  /** restoreFocus: back to the button (Escape, pressed again); not after a choice or a click away. */
  close(restoreFocus) {
    clearTimeout(this.typing);
    this.generation += 1;
    if (!this.open) return;
    this.root.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
    if (restoreFocus) this.button.focus();
  }

  /** Above the button, inside the window, on a wide screen; on a phone the CSS makes it a bottom sheet. */
  place() {
    if (window.matchMedia(PHONE).matches) {
      this.root.style.left = this.root.style.top = "";
      return;
    }
    const box = this.button.getBoundingClientRect();
    const left = Math.max(MARGIN, Math.min(window.innerWidth - this.root.offsetWidth - MARGIN, box.right - this.root.offsetWidth));
    const above = box.top - this.root.offsetHeight - 6;
    const top = above >= MARGIN ? above : Math.min(box.bottom + 6, window.innerHeight - this.root.offsetHeight - MARGIN);
    this.root.style.left = `${left}px`;
    this.root.style.top = `${Math.max(MARGIN, top)}px`;
  }

  /** The box's query: trending when empty (the answer that decided the button, if still fresh), else a search. */
  async run() {
    const gen = ++this.generation;
    const convId = this.convId;
    const query = this.search.value.trim();
    this.root.setAttribute("aria-busy", "true");
    this.status.textContent = t("gifs.loading");
    let result;
    if (!query) {
      result = await this.trending(convId);
    } else {
      const params = new URLSearchParams({q: query, convId, limit: String(LIMIT)});
      result = await this.api.get(`/api/gifs/search?${params}`).then((answer) => ({answer}), (exc) => ({error: exc.code}));
    }
    if (gen !== this.generation || convId !== this.convId) return;   // a newer query, or another conversation
    this.root.removeAttribute("aria-busy");
    this.query = query;
    this.result = result;
    this.render();
  }

  /** Draw the last answer (again after a change of language). */
  render() {
    const {answer, error} = this.result || {};
    if (!answer && !error) return;
    this.options = [];
    this.gifs = answer?.gifs || [];
    this.root.classList.toggle("failed", Boolean(error));
    if (error) {
      replace(this.grid);
      replace(this.credit);
      replace(this.status, h("span.gif-error", icon("alert"), error === "gif_unavailable" ? t("gifs.unavailable") : errorText(error)),
        h("button.link", {type: "button", dataset: {action: "gif-retry"}}, t("action.retry")));
      return this.activate(-1);
    }
    this.lazy?.disconnect();
    replace(this.grid, this.gifs.map((gif, i) => this.option(gif, i)));
    replace(this.credit, GIF_CREDIT_KEYS[answer.provider] ? t(GIF_CREDIT_KEYS[answer.provider]) : "");
    this.credit.dataset.provider = answer.provider;
    const count = this.gifs.length;
    this.status.textContent = this.query ? (count ? t("gifs.found", {count}) : t("gifs.none", {query: this.query}))
      : (count ? "" : t("gifs.empty"));
    this.grid.scrollTop = 0;
    this.activate(this.query && count ? 0 : -1);
  }

  option(gif, index) {
    const title = gif.title || t("gifs.untitled");
    const img = h("img", {alt: "", decoding: "async", draggable: "false",
      width: String(gif.width || 1), height: String(gif.height || 1)});
    img.addEventListener("load", () => img.classList.add("loaded"), {once: true});
    this.preview(img, gif.previewUrl);
    const el = h("button.gif-option", {type: "button", role: "option", tabindex: "-1", id: `gif-option-${index}`,
      title, "aria-label": title, "aria-selected": "false", dataset: {index: String(index), id: gif.id}}, img);
    this.options.push(el);
    return el;
  }

  /** The preview once its cell scrolls into the grid's view: this server's preview route needs the token, so it
   * is fetched and shown from an object URL (kept for the page's life, PREVIEWS_KEPT at most); a library GIF's
   * thumbnail is shown through its presigned URL. A provider's address is never used. */
  preview(img, url) {
    if (!url?.startsWith("/")) return;
    img.dataset.preview = url;
    this.lazy ||= new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        this.lazy.unobserve(entry.target);
        this.load(entry.target);
      }
    }, {root: this.grid, rootMargin: "120px"});
    this.lazy.observe(img);
  }

  async load(img) {
    const url = img.dataset.preview;
    const media = MEDIA_CONTENT.exec(url);
    try {
      img.src = media ? await this.mediaUrls.url(media[1], media[2]) : await this.objectUrl(url);
    } catch {
      img.classList.add("broken");
    }
  }

  objectUrl(url) {
    if (!this.blobs.has(url)) {
      const made = this.api.blob(url).then((blob) => URL.createObjectURL(blob));
      made.catch(() => this.blobs.delete(url));
      this.blobs.set(url, made);
      if (this.blobs.size > PREVIEWS_KEPT) {
        const [oldest, kept] = this.blobs.entries().next().value;
        this.blobs.delete(oldest);
        kept.then((objectUrl) => URL.revokeObjectURL(objectUrl), () => {});
      }
    }
    return this.blobs.get(url);
  }

  activate(index) {
    activateOption(this, index);
  }

  /** The grid's columns, as laid out now (3 on a wide screen, 2 on a phone). */
  columns() {
    return getComputedStyle(this.grid).gridTemplateColumns.split(" ").filter(Boolean).length || 1;
  }

  /** ↓ enters the grid, arrows move in it (←/→ once a GIF is active; before, they move in the text), Enter sends. */
  onKey(e) {
    if (e.isComposing) return;
    const last = this.options.length - 1;
    const steps = {ArrowDown: this.columns(), ArrowUp: -this.columns(), ArrowRight: 1, ArrowLeft: -1};
    if (e.key in steps && last >= 0 && (this.active >= 0 || e.key === "ArrowDown")) {
      e.preventDefault();
      if (this.active < 0) return this.activate(0);
      const next = this.active + steps[e.key];
      if (next >= 0 && next <= last) this.activate(next);
      return;
    }
    if (e.key === "Enter") {
      e.preventDefault();
      if (this.active >= 0) this.choose(this.active);
    }
  }

  choose(index) {
    const gif = this.gifs[index];
    if (!gif || !this.convId) return;
    const convId = this.convId;
    this.close(false);
    this.send(convId, gif);
  }

  /** The language changed: the open panel's words follow. */
  rerender() {
    if (this.open) this.render();
  }
}
