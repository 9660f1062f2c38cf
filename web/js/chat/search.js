// Search in the open conversation: newest matches first, 20 at a time; a result scrolls to its message.
import { $, displayName, h, highlight, replace } from "../shared/dom.js";
import { formatDateTime, t } from "../shared/i18n.js";
import { state } from "./state.js";

const LIMIT = 20;

export class SearchPanel {
  /** view: the open conversation (its id, and going to a result); bus: "panel:opened" ("search"); another
   * side panel opening closes this one. */
  constructor({api, view, bus}) {
    Object.assign(this, {api, view, bus});
    bus.on("panel:opened", (name) => ["gallery", "scheduled"].includes(name) && this.close());
    this.panel = $("#search");
    this.form = $("#search-form");
    this.input = $("#search-input");
    this.results = $("#search-results");
    this.status = $("#search-status");
    this.more = $("#search-more");
    this.toggle = $("#search-toggle");
    this.toggle.addEventListener("click", () => (this.panel.hidden ? this.open() : this.close()));
    $("#search-close").addEventListener("click", () => this.close());
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.run();
    });
    this.input.addEventListener("keydown", (e) => e.key === "Escape" && this.close());
    this.more.addEventListener("click", () => this.run(this.last));
    this.results.addEventListener("click", (e) => {
      const item = e.target.closest("[data-seq]");
      if (!item) return;
      if (window.matchMedia("(max-width: 760px)").matches) this.close();
      this.view.goTo(Number(item.dataset.seq));
    });
  }

  reset() {
    this.toggle.hidden = !state.features.search;
    this.close();
    this.input.value = "";
    this.clear();
  }

  clear() {
    replace(this.results);
    replace(this.status);
    this.more.hidden = true;
    this.last = null;
  }

  open() {
    this.bus.emit("panel:opened", "search");
    this.panel.hidden = false;
    this.input.focus();
  }

  close() {
    this.panel.hidden = true;
  }

  /** The query's first page, or the next one after the oldest result shown. */
  async run(before = null) {
    const query = this.input.value.trim();
    const convId = this.view.convId;
    if (!before) this.clear();
    if (!query) return replace(this.status, t("search.empty"));
    replace(this.status, t("search.searching"));
    const params = new URLSearchParams({q: query, limit: LIMIT});
    if (before) params.set("before", before);
    let page;
    try {
      page = await this.api.get(`/api/conversations/${convId}/search?${params}`);
    } catch (exc) {
      if (exc.missingRoute && !before) {
        state.features.search = false;   // this server has no search route yet
        this.reset();
      }
      return replace(this.status, exc.code === "invalid_query" ? t("search.empty") : t("search.failed"));
    }
    if (convId !== this.view.convId || query !== this.input.value.trim()) return;
    for (const m of page.messages) {
      this.results.append(h("li", h("button.result", {type: "button", dataset: {seq: m.seq}},
        h("span.result-meta", h("strong", displayName(m.senderInfo)), " · ", formatDateTime(new Date(m.createdAt))),
        h("span.result-text", highlight(m.content, query)))));
    }
    this.last = page.messages.at(-1)?.seq ?? null;
    this.more.hidden = !page.hasMore;
    replace(this.status, this.results.children.length ? t("search.count", {count: this.results.children.length})
      : t("search.none", {query}));
  }
}
