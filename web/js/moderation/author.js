// Acting on the author of a review item: mute them for a chosen time, or ban them, in a dialog that says
// what will happen, with the reason taken from the item (the reports' words, or the filter's match),
// editable. Through the group's POST /mutes and /bans, like the sanctions tab.
import { h, replace } from "../shared/dom.js";
import { formatDateTime, t } from "../shared/i18n.js";
import { ACT_KEYS, ACT_UNIT_KEYS } from "../shared/texts.js";
import { formatDuration } from "./common.js";

const MINUTES = {minutes: 1, hours: 60, days: 1440};
const MAX_MINUTES = 525600;   // a year: the server's bound (schemas MINUTES_MAX)
const REASON_MAX = 500;
// The presets, in minutes ("" for a ban: until an admin lifts it; "custom": the amount and unit fields).
const PRESETS = {mute: ["15", "60", "1440", "10080", "custom"], ban: ["", "1440", "10080", "43200", "custom"]};
const DEFAULT = {mute: "60", ban: ""};

/** The reason an item suggests: what its reporters wrote, else what the filter matched. */
export function suggestedReason(item) {
  const reasons = item.reasons || [];
  const said = [...new Set(reasons.map((r) => (r.reason || "").trim()).filter(Boolean))];
  if (said.length) return said.join("; ").slice(0, REASON_MAX);
  const reports = reasons.filter((r) => r.reporterId || r.reporterName).length;
  if (reports) return t("mod.act.reason.report", {count: reports});
  const matches = [...new Set(reasons.map((r) => r.match).filter(Boolean))];
  return (matches.length ? t("mod.act.reason.filter", {match: matches.join(", ")}) : t("mod.act.reason.rule"))
    .slice(0, REASON_MAX);
}

/** Minutes from the dialog's values; null for a ban until lifted; NaN when the custom amount is unusable. */
function minutesOf({duration, amount, unit}) {
  if (duration !== "custom") return duration === "" ? null : Number(duration);
  const n = Number(amount);
  const minutes = n * (MINUTES[unit] || NaN);
  return Number.isInteger(n) && n >= 1 && minutes <= MAX_MINUTES ? minutes : NaN;
}

export class AuthorActions {
  /** dialogs: the page's Dialogs; post(kind, body) → the sanction made; toast(text). */
  constructor({dialogs, post, toast}) {
    Object.assign(this, {dialogs, post, toast});
  }

  /** kind: "mute" | "ban". Resolves to the sanction placed, or null if cancelled. */
  async open(kind, item) {
    const author = item.message?.senderInfo || {};
    const name = author.username || "?";
    const controls = this.durationControls(kind);
    const summary = h("p.act-summary", {"aria-live": "polite"});
    const reason = h("input", {id: "act-reason", name: "reason", type: "text", required: true, maxlength: String(REASON_MAX),
      value: suggestedReason(item), autocomplete: "off"});
    const describe = () => replace(summary, this.summary(kind, name, minutesOf(controls.values())));
    controls.onChange(describe);
    describe();
    const made = await this.dialogs.form({
      title: t(ACT_KEYS[kind].title, {name}),
      text: t(ACT_KEYS[kind].intro),
      extra: [controls.el,
        h("label.field", {for: "act-reason"}, h("span.field-label", t("mod.sanctions.reason")), reason,
          h("span.field-hint.act-hint", t("mod.act.reasonHint"))),
        summary],
      submit: t(ACT_KEYS[kind].submit),
      danger: kind === "ban",
      onSubmit: async (values) => {
        const minutes = minutesOf(values);
        if (Number.isNaN(minutes)) throw {text: t("mod.act.badDuration", {max: formatDuration(MAX_MINUTES)})};
        return this.post(`${kind}s`, {username: name, reason: values.reason.trim(),
          ...(minutes === null ? {} : {minutes})});
      },
    });
    if (!made || made === true) return null;
    this.toast(made.until ? t(ACT_KEYS[kind].done, {name, until: formatDateTime(new Date(made.until))})
      : t("mod.act.ban.doneForever", {name}));
    return made;
  }

  /** What will happen, in words, for the duration chosen. */
  summary(kind, name, minutes) {
    if (Number.isNaN(minutes)) return t("mod.act.badDuration", {max: formatDuration(MAX_MINUTES)});
    if (minutes === null) return t("mod.act.ban.summaryForever", {name});
    const until = formatDateTime(new Date(Date.now() + minutes * 60000));
    return t(ACT_KEYS[kind].summary, {name, duration: formatDuration(minutes), until});
  }

  /** The preset select, and for "custom" an amount and a unit. */
  durationControls(kind) {
    const presets = PRESETS[kind];
    const select = h("select", {id: "act-duration", name: "duration"}, presets.map((value) =>
      h("option", {value, selected: value === DEFAULT[kind]},
        value === "" ? t("mod.bans.untilLifted") : value === "custom" ? t("mod.act.custom") : formatDuration(Number(value)))));
    // No min: a bad amount is explained in the page's language (the summary, the error line), not by the browser.
    const amount = h("input", {id: "act-amount", name: "amount", type: "number", step: "1", value: "2",
      inputmode: "numeric"});
    const unit = h("select", {id: "act-unit", name: "unit", "aria-label": t("mod.act.unit")},
      Object.keys(MINUTES).map((u) => h("option", {value: u, selected: u === "hours"}, t(ACT_UNIT_KEYS[u]))));
    const custom = h("div.act-custom", {hidden: true},
      h("label.field", {for: "act-amount"}, h("span.field-label", t("mod.act.amount")), amount),
      h("label.field", {for: "act-unit"}, h("span.field-label", t("mod.act.unit")), unit));
    const el = h("div.act-duration", h("label.field", {for: "act-duration"},
      h("span.field-label", t("mod.act.duration")), select), custom);
    return {
      el,
      values: () => ({duration: select.value, amount: amount.value, unit: unit.value}),
      onChange: (listener) => {
        const changed = () => {
          custom.hidden = select.value !== "custom";
          listener();
        };
        for (const input of [select, amount, unit]) input.addEventListener("input", changed);
        select.addEventListener("change", changed);
      },
    };
  }
}
