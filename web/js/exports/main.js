// The export page (/exports): request a conversation's export as JSON, CSV or PDF, watch its progress
// live (export:progress on the user's socket), download it while it lasts, see the past ones. Same session
// as the chat page (this tab's sessionStorage), same socket: the server sends export events to user:{id}.
import { session } from "../shared/api.js";
import { Connection } from "../shared/connection.js";
import { $, replace } from "../shared/dom.js";
import { errorText, setLanguage, t } from "../shared/i18n.js";
import { openSession, setupPage, showMode, syncLanguageSelects, toast } from "../shared/page.js";
import { ExportForm } from "./form.js";
import { ExportList } from "./list.js";

class ExportPage {
  constructor() {
    this.groups = new Map();   // id → group with the user's role (session:ready; moderated ones by REST first)
    this.convs = new Map();    // the user's conversations
    setupPage((code) => this.changeLanguage(code));
  }

  async boot() {
    const opened = await openSession(() => this.gate("expired"));
    if (!opened) return this.gate("signedOut");
    ({me: this.me, api: this.api} = opened);
    this.form = new ExportForm(this);
    this.list = new ExportList(this);
    try {
      // The socket's session:ready brings every group with the user's role; REST gives the first paint.
      const [{conversations}, moderated] = await Promise.all([this.api.get("/api/conversations"),
        this.api.get("/api/moderation/groups").catch(() => ({groups: []})), this.list.refresh()]);
      for (const g of moderated.groups) this.groups.set(g.id, g);
      this.setConversations(conversations);
    } catch (exc) {
      return this.gate(exc.code === "unauthorized" ? "expired" : "failed", exc);
    }
    $("#exp").hidden = false;
    document.title = t("exp.title");
    this.conn = new Connection(opened.token, {
      event: (name, data) => this.onEvent(name, data),
      mode: showMode,
      unauthorized: () => this.gate("expired"),
      poll: () => this.list.refresh(),   // while the socket is down, the list is read every 2 s
    });
    showMode(this.conn.mode);
    this.conn.start();
  }

  setConversations(list) {
    this.convs = new Map(list.map((c) => [c.id, c]));
    this.form.render();
    this.list.rerender();
  }

  /** Group admins and system admins; members only where the server allows it (it answers 403 otherwise). */
  canExport(conv) {
    return this.me.role === "ADMIN" || this.groups.get(conv.groupId)?.role === "GROUP_ADMIN";
  }

  titleOf(convId) {
    const conv = this.convs.get(convId);
    return conv ? conv.title || t("exp.untitled") : t("exp.unknownConversation");
  }

  /** Instead of the page: signed out, session over, or the server unreachable. */
  gate(reason, exc = null) {
    this.conn?.stop();
    $("#exp").hidden = true;
    $("#gate").hidden = false;
    $("#gate").dataset.reason = reason;
    replace($("#gate-title"), t(`mod.gate.${reason}Title`));
    replace($("#gate-text"), reason === "failed" ? errorText(exc?.code)
      : reason === "signedOut" ? t("exp.gate.signedOut") : t(`mod.gate.${reason}`));
  }

  // -- the connection ------------------------------------------------------------------------------
  onEvent(name, data) {
    switch (name) {
      case "session:ready":
        this.me = data.user;
        session.saveUser(data.user);
        this.groups = new Map(data.groups.map((g) => [g.id, g]));
        this.setConversations(data.conversations);
        return this.list.refresh().catch(() => {});   // (re)connected: whatever moved meanwhile
      case "export:progress": return this.list.onProgress(data);
      case "export:ready": return this.list.onReady(data);
      case "export:failed": return this.list.onFailed(data);
    }
  }

  /** A job the form just requested: its row at once, the rest from the server and the events. */
  requested(job) {
    this.list.upsert(job);
    this.list.render();
    $(`#exp-list li[data-id="${job.id}"]`)?.scrollIntoView({block: "nearest", behavior: "smooth"});
    this.list.refreshOne(job.id);
  }

  // -- language, notices ---------------------------------------------------------------------------------
  async changeLanguage(code) {
    await setLanguage(code, true);
    syncLanguageSelects();
    if ($("#gate").hidden === false) return this.gate($("#gate").dataset.reason);
    document.title = t("exp.title");
    showMode(this.conn.mode);
    this.form.render();
    this.list.rerender();
  }

  toast(text) {
    toast(text);
  }
}

new ExportPage().boot();
