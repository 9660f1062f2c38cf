// The texts a page picks at run time (by a status, a kind, an error code…), as literal maps from the value
// to its i18n key. A key is never built from pieces (`t(\`mod.${x}\`)`): written out here, every key the
// pages use can be found, and tests/browser/test_i18n.py checks each map's keys in the four catalogues. A
// map's name ends with _KEYS (that is how the test finds it); its values are key strings or such maps.

/** Error codes (schemas/errors.py, and the few the front makes itself) → their sentence. */
export const ERROR_KEYS = {
  network: "error.network", unavailable: "error.unavailable", rate_limited: "error.rate_limited",
  forbidden: "error.forbidden", not_a_member: "error.not_a_member", not_found: "error.not_found",
  conflict: "error.conflict", content_required: "error.content_required", content_too_long: "error.content_too_long",
  invalid_payload: "error.invalid_payload", unsupported_type: "error.unsupported_type",
  limit_reached: "error.limit_reached", unauthorized: "error.unauthorized", invalid_url: "error.invalid_url",
  unsupported: "error.unsupported", needsLive: "error.needsLive", other: "error.other",
  content_blocked: "error.content_blocked", content_held: "error.content_held",
  rejected_by_moderator: "error.rejected_by_moderator", muted: "error.muted", banned: "error.banned",
  already_decided: "error.already_decided", invalid_pattern: "error.invalid_pattern",
  invalid_decision: "error.invalid_decision", self_sanction: "error.self_sanction", outranked: "error.outranked",
  own_content: "error.own_content", request_too_large: "error.request_too_large", invalid_time: "error.invalid_time",
  invalid_time_zone: "error.invalid_time_zone", invalid_state: "error.invalid_state",
  invalid_settings: "error.invalid_settings", invalid_cursor: "error.invalid_cursor",
  invalid_limit: "error.invalid_limit", invalid_query: "error.invalid_query",
  dev_login_disabled: "error.dev_login_disabled", invalid_part: "error.invalid_part",
  already_completed: "error.already_completed", invalid_format: "error.invalid_format",
  invalid_range: "error.invalid_range", invalid_timezone: "error.invalid_timezone",
  range_too_long: "analytics.error.range_too_long",
  invalid_language: "error.invalid_language", expired: "error.expired", gone: "error.gone",
  scheduled_late: "error.scheduled_late", email_required: "error.email_required",
  invalid_attachment: "error.invalid_attachment", not_ready: "error.not_ready", file_too_large: "error.file_too_large",
  quota_exceeded: "error.quota_exceeded", failed: "error.failed", quarantined: "error.quarantined",
  direct_self: "dm.error.direct_self", invalid_emoji: "error.invalid_emoji",
  invalid_gif: "error.invalid_gif", gif_unavailable: "error.gif_unavailable",
  encryption_unavailable: "error.encryption_unavailable",
};

/** Why a direct conversation could not be opened, said for that case (else the general sentence). */
export const DM_ERROR_KEYS = {direct_self: "dm.error.direct_self", not_found: "dm.error.not_found",
  not_a_member: "dm.error.not_a_member", banned: "dm.error.banned"};

/** The connection's state, in the dashboards' header and the chat's banner. */
export const MODE_KEYS = {connecting: "mod.mode.connecting", live: "mod.mode.live", reconnecting: "mod.mode.reconnecting",
  polling: "mod.mode.polling", offline: "mod.mode.offline"};
export const CONNECTION_KEYS = {reconnecting: "connection.reconnecting", polling: "connection.polling",
  offline: "connection.offline"};

/** Why a dashboard shows its gate instead of itself: the title, and the text. */
export const GATE_TITLE_KEYS = {signedOut: "mod.gate.signedOutTitle", notModerator: "mod.gate.notModeratorTitle",
  expired: "mod.gate.expiredTitle", failed: "mod.gate.failedTitle"};
export const GATE_KEYS = {signedOut: "mod.gate.signedOut", notModerator: "mod.gate.notModerator",
  expired: "mod.gate.expired"};

/** Moderation: rule kinds and actions, review kinds, statuses and decisions. */
export const RULE_KIND_KEYS = {word: "mod.kind.rule.word", regex: "mod.kind.rule.regex", link: "mod.kind.rule.link"};
export const RULE_ACTION_KEYS = {mask: "mod.action.mask", block: "mod.action.block", flag: "mod.action.flag",
  hold: "mod.action.hold"};
export const FILTER_HINT_KEYS = {word: "mod.filters.hint.word", regex: "mod.filters.hint.regex",
  link: "mod.filters.hint.link"};
export const FILTER_DOES_KEYS = {mask: "mod.filters.does.mask", block: "mod.filters.does.block",
  flag: "mod.filters.does.flag", hold: "mod.filters.does.hold"};
export const VERDICT_KEYS = {mask: "mod.test.verdict.mask", block: "mod.test.verdict.block",
  flag: "mod.test.verdict.flag", hold: "mod.test.verdict.hold"};
export const REVIEW_KIND_KEYS = {filter: "mod.kind.filter", report: "mod.kind.report", held: "mod.kind.held",
  text: "mod.kind.text"};
export const REVIEW_STATUS_KEYS = {pending: "mod.status.pending", approved: "mod.status.approved",
  rejected: "mod.status.rejected", dismissed: "mod.status.dismissed", deleted: "mod.status.deleted"};
export const DECIDED_KEYS = {approved: "mod.decided.approved", rejected: "mod.decided.rejected",
  dismissed: "mod.decided.dismissed", deleted: "mod.decided.deleted"};
export const DECIDE_KEYS = {approve: "mod.decide.approve", dismiss: "mod.decide.dismiss", delete: "mod.decide.delete"};
export const DECIDE_HELD_KEYS = {approve: "mod.decide.held.approve", reject: "mod.decide.held.reject"};
/** What each decision does, by the item's kind (held messages were never delivered; a text is not a message). */
export const DECIDE_HELP_KEYS = {
  message: {approve: "mod.decide.help.approve", dismiss: "mod.decide.help.dismiss", delete: "mod.decide.help.delete"},
  held: {approve: "mod.decide.help.held.approve", reject: "mod.decide.help.held.reject"},
  text: {approve: "mod.decide.help.text.approve", dismiss: "mod.decide.help.text.dismiss"},
};
/** The toast after a decision, by the status it left. */
export const DECIDE_DONE_KEYS = {approved: "mod.decide.done.approved", dismissed: "mod.decide.done.dismissed",
  deleted: "mod.decide.done.deleted"};
export const DECIDE_DONE_HELD_KEYS = {approved: "mod.decide.done.held.approved", rejected: "mod.decide.done.held.rejected"};
/** Acting on an author from an item: the dialog's texts by sanction. */
export const ACT_KEYS = {
  mute: {title: "mod.act.mute.title", intro: "mod.act.mute.intro", submit: "mod.act.mute.submit",
    summary: "mod.act.mute.summary", done: "mod.act.mute.done", doneLine: "mod.act.mute.doneLine"},
  ban: {title: "mod.act.ban.title", intro: "mod.act.ban.intro", submit: "mod.act.ban.submit",
    summary: "mod.act.ban.summary", done: "mod.act.ban.done", doneLine: "mod.act.ban.doneLine"},
};
export const ACT_UNIT_KEYS = {minutes: "mod.act.unit.minutes", hours: "mod.act.unit.hours", days: "mod.act.unit.days"};
export const QUEUE_VIEW_KEYS = {pending: "mod.queue.pending", reports: "mod.queue.reports", decided: "mod.queue.decided"};
export const QUEUE_EMPTY_KEYS = {pending: "mod.queue.empty.pending", reports: "mod.queue.empty.reports",
  decided: "mod.queue.empty.decided"};
export const SANCTION_LIST_KEYS = {
  mutes: {title: "mod.mutes.title", intro: "mod.mutes.intro", empty: "mod.mutes.empty", lifted: "mod.mutes.lifted"},
  bans: {title: "mod.bans.title", intro: "mod.bans.intro", empty: "mod.bans.empty", lifted: "mod.bans.lifted"},
};

/** The chat: roles, presence, a member's sanction, message actions, reminders, notifications, files. */
export const ROLE_KEYS = {MEMBER: "role.MEMBER", MODERATOR: "role.MODERATOR", GROUP_ADMIN: "role.GROUP_ADMIN"};
export const PRESENCE_KEYS = {online: "presence.online", offline: "presence.offline"};
export const SANCTION_KEYS = {muted: "sanction.muted", banned: "sanction.banned"};
export const SANCTION_UNTIL_KEYS = {muted: "sanction.mutedUntil", banned: "sanction.bannedUntil"};
export const MESSAGE_ACTION_KEYS = {react: "action.react", reply: "action.reply", edit: "action.edit",
  delete: "action.delete", retry: "action.retry", discard: "action.discard", cancel: "action.cancel",
  remind: "action.remind", report: "action.report"};
export const CONV_DENIED_KEYS = {forbidden: "conv.forbidden", not_found: "conv.not_found"};
export const REMIND_KEYS = {in20: "remind.in20", in1h: "remind.in1h", tomorrow: "remind.tomorrow"};
export const NOTIF_LEVEL_KEYS = {all: "notif.level.all", mentions: "notif.level.mentions", none: "notif.level.none"};
export const LAST_EMAIL_KEYS = {sent: "notif.lastEmail.sent", skipped: "notif.lastEmail.skipped",
  failed: "notif.lastEmail.failed"};
export const GALLERY_TYPE_KEYS = {all: "gallery.type.all", image: "gallery.type.image", video: "gallery.type.video",
  audio: "gallery.type.audio", document: "gallery.type.document"};
export const UPLOAD_ERROR_KEYS = {file_too_large: "upload.error.file_too_large",
  quota_exceeded: "upload.error.quota_exceeded", unsupported_type: "upload.error.unsupported_type",
  upload_expired: "upload.error.upload_expired", upload_cancelled: "upload.error.upload_cancelled",
  other: "upload.error.other"};

/** Exports: a job's status, and the errors the exports page words itself. */
export const EXPORT_STATUS_KEYS = {queued: "exp.status.queued", running: "exp.status.running", done: "exp.status.done",
  failed: "exp.status.failed", cancelled: "exp.status.cancelled", expired: "exp.status.expired"};
export const EXPORT_ERROR_KEYS = {zone: "exp.error.zone", range: "exp.error.range", invalid_range: "exp.error.invalid_range",
  invalid_format: "exp.error.invalid_format", invalid_timezone: "exp.error.invalid_timezone",
  invalid_language: "exp.error.invalid_language", not_ready: "exp.error.not_ready", expired: "exp.error.expired",
  forbidden: "exp.error.forbidden", export_failed: "exp.error.export_failed",
  too_many_attempts: "exp.error.too_many_attempts", not_found: "exp.error.not_found"};

/** Analytics: the period's presets, and why a period is refused before it is asked. */
export const ANALYTICS_PRESET_KEYS = {7: "analytics.preset.7", 30: "analytics.preset.30", 90: "analytics.preset.90",
  365: "analytics.preset.365", custom: "analytics.preset.custom"};
export const ANALYTICS_RANGE_KEYS = {missing: "analytics.range.missing", order: "analytics.range.order",
  long: "analytics.range.long"};

/** GIFs: the picker's attribution by provider (GIPHY's and Tenor's terms ask for it; the library names the
 * group's own GIFs), the line under a GIF in a message, and the group's content ratings in people's words. */
export const GIF_CREDIT_KEYS = {giphy: "gifs.credit.giphy", tenor: "gifs.credit.tenor", library: "gifs.credit.library"};
export const GIF_VIA_KEYS = {giphy: "gifs.via.giphy", tenor: "gifs.via.tenor"};
export const GIF_RATING_KEYS = {g: "gifs.rating.g", pg: "gifs.rating.pg", "pg-13": "gifs.rating.pg13", r: "gifs.rating.r"};
