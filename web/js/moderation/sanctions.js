// Mutes and bans: who, why, by whom, and the time left, counting down live; a sanction that ends leaves
// the list by itself. Bans are for group admins only: moderators see why the form is not there.
import { $, avatar, cleanName, h, replace } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { formatDateTime, t } from "../shared/i18n.js";
import { MemberPicker } from "../shared/member_picker.js";
import { SANCTION_LIST_KEYS } from "../shared/texts.js";
import { PagedList, failure, field, inlineForm, isGroupAdmin, nameOf, remaining, searchMembers } from "./common.js";

const TICK_MS = 1000;
const CHANGES = new Set(["muted", "unmuted", "auto_muted", "banned", "unbanned"]);

export class SanctionsPanel {
  /** state: the dashboard's {me, group} (the user, the group on screen). */
  constructor({api, toast, state}) {
    Object.assign(this, {api, toast, state});
    this.lists = {};
    setInterval(() => this.tick(), TICK_MS);
  }

  open(group) {
    this.group = group;
    this.render();
  }

  rerender() {
    this.render();
  }

  render() {
    this.section("mutes", $("#mutes"));
    if (isGroupAdmin(this.state)) this.section("bans", $("#bans"));
    else {
      delete this.lists.bans;
      replace($("#bans"), h("h2", t("mod.bans.title")), h("p.muted.admin-only", icon("shield"), t("mod.bans.adminsOnly")));
    }
  }

  /** One card: the form, then the list (kind: "mutes" | "bans"). */
  section(kind, root) {
    const ban = kind === "bans";
    // Who: picked from the group's members by any part of their name (a username typed in full works too).
    const picker = new MemberPicker({search: (q) => searchMembers(this.api, this.group.id, q),
      label: t("mod.sanctions.member"), placeholder: t("mod.sanctions.memberPlaceholder"), required: true});
    const form = inlineForm("form.sanction-form", [
      h("div.sanction-fields",
        picker.el,
        field("minutes", t("mod.sanctions.minutes"), {type: "number", min: "1", step: "1", required: !ban,
          value: ban ? "" : "10", inputmode: "numeric", placeholder: ban ? t("mod.bans.untilLifted") : null,
          title: ban ? t("mod.sanctions.minutesOptional") : null}),
        field("reason", t("mod.sanctions.reason"), {required: true, maxlength: "500", placeholder: t("mod.sanctions.reasonPlaceholder")}),
        h("button.button.primary", {type: "submit"}, t(ban ? "mod.bans.submit" : "mod.mutes.submit"))),
    ], async ({username, minutes, reason}, el) => {
      const body = {username: cleanName(username), reason: reason.trim(), ...(minutes !== "" ? {minutes: Number(minutes)} : {})};
      const made = await this.api.post(`/api/groups/${this.group.id}/${kind}`, body);
      this.lists[kind]?.upsert(made);
      el.reset();
      picker.reset();
      this.toast(t(ban ? "mod.bans.done" : "mod.mutes.done", {name: made.username || body.username}));
    });
    const listRoot = h("div.sanction-list");
    replace(root, h("h2", t(SANCTION_LIST_KEYS[kind].title)), h("p.muted.small", t(SANCTION_LIST_KEYS[kind].intro)), form, listRoot);
    this.lists[kind] = new PagedList(listRoot, {
      idOf: (s) => s.userId,
      render: (s) => this.renderRow(kind, s),
      load: async (before, limit) => {
        const query = new URLSearchParams({limit, ...(before ? {before} : {})});
        const page = await this.api.get(`/api/groups/${this.group.id}/${kind}?${query}`);
        return {items: page[kind].filter((s) => !s.until || remaining(s.until)), hasMore: page.hasMore};
      },
      empty: () => h("p.muted.small.empty-line", t(SANCTION_LIST_KEYS[kind].empty)),
    });
    this.lists[kind].reload();
  }

  renderRow(kind, s) {
    const since = new Date(s.createdAt);
    return h("li.sanction", {dataset: {user: s.userId}},
      avatar({username: s.username}, s.userId),
      h("div.sanction-main",
        h("div", h("strong", s.username), " ",
          h("span.muted.small", t("mod.sanctions.by", {name: nameOf(s.by, s.byName, this.state.me), when: formatDateTime(since)}))),
        s.reason ? h("q.small", s.reason) : null),
      h("span.left", {dataset: {until: s.until || ""}, title: s.until ? t("mod.sanctions.until", {when: formatDateTime(new Date(s.until))}) : null},
        s.until ? remaining(s.until) : t("mod.bans.untilLifted")),
      h("button.button.lift", {type: "button", onclick: () => this.lift(kind, s)}, t("mod.sanctions.lift")));
  }

  async lift(kind, s) {
    try {
      await this.api.del(`/api/groups/${this.group.id}/${kind}/${s.userId}`);
      this.lists[kind]?.remove(s.userId);
      this.toast(t(SANCTION_LIST_KEYS[kind].lifted, {name: s.username}));
    } catch (exc) {
      this.toast(failure(exc));
    }
  }

  /** Each second: the time left, and what has ended leaves. */
  tick() {
    for (const [, list] of Object.entries(this.lists)) {
      for (const [id, s] of [...list.items]) {
        if (!s.until) continue;
        const left = remaining(s.until);
        if (!left) list.remove(id);
        else {
          const el = list.els.get(id)?.querySelector(".left");
          if (el && el.textContent !== left) el.textContent = left;
        }
      }
    }
  }

  /** Someone else muted, banned or lifted: read the lists again if they are on screen. */
  onAction(entry) {
    if (!CHANGES.has(entry.action) || !this.opened || entry.actorId === this.state.me?.id) return;
    for (const list of Object.values(this.lists)) list.reload();
  }
}
