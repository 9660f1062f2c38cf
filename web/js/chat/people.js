// People around the open conversation: its members (with presence, and "Message" to start a direct
// conversation with one) and adding someone, leaving it, the user's own profile, and the usernames of a
// group offered as suggestions in the forms.
import { ApiError } from "../shared/api.js";
import { avatar, cleanName, displayName, h, safeUrl } from "../shared/dom.js";
import { errorText, t } from "../shared/i18n.js";
import { PRESENCE_KEYS } from "../shared/texts.js";
import { openDirect } from "./direct.js";
import { state } from "./state.js";

/** The usernames of a group's members (not the user's own), or none where the server has no members route. */
export async function groupUsernames(api, groupId) {
  if (!state.features.members) return [];
  try {
    const {members} = await api.get(`/api/groups/${groupId}/members`);
    return members.map((m) => m.user.username).filter((u) => u !== state.me.username);
  } catch (exc) {
    if (exc.missingRoute) state.features.members = false;
    return [];
  }
}

export class People {
  /** view: the open conversation (its id, members); bus: "conversation:left" ({convId}) after leaving,
   * "user:updated" (user) after the profile is saved. */
  constructor({api, dialogs, toast, view, bus}) {
    Object.assign(this, {api, dialogs, toast, view, bus});
  }

  /** Who is in the open conversation (with presence), and a form to add someone. */
  async showMembers() {
    const conv = state.convs.get(this.view.convId);
    if (!conv) return;
    const members = this.view.members || [];
    const list = members.length ? h("ul.member-list", members.map(({user}) => {
      const status = state.presence.get(user.id);
      return h("li", avatar(user, user.id, "", status),
        h("span.member-names", h("strong", displayName(user)), h("span.handle", "@" + user.username)),
        status ? h(`span.status.${status}`, t(PRESENCE_KEYS[status])) : null,
        user.id === state.me.id ? null : h("button.button.small-button.dm-message", {type: "button",
          dataset: {username: user.username}, "aria-label": t("dm.messageWho", {name: displayName(user)}),
          onclick: () => this.message(user)}, t("dm.message")));
    })) : null;
    if (conv.kind === "direct") {   // its two people, nobody to add: the list alone
      await this.dialogs.form({title: t("members.title", {title: conv.title}), text: list, submit: t("action.close")});
      return;
    }
    const added = await this.dialogs.form({
      title: t("members.title", {title: conv.title}), text: list, submit: t("action.add"),
      fields: [{name: "username", label: t("members.add"), required: true, placeholder: "carol",
        suggestions: (await groupUsernames(this.api, conv.groupId)).filter((u) => !members.some((m) => m.user.username === u))}],
      onSubmit: ({username}) => this.api.post(`/api/conversations/${conv.id}/members`, {username: cleanName(username)}),
    });
    if (!added) return;
    this.toast(t("members.added", {name: added.user.username}));
    this.view.loadMembers(this.view.generation);
  }

  /** "Message" on a member: their direct conversation with the user (made the first time), shown. */
  async message(user) {
    try {
      await openDirect(this.api, user.username);
      this.dialogs.dialog.close();
    } catch (exc) {
      this.toast(exc.text || errorText(exc.code));
    }
  }

  /** Leave the open conversation (the server then sends conversation:left, which removes it here). */
  async leaveConversation() {
    const conv = state.convs.get(this.view.convId);
    if (!conv) return;
    const left = await this.dialogs.form({
      title: t("leave.title", {title: conv.title}), text: t("leave.text"), submit: t("leave.confirm"), danger: true,
      onSubmit: () => this.api.del(`/api/conversations/${conv.id}/members/${state.me.id}`),
    });
    if (!left) return;
    this.bus.emit("conversation:left", {convId: conv.id});
    location.hash = "#/";
  }

  async editProfile() {
    const me = state.me;
    const user = await this.dialogs.form({
      title: t("profile.title"), submit: t("action.save"),
      fields: [{name: "fname", label: t("profile.fname"), value: me.fname || ""},
        {name: "lname", label: t("profile.lname"), value: me.lname || ""},
        {name: "avatarUrl", label: t("profile.avatar"), value: me.avatarUrl || "", type: "url", placeholder: "https://…"}],
      onSubmit: async ({fname, lname, avatarUrl}) => {
        if (avatarUrl && !safeUrl(avatarUrl)) throw new ApiError(400, "invalid_url");
        try {
          return await this.api.patch("/api/me", {fname, lname, avatarUrl: avatarUrl || null});
        } catch (exc) {
          throw exc.missingRoute ? new ApiError(404, "unsupported") : exc;
        }
      },
    });
    if (user) this.bus.emit("user:updated", user);
  }
}
