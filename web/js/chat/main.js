// The chat page: sign-in, the session (events in, sends out), routing between the list and a conversation.
import { Api, ApiError, devLogin, session } from "../shared/api.js";
import { Composer } from "./composer.js";
import { Connection, Outbox } from "../shared/connection.js";
import { ConversationView } from "./conversation.js";
import { Dialogs } from "../shared/dialogs.js";
import { GalleryPanel } from "./gallery.js";
import { Lightbox, MediaUrls } from "./media.js";
import { NotificationCenter } from "./notifications.js";
import { ScheduledPanel } from "./scheduled.js";
import { Uploader } from "./uploads.js";
import { icon } from "../shared/icons.js";
import { $, $$, avatar, displayName, h, newClientId, replace, safeUrl } from "../shared/dom.js";
import { LANGUAGES, currentLanguage, errorText, formatDateTime, preferredLanguage, setLanguage, t } from "../shared/i18n.js";
import { SearchPanel } from "./search.js";
import { Sidebar, cleanName } from "./sidebar.js";
import { countMessage, countRead, rememberUser, setConversations, state } from "./state.js";

const MAX_SUBSCRIPTIONS = 100;    // conversations kept live for their unread counts, newest first
const LIST_EVERY_POLLS = 5;       // while polling, the conversation list is refreshed every 5th tick (10 s)
const CONV_HASH = /^#\/c\/([0-9a-f]{24})$/;
const MESSAGE_HASH = /^#conv=([0-9a-f]{24})&seq=(\d+)$/;   // a notification's actionUrl, the email's links
const TARGET_MS = 4000;                                     // how long a message opened from a notification stays marked
const MODERATING = new Set(["MODERATOR", "GROUP_ADMIN"]);   // group roles that see the moderator dashboard

class App {
  constructor() {
    this.dialogs = new Dialogs();
    this.sidebar = new Sidebar(this);
    this.composer = new Composer(this);
    this.view = new ConversationView(this);
    this.search = new SearchPanel(this);
    this.gallery = new GalleryPanel(this);
    this.lightbox = new Lightbox(null);
    this.notifications = new NotificationCenter(this);
    this.scheduled = new ScheduledPanel(this);
    this.target = null;           // {convId, seq, then}: where to go once that conversation is open
    this.activeId = null;
    this.conn = null;
    this.sanctions = new Map();   // "groupId:muted|banned" → {groupId, kind, until, reason, timer}
    $("#signin-form").addEventListener("submit", (e) => this.signIn(e));
    $("#sign-out").addEventListener("click", () => this.signOut());
    $("#profile").addEventListener("click", () => this.editProfile());
    $("#members-button").addEventListener("click", () => this.showMembers());
    $("#leave-button").addEventListener("click", () => this.leaveConversation());
    $("#back").addEventListener("click", () => { location.hash = "#/"; });
    window.addEventListener("hashchange", () => this.route());
    window.addEventListener("focus", () => this.conn?.live && this.refreshConversations().catch(() => {}));
    for (const el of $$("[data-icon]")) el.replaceWith(icon(el.dataset.icon));
    for (const select of $$("select.language")) {
      select.append(...Object.entries(LANGUAGES).map(([code, name]) => h("option", {value: code}, name)));
      select.addEventListener("change", () => this.changeLanguage(select.value));
    }
  }

  async boot() {
    await setLanguage(preferredLanguage());
    this.syncLanguageSelects();
    const saved = session.load();
    if (saved) this.start(saved.token, saved.user);
    else this.showSignIn();
    $("#boot").hidden = true;
  }

  // -- signing in and out ---------------------------------------------------------------------------
  showSignIn(message = "") {
    $("#app").hidden = true;
    $("#signin").hidden = false;
    $("#signin-error").textContent = message;
    $("#username").focus();
  }

  async signIn(e) {
    e.preventDefault();
    performance.clearMarks();
    performance.clearMeasures();
    performance.mark("chat:signin");
    const button = $("#signin-form button[type=submit]");
    const error = $("#signin-error");
    button.disabled = true;
    error.textContent = "";
    try {
      const {token, user} = await devLogin(cleanName($("#username").value));
      session.save(token, user);
      this.start(token, user);
    } catch (exc) {
      error.textContent = exc.code === "dev_login_disabled" ? t("signin.disabled")
        : exc.code === "invalid_payload" ? t("signin.invalidName")
        : exc.network ? t("signin.network") : errorText(exc.code);
    } finally {
      button.disabled = false;
    }
  }

  start(token, user) {
    state.me = user;
    rememberUser(user.id, user);
    this.api = new Api(token, () => this.signOut(t("signin.expired")));
    this.conn = new Connection(token, {
      event: (name, data) => this.onEvent(name, data),
      mode: (mode) => this.onMode(mode),
      unauthorized: (reason) => this.signOut(t(reason === "deactivated" ? "signin.deactivated" : "signin.expired")),
      poll: () => this.poll(),
    });
    this.mediaUrls = this.lightbox.urls = new MediaUrls(this.api);
    this.uploader = new Uploader(user.id, this.api, (item, removed) => this.onUpload(item, removed));
    this.outbox = new Outbox(user.id, this.conn, this.api, (entry, removed) => this.onOutboxChange(entry, removed),
      {prepare: (entry) => this.prepareFiles(entry)});
    this.pollTicks = 0;
    $("#signin").hidden = true;
    $("#app").hidden = false;
    this.renderMe();
    this.activeId = undefined;
    this.route();        // the history request leaves before the socket's handshake competes with it
    this.conn.start();
  }

  signOut(message = "") {
    this.conn?.stop();
    this.uploader?.stop();
    this.lightbox.close();
    session.clear();
    for (const s of this.sanctions.values()) clearTimeout(s.timer);
    this.sanctions.clear();
    this.renderSanctions();
    $("#moderation-link").hidden = true;
    this.notifications.reset();
    $("#exports-link").hidden = true;
    Object.assign(state, {me: null, groups: new Map(), convs: new Map(), users: new Map(), presence: new Map()});
    this.view.close();
    this.activeId = null;
    history.replaceState(null, "", "/");
    this.showSignIn(message);
  }

  renderMe() {
    if (!state.me) return;   // signed out: a stopped connection's last mode change has no one to draw
    replace($("#me"), avatar(state.me, state.me.id, "", this.conn?.live ? "online" : "offline"),
      h("span.me-names", h("strong", displayName(state.me)), h("span.handle", "@" + state.me.username)));
  }

  // -- routing: #/ is the list, #/c/{convId} a conversation (on a phone, two screens) -----------------
  route() {
    const link = location.hash.match(MESSAGE_HASH);
    if (link) {   // #conv={id}&seq={n}: the conversation, at that message
      history.replaceState(null, "", `#/c/${link[1]}`);
      this.target = {convId: link[1], seq: Number(link[2])};
      if (link[1] === this.activeId && this.view.loaded) return this.opened(link[1]);
    }
    const convId = location.hash.match(CONV_HASH)?.[1] || null;
    if (convId === this.activeId) return;
    this.activeId = convId;
    $("#app").dataset.view = convId ? "conv" : "list";
    $("#empty").hidden = Boolean(convId);
    this.search.reset();
    this.gallery.reset();
    this.scheduled.reset(convId);
    this.notifications.renderLevel();
    if (convId) {
      const conv = state.convs.get(convId);
      if (conv) conv.mentioned = false;
      this.view.open(convId);
    } else {
      this.view.close();
      this.composer.reset(null);
    }
    this.sidebar.render();
  }

  /** Open a conversation at a message (a notification, an email's link): scrolled to it and marked;
   * seq null: just the conversation. then: called once it is open. */
  openAt(convId, seq, then = null) {
    this.target = {convId, seq, then};
    if (convId === this.activeId && this.view.loaded) return this.opened(convId);
    location.hash = `#/c/${convId}`;
  }

  /** The conversation view has its first page: go where a notification pointed, if it pointed here. */
  async opened(convId) {
    const target = this.target;
    if (!target || target.convId !== convId) return;
    this.target = null;
    if (target.seq !== null && target.seq !== undefined) {
      await this.view.goTo(target.seq);
      const el = this.view.els.get(target.seq);
      if (el) {
        el.classList.add("target");
        setTimeout(() => el.classList.remove("target"), TARGET_MS);
      }
    }
    target.then?.();
  }

  /** Sign-in to usable (history shown, input focused): the figure bench/front.py reads. */
  ready() {
    performance.mark("chat:ready");
    if (performance.getEntriesByName("chat:signin").length && !performance.getEntriesByName("chat:usable").length) {
      performance.measure("chat:usable", "chat:signin", "chat:ready");
    }
  }

  // -- the connection -----------------------------------------------------------------------------
  onMode(mode) {
    document.body.dataset.connection = mode;
    this.renderMe();
    const banner = $("#conn-banner");
    banner.dataset.mode = mode;
    banner.hidden = mode === "live" || mode === "connecting";
    replace(banner, banner.hidden ? "" : t(`connection.${mode}`));
    if (this.view.loaded) this.view.renderEchoes();
  }

  subscribe(convId) {
    return this.conn.live ? this.conn.emit("conv:subscribe", {convId}) : Promise.resolve();
  }

  /** Every (re)connect: fresh lists, the open conversation re-subscribed and caught up, waiting sends sent. */
  async onSession({user, groups, conversations}) {
    state.me = user;
    session.saveUser(user);
    this.renderMe();
    state.groups = new Map(groups.map((g) => [g.id, g]));
    $("#moderation-link").hidden = !(user.role === "ADMIN" || groups.some((g) => MODERATING.has(g.role)));
    // Exports: group admins and system admins (members too only where the server allows it: not linked).
    $("#exports-link").hidden = !(user.role === "ADMIN" || groups.some((g) => g.role === "GROUP_ADMIN"));
    this.setConversations(conversations);
    const open = this.activeId;
    if (open) {
      await this.subscribe(open).catch(() => {});
      await this.view.catchUp().catch(() => {});
    }
    this.outbox.flush({includeQueued: true});
    this.notifications.onSession();
    this.scheduled.refresh();
    this.loadPresence(groups);
    await this.subscribeAll([...state.convs.keys()].slice(0, MAX_SUBSCRIPTIONS).filter((id) => id !== open));
  }

  /** Subscribe, then read the counters again: a message stored between the list and the subscription
   * would otherwise be missing from them. */
  async subscribeAll(ids) {
    if (!ids.length || !this.conn.live) return;
    await Promise.all(ids.map((id) => this.subscribe(id).catch(() => {})));
    await this.refreshConversations().catch(() => {});
  }

  /** While the socket is down: the open conversation's new messages, waiting sends, and now and then the list. */
  async poll() {
    if (this.pollTicks++ % LIST_EVERY_POLLS === 0) await this.refreshConversations();
    await this.view.catchUp();
    this.outbox.flush();
  }

  setConversations(list) {
    setConversations(list);
    this.sidebar.render();
    if (this.view.loaded) this.view.renderHeader();
  }

  async refreshConversations() {
    const before = new Set(state.convs.keys());
    const {conversations} = await this.api.get("/api/conversations");
    this.setConversations(conversations);
    await this.subscribeAll([...state.convs.keys()].filter((id) => !before.has(id)));
  }

  onEvent(name, data) {
    switch (name) {
      case "session:ready": return this.onSession(data);
      case "message:new": return this.onMessage(data);
      case "message:updated": return this.onMessageUpdated(data);
      case "media:updated": return this.onMediaUpdated(data);
      case "message:rejected": return this.outbox.reject(data);
      case "message:held": return this.outbox.hold(data);
      case "moderation:muted": return this.onSanction("muted", data);
      case "moderation:banned": return this.onSanction("banned", data);
      case "moderation:lifted": return this.onSanctionLifted(data);
      case "message:read": return this.onRead(data);
      case "typing:start":
      case "typing:stop": return this.view.onTyping(name === "typing:start", data);
      case "mention:new": return this.onMention(data);
      case "conversation:created": return this.refreshConversations().catch(() => {});
      case "conversation:joined": return this.onConversationJoined(data);
      case "conversation:left": return this.onConversationLeft(data);
      case "group:member_joined": return this.onMemberJoined(data);
      case "presence:update": return this.setPresence([data]);
      case "user:updated": return this.onUserUpdated(data.user);
      case "notification:new": return this.notifications.onNew(data);
      case "notification:read": return this.notifications.onRead(data);
      case "scheduled:updated": return this.scheduled.onUpdated(data);
    }
  }

  onMessage(m) {
    this.outbox.reconcile(m);   // whichever conversation is open: a send is done once stored
    const conv = state.convs.get(m.convId);
    if (!conv) this.refreshConversations().catch(() => {});
    else if (countMessage(conv, m)) this.sidebar.render();
    this.view.onNew(m);
  }

  onRead(read) {
    const conv = state.convs.get(read.convId);
    if (conv && read.userId === state.me.id) {
      countRead(conv, read.seq);
      this.sidebar.render();
    }
    this.view.onRead(read);
  }

  markRead(convId, seq) {
    this.conn.emit("message:read", {convId, seq})
      .then((ack) => this.onRead({convId, userId: state.me.id, seq: ack.seq}), () => {});
  }

  onMention(m) {
    const conv = state.convs.get(m.convId);
    if (!conv || (m.convId === this.activeId && document.visibilityState === "visible")) return;
    conv.mentioned = true;
    this.sidebar.render();
    this.toast(t("mention.toast", {name: displayName(m.senderInfo), title: conv.title}), `#/c/${m.convId}`);
  }

  onConversationJoined(conv) {
    state.convs.set(conv.id, {...conv, unread: conv.unread ?? 0});
    this.sidebar.render();
    this.subscribeAll([conv.id]);
  }

  /** Left or removed: the conversation goes from the list, and from the screen if it is open. */
  onConversationLeft({convId}) {
    state.convs.delete(convId);
    this.sidebar.render();
    if (convId === this.activeId) this.view.showUnavailable(new ApiError(403, "forbidden"));
  }

  onMemberJoined({groupId, user, group}) {
    rememberUser(user.id, user);
    if (user.id !== state.me.id || state.groups.has(groupId)) return;
    this.toast(group?.name ? t("group.joinedNamed", {name: group.name}) : t("group.joined"));
    this.conn.restart();   // a fresh session:ready: the new group with the user's role, and its conversations
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
    this.onConversationLeft({convId: conv.id});
    location.hash = "#/";
  }

  /** [{userId, status}] → every presence dot on the page follows. */
  setPresence(entries) {
    for (const {userId, status} of entries) state.presence.set(userId, status);
    for (const el of $$(".avatar.presence")) {
      const status = state.presence.get(el.dataset.user);
      el.classList.toggle("online", status === "online");
      el.classList.toggle("offline", status !== "online");
    }
    if (this.view.loaded) this.view.renderHeader();
  }

  async loadPresence(groups) {
    for (const group of groups.slice(0, 20)) {
      if (!state.features.presence) return;
      try {
        this.setPresence((await this.api.get(`/api/groups/${group.id}/presence`)).presence);
      } catch (exc) {
        if (exc.missingRoute) state.features.presence = false;   // no presence route on this server yet
      }
    }
  }

  onUserUpdated(user) {
    rememberUser(user.id, user);
    if (user.id === state.me.id) {
      state.me = {...state.me, ...user};
      this.renderMe();
    }
    this.view.onUserUpdated(user);
  }

  // -- moderation of the user: mutes and bans in a banner, until they end or are lifted --------------
  onSanction(kind, {groupId, until, reason}) {
    const key = `${groupId}:${kind}`;
    clearTimeout(this.sanctions.get(key)?.timer);
    const ms = until ? Date.parse(until) - Date.now() : Infinity;
    if (ms <= 0) return;
    // setTimeout holds at most ~24.8 days; a longer sanction stays until the page reloads or it is lifted.
    const timer = ms < 2 ** 31 ? setTimeout(() => this.onSanctionLifted({groupId, kind}, false), ms) : null;
    this.sanctions.set(key, {groupId, kind, until, reason, timer});
    this.renderSanctions();
    this.toast(this.sanctionText(this.sanctions.get(key)));
  }

  onSanctionLifted({groupId, kind}, announce = true) {
    // kind: "mute" or "ban" (or "muted", "banned"); none: both.
    const kinds = /^ban/.test(kind || "") ? ["banned"] : /^mut/.test(kind || "") ? ["muted"] : ["muted", "banned"];
    const had = kinds.filter((k) => this.sanctions.delete(`${groupId}:${k}`)).length;
    this.renderSanctions();
    if (announce && had) this.toast(t("sanction.lifted", {group: state.groups.get(groupId)?.name || "…"}));
    if (kinds.includes("banned") && had) this.conn.restart();   // back in the group's rooms and list
  }

  sanctionText({groupId, kind, until, reason}) {
    const group = state.groups.get(groupId)?.name || t("sanction.aGroup");
    const text = until ? t(`sanction.${kind}Until`, {group, until: formatDateTime(new Date(until))})
      : t(`sanction.${kind}`, {group});
    return reason ? `${text} ${t("sanction.reason", {reason})}` : text;
  }

  renderSanctions() {
    const banner = $("#sanctions");
    const list = [...this.sanctions.values()];
    banner.hidden = !list.length;
    replace(banner, list.map((s) => h("p.sanction-note", {dataset: {kind: s.kind}}, icon(s.kind === "muted" ? "mute" : "shield"), this.sanctionText(s))));
  }

  // -- sending --------------------------------------------------------------------------------------
  /** attachments: keys of uploads (the send waits for them to reach the server, then carries their ids). */
  send(convId, content, parent, attachments = []) {
    const clientId = newClientId();
    this.uploader.claim(attachments, clientId);
    this.outbox.add({
      clientId, convId, content,
      replyTo: parent?.id || null,
      quote: parent ? {username: parent.senderInfo.username, excerpt: parent.content.slice(0, 140)} : null,
      ...(attachments.length ? {attachments} : {}),
    });
  }

  /** Can a send with files go? Not while one is still on its way; then with the ids of those the server has. */
  prepareFiles(entry) {
    const items = entry.attachments.map((key) => this.uploader.get(key)).filter(Boolean);
    if (items.some((i) => this.uploader.pending(i))) return {wait: true};
    const refused = items.filter((i) => !this.uploader.attachable(i));
    return {wait: false, ids: items.filter((i) => this.uploader.attachable(i)).map((i) => i.id),
      errors: refused.length ? refused.map((i) => i.error || {code: i.state}) : null};
  }

  onUpload(item, removed) {
    this.composer.onUpload(item, removed);
    this.view.onUpload(item, removed);
    // A send waiting for its files may go now (or, if its last file was cancelled, vanish).
    if (item.clientId && (removed || !this.uploader.pending(item))) this.outbox.flush();
  }

  onOutboxChange(entry, removed) {
    // Stored (or discarded): its files are the message's now, the uploader no longer follows them.
    if (removed) for (const key of entry.attachments || []) this.uploader.forget(key);
    this.view.onOutboxChange(entry, removed);
  }

  /** message:updated: the message in place; its files that were deleted (with it, or on their own) leave
   * the gallery too. */
  onMessageUpdated(m) {
    const before = this.view.convId === m.convId ? this.view.messages.get(m.seq) : null;
    this.view.onUpdated(m);
    const gone = m.isDeleted ? before?.metadata?.files || [] : (m.metadata?.files || []).filter((f) => f.status === "deleted");
    for (const f of gone) this.gallery.forget(f.mediaId);
  }

  onMediaUpdated(media) {
    this.uploader.onMedia(media);
    this.gallery.onMedia(media);
  }

  /** Edits, deletes and reactions need the live connection (they have no REST route). */
  requireLive() {
    if (this.conn.live) return true;
    this.toast(t("error.needsLive"));
    return false;
  }

  // -- people ---------------------------------------------------------------------------------------
  async groupUsernames(groupId) {
    if (!state.features.members) return [];
    try {
      const {members} = await this.api.get(`/api/groups/${groupId}/members`);
      return members.map((m) => m.user.username).filter((u) => u !== state.me.username);
    } catch (exc) {
      if (exc.missingRoute) state.features.members = false;
      return [];
    }
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
        status ? h(`span.status.${status}`, t(`presence.${status}`)) : null);
    })) : null;
    const added = await this.dialogs.form({
      title: t("members.title", {title: conv.title}), text: list, submit: t("action.add"),
      fields: [{name: "username", label: t("members.add"), required: true, placeholder: "carol",
        suggestions: (await this.groupUsernames(conv.groupId)).filter((u) => !members.some((m) => m.user.username === u))}],
      onSubmit: ({username}) => this.api.post(`/api/conversations/${conv.id}/members`, {username: cleanName(username)}),
    });
    if (!added) return;
    this.toast(t("members.added", {name: added.user.username}));
    this.view.loadMembers(this.view.generation);
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
    if (user) this.onUserUpdated(user);
  }

  // -- language, notices ------------------------------------------------------------------------------
  async changeLanguage(code) {
    await setLanguage(code, true);
    this.syncLanguageSelects();
    if (!state.me) return;
    this.sidebar.render();
    this.view.rerender();
    this.composer.renderTray();
    this.gallery.rerender();
    this.renderSanctions();
    this.notifications.rerender();
    this.scheduled.render();
    if (this.conn) this.onMode(this.conn.mode);
  }

  syncLanguageSelects() {
    for (const select of $$("select.language")) select.value = currentLanguage();
  }

  toast(text, href = null) {
    const el = h(href ? "a.toast" : "div.toast", {href, role: "status"}, text);
    $("#toasts").append(el);
    setTimeout(() => el.remove(), 5000);
  }
}

new App().boot();
