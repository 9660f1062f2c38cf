// The conversation picker of the export form: a search box (a combobox) over the conversations the user may
// export, across groups (GET /api/exportable-conversations: what the server would accept, nothing else),
// grouped under their group's name, newest first, with "more" for the next page. Arrow keys move, Enter or a
// click picks; the pick shows under the box.
import { $, h, replace } from "../shared/dom.js";
import { t } from "../shared/i18n.js";

const PAGE = 20;
const TYPING_MS = 200;   // a search per pause in typing, not per key

export class ConversationPicker {
  /** onPick(conv): a conversation was chosen ({id, groupId, groupName, title}), or null when none is. */
  constructor({api, onPick}) {
    Object.assign(this, {api, onPick});
    this.input = $("#exp-conv-search");
    this.box = $("#exp-conv-options");
    this.items = [];          // the conversations listed, in order
    this.active = -1;         // the option the arrow keys are on
    this.chosen = null;
    this.hasMore = false;
    this.query = "";
    this.seq = 0;             // answers to an older search are dropped
    this.input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.search(this.input.value.trim()).catch(() => {}), TYPING_MS);
    });
    this.input.addEventListener("keydown", (e) => this.key(e));
    $("#exp-conv-more").addEventListener("click", () => this.load(true).catch(() => {}));
  }

  /** The first page (boot, reconnect). */
  refresh() {
    return this.search(this.input.value.trim());
  }

  search(query) {
    this.query = query;
    return this.load(false);
  }

  async load(more) {
    const seq = ++this.seq;
    const params = new URLSearchParams({limit: String(PAGE)});
    if (this.query) params.set("q", this.query);
    if (more && this.items.length) params.set("before", this.items.at(-1).id);
    $("#exp-conv-status").textContent = t("exp.picker.searching");
    try {
      const {conversations, hasMore} = await this.api.get(`/api/exportable-conversations?${params}`);
      if (seq !== this.seq) return;
      this.items = more ? [...this.items, ...conversations] : conversations;
      this.hasMore = hasMore;
      if (!more) this.active = this.items.length ? 0 : -1;
      if (!this.chosen && !this.query && this.items.length) this.pick(this.items[0], false);
      this.render();
    } catch (exc) {
      if (seq !== this.seq) return;
      $("#exp-conv-status").textContent = t("exp.picker.failed");
      throw exc;
    }
  }

  render() {
    const groups = new Map();
    this.items.forEach((conv, index) => {
      const key = conv.groupId;
      if (!groups.has(key)) groups.set(key, {name: conv.groupName || t("exp.otherGroup"), rows: []});
      groups.get(key).rows.push([conv, index]);
    });
    replace(this.box, [...groups.entries()].map(([groupId, {name, rows}]) => {
      const label = `exp-grp-${groupId}`;
      return h("div.picker-group", {role: "group", "aria-labelledby": label},
        h("div.picker-group-name", {id: label, role: "presentation"}, name),
        rows.map(([conv, index]) => this.option(conv, index)));
    }));
    const count = this.items.length;
    $("#exp-conv-status").textContent = count ? t("exp.picker.count", {count})
      : this.query ? t("exp.picker.noMatch", {query: this.query}) : t("exp.picker.none");
    $("#exp-conv-more").hidden = !this.hasMore;
    if (this.active >= 0) this.input.setAttribute("aria-activedescendant", `exp-opt-${this.items[this.active].id}`);
    else this.input.removeAttribute("aria-activedescendant");
    this.drawChosen();
  }

  option(conv, index) {
    const selected = this.chosen?.id === conv.id;
    return h(`div.picker-option${index === this.active ? ".active" : ""}`, {
      id: `exp-opt-${conv.id}`, role: "option", "aria-selected": selected ? "true" : "false",
      dataset: {conv: conv.id}, onmousedown: (e) => e.preventDefault(),   // the box keeps the focus
      onclick: () => this.pick(conv)},
    h("span.picker-title", conv.title || t("exp.untitled")),
    conv.kind === "direct" ? h("span.picker-kind", t("exp.picker.direct")) : null);
  }

  key(e) {
    const last = this.items.length - 1;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (last < 0) return;
      this.active = e.key === "ArrowDown" ? Math.min(last, this.active + 1) : Math.max(0, this.active - 1);
      this.render();
      $(`#exp-opt-${this.items[this.active].id}`)?.scrollIntoView({block: "nearest"});
    } else if (e.key === "Enter") {
      e.preventDefault();   // Enter in the box picks; it never sends the form half-filled
      if (this.active >= 0) this.pick(this.items[this.active]);
    } else if (e.key === "Escape" && this.input.value) {
      e.preventDefault();
      this.input.value = "";
      this.search("").catch(() => {});
    }
  }

  pick(conv, announce = true) {
    this.chosen = conv;
    $("#exp-conv").value = conv?.id || "";
    this.drawChosen();
    if (announce) this.render();
    this.onPick(conv);
  }

  drawChosen() {
    const conv = this.chosen;
    replace($("#exp-conv-chosen"), conv
      ? [h("span.muted", t("exp.picker.chosen")), " ", h("strong", conv.title || t("exp.untitled")),
        h("span.muted", ` · ${conv.groupName || t("exp.otherGroup")}`)]
      : h("span.muted", t("exp.picker.nothing")));
    $("#exp-submit").disabled = !conv;
  }
}
