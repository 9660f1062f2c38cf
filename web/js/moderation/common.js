// What the dashboard's panels share: a keyed, paged list that live events update, highlighted ranges,
// remaining times, and inline forms whose errors carry the server's own message.
import { h, replace } from "../shared/dom.js";
import { currentLanguage, errorText, t } from "../shared/i18n.js";

const PAGE = 30;

/**
 * A list of items from a paged route (newest first, `before` = the last id received), kept by id so
 * live events replace, add or remove single items. `load(before, limit)` → {items, hasMore}.
 */
export class PagedList {
  constructor(root, {render, load, empty, idOf = (item) => item.id, autoMore = false}) {
    this.render = render;
    this.load = load;
    this.empty = empty;
    this.idOf = idOf;
    this.items = new Map();   // id → item
    this.els = new Map();     // id → <li>
    this.generation = 0;
    this.hasMore = false;
    this.list = h("ol.items");
    this.status = h("p.list-status", {role: "status"});
    this.moreButton = h("button.button.more", {type: "button", hidden: true, onclick: () => this.more()}, t("mod.more"));
    replace(root, this.list, this.status, this.moreButton);
    if (autoMore) {
      new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && this.more())
        .observe(this.moreButton);
    }
  }

  /** Everything again from the newest (a group or filter change, a reconnect). */
  async reload() {
    const gen = ++this.generation;
    this.loading = null;
    this.items.clear();
    this.els.clear();
    replace(this.list);
    this.hasMore = false;
    this.moreButton.hidden = true;
    this.moreButton.textContent = t("mod.more");   // the catalogue may have loaded after the constructor
    this.setStatus(h("span.spinner"));
    await this.fetchPage(gen, undefined);
  }

  more() {
    if (!this.hasMore || this.loading) return this.loading;
    const last = [...this.items.keys()].at(-1);
    this.loading = this.fetchPage(this.generation, last).finally(() => { this.loading = null; });
    return this.loading;
  }

  async fetchPage(gen, before) {
    let page;
    try {
      page = await this.load(before, PAGE);
    } catch (exc) {
      if (gen === this.generation) this.setStatus(h("span.form-error", errorText(exc.code)));
      return;
    }
    if (gen !== this.generation) return;
    for (const item of page.items) {
      if (this.items.has(this.idOf(item))) continue;
      this.items.set(this.idOf(item), item);
      this.list.append(this.draw(item));
    }
    this.hasMore = page.hasMore;
    this.moreButton.hidden = !page.hasMore;
    this.setStatus();
  }

  draw(item) {
    const el = this.render(item);
    this.els.set(this.idOf(item), el);
    return el;
  }

  get(id) {
    return this.items.get(id);
  }

  /** A live item: replaced where it is, or added at the top. */
  upsert(item) {
    const id = this.idOf(item);
    const old = this.els.get(id);
    this.items.set(id, item);
    if (old) old.replaceWith(this.draw(item));
    else {
      this.list.prepend(this.draw(item));
      // Keep Map order newest first, so `before` stays the oldest id held.
      const rest = [...this.items].filter(([key]) => key !== id);
      this.items = new Map([[id, item], ...rest]);
    }
    this.setStatus();
  }

  remove(id) {
    this.els.get(id)?.remove();
    this.els.delete(id);
    this.items.delete(id);
    this.setStatus();
  }

  /** Every item drawn again (the language changed). */
  rerender() {
    for (const [id, el] of this.els) el.replaceWith(this.draw(this.items.get(id)));
    this.moreButton.textContent = t("mod.more");
    this.setStatus();
  }

  setStatus(content) {
    if (content) return replace(this.status, content);
    replace(this.status, this.items.size ? "" : this.empty());
  }
}

/** Text with the [start, end) ranges wrapped in <mark>, as nodes (overlapping ranges are merged). The
 * server counts positions in code points (Python indexes), not in JavaScript's UTF-16 units: an emoji
 * before a match must not shift it. */
export function markRanges(text, ranges) {
  const chars = Array.from(text);
  const slice = (a, b) => chars.slice(a, b).join("");
  const sorted = ranges.filter((r) => Number.isInteger(r.start) && r.end > r.start)
    .map((r) => ({start: Math.max(0, r.start), end: Math.min(chars.length, r.end), title: r.title}))
    .sort((a, b) => a.start - b.start);
  const nodes = [];
  let last = 0;
  for (const r of sorted) {
    if (r.end <= last) continue;
    const start = Math.max(r.start, last);
    nodes.push(slice(last, start), h("mark.hit", {title: r.title || null}, slice(start, r.end)));
    last = r.end;
  }
  nodes.push(slice(last));
  return nodes.filter((n) => n !== "");
}

/** "12 min left", "3 h 5 min left", "40 s left"; null once it is over. */
export function remaining(until, now = Date.now()) {
  const seconds = Math.ceil((Date.parse(until) - now) / 1000);
  if (!(seconds > 0)) return null;
  if (seconds < 60) return t("mod.left.seconds", {count: seconds});
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 60) return t("mod.left.minutes", {count: minutes});
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return t("mod.left.hours", {count: hours, minutes: minutes % 60});
  return t("mod.left.days", {count: Math.round(hours / 24)});
}

/** An API failure in words: the server's message where it says why (invalid_pattern, invalid_payload,
 * not_found), else the code in the reader's language. */
export function failure(exc) {
  const own = ["invalid_pattern", "invalid_payload", "invalid_decision"].includes(exc.code);
  return own && exc.message && exc.message !== exc.code ? exc.message : errorText(exc.code);
}

/** A <form> that runs `submit(values)` with its button disabled and shows a failure in its error line. */
export function inlineForm(spec, children, submit) {
  const error = h("p.form-error", {role: "alert"});
  const form = h(spec, {noValidate: false}, children, error);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const buttons = [...form.querySelectorAll("button[type=submit]")];
    buttons.forEach((b) => { b.disabled = true; });
    error.textContent = "";
    try {
      await submit(Object.fromEntries(new FormData(form)), form);
    } catch (exc) {
      if (!exc.code) throw exc;
      error.textContent = failure(exc);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
  return form;
}

/** A labelled input: field("minutes", t(...), {type: "number", min: 1}). */
export function field(name, label, props = {}, hint = null) {
  const id = `f-${name}-${Math.random().toString(36).slice(2, 7)}`;
  const input = props.options
    ? h("select", {id, name}, props.options.map(([value, text]) => h("option", {value, selected: value === props.value}, text)))
    : h(props.multiline ? "textarea" : "input", {id, name, autocomplete: "off", ...props, options: null, multiline: null});
  return h("label.field", {for: id}, h("span.field-label", label), input, hint ? h("span.field-hint", hint) : null);
}

/** Who did it, from the names the server gives; "you" for the reader. */
export function nameOf(id, name, me) {
  if (id && id === me?.id) return t("mod.you");
  return name || id || t("system.someone");
}

/** Group admins (and system admins) may ban; moderators may not. state: the dashboard's {me, group}. */
export function isGroupAdmin({me, group}) {
  return group?.role === "GROUP_ADMIN" || me?.role === "ADMIN";
}

/** A length of time in the reader's language, in the largest whole unit: "15 minutes", "1 hour", "7 days". */
export function formatDuration(minutes) {
  const [unit, count] = minutes % 1440 === 0 ? ["day", minutes / 1440]
    : minutes % 60 === 0 ? ["hour", minutes / 60] : ["minute", minutes];
  return new Intl.NumberFormat(currentLanguage(), {style: "unit", unit, unitDisplay: "long"}).format(count);
}

/** The group's members whose names start with q (the member picker's search). */
export async function searchMembers(api, groupId, q, limit = 8) {
  const {members} = await api.get(`/api/groups/${groupId}/members?${new URLSearchParams({q, limit})}`);
  return members;
}
