// The history of moderation actions in words, newest first, paged on scroll, with live additions
// (moderation:action). Every value is drawn for people: names they know, dates in their language and time
// zone, durations, on/off for switches, setting names as labels; ids are left out.
import { $, h } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { currentLanguage, formatActivity, formatDateTime, t } from "../shared/i18n.js";
import { GIF_RATING_KEYS, ROLE_KEYS, RULE_ACTION_KEYS, RULE_KIND_KEYS } from "../shared/texts.js";
import { PagedList } from "./common.js";

const ICONS = {filter: "filter", review: "inbox", reported: "flag", muted: "mute", unmuted: "mute", auto_muted: "mute",
  banned: "shield", unbanned: "shield", message_blocked: "alert", settings_updated: "sliders", role_changed: "users",
  message_deleted: "trash", media_deleted: "trash", comment_deleted: "trash", retention: "clock", group_settings: "sliders"};

/** The sentence of each action the server logs (every do_log_action of pipelines/, and the retention
 * change): tests/browser/test_i18n.py holds this map to the server's actions and to the four catalogues. */
export const LOG_KEYS = {
  filter_created: "mod.log.filter_created", filter_updated: "mod.log.filter_updated",
  filter_deleted: "mod.log.filter_deleted", settings_updated: "mod.log.settings_updated",
  reported: "mod.log.reported", review_approved: "mod.log.review_approved",
  review_rejected: "mod.log.review_rejected", review_dismissed: "mod.log.review_dismissed",
  review_deleted: "mod.log.review_deleted", muted: "mod.log.muted", unmuted: "mod.log.unmuted",
  auto_muted: "mod.log.auto_muted", banned: "mod.log.banned", unbanned: "mod.log.unbanned",
  role_changed: "mod.log.role_changed", message_blocked: "mod.log.message_blocked",
  message_deleted: "mod.log.message_deleted", media_deleted: "mod.log.media_deleted",
  comment_deleted: "mod.log.comment_deleted", retention: "mod.log.retention",
  // the group's own settings (encryption at rest, GIF rating, originals' metadata)
  group_settings: "encryption.logGroupSettings",
};

/** Labels of the fields an entry's changes name; a field not here is an id or internal, and not shown. */
const FIELD_KEYS = {
  kind: "mod.log.field.kind", pattern: "mod.log.field.pattern", action: "mod.log.field.action",
  enabled: "mod.log.field.enabled", minutes: "mod.log.field.minutes", until: "mod.log.field.until",
  conversations: "mod.log.field.conversations", allowlist: "mod.settings.allowlist",
  reviewMasks: "mod.settings.reviewMasks", filename: "mod.log.field.filename", role: "mod.log.field.role",
  days: "mod.log.field.days", maxMessages: "mod.log.field.maxMessages",
  encryption: "encryption.logField", gifRating: "gifs.logField", keepOriginalMetadata: "encryption.logKeepMetadata",
};
/** The automatic mute's own fields (a settings change names them inside autoMute). */
const AUTO_MUTE_KEYS = {enabled: "mod.settings.autoMute", blocked: "mod.log.field.blocked",
  windowMinutes: "mod.log.field.windowMinutes", muteMinutes: "mod.log.field.muteMinutes"};
const DURATIONS = new Set(["minutes", "windowMinutes", "muteMinutes"]);
const PERSON_TARGETS = new Set(["user", "message", "review", "media"]);
const BLOCKED_PREFIX = "blocked: ";   // the server's reason of message_blocked, before the matched text

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
    const params = {actor: actorOf(e), target: targetOf(e), action: e.action};
    const text = LOG_KEYS[e.action] ? t(LOG_KEYS[e.action], params) : t("mod.log.other", params);
    return h("li.entry", {dataset: {id: e.id, action: e.action}},
      h("span.entry-icon", icon(ICONS[e.action] || ICONS[e.action.split("_")[0]] || "history")),
      h("div.entry-main",
        h("p.entry-text", text),
        reasonOf(e),
        e.targetType === "review" ? null : changesOf(e)),   // a review's changes are ids
      h("time.muted.small", {datetime: at.toISOString(), title: formatDateTime(at)}, formatActivity(at)));
  }
}

/** Who did it: the person by name (the reader too: "you" would not fit every language's sentence), or the
 * filter itself. */
function actorOf(e) {
  if (!e.actorId) return t("mod.log.filterActor");
  return e.actorDisplayName || e.actorName || t("system.someone");
}

/** Whom or what it was done to: a person by the name people know, a rule by its pattern. */
function targetOf(e) {
  if (PERSON_TARGETS.has(e.targetType)) return e.targetDisplayName || e.targetName || t("system.someone");
  return e.targetName || "";
}

/** A moderator's reason as they wrote it; the filter's own reasons are in the sentence already, except
 * the text a blocked message was blocked for. */
function reasonOf(e) {
  if (!e.reason) return null;
  if (e.actorId) return h("q.small", e.reason);
  if (e.action === "message_blocked" && e.reason.startsWith(BLOCKED_PREFIX)) {
    return h("p.small.muted", t("mod.log.blockedMatch", {match: e.reason.slice(BLOCKED_PREFIX.length)}));
  }
  return null;
}

/** The changes as labelled lines: "Label: value" or "Label: before → after". */
function changesOf(e) {
  const lines = changeLines(e);
  if (!lines.length) return null;
  return h("ul.changes", lines.map(([label, before, after]) => h("li",
    h("span.change-name", label), " ",
    after === undefined ? h("span", before) : [h("s", before), " → ", h("span", after)])));
}

/** [label, value] or [label, before, after] for each field a person reads. Changes come as {field: value},
 * {field: {from, to}}, or, for a role, {from, to} itself. */
function changeLines(e) {
  const changes = e.changes;
  if (!changes || typeof changes !== "object") return [];
  if (e.action === "role_changed") return [[t(FIELD_KEYS.role), valueText("role", changes.from), valueText("role", changes.to)]];
  const lines = [];
  for (const [name, v] of Object.entries(changes)) {
    const pair = v && typeof v === "object" && !Array.isArray(v) && ("from" in v || "to" in v);
    if (name === "autoMute") lines.push(...autoMuteLines(pair ? v.from : null, pair ? v.to : v));
    else if (FIELD_KEYS[name]) {
      lines.push(pair ? [t(FIELD_KEYS[name]), valueText(name, v.from), valueText(name, v.to)]
        : [t(FIELD_KEYS[name]), valueText(name, v)]);
    }
  }
  return lines;
}

/** The automatic mute's fields that changed (or all of them, when the entry holds only the new value). */
function autoMuteLines(before, after) {
  const lines = [];
  for (const name of Object.keys(AUTO_MUTE_KEYS)) {
    const next = after?.[name];
    if (next === undefined) continue;
    if (!before) lines.push([t(AUTO_MUTE_KEYS[name]), valueText(name, next)]);
    else if (before[name] !== next) lines.push([t(AUTO_MUTE_KEYS[name]), valueText(name, before[name]), valueText(name, next)]);
  }
  return lines;
}

/** One value in words: dates in the reader's time zone, durations, on/off, labels for kinds and roles. */
function valueText(name, v) {
  if (name === "until") return v ? formatDateTime(new Date(v)) : t("mod.log.untilLifted");
  if (v === null || v === undefined) return t("mod.log.none");
  if (typeof v === "boolean") return v ? t("mod.log.on") : t("mod.log.off");
  if (DURATIONS.has(name) && typeof v === "number") return formatDuration(v);
  if (name === "days" && typeof v === "number") return formatDuration(v * 1440);
  if (name === "kind" && RULE_KIND_KEYS[v]) return t(RULE_KIND_KEYS[v]);
  if (name === "action" && RULE_ACTION_KEYS[v]) return t(RULE_ACTION_KEYS[v]);
  if (name === "role" && ROLE_KEYS[v]) return t(ROLE_KEYS[v]);
  if (name === "gifRating" && GIF_RATING_KEYS[v]) return t(GIF_RATING_KEYS[v]);
  if (Array.isArray(v)) return v.length ? new Intl.ListFormat(currentLanguage(), {type: "unit"}).format(v.map(String)) : t("mod.log.none");
  if (typeof v === "number") return new Intl.NumberFormat(currentLanguage()).format(v);
  return typeof v === "object" ? t("mod.log.none") : String(v);
}

/** 90 → "1 hour, 30 minutes"; 1440 → "1 day"; in the reader's language. */
export function formatDuration(minutes) {
  const lang = currentLanguage();
  const unit = (n, u) => new Intl.NumberFormat(lang, {style: "unit", unit: u, unitDisplay: "long"}).format(n);
  const days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60), rest = minutes % 60;
  const parts = [days && unit(days, "day"), hours && unit(hours, "hour"), rest && unit(rest, "minute")].filter(Boolean);
  return parts.length ? new Intl.ListFormat(lang, {style: "long", type: "unit"}).format(parts) : unit(0, "minute");
}
