// The chat page's composition: it builds the page's services once (api, connection, outbox, uploads, dialogs,
// the event bus) and hands each component the few it uses; then sign-in and out, routing between the list
// and a conversation, the server's events, and sending.
import { Api, ApiError, devLogin, session } from "../shared/api.js";
import { Bus } from "../shared/bus.js";
import { Connection } from "../shared/connection.js";
import { Dialogs } from "../shared/dialogs.js";
import { $, $$, avatar, cleanName, displayName, h, newClientId, replace } from "../shared/dom.js";
import { errorText, t } from "../shared/i18n.js";
import { CONNECTION_KEYS } from "../shared/texts.js";
import { openPage, showAnalyticsLink, shown, toast } from "../shared/page.js";
import { Composer } from "./composer.js";
import { ConversationView } from "./conversation.js";
import { GalleryPanel } from "./gallery.js";
import { GifPicker } from "./gifs.js";
import { HeaderMenu } from "./header-menu.js";
import { Lightbox, MediaUrls } from "./media.js";
import { NotificationCenter } from "./notifications.js";
import { Outbox } from "./outbox.js";
import { People } from "./people.js";
import { SanctionBanner } from "./sanctions.js";
import { ScheduledPanel } from "./scheduled.js";
import { SearchPanel } from "./search.js";
import { Sidebar } from "./sidebar.js";
import { countMessage, countRead, rememberUser, setConversations, state, userName } from "./state.js";
import { Uploader } from "./uploads.js";

const MAX_SUBSCRIPTIONS = 100;    // conversations kept live for their unread counts, newest first
const LIST_EVERY_POLLS = 5;       // while polling, the conversation list is refreshed every 5th tick (10 s)
const CONV_HASH = /^#\/c\/([0-9a-f]{24})$/;
const MESSAGE_HASH = /^#conv=([0-9a-f]{24})&seq=(\d+)$/;   // a notification's actionUrl, the email's links
const TARGET_MS = 4000;                                     // how long a message opened from a notification stays marked
const MODERATING = new Set(["MODERATOR", "GROUP_ADMIN"]);   // group roles that see the moderator dashboard

class ChatPage {
  constructor() {
    // The services live as long as the page; a sign-in opens them for its user, a sign-out stops them.
    const bus = this.bus = new Bus();
    const api = this.api = new Api(null, () => this.signOut(t("signin.expired")));
    const conn = this.conn = new Connection({
      event: (name, data) => this.onEvent(name, data),
      mode: (mode) => this.onMode(mode),
      unauthorized: (reason) => this.signOut(t(reason === "deactivated" ? "signin.deactivated" : "signin.expired")),
      poll: () => this.poll(),
    });
    const dialogs = this.dialogs = new Dialogs();
    const mediaUrls = this.mediaUrls = new MediaUrls(api);
    const lightbox = this.lightbox = new Lightbox(mediaUrls);
    const uploader = this.uploader = new Uploader(api, (item, removed) => this.onUpload(item, removed));
    const outbox = this.outbox = new Outbox(conn, api, (entry, removed) => this.onOutboxChange(entry, removed), uploader);
    const requireLive = () => this.requireLive();
    this.sidebar = new Sidebar({api, conn, dialogs, toast});
    const gifs = this.gifs = new GifPicker({api, mediaUrls, send: (convId, gif) => this.sendGif(convId, gif)});
    const composer = this.composer = new Composer({conn, uploader, toast, requireLive, gifs,
      send: (...args) => this.send(...args), people: () => this.view.people(),
      messages: () => this.view.messages?.values()});
    const view = this.view = new ConversationView({api, conn, outbox, uploader, mediaUrls, lightbox, dialogs, toast,
      requireLive, composer, bus});
    this.search = new SearchPanel({api, view, bus});
    this.gallery = new GalleryPanel({api, dialogs, toast, mediaUrls, lightbox, view, bus});
    this.notifications = new NotificationCenter({api, conn, dialogs, toast, bus});
    this.scheduled = new ScheduledPanel({api, dialogs, toast, composer, bus});
    this.people = new People({api, dialogs, toast, view, bus});
    this.sanctions = new SanctionBanner({conn, toast, changed: () => this.applyBlock()});
    this.removed = new Map();     // convId → {groupId, by}: the open conversation, removed from it meanwhile
    this.headerMenu = new HeaderMenu();
    this.target = null;           // {convId, seq, then}: where to go once that conversation is open
    bus.on("conversation:loaded", (convId) => {
      this.ready();
      this.opened(convId);   // a notification's target in this conversation, if any
      // Subscribe before catching up, so nothing falls between the page read and the live room.
      this.subscribe(convId).then(() => view.catchUp()).catch(() => {});
    });
    bus.on("conversation:read", ({convId, seq}) => this.markRead(convId, seq));
    bus.on("conversation:open-at", ({convId, seq, then}) => this.openAt(convId, seq, then));
    bus.on("conversation:left", (left) => this.onConversationLeft(left));
    bus.on("user:updated", (user) => this.onUserUpdated(user));
    $("#signin-form").addEventListener("submit", (e) => this.signIn(e));
    $("#sign-out").addEventListener("click", () => this.signOut());
    $("#profile").addEventListener("click", () => this.people.editProfile());
    $("#members-button").addEventListener("click", () => this.people.showMembers());
    $("#leave-button").addEventListener("click", () => this.people.leaveConversation());
    $("#back").addEventListener("click", () => { location.hash = "#/"; });
    window.addEventListener("hashchange", () => this.route());
    window.addEventListener("focus", () => this.conn.live && this.refreshConversations().catch(() => {}));
  }

  async boot() {
    const saved = await openPage(() => this.rerender());
    if (saved) this.start(saved.token, saved.user);
    else this.showSignIn();
    shown();
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
    this.api.token = token;
    this.mediaUrls.open();
    this.gifs.reset();
    this.uploader.open(user.id);
    this.outbox.open(user.id);
    this.pollTicks = 0;
    this.listLoading(true);   // no "You are not in any group" before the list is known
    $("#signin").hidden = true;
    $("#app").hidden = false;
    this.renderMe();
    state.activeId = undefined;
    this.route();        // the history request leaves before the socket's handshake competes with it
    this.conn.start(token);
  }

  signOut(message = "") {
    this.conn.stop();
    this.uploader.stop();
    this.lightbox.close();
    session.clear();
    this.removed.clear();
    this.sanctions.clear();
    $("#moderation-link").hidden = true;
    this.notifications.reset();
    $("#exports-link").hidden = true;
    showAnalyticsLink(false);
    Object.assign(state, {me: null, groups: new Map(), convs: new Map(), users: new Map(), presence: new Map()});
    this.view.close();
    state.activeId = null;
    history.replaceState(null, "", "/");
    this.showSignIn(message);
  }

  renderMe() {
    if (!state.me) return;   // signed out: a stopped connection's last mode change has no one to draw
    replace($("#me"), avatar(state.me, state.me.id, "", this.conn.live ? "online" : "offline"),
      h("span.me-names", h("strong", displayName(state.me)), h("span.handle", "@" + state.me.username)));
  }

  // -- routing: #/ is the list, #/c/{convId} a conversation (on a phone, two screens) -----------------
  route() {
    const link = location.hash.match(MESSAGE_HASH);
    if (link) {   // #conv={id}&seq={n}: the conversation, at that message
      history.replaceState(null, "", `#/c/${link[1]}`);
      this.target = {convId: link[1], seq: Number(link[2])};
      if (link[1] === state.activeId && this.view.loaded) return this.opened(link[1]);
    }
    const convId = location.hash.match(CONV_HASH)?.[1] || null;
    if (convId === state.activeId) return;
    state.activeId = convId;
    this.removed.clear();
    $("#conv").classList.remove("removed");
    this.headerMenu.close(false);
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
      this.applyBlock();
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
    if (convId === state.activeId && this.view.loaded) return this.opened(convId);
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
    replace(banner, banner.hidden ? "" : t(CONNECTION_KEYS[mode]));
    if (this.view.loaded) this.view.renderEchoes();
  }

  subscribe(convId) {
    return this.conn.live ? this.conn.emit("conv:subscribe", {convId}) : Promise.resolve();
  }

  /** Every (re)connect: fresh lists, the open conversation re-subscribed and caught up, waiting sends sent. */
  async onSession({user, groups, conversations, sanctions = []}) {
    state.me = user;
    session.saveUser(user);
    this.renderMe();
    state.groups = new Map(groups.map((g) => [g.id, g]));
    $("#moderation-link").hidden = !(user.role === "ADMIN" || groups.some((g) => MODERATING.has(g.role)));
    // Exports: group admins and system admins (members too only where the server allows it: not linked).
    $("#exports-link").hidden = !(user.role === "ADMIN" || groups.some((g) => g.role === "GROUP_ADMIN"));
    showAnalyticsLink(user.role === "ADMIN" || groups.some((g) => g.role === "GROUP_ADMIN"));   // the same people
    this.setConversations(conversations);
    this.sanctions.load(sanctions);   // also redraws the composer of the open conversation
    const open = state.activeId;
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
    this.listLoading(false);
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
      case "session:ready": this.composer.setLimits(data.limits); return this.onSession(data);
      case "message:new": return this.onMessage(data);
      case "message:updated": return this.onMessageUpdated(data);
      case "media:updated": return this.onMediaUpdated(data);
      case "message:rejected": return this.outbox.reject(data);
      case "message:held": return this.outbox.hold(data);
      // moderation:muted, :banned and :lifted come too (public events): moderation:sanction says the same.
      case "moderation:sanction": return this.sanctions.onSanction(data);
      case "message:read": return this.onRead(data);
      case "typing:start":
      case "typing:stop": return this.view.onTyping(name === "typing:start", data);
      case "mention:new": return this.onMention(data);
      case "conversation:created": return this.refreshConversations().catch(() => {});
      case "conversation:joined": return this.onConversationJoined(data);
      case "conversation:left": return this.onConversationLeft(data);
      case "group:member_joined": return this.onMemberJoined(data);
      case "presence:update": return this.setPresence([data]);
      case "presence:batch": return this.setPresence(data.changes);
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
    if (!conv || (m.convId === state.activeId && document.visibilityState === "visible")) return;
    conv.mentioned = true;
    this.sidebar.render();
    toast(t("mention.toast", {name: displayName(m.senderInfo), title: conv.title}), `#/c/${m.convId}`);
  }

  onConversationJoined(conv) {
    state.convs.set(conv.id, {...conv, unread: conv.unread ?? 0});
    this.sidebar.render();
    this.subscribeAll([conv.id]);
  }

  /** Left or removed: the conversation goes from the list. Open and removed by someone else: what was on
   * screen stays, the composer says who removed the user and takes no more; left (here or on another
   * device): the conversation goes from the screen. */
  onConversationLeft({convId, by}) {
    const groupId = state.convs.get(convId)?.groupId;
    state.convs.delete(convId);
    this.sidebar.render();
    if (convId !== state.activeId) return;
    if (!by || by === state.me?.id) return this.view.showUnavailable(new ApiError(403, "forbidden"));
    this.removed.set(convId, {groupId, by});
    $("#conv").classList.add("removed");
    this.applyBlock();
  }

  /** The composer of the open conversation, blocked while a mute or ban of its group lasts (with the time
   * left) or after a removal, with the reason; unblocked when that ends. */
  applyBlock() {
    const convId = state.activeId;
    const removed = convId ? this.removed.get(convId) : null;
    const groupId = removed?.groupId || state.convs.get(convId)?.groupId;
    const name = removed ? userName(removed.by) : null;
    const reason = !convId ? null : (groupId && this.sanctions.blockReason(groupId))
      || (removed ? (name ? t("shell.removedBy", {name}) : t("shell.removed")) : null);
    this.composer.block(reason);
  }

  /** While the list is not known yet, the sidebar says it is loading instead of "no group". */
  listLoading(on) {
    const nav = $("#conv-list");
    if (!on) return nav.removeAttribute("aria-busy");
    nav.setAttribute("aria-busy", "true");
    nav.dataset.loading = t("shell.loadingList");
  }

  onMemberJoined({groupId, user, group}) {
    rememberUser(user.id, user);
    if (user.id !== state.me.id || state.groups.has(groupId)) return;
    toast(group?.name ? t("group.joinedNamed", {name: group.name}) : t("group.joined"));
    this.conn.restart();   // a fresh session:ready: the new group with the user's role, and its conversations
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

  /** A GIF chosen in the picker: a send of its id alone (the server copies the file), through the outbox like
   * any send; the echo shows its title until the stored message comes back. */
  sendGif(convId, gif) {
    this.outbox.add({clientId: newClientId(), convId, content: "", replyTo: null, quote: null,
      gif: {id: gif.id, title: gif.title || ""}});
    this.composer.focus();
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

  // -- language, notices ------------------------------------------------------------------------------
  /** The language changed: everything drawn in words is drawn again. */
  rerender() {
    if (!state.me) return;
    this.sidebar.render();
    this.view.rerender();
    this.composer.renderTray();
    this.gifs.rerender();
    this.gallery.rerender();
    this.search.rerender();
    this.sanctions.render();
    this.applyBlock();
    this.notifications.rerender();
    this.scheduled.render();
    this.onMode(this.conn.mode);
  }

  /** Edits, deletes and reactions need the live connection (they have no REST route). */
  requireLive() {
    if (this.conn.live) return true;
    toast(t("error.needsLive"));
    return false;
  }
}

new ChatPage().boot();
