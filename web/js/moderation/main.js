// The moderator dashboard (/moderation): the groups the user moderates, each with its review queue,
// filter rules, mutes and bans, settings and history. Same session as the chat page (this tab's
// sessionStorage), same socket: the server puts a moderator's sockets in mod:{groupId} at connect.
import { Api } from "../shared/api.js";
import { Connection } from "../shared/connection.js";
import { Dialogs } from "../shared/dialogs.js";
import { $, $$, h, replace } from "../shared/dom.js";
import { errorText, t } from "../shared/i18n.js";
import { GATE_KEYS } from "../shared/texts.js";
import { gateShown, openPage, showGate, showMode, shown, toast } from "../shared/page.js";
import { FiltersPanel } from "./filters.js";
import { LogPanel } from "./log.js";
import { QueuePanel } from "./queue.js";
import { SanctionsPanel } from "./sanctions.js";
import { SettingsPanel } from "./settings.js";

const TABS = ["queue", "filters", "sanctions", "settings", "log"];
const HASH = /^#\/([0-9a-f]{24})\/(\w+)$/;
const POLL_EVERY = 5;   // while the socket is down, the open panel is read again every 5th tick (10 s)

class Dashboard {
  constructor() {
    const api = this.api = new Api(null, () => this.gate("expired"));
    const dialogs = new Dialogs();
    const state = this.state = {me: null, group: null};   // the user, and the group on screen
    this.panels = {queue: new QueuePanel({api, toast, state}), filters: new FiltersPanel({api, dialogs, toast}),
      sanctions: new SanctionsPanel({api, toast, state}), settings: new SettingsPanel({api, dialogs, state}), log: new LogPanel({api, state})};
    this.tab = null;
    this.ticks = 0;
    this.conn = new Connection({
      event: (name, data) => this.onEvent(name, data),
      mode: showMode,
      unauthorized: () => this.gate("expired"),
      poll: () => this.poll(),
    });
    $("#group").addEventListener("change", (e) => { location.hash = `#/${e.target.value}/${this.tab || "queue"}`; });
    window.addEventListener("hashchange", () => this.route());
  }

  async boot() {
    const saved = await openPage(() => this.rerender());
    shown();
    if (!saved) return this.gate("signedOut");
    this.state.me = saved.user;
    this.api.token = saved.token;
    let groups;
    try {
      ({groups} = await this.api.get("/api/moderation/groups"));
    } catch (exc) {
      return this.gate(exc.code === "forbidden" ? "notModerator" : exc.code === "unauthorized" ? "expired" : "failed", exc);
    }
    if (!groups.length) return this.gate("notModerator");
    this.groups = new Map(groups.map((g) => [g.id, g]));
    replace($("#group"), groups.map((g) => h("option", {value: g.id}, g.name)));
    $("#mod").hidden = false;
    showMode(this.conn.mode);
    this.route();
    this.conn.start(saved.token);
  }

  /** Instead of the dashboard: signed out, not a moderator, session over, or the server unreachable. */
  gate(reason, exc = null) {
    this.conn.stop();
    showGate("#mod", reason, reason === "failed" ? errorText(exc?.code) : t(GATE_KEYS[reason]));
  }

  /** #/{groupId}/{tab}; anything else opens the first group's queue. */
  route() {
    if (!this.groups) return;
    const [, groupId, tab] = location.hash.match(HASH) || [];
    if (!this.groups.has(groupId) || !TABS.includes(tab)) {
      const id = this.groups.has(groupId) ? groupId : this.groups.keys().next().value;
      return history.replaceState(null, "", `#/${id}/${TABS.includes(tab) ? tab : "queue"}`) || this.route();
    }
    const changed = groupId !== this.state.group?.id;
    if (changed || tab !== this.tab) window.scrollTo(0, 0);
    this.state.group = this.groups.get(groupId);
    this.tab = tab;
    $("#group").value = groupId;
    for (const link of $$("#tabs a")) {
      link.href = `#/${groupId}/${link.dataset.tab}`;
      link.classList.toggle("active", link.dataset.tab === tab);
      if (link.dataset.tab === tab) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    document.title = `${t("mod.title")} · ${this.state.group.name}`;
    for (const [name, panel] of Object.entries(this.panels)) {
      $(`#tab-${name}`).hidden = name !== tab;
      if (changed) panel.opened = false;
    }
    const panel = this.panels[tab];
    // Panels read their data once the socket is in the group's mod: room (or polling began), so that
    // nothing flagged between the read and the room is missed.
    if (this.started && !panel.opened) {
      panel.opened = true;
      panel.open(this.state.group);
    }
    if (this.started && changed && tab !== "queue") this.panels.queue.countPending(this.state.group);
  }

  // -- the connection ------------------------------------------------------------------------------
  onEvent(name, data) {
    if (name === "session:ready") {
      this.state.me = data.user;
      return this.refreshOpen();   // (re)connected: whatever happened meanwhile
    }
    if (!name.startsWith("moderation:") || data?.groupId !== this.state.group?.id) return;
    switch (name) {
      case "moderation:flagged": return this.panels.queue.onFlagged(data);
      case "moderation:decided": return this.panels.queue.onDecided(data);
      case "moderation:action":
        this.panels.log.onAction(data);
        return this.panels.sanctions.onAction(data);
    }
  }

  /** Every panel that was shown reads its data again when next shown; the open one now. */
  refreshOpen() {
    this.started = true;
    for (const panel of Object.values(this.panels)) panel.opened = false;
    this.route();
    if (this.tab !== "queue") this.panels.queue.countPending(this.state.group);
  }

  async poll() {
    if (this.ticks++ % POLL_EVERY) return;
    await this.api.get("/api/moderation/groups");   // throws on a network error: the page says offline
    this.refreshOpen();
  }

  // -- language ------------------------------------------------------------------------------------------
  /** The language changed: everything drawn in words is drawn again. */
  rerender() {
    if (gateShown()) return this.gate(gateShown());
    if (!this.state.group) return;
    document.title = `${t("mod.title")} · ${this.state.group.name}`;
    showMode(this.conn.mode);
    for (const panel of Object.values(this.panels)) if (panel.opened) panel.rerender();
  }
}

new Dashboard().boot();
