// The history of moderation actions in words, newest first, paged on scroll, with live additions
// (moderation:action).
import { $, h } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { formatActivity, formatDateTime, t } from "../shared/i18n.js";
import { PagedList, nameOf } from "./common.js";

const ICONS = {filter: "filter", review: "inbox", muted: "mute", unmuted: "mute", auto_muted: "mute", banned: "shield",
  unbanned: "shield", message_blocked: "alert", settings_updated: "sliders", role_changed: "users"};
const KNOWN = new Set(["filter_created", "filter_updated", "filter_deleted", "review_approved", "review_rejected",
  "review_dismissed", "review_deleted", "muted", "unmuted", "banned", "unbanned", "auto_muted", "message_blocked",
  "settings_updated", "role_changed"]);

export class LogPanel {
  /** state: the dashboard's {me, group} (the user, the group on screen). */
  constructor({api, state}) {
    Object.assign(this, {api, state});
    this.list = new PagedList($("#log-list"), {
      autoMore: true,
      render: (entry) => this.renderEntry(entry),
      load: async (before, limit) => {
        const query = new URLSearchParams({limit, ...(before ? {before} : {})});
        const {entries, hasMore} = await this.api.get(`/api/groups/${this.group.id}/moderation/log?${query}`);
        return {items: entries, hasMore};
      },
      empty: () => h("div.empty-state", icon("history"), h("p", t("mod.log.empty"))),
    });
  }

  open(group) {
    this.group = group;
    this.list.reload();
  }

  rerender() {
    this.list.rerender();
  }

  onAction(entry) {
    if (this.opened) this.list.upsert(entry);
  }

  renderEntry(e) {
    const at = new Date(e.at);
    const key = KNOWN.has(e.action) ? e.action : "other";
    const params = {actor: nameOf(e.actorId, e.actorName, this.state.me), target: e.targetName || e.targetId || "?", action: e.action};
    return h("li.entry", {dataset: {id: e.id, action: e.action}},
      h("span.entry-icon", icon(ICONS[e.action] || ICONS[e.action.split("_")[0]] || "history")),
      h("div.entry-main",
        h("p.entry-text", t(`mod.log.${key}`, params)),
        e.reason ? h("q.small", e.reason) : null,
        e.targetType === "review" ? null : changesOf(e.changes)),   // a review's changes are ids
      h("time.muted.small", {datetime: at.toISOString(), title: formatDateTime(at)}, formatActivity(at)));
  }
}

/** {field: [before, after]} or {field: {from, to}} or {field: value}, as short lines. */
function changesOf(changes) {
  if (!changes || typeof changes !== "object" || !Object.keys(changes).length) return null;
  const text = (v) => (v === null || v === undefined ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v));
  return h("ul.changes", Object.entries(changes).map(([name, v]) => {
    const pair = Array.isArray(v) && v.length === 2 ? v : v && typeof v === "object" && ("from" in v || "to" in v) ? [v.from, v.to] : null;
    return h("li", h("span.change-name", name), pair ? [h("s", text(pair[0])), " → ", h("span", text(pair[1]))] : text(v));
  }));
}
