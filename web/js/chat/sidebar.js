// The list: the user's groups and their conversations (unread counts, last activity), the direct messages
// apart (titled by the other person), and the forms that create a group, add someone to it, open a
// conversation in it, or start a direct message.
import { $, avatar, cleanName, displayName, h, replace } from "../shared/dom.js";
import { icon, iconButton } from "../shared/icons.js";
import { formatActivity, t } from "../shared/i18n.js";
import { ROLE_KEYS } from "../shared/texts.js";
import { startDirect } from "./direct.js";
import { groupUsernames } from "./people.js";
import { state } from "./state.js";

const ROLES = ["MEMBER", "MODERATOR", "GROUP_ADMIN"];

export class Sidebar {
  /** conn: restarted after a new group, so the socket joins its room. */
  constructor({api, conn, dialogs, toast}) {
    Object.assign(this, {api, conn, dialogs, toast});
    this.nav = $("#conv-list");
    $("#new-group").addEventListener("click", () => this.newGroup());
    this.nav.addEventListener("click", (e) => {
      const button = e.target.closest("button[data-action]");
      if (!button) return;
      const group = state.groups.get(button.dataset.group);
      if (button.dataset.action === "new-conversation") this.newConversation(group);
      else if (button.dataset.action === "new-group") this.newGroup();
      else if (button.dataset.action === "new-direct") startDirect({api, dialogs});
      else this.addGroupMember(group);
    });
    // The list is redrawn whole (a message anywhere moves it): never between a press and its release,
    // or the click would go to a link that is no longer there and be lost.
    this.nav.addEventListener("pointerdown", () => { this.pressed = true; });
    for (const type of ["pointerup", "pointercancel", "blur"]) {
      window.addEventListener(type, () => {
        if (!this.pressed) return;
        this.pressed = false;
        if (this.stale) setTimeout(() => this.render());   // after the click this release makes
      });
    }
  }

  render() {
    this.stale = this.pressed;
    if (this.pressed) return;
    const byGroup = new Map();
    const directs = [];
    for (const conv of state.convs.values()) {
      if (conv.kind === "direct") { directs.push(conv); continue; }
      if (!byGroup.has(conv.groupId)) byGroup.set(conv.groupId, []);
      byGroup.get(conv.groupId).push(conv);
    }
    const groups = [...state.groups.values()].sort((a, b) => a.name.localeCompare(b.name));
    const sections = groups.map((g) => this.section(g, byGroup.get(g.id) || []));
    // Conversations of groups this page has no name for (polling without a session:ready).
    const orphans = [...byGroup].filter(([id]) => !state.groups.has(id)).flatMap(([, convs]) => convs);
    if (orphans.length) sections.push(this.section({name: t("sidebar.conversations")}, orphans));
    if (groups.length || directs.length) sections.push(this.directSection(directs));
    replace(this.nav, sections.length ? sections : h("div.side-empty",
      h("p", t("sidebar.empty")),
      h("button.button.primary", {type: "button", dataset: {action: "new-group"}}, icon("plus"), t("group.new"))));
  }

  section(group, convs) {
    const latest = (c) => Date.parse(c.lastMessageAt || c.createdAt || 0) || 0;
    convs.sort((a, b) => latest(b) - latest(a));
    const action = (name, iconName, label) =>
      iconButton("button.icon-button.small", label, iconName, {dataset: {action: name, group: group.id}});
    return h("section.group", {dataset: {group: group.id || ""}},
      h("header.group-head",
        h("span.group-name", group.name),
        group.id ? h("span.group-actions",
          group.role === "GROUP_ADMIN" ? action("add-group-member", "users", t("group.addMember", {group: group.name})) : null,
          action("new-conversation", "plus", t("conversation.new", {group: group.name}))) : null),
      convs.length ? h("ul.conv-items", convs.map((c) => this.item(c, latest(c))))
        : h("p.group-empty", t("sidebar.noConversations")));
  }

  /** "Direct messages": one item per person, newest activity first, and the action that starts one. */
  directSection(convs) {
    const latest = (c) => Date.parse(c.lastMessageAt || c.createdAt || 0) || 0;
    convs.sort((a, b) => latest(b) - latest(a));
    return h("section.group.dm-section", {dataset: {group: "direct"}, "aria-labelledby": "dm-section-name"},
      h("header.group-head",
        h("span.group-name", {id: "dm-section-name"}, t("dm.section")),
        h("span.group-actions", iconButton("button.icon-button.small", t("dm.new"), "plus",
          {dataset: {action: "new-direct"}}))),
      convs.length ? h("ul.conv-items", convs.map((c) => this.item(c, latest(c))))
        : h("p.group-empty", t("dm.empty")));
  }

  item(conv, at) {
    const active = conv.id === state.activeId;
    const unread = active ? 0 : conv.unread || 0;
    return h("li", h(`a.conv-item${active ? ".active" : ""}${unread ? ".unread" : ""}`,
      {href: `#/c/${conv.id}`, dataset: {conv: conv.id}, "aria-current": active ? "page" : null},
      conv.kind === "direct" && conv.peer ? avatar(conv.peer, conv.peer.id, "xs") : icon("hash"),
      h("span.conv-title", conv.kind === "direct" && conv.peer ? displayName(conv.peer) : conv.title),
      conv.mentioned && !active ? h("span.badge.mention", {title: t("sidebar.mentioned")}, "@") : null,
      unread ? h("span.badge", {title: t("sidebar.unread", {count: unread})}, unread > 99 ? "99+" : String(unread)) : null,
      at ? h("time.conv-time", {datetime: new Date(at).toISOString()}, formatActivity(new Date(at))) : null));
  }

  async newGroup() {
    const group = await this.dialogs.form({
      title: t("group.new"), submit: t("action.create"),
      fields: [{name: "name", label: t("group.name"), required: true, placeholder: t("group.namePlaceholder")}],
      onSubmit: ({name}) => this.api.post("/api/groups", {name}),
    });
    if (!group) return;
    state.groups.set(group.id, group);
    this.render();
    this.conn.restart();   // join the new group's room (the server joins rooms at connect)
  }

  async addGroupMember(group) {
    const added = await this.dialogs.form({
      title: t("group.addMember", {group: group.name}), submit: t("action.add"),
      fields: [{name: "username", label: t("field.username"), required: true, placeholder: "bob"},
        {name: "role", label: t("field.role"), value: "MEMBER", options: ROLES.map((r) => [r, t(ROLE_KEYS[r])])}],
      onSubmit: ({username, role}) =>
        this.api.post(`/api/groups/${group.id}/members`, {username: cleanName(username), role}),
    });
    if (added) this.toast(t("group.memberAdded", {name: added.user.username, group: group.name}));
  }

  async newConversation(group) {
    const conv = await this.dialogs.form({
      title: t("conversation.new", {group: group.name}), submit: t("action.create"),
      fields: [{name: "title", label: t("field.title"), required: true, placeholder: t("conversation.titlePlaceholder")},
        {name: "members", label: t("field.members"), placeholder: "bob, carol", hint: t("conversation.membersHint"),
          suggestions: await groupUsernames(this.api, group.id)}],
      onSubmit: ({title, members}) => this.api.post(`/api/groups/${group.id}/conversations`,
        {title, members: members.split(/[\s,;]+/).map(cleanName).filter(Boolean)}),
    });
    if (!conv) return;
    state.convs.set(conv.id, {...conv, unread: 0, lastReadSeq: 0, lastSeq: conv.lastSeq || 0});
    location.hash = `#/c/${conv.id}`;
  }
}

