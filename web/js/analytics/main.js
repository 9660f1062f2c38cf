// The analytics page (/analytics): a group (those the user administers; every group for a system admin),
// optionally one conversation of it, and a period; then messages and active members per day (a chart and
// its table), the busiest hours (day × hour, in the browser's time zone), first-response time, top posters,
// media and exports, each with a CSV file. Same session as the chat page (this tab's sessionStorage). The
// figures come from the daily roll-ups (GET /api/{groups|conversations}/{id}/analytics): nothing is
// computed here but formatting.
import { Api, session } from "../shared/api.js";
import { $, h, replace } from "../shared/dom.js";
import { errorText, t } from "../shared/i18n.js";
import { ANALYTICS_PRESET_KEYS, ANALYTICS_RANGE_KEYS, GATE_KEYS } from "../shared/texts.js";
import { gateShown, openPage, showGate, shown, toast } from "../shared/page.js";
import { DaysChart } from "./chart.js";
import { ZONE, figuresAsked, figuresPath, groupsAsked } from "./early.js";
import { csvText, saveServerCsv, saveText } from "./csv.js";
import { PRESETS, presetOf, presetRange, rangeProblem } from "./period.js";
import { drawDays, drawHeatmap, drawSummary, drawTop, heatRows, summaryRows, topRows } from "./tables.js";

const CONV_LIMIT = 100;   // the picker's page (GET /api/exportable-conversations takes 100 at most)

class AnalyticsPage {
  constructor() {
    this.api = new Api(null, () => this.gate("expired"));
    this.groups = [];        // [{id, name, role}] the user may read analytics of
    this.convs = [];         // the chosen group's conversations
    this.data = null;        // the last answer
    this.seq = 0;            // an answer to an older question is dropped
  }

  async boot() {
    // The groups, and the figures the address names, were asked for first (early.js).
    this.api.token = session.load()?.token || null;
    const moderated = groupsAsked?.answer;
    this.early = figuresAsked;
    // The address keeps the view (?group=&from=&to=): a reload or a bookmark opens the same one.
    const asked = new URLSearchParams(location.search);
    const range = rangeProblem({from: asked.get("from"), to: asked.get("to")}) ? presetRange("30")
      : {from: asked.get("from"), to: asked.get("to")};
    const saved = await openPage(() => this.rerender());
    shown();
    if (!saved) return this.gate("signedOut");
    this.me = saved.user;
    try {
      const {groups} = await moderated;
      // The same rule as exports: a group's admins, and system admins for every group.
      this.groups = groups.filter((g) => this.me.role === "ADMIN" || g.role === "GROUP_ADMIN");
    } catch (exc) {
      return this.gate(exc.code === "unauthorized" ? "expired" : "failed", exc);
    }
    $("#ana").hidden = false;
    document.title = t("analytics.title");
    this.chart = new DaysChart($("#ana-chart"));
    if (!this.groups.length) return this.nothing();
    this.wire();
    Object.assign(this, range);
    this.renderForm();
    const group = this.groups.find((g) => g.id === asked.get("group")) || this.groups[0];
    await this.pickGroup(group.id);
  }

  /** The user administers no group: the page says so, and asks nothing. */
  nothing() {
    $("#ana-none").hidden = false;
    $("#ana-form").hidden = true;
    $("#ana-results").hidden = true;
    performance.mark("analytics:drawn");
  }

  wire() {
    $("#ana-form").hidden = false;
    $("#ana-group").addEventListener("change", (e) => this.pickGroup(e.target.value));
    $("#ana-conv").addEventListener("change", (e) => {
      this.conv = e.target.value;
      this.load();
    });
    $("#ana-preset").addEventListener("change", (e) => {
      if (e.target.value === "custom") return $("#ana-from").focus();
      Object.assign(this, presetRange(e.target.value));
      this.renderForm();
      this.load();
    });
    for (const id of ["#ana-from", "#ana-to"]) $(id).addEventListener("change", () => {
      this.from = $("#ana-from").value;
      this.to = $("#ana-to").value;
      $("#ana-preset").value = presetOf(this);
    });
    $("#ana-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.from = $("#ana-from").value;
      this.to = $("#ana-to").value;
      this.load();
    });
    $("#ana-days-csv").addEventListener("click", () => this.daysCsv());
    $("#ana-summary-csv").addEventListener("click", () => this.data && saveText(csvText(summaryRows(this.data)),
      this.filename("summary")));
    $("#ana-heat-csv").addEventListener("click", () => this.data && saveText(csvText(heatRows(this.data.heatmap)),
      this.filename("hours")));
    $("#ana-top-csv").addEventListener("click", () => this.data && saveText(csvText(topRows(this.data.topPosters)),
      this.filename("top-posters")));
  }

  renderForm() {
    const group = $("#ana-group");
    replace(group, this.groups.map((g) => h("option", {value: g.id}, g.name)));
    group.value = this.groupId || "";
    replace($("#ana-conv"), h("option", {value: ""}, t("analytics.allConversations")),
      this.convs.map((c) => h("option", {value: c.id}, c.title || t("exp.untitled"))));
    $("#ana-conv").value = this.convId();
    replace($("#ana-preset"), [...PRESETS, "custom"].map((p) => h("option", {value: p}, t(ANALYTICS_PRESET_KEYS[p]))));
    $("#ana-from").value = this.from;
    $("#ana-to").value = this.to;
    $("#ana-preset").value = presetOf(this);
  }

  /** The conversation chosen, or "" for the whole group. */
  convId() {
    return this.convs.some((c) => c.id === this.conv) ? this.conv : "";
  }

  /** A group: its conversations for the second picker (by the group's name, kept to that group). */
  async pickGroup(groupId) {
    this.groupId = groupId;
    this.convs = [];
    this.conv = "";
    const name = this.groups.find((g) => g.id === groupId)?.name || "";
    this.renderForm();
    await this.load();   // the figures first: the list of conversations would slow their answer down
    const convs = await this.api.get(`/api/exportable-conversations?${new URLSearchParams({
      q: name.slice(0, 100), limit: CONV_LIMIT})}`).then((r) => r.conversations.filter((c) => c.groupId === groupId))
      .catch(() => []);
    if (this.groupId !== groupId) return;
    this.convs = convs;
    this.renderForm();
  }

  /** The route of what is chosen, for JSON or CSV. */
  path(csv = false) {
    const conv = this.convId();
    return figuresPath(conv ? `/api/conversations/${conv}` : `/api/groups/${this.groupId}`, this, csv);
  }

  async load() {
    const problem = rangeProblem(this);
    $("#ana-error").textContent = problem ? t(ANALYTICS_RANGE_KEYS[problem]) : "";
    if (problem) return;
    const seq = ++this.seq;
    const path = this.path();
    $("#ana-status").textContent = t("analytics.loading");
    $("#ana-results").setAttribute("aria-busy", "true");
    try {
      const early = this.early?.path === path ? this.early.answer : null;
      this.early = null;
      const data = await (early || this.api.get(path));
      if (seq !== this.seq) return;
      this.data = data;
      history.replaceState(null, "", `/analytics?${new URLSearchParams({group: this.groupId, from: this.from, to: this.to})}`);
      $("#ana-status").textContent = "";
      this.draw();
    } catch (exc) {
      if (seq !== this.seq) return;
      this.data = null;
      $("#ana-results").hidden = true;
      $("#ana-status").textContent = "";
      $("#ana-error").textContent = t("analytics.failed", {reason: errorText(exc.code)});
    } finally {
      if (seq === this.seq) $("#ana-results").removeAttribute("aria-busy");
    }
  }

  draw() {
    const {data} = this;
    if (!data) return;
    $("#ana-results").hidden = false;
    const empty = data.totals.messages === 0;
    $("#ana-days-empty").hidden = !empty;
    $("#ana-chart").hidden = empty;
    drawSummary(data);
    drawDays(data.days);
    drawHeatmap(data.heatmap, ZONE);
    drawTop(data.topPosters);
    this.chart.draw(empty ? [] : data.days);
    performance.mark("analytics:drawn");
  }

  filename(what) {
    const conv = this.convs.find((c) => c.id === this.convId());
    const name = (conv?.title || this.groups.find((g) => g.id === this.groupId)?.name || "analytics")
      .replace(/[^\p{L}\p{N}_-]+/gu, "-").slice(0, 40);
    return `${name}-${what}-${this.from}-${this.to}.csv`;
  }

  async daysCsv() {
    if (rangeProblem(this)) return;
    try {
      await saveServerCsv(this.api.token, this.path(true), this.filename("days"));
    } catch (exc) {
      if (exc.status === 401) return this.gate("expired");
      toast(t("analytics.csvFailed", {reason: errorText(exc.code)}));
    }
  }

  /** Instead of the page: signed out, session over, or the server unreachable. */
  gate(reason, exc = null) {
    showGate("#ana", reason, reason === "failed" ? errorText(exc?.code)
      : reason === "signedOut" ? t("analytics.gate.signedOut") : t(GATE_KEYS[reason]));
  }

  /** The language changed: everything drawn in words is drawn again. */
  rerender() {
    if (gateShown()) return this.gate(gateShown());
    document.title = t("analytics.title");
    if (!this.groups.length) return;
    this.renderForm();
    this.draw();
  }
}

new AnalyticsPage().boot();
