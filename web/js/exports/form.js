// The request form: a conversation (picked from those the user may export, across groups: picker.js), a
// format, an optional range of date-times read in the chosen time zone, the language of the file's labels,
// the time zone, and "include deleted content" for the group's moderators.
import { $, h, replace } from "../shared/dom.js";
import { LANGUAGES, currentLanguage, t } from "../shared/i18n.js";
import { ERROR_KEYS, EXPORT_ERROR_KEYS } from "../shared/texts.js";
import { ConversationPicker } from "./picker.js";

const MODERATING = new Set(["MODERATOR", "GROUP_ADMIN"]);

export class ExportForm {
  /** state: the page's {me, groups: Map, convs: Map}; bus: "export:requested" (job) once the server took it. */
  constructor({api, state, bus}) {
    Object.assign(this, {api, state, bus});
    this.picker = new ConversationPicker({api, onPick: () => this.syncDeleted()});
    this.form = $("#exp-form");
    this.zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    $("#exp-timezone").value = this.zone;
    const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
    replace($("#exp-zones"), ["UTC", ...zones].map((z) => h("option", {value: z})));
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.submit(); });
    for (const input of [$("#exp-from"), $("#exp-to"), $("#exp-timezone")]) {
      input.addEventListener("input", () => this.clearMessages());
    }
    this.languageChosen = null;   // the user's pick, kept across redraws of the select
    $("#exp-language").addEventListener("change", (e) => { this.languageChosen = e.target.value; });
  }

  /** The words of the form, in the page's language (the picker's list and the language select). */
  render() {
    this.picker.render();
    $("#not-admin").hidden = this.picker.items.length > 0 || Boolean(this.picker.query);
    replace($("#exp-language"), Object.entries(LANGUAGES).map(([code, name]) => h("option", {value: code}, name)));
    $("#exp-language").value = this.language || currentLanguage();
    this.syncDeleted();
  }

  /** The first page of the picker (boot, every reconnect). */
  async refresh() {
    await this.picker.refresh();
    this.render();
  }

  /** The language select follows the page's until the user picks one. */
  get language() {
    return this.languageChosen;
  }

  /** includeDeleted: for the group's moderators and admins (and system admins) only. */
  syncDeleted() {
    const conv = this.picker.chosen;
    const role = conv && this.state.groups.get(conv.groupId)?.role;
    const may = Boolean(conv) && (this.state.me.role === "ADMIN" || MODERATING.has(role));
    $("#exp-deleted-field").hidden = !may;
    if (!may) $("#exp-deleted").checked = false;
    this.clearMessages();
  }

  clearMessages() {
    $("#exp-refusal").hidden = true;
    replace($("#exp-error"));
  }

  /** The body the API takes, or a message key when the form is not valid. */
  payload() {
    const zone = $("#exp-timezone").value.trim() || "UTC";
    if (!validZone(zone)) return {error: t("exp.error.zone", {zone})};
    const body = {format: this.form.elements.format.value, language: $("#exp-language").value, timezone: zone};
    const from = $("#exp-from").value, to = $("#exp-to").value;
    if (from) body.from = zonedToIso(from, zone);
    if (to) body.to = zonedToIso(to.length === 16 ? `${to}:59` : to, zone);  // "to" is inclusive: its whole minute
    if (body.from && body.to && body.from > body.to) return {error: t("exp.error.range")};
    if (!$("#exp-deleted-field").hidden && $("#exp-deleted").checked) body.includeDeleted = true;
    return {body};
  }

  async submit() {
    this.clearMessages();
    const conv = this.picker.chosen;
    if (!conv) return replace($("#exp-error"), t("exp.error.noConversation"));
    const convId = conv.id;
    const {body, error} = this.payload();
    if (error) return replace($("#exp-error"), error);
    const button = $("#exp-submit");
    button.disabled = true;
    try {
      const job = await this.api.post(`/api/conversations/${convId}/exports`, body);
      this.bus.emit("export:requested", {...job, convTitle: conv.title, progress: 0, processed: 0, total: 0, range: rangeOf(body),
        language: body.language, timezone: body.timezone, createdAt: new Date().toISOString()});
    } catch (exc) {
      if (exc.code === "forbidden") this.refuse(conv, body);
      else replace($("#exp-error"), exportErrorText(exc.code, exc.message));
    } finally {
      button.disabled = false;
    }
  }

  /** 403: who may export this conversation, in words; nothing was stored. */
  refuse(conv, body) {
    replace($("#exp-refusal"), h("strong", t("exp.refused.title")),
      h("p", t(body.includeDeleted ? "exp.refused.deleted" : "exp.refused.text", {group: conv.groupName || t("exp.otherGroup")})));
    $("#exp-refusal").hidden = false;
    $("#exp-refusal").scrollIntoView({block: "center"});
  }
}

function rangeOf(body) {
  if (!body.from && !body.to) return {kind: "all"};
  return {kind: "time", from: body.from, to: body.to};
}

/** An error code of the export routes in words: the page's own sentence, else the chat's, else the code
 * with the server's message. */
export function exportErrorText(code, message = "") {
  if (EXPORT_ERROR_KEYS[code]) return t(EXPORT_ERROR_KEYS[code]);
  if (ERROR_KEYS[code]) return t(ERROR_KEYS[code]);
  return message ? `${t("error.other", {code})}: ${message}` : t("error.other", {code});
}

function validZone(zone) {
  try {
    new Intl.DateTimeFormat("en", {timeZone: zone});
    return true;
  } catch {
    return false;
  }
}

/** "2026-12-01T09:30" read as a wall-clock time in `zone` → ISO-8601 in UTC ("…Z"). */
export function zonedToIso(local, zone) {
  const [date, time] = local.split("T");
  const [y, mo, d] = date.split("-").map(Number);
  const [hh, mm, ss = 0] = time.split(":").map(Number);
  const wall = Date.UTC(y, mo - 1, d, hh, mm, ss);
  // The zone's offset at that instant, found twice (the second pass settles daylight-saving edges).
  let utc = wall - offsetAt(wall, zone);
  utc = wall - offsetAt(utc, zone);
  return new Date(utc).toISOString().replace(".000Z", "Z");
}

function offsetAt(instant, zone) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", {timeZone: zone, hourCycle: "h23",
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit"})
    .formatToParts(new Date(instant)).map((p) => [p.type, p.value]));
  const asUtc = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
  return asUtc - Math.floor(instant / 1000) * 1000;
}
