// The export page (/exports): request a conversation's export as JSON, CSV or PDF, watch its progress
// live (export:progress on the user's socket), download it while it lasts, see the past ones. Same session
// as the chat page (this tab's sessionStorage), same socket: the server sends export events to user:{id}.
import { Api, session } from "../shared/api.js";
import { Bus } from "../shared/bus.js";
import { Connection } from "../shared/connection.js";
import { $ } from "../shared/dom.js";
import { errorText, t } from "../shared/i18n.js";
import { GATE_KEYS } from "../shared/texts.js";
import { gateShown, openPage, showGate, showMode, shown, toast } from "../shared/page.js";
import { ExportForm } from "./form.js";
import { ExportList } from "./list.js";

class ExportPage {
  constructor() {
    this.api = new Api(null, () => this.gate("expired"));
    this.bus = new Bus();
    // groups: id → group with the user's role (session:ready; moderated ones by REST first); convs: the user's.
    this.state = {me: null, groups: new Map(), convs: new Map()};
    this.conn = new Connection({
      event: (name, data) => this.onEvent(name, data),
      mode: showMode,
      unauthorized: () => this.gate("expired"),
      poll: () => this.list.refresh(),   // while the socket is down, the list is read every 2 s
    });
    this.bus.on("export:requested", (job) => this.requested(job));
  }

  async boot() {
    const saved = await openPage(() => this.rerender());
    shown();
    if (!saved) return this.gate("signedOut");
    this.state.me = saved.user;
    this.api.token = saved.token;
    const {api, state, bus} = this;
    this.form = new ExportForm({api, state, bus});
    this.list = new ExportList({api, toast, state});
    try {
      // The socket's session:ready brings every group with the user's role; REST gives the first paint.
      const [{conversations}, moderated] = await Promise.all([this.api.get("/api/conversations"),
        this.api.get("/api/moderation/groups").catch(() => ({groups: []})), this.list.refresh(), this.form.refresh()]);
      for (const g of moderated.groups) this.state.groups.set(g.id, g);
      this.setConversations(conversations);
    } catch (exc) {
      return this.gate(exc.code === "unauthorized" ? "expired" : "failed", exc);
    }
    $("#exp").hidden = false;
    document.title = t("exp.title");
    showMode(this.conn.mode);
    this.conn.start(saved.token);
  }

  setConversations(list) {
    this.state.convs = new Map(list.map((c) => [c.id, c]));
    this.form.render();
    this.list.rerender();
  }

  /** Instead of the page: signed out, session over, or the server unreachable. */
  gate(reason, exc = null) {
    this.conn.stop();
    showGate("#exp", reason, reason === "failed" ? errorText(exc?.code)
      : reason === "signedOut" ? t("exp.gate.signedOut") : t(GATE_KEYS[reason]));
  }

  // -- the connection ------------------------------------------------------------------------------
  onEvent(name, data) {
    switch (name) {
      case "session:ready":
        this.state.me = data.user;
        session.saveUser(data.user);
        this.state.groups = new Map(data.groups.map((g) => [g.id, g]));
        this.setConversations(data.conversations);
        this.form.refresh().catch(() => {});
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

  // -- language ------------------------------------------------------------------------------------------
  /** The language changed: everything drawn in words is drawn again. */
  rerender() {
    if (gateShown()) return this.gate(gateShown());
    document.title = t("exp.title");
    showMode(this.conn.mode);
    this.form.render();
    this.list.rerender();
  }
}

new ExportPage().boot();
