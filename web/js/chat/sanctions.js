// The user's own mutes and bans: from session:ready's `sanctions` at every (re)connect and moderation:sanction
// live; a banner until each ends (counted here: an expiry sends no event) or is lifted, and the reason with
// the time left for the composer of a conversation in that group.
import { $, h, replace } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { currentLanguage, formatDateTime, t } from "../shared/i18n.js";
import { SANCTION_KEYS, SANCTION_UNTIL_KEYS } from "../shared/texts.js";
import { state } from "./state.js";

const TICK_MS = 15000;     // the time left is said in whole minutes (or hours, days): a change at most each minute
const MINUTE = 60000;
const UNITS = [["day", 86400000], ["hour", 3600000], ["minute", MINUTE]];

/** 14 min, 2 h, 3 days: the time left in the reader's language, rounded up (never "0 min" while it lasts). */
export function formatRemaining(ms) {
  const [unit, size] = UNITS.find(([, s]) => ms >= 2 * s) || UNITS.at(-1);
  const count = Math.max(1, Math.ceil(ms / size));
  return new Intl.NumberFormat(currentLanguage(), {style: "unit", unit, unitDisplay: unit === "day" ? "long" : "short"})
    .format(count);
}

export class SanctionBanner {
  /** conn: restarted when a ban is lifted, so the socket is back in the group's rooms and list.
   * changed(): the sanctions in force changed, or their time left did (the composer says it again). */
  constructor({conn, toast, changed = () => {}}) {
    Object.assign(this, {conn, toast, changed});
    this.sanctions = new Map();   // "groupId:mute|ban" → {groupId, kind, until, reason, groupName, timer}
    this.ticker = null;
  }

  /** session:ready: the sanctions in force replace what the page knew (one may have ended while it was away). */
  load(list = []) {
    for (const s of this.sanctions.values()) clearTimeout(s.timer);
    this.sanctions.clear();
    for (const s of list) this.put(s);
    this.update();
  }

  /** moderation:sanction: placed, or lifted ({lifted: true}, or a mute with until null). */
  onSanction(data) {
    if (data.lifted || (data.kind === "mute" && !data.until)) return this.onLifted(data);
    if (!this.put(data)) return;
    this.update();
    this.toast(this.text(this.sanctions.get(key(data))));
  }

  put({groupId, kind, until, reason, groupName}) {
    clearTimeout(this.sanctions.get(key({groupId, kind}))?.timer);
    const ms = until ? Date.parse(until) - Date.now() : Infinity;
    if (ms <= 0) return false;
    // setTimeout holds at most ~24.8 days; a longer sanction stays until the page reloads or it is lifted.
    const timer = ms < 2 ** 31 ? setTimeout(() => this.onLifted({groupId, kind}, false), ms) : null;
    this.sanctions.set(key({groupId, kind}), {groupId, kind, until, reason, groupName, timer});
    return true;
  }

  onLifted({groupId, kind}, announce = true) {
    const gone = this.sanctions.get(key({groupId, kind}));
    if (!gone) return;
    clearTimeout(gone.timer);
    this.sanctions.delete(key({groupId, kind}));
    this.update();
    if (announce) this.toast(t("sanction.lifted", {group: this.groupName(gone)}));
    if (kind === "ban") this.conn.restart();   // back in the group's rooms and list
  }

  /** Signed out: nothing shown, no timer left. */
  clear() {
    this.load([]);
  }

  /** What stops the user writing in the group, with the time left; null when nothing does. */
  blockReason(groupId) {
    const s = this.sanctions.get(key({groupId, kind: "ban"})) || this.sanctions.get(key({groupId, kind: "mute"}));
    if (!s) return null;
    const reason = s.reason || t("sanction.noReason");
    if (!s.until) return t("sanction.composerBannedForever", {reason});
    const time = formatRemaining(Date.parse(s.until) - Date.now());
    return t(s.kind === "ban" ? "sanction.composerBanned" : "sanction.composerMuted", {time, reason});
  }

  groupName(s) {
    return state.groups.get(s.groupId)?.name || s.groupName || t("sanction.aGroup");
  }

  text(s) {
    const group = this.groupName(s);
    const kind = s.kind === "ban" ? "banned" : "muted";
    const text = s.until ? t(SANCTION_UNTIL_KEYS[kind], {group, until: formatDateTime(new Date(s.until))})
      : t(SANCTION_KEYS[kind], {group});
    return s.reason ? `${text} ${t("sanction.reason", {reason: s.reason})}` : text;
  }

  /** Redraw the banner, tell the page, and keep a ticker while a sanction counts down. */
  update() {
    this.render();
    this.changed();
    const counting = [...this.sanctions.values()].some((s) => s.until);
    if (counting && !this.ticker) this.ticker = setInterval(() => this.changed(), TICK_MS);
    if (!counting && this.ticker) this.ticker = clearInterval(this.ticker) || null;
  }

  render() {
    const banner = $("#sanctions");
    const list = [...this.sanctions.values()];
    banner.hidden = !list.length;
    replace(banner, list.map((s) => h("p.sanction-note", {dataset: {kind: s.kind}},
      icon(s.kind === "mute" ? "mute" : "shield"), this.text(s))));
  }
}

const key = ({groupId, kind}) => `${groupId}:${/^ban/.test(kind) ? "ban" : "mute"}`;
