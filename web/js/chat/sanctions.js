// The user's own mutes and bans, in a banner until they end or are lifted (moderation:muted, :banned, :lifted).
import { $, h, replace } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { formatDateTime, t } from "../shared/i18n.js";
import { SANCTION_KEYS, SANCTION_UNTIL_KEYS } from "../shared/texts.js";
import { state } from "./state.js";

export class SanctionBanner {
  /** conn: restarted when a ban is lifted, so the socket is back in the group's rooms and list. */
  constructor({conn, toast}) {
    Object.assign(this, {conn, toast});
    this.sanctions = new Map();   // "groupId:muted|banned" → {groupId, kind, until, reason, timer}
  }

  onSanction(kind, {groupId, until, reason}) {
    const key = `${groupId}:${kind}`;
    clearTimeout(this.sanctions.get(key)?.timer);
    const ms = until ? Date.parse(until) - Date.now() : Infinity;
    if (ms <= 0) return;
    // setTimeout holds at most ~24.8 days; a longer sanction stays until the page reloads or it is lifted.
    const timer = ms < 2 ** 31 ? setTimeout(() => this.onLifted({groupId, kind}, false), ms) : null;
    this.sanctions.set(key, {groupId, kind, until, reason, timer});
    this.render();
    this.toast(this.text(this.sanctions.get(key)));
  }

  onLifted({groupId, kind}, announce = true) {
    // kind: "mute" or "ban" (or "muted", "banned"); none: both.
    const kinds = /^ban/.test(kind || "") ? ["banned"] : /^mut/.test(kind || "") ? ["muted"] : ["muted", "banned"];
    const had = kinds.filter((k) => this.sanctions.delete(`${groupId}:${k}`)).length;
    this.render();
    if (announce && had) this.toast(t("sanction.lifted", {group: state.groups.get(groupId)?.name || "…"}));
    if (kinds.includes("banned") && had) this.conn.restart();   // back in the group's rooms and list
  }

  /** Signed out: nothing shown, no timer left. */
  clear() {
    for (const s of this.sanctions.values()) clearTimeout(s.timer);
    this.sanctions.clear();
    this.render();
  }

  text({groupId, kind, until, reason}) {
    const group = state.groups.get(groupId)?.name || t("sanction.aGroup");
    const text = until ? t(SANCTION_UNTIL_KEYS[kind], {group, until: formatDateTime(new Date(until))})
      : t(SANCTION_KEYS[kind], {group});
    return reason ? `${text} ${t("sanction.reason", {reason})}` : text;
  }

  render() {
    const banner = $("#sanctions");
    const list = [...this.sanctions.values()];
    banner.hidden = !list.length;
    replace(banner, list.map((s) => h("p.sanction-note", {dataset: {kind: s.kind}}, icon(s.kind === "muted" ? "mute" : "shield"), this.text(s))));
  }
}
