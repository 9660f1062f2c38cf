// The review queue: flagged, reported and held messages, live (moderation:flagged / :decided), each with
// its matched words highlighted, its reasons, the message in context, and one-click decisions.
import { $, $$, avatar, displayName, h, replace, richText } from "../shared/dom.js";
import { Dialogs } from "../shared/dialogs.js";
import { icon } from "../shared/icons.js";
import { errorText, formatActivity, formatDateTime, formatTime, t } from "../shared/i18n.js";
import { ACT_KEYS, DECIDED_KEYS, DECIDE_DONE_HELD_KEYS, DECIDE_DONE_KEYS, DECIDE_HELD_KEYS, DECIDE_HELP_KEYS, DECIDE_KEYS, QUEUE_EMPTY_KEYS, QUEUE_VIEW_KEYS, REVIEW_KIND_KEYS, REVIEW_STATUS_KEYS, RULE_ACTION_KEYS } from "../shared/texts.js";
import { AuthorActions } from "./author.js";
import { PagedList, failure, isGroupAdmin, markRanges, nameOf } from "./common.js";

const LEAVE_AFTER_MS = 4000;   // a decided item stays this long in the pending list, saying who decided
// The decisions an item allows: held messages were never delivered; the others were.
const DECISIONS = {held: ["approve", "reject"], filter: ["approve", "dismiss", "delete"], report: ["approve", "dismiss", "delete"],
  text: ["approve", "dismiss"]};
const KEYS = {a: "approve", r: "reject", d: "dismiss", Delete: "delete", x: "delete"};
// Each decision's explanation (mod.decide.help.*) depends on what the item is about.
const helpOf = (item) => (item.kind === "held" || item.kind === "text" ? item.kind : "message");
const QUERY = {pending: {status: "pending"}, reports: {status: "pending", kind: "report"}, decided: {status: "decided"}};

export class QueuePanel {
  /** state: the dashboard's {me, group} (the user, the group on screen). */
  constructor({api, toast, state}) {
    Object.assign(this, {api, toast, state});
    this.author = new AuthorActions({dialogs: new Dialogs(), toast,
      post: (kind, body) => this.api.post(`/api/groups/${this.group.id}/${kind}`, body)});
    this.acted = new Map();     // id → {kind, name, until}: what was done to the item's author from it
    this.view = "pending";
    this.leaving = new Map();   // id → timer
    this.notes = new Map();     // id → a note being written (kept across redraws)
    this.list = new PagedList($("#queue-list"), {
      render: (item) => this.renderItem(item),
      load: (before, limit) => this.load(before, limit),
      empty: () => h("div.empty-state", icon("check"), h("p", t(QUEUE_EMPTY_KEYS[this.view]))),
    });
    $("#queue-filter").addEventListener("click", (e) => {
      const button = e.target.closest("button[data-status]");
      if (button) this.show(button.dataset.status);
    });
    $("#queue-list").addEventListener("click", (e) => this.onClick(e));
    $("#queue-list").addEventListener("keydown", (e) => this.onKey(e));
    $("#queue-list").addEventListener("input", (e) => {
      const id = e.target.closest("li.review")?.dataset.id;
      if (id && e.target.name === "note") this.notes.set(id, e.target.value);
    });
  }

  open(group) {
    this.group = group;
    this.show(this.view);
  }

  show(view) {
    this.view = view;
    for (const b of $$("#queue-filter button")) b.setAttribute("aria-pressed", String(b.dataset.status === view));
    for (const timer of this.leaving.values()) clearTimeout(timer);
    this.leaving.clear();
    this.list.reload().then(() => this.updateCount());
  }

  async load(before, limit) {
    const query = new URLSearchParams({...QUERY[this.view], limit});
    if (before) query.set("before", before);
    const {reviews, hasMore} = await this.api.get(`/api/groups/${this.group.id}/reviews?${query}`);
    return {items: reviews, hasMore};
  }

  /** The pending count in the tab, for a group whose queue is not on screen. */
  async countPending(group) {
    try {
      const {reviews, hasMore} = await this.api.get(`/api/groups/${group.id}/reviews?status=pending&limit=50`);
      if (group === this.state.group) this.setCount(reviews.length, hasMore);
    } catch { /* the count is a nicety */ }
  }

  updateCount() {
    if (this.view !== "pending") return this.countPending(this.group);
    const pending = [...this.list.items.values()].filter((i) => i.status === "pending").length;
    this.setCount(pending, this.list.hasMore);
  }

  setCount(count, more) {
    const badge = $("#queue-count");
    badge.hidden = !count;
    badge.textContent = more ? `${count}+` : String(count);
  }

  rerender() {
    for (const b of $$("#queue-filter button")) b.textContent = t(QUEUE_VIEW_KEYS[b.dataset.status]);
    this.list.rerender();
  }

  matches(item) {
    if (this.view === "decided") return item.status !== "pending";
    return item.status === "pending" && (this.view !== "reports" || item.kind === "report");
  }

  // -- live ------------------------------------------------------------------------------------------
  onFlagged(item) {
    if (this.opened && this.matches(item)) {
      this.list.upsert(item);
      this.updateCount();
    } else if (item.status === "pending") {
      this.countPending(this.group);
    }
  }

  onDecided(item) {
    if (!this.opened) return this.countPending(this.group);
    if (this.view === "decided") this.list.upsert(item);
    else if (this.list.get(item.id)) {
      this.list.upsert(item);   // says who decided, then leaves
      clearTimeout(this.leaving.get(item.id));
      this.leaving.set(item.id, setTimeout(() => {
        this.leaving.delete(item.id);
        this.list.remove(item.id);
        this.updateCount();
      }, LEAVE_AFTER_MS));
    }
    this.updateCount();
  }

  // -- one item ---------------------------------------------------------------------------------------
  renderItem(item) {
    const m = item.message || {};
    const pending = item.status === "pending";
    const reports = (item.reasons || []).filter((r) => r.reporterId || r.reporterName);
    const ranges = (item.reasons || []).filter((r) => Number.isInteger(r.start))
      .map((r) => ({start: r.start, end: r.end, title: r.action ? t(RULE_ACTION_KEYS[r.action]) : null}));
    const at = new Date(item.createdAt || m.createdAt);
    return h(`li.review.kind-${item.kind}.status-${item.status}`, {dataset: {id: item.id}, tabindex: "0",
      "aria-label": t("mod.queue.itemLabel", {kind: t(REVIEW_KIND_KEYS[item.kind]), name: m.senderInfo?.username || "?"})},
      h("div.review-head",
        h(`span.kind.${item.kind}`, icon(item.kind === "report" ? "flag" : item.kind === "held" ? "clock" : "filter"),
          t(REVIEW_KIND_KEYS[item.kind])),
        reports.length ? h("span.count-pill", t("mod.queue.reports.count", {count: reports.length})) : null,
        h("span.review-where", avatar(m.senderInfo, m.senderId, "xs"), h("strong", m.senderInfo?.username || "?"),
          item.convTitle ? h("span.muted", t("mod.queue.in", {title: item.convTitle})) : null),
        h("time.review-time", {datetime: at.toISOString(), title: formatDateTime(at)}, formatActivity(at))),
      h("blockquote.review-text", isLong(m.content || "")
        ? [h("div.clamp.tall", {id: `text-${item.id}`}, markRanges(m.content, ranges)), moreButton(`text-${item.id}`)]
        : markRanges(m.content || "", ranges)),
      h("ul.reasons", (item.reasons || []).map((r) => h("li", reasonText(r)))),
      pending ? null : decidedLine(item, this.state.me),
      this.acted.has(item.id) ? actedLine(this.acted.get(item.id)) : null,
      h("div.review-context", {hidden: true}),
      h("div.review-foot",
        item.convId ? h("button.link.context-toggle", {type: "button", dataset: {action: "context"},
          "aria-expanded": "false"}, t("mod.queue.context")) : null,   // (a display name is in no conversation)
        pending ? [
          h("input.note", {name: "note", type: "text", maxlength: "500", value: this.notes.get(item.id) || "",
            placeholder: t("mod.queue.note"), "aria-label": t("mod.queue.note")}),
          h("span.decisions", DECISIONS[item.kind].map((d) => decisionButton(item, d))),
        ] : null),
      pending ? decisionHelp(item) : null,
      this.authorTools(item),
      h("p.form-error.review-error", {role: "alert"}));
  }

  /** Mute or ban the item's author from here (not oneself; bans for group admins only). */
  authorTools(item) {
    const m = item.message || {};
    if (!m.senderId || m.senderId === this.state.me?.id) return null;
    const name = m.senderInfo?.username || "?";
    return h("div.author-tools", {role: "group", "aria-label": t("mod.act.label", {name})},
      h("span.muted.small", t("mod.act.label", {name})),
      h("button.button.small", {type: "button", dataset: {action: "mute"}}, icon("mute"), t("mod.act.mute.open")),
      isGroupAdmin(this.state)
        ? h("button.button.small.danger-outline", {type: "button", dataset: {action: "ban"}}, icon("shield"), t("mod.act.ban.open"))
        : null);
  }

  async actOnAuthor(kind, item) {
    const made = await this.author.open(kind, item);
    if (!made) return;
    this.acted.set(item.id, {kind, name: item.message?.senderInfo?.username || "?", until: made.until});
    const shown = this.list.els.get(item.id);   // (redrawn meanwhile, perhaps: a live update)
    if (!shown) return;
    $(".acted", shown)?.remove();
    $(".review-context", shown).before(actedLine(this.acted.get(item.id)));
    shown.focus();
  }

  onClick(e) {
    const li = e.target.closest("li.review");
    const button = e.target.closest("button[data-action], button[data-decision]");
    if (!li || !button) return;
    const item = this.list.get(li.dataset.id);
    if (button.dataset.decision) this.decide(item, button.dataset.decision, li);
    else if (button.dataset.action === "context") this.toggleContext(item, li, button);
    else if (button.dataset.action === "more") toggleLong(button);
    else if (["mute", "ban"].includes(button.dataset.action)) this.actOnAuthor(button.dataset.action, item);
  }

  onKey(e) {
    if (e.target.matches("input, textarea, select") || e.ctrlKey || e.metaKey || e.altKey) return;
    const li = e.target.closest("li.review");
    if (!li) return;
    if (e.key === "ArrowDown" || e.key === "j" || e.key === "ArrowUp" || e.key === "k") {
      const items = $$("li.review", $("#queue-list"));
      const next = items[items.indexOf(li) + (e.key === "ArrowDown" || e.key === "j" ? 1 : -1)];
      if (next) { e.preventDefault(); next.focus(); }
      return;
    }
    const item = this.list.get(li.dataset.id);
    const decision = KEYS[e.key];
    if (item?.status === "pending" && DECISIONS[item.kind].includes(decision) && e.target === li) {
      e.preventDefault();
      this.decide(item, decision, li);
    }
  }

  async decide(item, decision, li) {
    const error = $(".review-error", li);
    const buttons = $$("button[data-decision]", li);
    buttons.forEach((b) => { b.disabled = true; });
    error.textContent = "";
    const note = (this.notes.get(item.id) || "").trim();
    const next = li.nextElementSibling;
    try {
      const decided = await this.api.post(`/api/reviews/${item.id}/decision`, {decision, ...(note ? {note} : {})});
      this.notes.delete(item.id);
      this.toast(t(item.kind === "held" ? DECIDE_DONE_HELD_KEYS[decided.status] : DECIDE_DONE_KEYS[decided.status]));
      this.onDecided(decided);
      if (next && document.activeElement === document.body) next.focus();
    } catch (exc) {
      if (exc.code === "already_decided") return this.alreadyDecided(item);
      error.textContent = failure(exc);
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  /** Another moderator was faster: show what they decided. */
  async alreadyDecided(item) {
    let fresh;
    try {
      fresh = await this.api.get(`/api/reviews/${item.id}`);
    } catch (exc) {
      return this.toast(errorText(exc.code));
    }
    this.toast(t("mod.queue.alreadyDecided", {name: nameOf(fresh.decidedBy, fresh.decidedByName, this.state.me),
      decision: t(REVIEW_STATUS_KEYS[fresh.status])}));
    this.onDecided(fresh);
  }

  /** The message among its neighbours (view=moderation: deleted ones keep their text), itself emphasised. */
  async toggleContext(item, li, button) {
    const box = $(".review-context", li);
    const open = box.hidden;
    box.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    button.textContent = open ? t("mod.queue.hideContext") : t("mod.queue.context");
    if (!open || box.dataset.loaded) return;
    replace(box, h("span.spinner"));
    const m = item.message || {};
    const delivered = Number.isInteger(m.seq);
    const query = delivered ? `before=${m.seq + 3}&limit=6` : "limit=5";
    try {
      const {messages} = await this.api.get(`/api/conversations/${item.convId}/messages?view=moderation&${query}`);
      const rows = messages.map((c) => contextRow(c, delivered && c.seq === m.seq));
      if (!delivered) rows.push(contextRow({...m, held: true}, true));
      replace(box, h("ol.context", rows));
      box.dataset.loaded = "1";
      requestAnimationFrame(() => collapseLong(box));
    } catch (exc) {
      replace(box, h("p.form-error", errorText(exc.code)));
    }
  }
}

function decisionButton(item, decision) {
  const label = t(item.kind === "held" ? DECIDE_HELD_KEYS[decision] : DECIDE_KEYS[decision]);
  const key = Object.entries(KEYS).find(([, d]) => d === decision)?.[0];
  return h(`button.button.decision.${decision}`, {type: "button", dataset: {decision},
    "aria-describedby": `help-${item.id}-${decision}`,
    title: key ? t("mod.queue.key", {key: key === "Delete" ? "Del" : key.toUpperCase()}) : null}, label);
}

/** Under the buttons, what each decision does (each button is described by its line). */
function decisionHelp(item) {
  return h("ul.decision-help", DECISIONS[item.kind].map((d) => h("li", {id: `help-${item.id}-${d}`},
    h("strong", t(item.kind === "held" ? DECIDE_HELD_KEYS[d] : DECIDE_KEYS[d])), " — ",
    t(DECIDE_HELP_KEYS[helpOf(item)][d]))));
}

/** Long texts in the context panel are clamped to a few lines, with "Show more" where they overflow. */
function collapseLong(box) {
  for (const text of $$(".context-text.clamp", box)) {
    if (text.scrollHeight <= text.clientHeight + 1) {
      text.classList.remove("clamp");
      continue;
    }
    text.id ||= `long-${Math.random().toString(36).slice(2, 9)}`;
    text.after(moreButton(text.id));
  }
}

/** The item's own text is collapsed when it is long: more than 8 lines or 700 characters (it is drawn
 * before it is in the page, so it cannot be measured). */
function isLong(text) {
  return text.length > 700 || text.split("\n").length > 8;
}

function moreButton(controls) {
  return h("button.link.more-toggle", {type: "button", dataset: {action: "more"}, "aria-expanded": "false",
    "aria-controls": controls}, t("mod.queue.showMore"));
}

function toggleLong(button) {
  const text = document.getElementById(button.getAttribute("aria-controls"));
  const open = button.getAttribute("aria-expanded") !== "true";
  text.classList.toggle("expanded", open);
  button.setAttribute("aria-expanded", String(open));
  button.textContent = t(open ? "mod.queue.showLess" : "mod.queue.showMore");
}

/** Why the item is here: a rule's match, or a member's report. */
function reasonText(r) {
  if (r.reporterId || r.reporterName) {
    return [icon("flag"), h("span", t("mod.reason.report", {name: r.reporterName || "?"})),
      r.reason ? h("q", r.reason) : null];
  }
  return [icon("filter"), h("span", r.match ? t("mod.reason.match", {match: r.match}) : t("mod.reason.rule")),
    r.action ? h(`span.action-pill.${r.action}`, t(RULE_ACTION_KEYS[r.action])) : null];
}

/** "You muted bob until 7 Dec, 15:05." (drawn in the reader's language at each redraw) */
function actedLine({kind, name, until}) {
  return h("p.acted", {role: "status"}, icon("mute"), until
    ? t(ACT_KEYS[kind].doneLine, {name, until: formatDateTime(new Date(until))}) : t("mod.act.ban.doneLineForever", {name}));
}

function decidedLine(item, me) {
  const at = item.decidedAt ? new Date(item.decidedAt) : null;
  return h(`p.decided.${item.status}`, icon(item.status === "approved" ? "check" : "alert"),
    h("span", t(DECIDED_KEYS[item.status], {name: nameOf(item.decidedBy, item.decidedByName, me)})),
    at ? h("time", {datetime: at.toISOString(), title: formatDateTime(at)}, ` · ${formatActivity(at)}`) : null,
    item.note ? h("q.note-text", item.note) : null);
}

function contextRow(m, focus) {
  const at = new Date(m.createdAt);
  const system = m.type === "system";
  return h(`li${focus ? ".focus" : ""}${m.isDeleted ? ".deleted" : ""}${m.held ? ".held" : ""}`,
    h("time", {datetime: at.toISOString(), title: formatDateTime(at)}, formatTime(at)),
    h("strong", system ? "·" : displayName(m.senderInfo)),
    h("div.context-body", h("span.context-text.clamp", system ? h("em", m.content) : richText(m.content || ""))),
    m.isDeleted ? h("span.tag", t("mod.queue.deletedTag")) : null,
    m.held ? h("span.tag", t("mod.queue.heldTag")) : null);
}
