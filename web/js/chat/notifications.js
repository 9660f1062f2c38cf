// Notifications: the bell and its unread count, the panel (newest first, paged, mark read), delivery
// acknowledgements (notification:delivered), the browser's Notification when the tab is hidden, and the
// user's notification settings (email, its delay, each conversation's level).
import { ApiError } from "../shared/api.js";
import { $, h, replace } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { errorText, formatActivity, formatDateTime, t } from "../shared/i18n.js";
import { LAST_EMAIL_KEYS, NOTIF_LEVEL_KEYS } from "../shared/texts.js";
import { state } from "./state.js";

const PAGE = 20;
const LEVELS = ["all", "mentions", "none"];
const LEVEL_ICON = {all: "bell", mentions: "at", none: "bellOff"};
const BROWSER_KEY = "chat.browserNotifications";   // "on" once the user turned them on (and allowed them)

export class NotificationCenter {
  /** conn: the socket (delivery acks); bus: "conversation:open-at" ({convId, seq, then}) to go where a
   * notification points, "scheduled:open" for a scheduled message that failed. */
  constructor({api, conn, dialogs, toast, bus}) {
    Object.assign(this, {api, conn, dialogs, toast, bus});
    this.bell = $("#bell");
    this.count = $("#bell-count");
    this.panel = $("#notif-panel");
    this.list = $("#notif-list");
    this.more = $("#notif-more");
    this.levelButton = $("#notify-level");
    this.bell.addEventListener("click", () => (this.panel.hidden ? this.open() : this.close()));
    $("#notif-close").addEventListener("click", () => this.close());
    $("#notif-read-all").addEventListener("click", () => this.markAllRead());
    $("#notif-settings").addEventListener("click", () => this.editSettings());
    this.more.addEventListener("click", () => this.load(this.last));
    this.list.addEventListener("click", (e) => {
      const item = e.target.closest("[data-notification]");
      if (item) this.activate(this.items.get(item.dataset.notification));
    });
    this.levelButton.addEventListener("click", () => this.editLevel(state.activeId));
    document.addEventListener("keydown", (e) => e.key === "Escape" && !this.panel.hidden && this.close());
    document.addEventListener("click", (e) => {
      if (!this.panel.hidden && !e.target.closest("#notif-panel, #bell, #dialog")) this.close();
    });
    this.reset();
  }

  reset() {
    this.items = new Map();     // id → notification, as listed or received
    this.order = [];            // ids, newest first
    this.unread = 0;
    this.hasMore = false;
    this.last = null;
    this.loadedOnce = false;
    this.settings = null;       // {email, emailDelayMinutes, conversations, lastEmail}
    this.panel.hidden = true;
    this.renderCount();
    replace(this.list);
  }

  // -- every (re)connect: the count and the settings, and delivery of what the socket may have missed --
  async onSession() {
    this.arrived = new Map();   // notification:new events while the first page is on its way
    try {
      const page = await this.api.get(`/api/notifications?status=all&limit=${PAGE}`);
      this.replaceFirstPage(page);
    } catch (exc) {
      if (exc.missingRoute) this.bell.hidden = true;   // a server without notifications
    }
    this.loadSettings();
  }

  async loadSettings() {
    try {
      this.settings = await this.api.get("/api/me/notification-settings");
    } catch {
      this.settings = null;
    }
    this.renderLevel();
  }

  replaceFirstPage(page) {
    this.items = new Map();
    this.order = [];
    this.take(page.notifications);
    this.hasMore = page.hasMore;
    this.last = page.notifications.at(-1)?.id ?? null;
    this.loadedOnce = true;
    // One that arrived live after the server answered is not in the page, nor in its count.
    const late = [...(this.arrived?.values() || [])].filter((n) => !this.items.has(n.id));
    this.arrived = null;
    this.take(late);
    this.setUnread(page.unread + late.filter((n) => n.status !== "read").length);
    this.render();
  }

  take(notifications) {
    for (const n of notifications) {
      if (!this.items.has(n.id)) this.order.push(n.id);
      this.items.set(n.id, n);
    }
    this.order.sort((a, b) => this.sortKey(b) - this.sortKey(a) || (a < b ? 1 : -1));
    this.acknowledge(notifications.filter((n) => n.status === "sent").map((n) => n.id));
  }

  sortKey(id) {
    const n = this.items.get(id);
    return Date.parse(n.sentAt || n.createdAt) || 0;
  }

  /** The client's side of the contract: a notification that reached this page is delivered. */
  acknowledge(ids) {
    if (!ids.length || !this.conn.live) return;
    this.conn.emit("notification:delivered", {ids: ids.slice(0, 500)}).then(() => {
      for (const id of ids) {
        const n = this.items.get(id);
        if (n && n.status === "sent") n.status = "delivered";
      }
    }, () => {});
  }

  // -- live events ------------------------------------------------------------------------------------
  onNew(n) {
    this.arrived?.set(n.id, n);
    const known = this.items.get(n.id);
    if (!known && this.loadedOnce) this.setUnread(this.unread + 1);
    if (!known || known.status !== "read") {
      this.items.set(n.id, n);
      if (!known) this.order.unshift(n.id);
    }
    this.acknowledge([n.id]);
    this.render();
    this.showInBrowser(n);
  }

  onRead({ids, all, unread}) {
    for (const n of this.items.values()) {
      if (all || ids?.includes(n.id)) n.status = "read";
    }
    this.setUnread(unread);
    this.render();
  }

  setUnread(count) {
    this.unread = Math.max(0, Number(count) || 0);
    this.renderCount();
  }

  renderCount() {
    const n = this.unread;
    this.count.hidden = !n;
    this.count.textContent = n > 99 ? "99+" : String(n);
    const label = n ? t("notif.bellUnread", {count: n}) : t("notif.title");
    this.bell.title = label;
    this.bell.setAttribute("aria-label", label);
    this.bell.classList.toggle("has-unread", n > 0);
    document.body.dataset.unreadNotifications = String(n);
  }

  // -- the panel ------------------------------------------------------------------------------------
  async open() {
    this.panel.hidden = false;
    this.bell.setAttribute("aria-expanded", "true");
    this.render();
    $("#notif-close").focus();
    if (!this.loadedOnce) {
      replace(this.list, h("li.notif-empty", h("span.spinner")));
      await this.load();
    }
  }

  close() {
    this.panel.hidden = true;
    this.bell.setAttribute("aria-expanded", "false");
  }

  async load(before = null) {
    const query = new URLSearchParams({status: "all", limit: PAGE});
    if (before) query.set("before", before);
    let page;
    try {
      page = await this.api.get(`/api/notifications?${query}`);
    } catch (exc) {
      return this.toast(errorText(exc.code));
    }
    if (!before) return this.replaceFirstPage(page);
    this.take(page.notifications);
    this.hasMore = page.hasMore;
    this.last = page.notifications.at(-1)?.id ?? this.last;
    this.setUnread(page.unread);
    this.render();
  }

  render() {
    if (this.panel.hidden) return;
    const items = this.order.map((id) => this.items.get(id));
    replace(this.list, items.length ? items.map((n) => this.renderItem(n))
      : this.loadedOnce ? h("li.notif-empty", icon("bell"), h("p", t("notif.empty"))) : h("li.notif-empty", h("span.spinner")));
    this.more.hidden = !this.hasMore;
    $("#notif-read-all").disabled = !this.unread;
  }

  renderItem(n) {
    const unread = n.status !== "read";
    const at = new Date(n.sentAt || n.createdAt);
    return h(`li.notif${unread ? ".unread" : ""}`, {dataset: {type: n.type}},
      h("button.notif-item", {type: "button", dataset: {notification: n.id}},
        h(`span.notif-icon.${n.type}`, icon(TYPE_ICON[n.type] || "bell")),
        h("span.notif-text",
          h("span.notif-title", titleOf(n)),
          bodyOf(n) ? h("span.notif-body", bodyOf(n)) : null,
          h("time.notif-time", {datetime: at.toISOString(), title: formatDateTime(at)}, formatActivity(at))),
        unread ? h("span.notif-dot", {title: t("notif.unread")}, h("span.sr-only", t("notif.unread"))) : null));
  }

  /** A click: read, then to where it points (the message, scrolled to and highlighted). */
  async activate(n) {
    if (!n) return;
    if (n.status !== "read") {
      n.status = "read";
      this.render();
      this.api.post("/api/notifications/read", {ids: [n.id]})
        .then(({unread}) => this.setUnread(unread), () => {});
    }
    this.close();
    this.follow(n);
  }

  follow(n) {
    const convId = n.data?.convId || n.data?.conversationId;
    if (n.type === "scheduled_failed" && convId) {
      return this.bus.emit("conversation:open-at", {convId, seq: null, then: () => this.bus.emit("scheduled:open")});
    }
    if (convId) return this.bus.emit("conversation:open-at", {convId, seq: n.data?.seq ?? null});
  }

  markAllRead() {
    this.api.post("/api/notifications/read", {all: true})
      .then(({unread}) => this.onRead({all: true, unread}), (exc) => this.toast(errorText(exc.code)));
  }

  // -- the browser's notification, only while the tab is hidden --------------------------------------
  browserEnabled() {
    return "Notification" in window && Notification.permission === "granted" && localStorage.getItem(BROWSER_KEY) === "on";
  }

  showInBrowser(n) {
    if (document.visibilityState !== "hidden" || !this.browserEnabled()) return;
    const convId = n.data?.convId;
    if (convId && this.level(convId) === "none") return;
    try {
      const shown = new Notification(titleOf(n), {body: bodyOf(n) || "", tag: n.id, icon: "/static/favicon.svg"});
      shown.onclick = () => {
        window.focus();
        shown.close();
        this.activate(this.items.get(n.id) || n);
      };
    } catch {
      // Some browsers only allow notifications from a service worker: the bell still counts it.
    }
  }

  async enableBrowser(status) {
    if (!("Notification" in window)) return;
    let permission = Notification.permission;
    if (permission === "default") permission = await Notification.requestPermission();
    if (permission === "granted") localStorage.setItem(BROWSER_KEY, "on");
    replace(status, browserStatus());
  }

  // -- settings -----------------------------------------------------------------------------------
  level(convId) {
    return this.settings?.conversations?.[convId] || "all";
  }

  renderLevel() {
    const convId = state.activeId;
    const level = this.level(convId);
    const label = t("notif.levelButton", {level: t(NOTIF_LEVEL_KEYS[level])});
    replace(this.levelButton, icon(LEVEL_ICON[level]));
    this.levelButton.title = label;
    this.levelButton.setAttribute("aria-label", label);
    this.levelButton.dataset.level = level;
    this.levelButton.hidden = !this.settings;
  }

  async editLevel(convId) {
    const conv = state.convs.get(convId);
    if (!conv) return;
    const saved = await this.dialogs.form({
      title: t("notif.levelTitle", {title: conv.title}), text: t("notif.levelText"), submit: t("action.save"),
      fields: [{name: "level", label: t("notif.levelLabel"), value: this.level(convId),
        options: LEVELS.map((l) => [l, t(NOTIF_LEVEL_KEYS[l])])}],
      onSubmit: ({level}) => this.api.patch("/api/me/notification-settings", {conversations: {[convId]: level}}),
    });
    if (!saved) return;
    this.settings = saved;
    this.renderLevel();
  }

  async editSettings() {
    this.close();
    if (!this.settings) await this.loadSettings();
    const s = this.settings || {email: false, emailDelayMinutes: 5};
    const status = h("span.browser-status", browserStatus());
    const browser = h("div.browser-notify",
      h("span.field-label", t("notif.browserLabel")), status,
      "Notification" in window && Notification.permission !== "denied"
        ? h("button.button", {id: "browser-enable", type: "button", onclick: () => this.enableBrowser(status)},
          icon("bell"), t("notif.browserEnable")) : null);
    const last = s.lastEmail ? h("p.field-hint", t(LAST_EMAIL_KEYS[s.lastEmail.status],
      {at: formatDateTime(new Date(s.lastEmail.at)), reason: s.lastEmail.error || s.lastEmail.reason || ""})) : null;
    const saved = await this.dialogs.form({
      title: t("notif.settingsTitle"), submit: t("action.save"),
      fields: [
        {name: "email", label: t("notif.emailOn"), type: "checkbox", value: Boolean(s.email)},
        {name: "address", label: t("notif.emailAddress"), type: "email", value: state.me.email || "", placeholder: "alice@example.com"},
        {name: "delay", label: t("notif.emailDelay"), type: "number", value: String(s.emailDelayMinutes ?? 5),
          hint: t("notif.emailDelayHint")}],
      extra: [last, browser],
      onSubmit: async ({email, address, delay}) => {
        const on = email === "on";
        const addr = (address || "").trim() || null;
        if (on && !addr) throw new ApiError(400, "email_required");
        if (addr !== (state.me.email || null)) {
          const user = await this.api.patch("/api/me", {email: addr});
          state.me = {...state.me, ...user};
        }
        return this.api.patch("/api/me/notification-settings", {email: on, emailDelayMinutes: Number(delay)});
      },
    });
    if (saved && saved !== true) this.settings = saved;
  }

  rerender() {
    this.renderCount();
    this.renderLevel();
    this.render();
  }
}

const TYPE_ICON = {mention: "at", reply: "reply", reminder: "clock", added: "users", scheduled_failed: "alert",
  export_ready: "download", moderation: "shield"};

function browserStatus() {
  if (!("Notification" in window)) return t("notif.browserUnsupported");
  if (Notification.permission === "denied") return t("notif.browserDenied");
  if (Notification.permission === "granted" && localStorage.getItem(BROWSER_KEY) === "on") return t("notif.browserOn");
  return t("notif.browserOff");
}

/** The title in the reader's language, written from the type and data; the server's English one otherwise. */
export function titleOf(n) {
  const d = n.data || {};
  const title = d.convTitle || state.convs.get(d.convId || d.conversationId)?.title || "…";
  switch (n.type) {
    case "mention": return t("notif.mention", {name: d.senderName || "?", title});
    case "reply": return t("notif.reply", {name: d.senderName || "?", title});
    case "reminder": return t("notif.reminder", {title});
    case "added": return d.conversationId ? t("notif.addedConversation", {name: d.byName || "?", title})
      : t("notif.addedGroup", {name: d.byName || "?", group: state.groups.get(d.groupId)?.name || "…"});
    case "scheduled_failed": return t("notif.scheduledFailed", {title});
    case "export_ready": return t("notif.exportReady", {format: String(d.format || "").toUpperCase()});
    default: return n.title || t("notif.title");
  }
}

function bodyOf(n) {
  if (n.type === "scheduled_failed") return errorText(n.data?.code || "error");
  return n.body || "";
}
