// The requester's exports, newest first: one row each, kept by id, fed by the REST list, the POST's answer
// and export:progress / export:ready / export:failed. A row shows its status, a real progress bar
// (processed / total), cancel while queued or running, download when done, the size and the time left.
import { $, h, replace, safeUrl } from "../shared/dom.js";
import { currentLanguage, formatDateTime, t } from "../shared/i18n.js";
import { EXPORT_ERROR_KEYS, EXPORT_STATUS_KEYS } from "../shared/texts.js";
import { exportErrorText } from "./form.js";

const PAGE = 20;
const ACTIVE = new Set(["queued", "running"]);
const FINAL = new Set(["done", "failed", "cancelled", "expired"]);

/** A job's conversation title: the server's (convTitle), else the user's own list's. */
function titleOf({convs}, job) {
  const title = job?.convTitle ?? convs.get(job?.convId)?.title;
  if (title === undefined || title === null) return t("exp.unknownConversation");
  return title || t("exp.untitled");
}

export class ExportList {
  /** state: the page's {me, groups: Map, convs: Map}. */
  constructor({api, toast, state}) {
    Object.assign(this, {api, toast, state});
    this.jobs = new Map();       // id → job, as the API writes it
    this.rows = new Map();       // id → <li>
    this.notes = new Map();      // id → a message under the row (a download refused...)
    this.hasMore = false;
    $("#exp-more").addEventListener("click", () => this.loadMore());
    // The time left before expiry, and expiry itself, move without the server.
    this.clock = setInterval(() => this.tick(), 10_000);
  }

  /** The first page again (boot, every reconnect): what moved meanwhile. */
  async refresh() {
    const {exports, hasMore} = await this.api.get(`/api/exports?limit=${PAGE}`);
    for (const job of exports) this.upsert(job, true);
    if (!this.loadedMore) this.hasMore = hasMore;
    this.render();
  }

  async loadMore() {
    const last = [...this.jobs.values()].filter((j) => !j.local).at(-1);
    if (!last) return;
    const {exports, hasMore} = await this.api.get(`/api/exports?limit=${PAGE}&before=${last.id}`);
    this.loadedMore = true;
    this.hasMore = hasMore;
    for (const job of exports) this.upsert(job, true);
    this.render();
  }

  /** Merge what is known of a job. A finished job never goes back to running (an older answer arriving
   * late), and a running one's progress never goes back unless the server says so in a fresh read. */
  upsert(data, fromServer = false) {
    const old = this.jobs.get(data.id);
    if (old && FINAL.has(old.status) && data.status && !FINAL.has(data.status)) return old;
    if (old && !fromServer && data.progress !== undefined && old.status === "running" && data.progress < old.progress) {
      data = {...data, progress: old.progress};
    }
    const job = {...(old || {}), ...data};
    if (ACTIVE.has(job.status)) job.watched = true;   // its bar stays, at 100 %, once it is done
    this.jobs.set(job.id, job);
    this.draw(job);
    return job;
  }

  /** An event for a job this page does not know yet (requested in another tab): read it. */
  async ensure(id) {
    if (this.jobs.has(id)) return;
    this.jobs.set(id, {id, status: "queued", progress: 0, processed: 0, total: 0, local: true});
    try {
      this.upsert(await this.api.get(`/api/exports/${id}`), true);
    } catch { /* gone, or not ours: the row says what the events said */ }
    this.render();
  }

  onProgress({id, progress, processed, total}) {
    this.ensure(id);
    this.upsert({id, status: "running", progress, processed, total});
  }

  async onReady({id, format, size, expiresAt}) {
    const known = this.jobs.has(id);
    this.ensure(id);
    const job = this.jobs.get(id);
    this.upsert({id, format, size, expiresAt, status: "done", progress: 100,
      processed: job?.total || job?.processed || 0});
    // Finished before its first progress, or requested elsewhere: the counts and the title from the server.
    if (!job?.total || !known) await this.refreshOne(id);
    // Which export, in which format: two exports of one conversation end in two different toasts.
    const done = this.jobs.get(id);
    this.toast(t("exp.toast.ready", {title: titleOf(this.state, done), format: (format || done?.format || "").toUpperCase()}));
  }

  onFailed({id, code, message}) {
    this.ensure(id);
    this.upsert({id, status: "failed", error: {code, message}});
  }

  /** Newest first; jobs made by this page (not yet in a server read) on top. */
  render() {
    const list = $("#exp-list");
    const ordered = [...this.jobs.values()].sort((a, b) => (b.createdAt || "").localeCompare(a.createdAt || ""));
    for (const job of ordered) if (!this.rows.has(job.id)) this.draw(job);
    replace(list, ordered.map((job) => this.rows.get(job.id)));
    $("#exp-empty").hidden = ordered.length > 0;
    $("#exp-more").hidden = !this.hasMore;
  }

  rerender() {
    for (const job of this.jobs.values()) this.draw(job);
    this.render();
  }

  draw(job) {
    const row = this.rows.get(job.id) || newRow(job);
    this.rows.set(job.id, row);
    const status = this.statusOf(job);
    row.dataset.status = status;
    const pct = Math.max(0, Math.min(100, Math.round(job.progress || 0)));
    const bar = h("div.bar", {role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
      "aria-valuenow": String(pct), "aria-label": t("exp.progressLabel")}, h("div.bar-fill"));
    bar.firstChild.style.width = `${status === "done" ? 100 : pct}%`;
    const counts = job.total ? t("exp.counts", {processed: fmt(job.processed || 0), total: fmt(job.total), count: job.total})
      : status === "done" ? "" : t(status === "queued" ? "exp.waiting" : "exp.starting");
    const tools = [];
    if (ACTIVE.has(status)) {
      tools.push(h("button.button.small-button.cancel", {type: "button", dataset: {action: "cancel"},
        onclick: () => this.cancel(job.id)}, t("exp.cancel")));
    }
    if (status === "done") {
      tools.push(h("button.button.primary.small-button.download", {type: "button", dataset: {action: "download"},
        onclick: (e) => this.download(job.id, e.currentTarget)}, t("exp.download")));
    }
    const note = this.notes.get(job.id);
    replace(row,
      h("div.exp-row-head",
        h(`span.fmt-tag.fmt-${job.format || "x"}`, (job.format || "?").toUpperCase()),
        h("strong.exp-conv-title", titleOf(this.state, job)),
        h(`span.status-pill.status-${status}`, t(EXPORT_STATUS_KEYS[status])),
        job.createdAt ? h("time.muted", {datetime: job.createdAt}, formatDateTime(new Date(job.createdAt))) : null),
      h("p.exp-row-meta.muted", describe(job)),
      ACTIVE.has(status) || (status === "done" && job.watched)
        ? h("div.exp-progress", bar, h("span.exp-counts", counts, job.total ? ` · ${pct} %` : "")) : null,
      status === "done" ? h("p.exp-row-file", this.fileText(job)) : null,
      status === "expired" ? h("p.exp-row-file.muted", t("exp.expiredText")) : null,
      status === "failed" ? h("p.exp-row-error", t("exp.failedText", {reason: failure(job.error)})) : null,
      status === "cancelled" ? h("p.exp-row-file.muted", t("exp.cancelledText")) : null,
      note ? h("p.exp-row-error", note) : null,
      tools.length ? h("div.exp-row-tools", tools) : null);
    return row;
  }

  statusOf(job) {
    if (job.status === "done" && job.expiresAt && new Date(job.expiresAt) <= new Date()) return "expired";
    return job.status || "queued";
  }

  /** "1.2 MB · expires in 47 hours (3 Dec, 10:20)". */
  fileText(job) {
    const parts = [];
    if (job.size !== undefined) parts.push(formatSize(job.size));
    if (job.expiresAt) {
      const when = new Date(job.expiresAt);
      parts.push(t("exp.expiresIn", {left: timeLeft(when), date: formatDateTime(when)}));
    }
    return parts.join(" · ");
  }

  tick() {
    for (const job of this.jobs.values()) if (job.status === "done") this.draw(job);
  }

  async cancel(id) {
    this.notes.delete(id);
    try {
      await this.api.del(`/api/exports/${id}`);
      this.upsert({id, status: "cancelled"});
    } catch (exc) {
      this.notes.set(id, exportErrorText(exc.code, exc.message));
      this.draw(this.jobs.get(id));
    }
  }

  /** A short-lived presigned URL from the download route (`redirect=0`), followed by an anchor: the file
   * comes from S3 as an attachment, the page stays. */
  async download(id, button) {
    this.notes.delete(id);
    button.disabled = true;
    try {
      const {url} = await this.api.get(`/api/exports/${id}/download?redirect=0`);
      const href = safeUrl(url);
      if (!href) throw Object.assign(new Error("bad url"), {code: "unavailable"});
      const link = h("a", {href, rel: "noopener noreferrer", download: "", hidden: true});
      document.body.append(link);
      link.click();
      link.remove();
    } catch (exc) {
      if (exc.code === "expired") this.upsert({id, status: "expired"});
      else if (exc.code === "not_ready") this.refreshOne(id);
      this.notes.set(id, exportErrorText(exc.code, exc.message));
    } finally {
      button.disabled = false;
      this.draw(this.jobs.get(id));
    }
  }

  async refreshOne(id) {
    try {
      this.upsert(await this.api.get(`/api/exports/${id}`), true);
    } catch { /* the note says why */ }
  }
}

/** "Whole conversation · labels in Français · Europe/Paris" or the range in the job's time zone. */
function describe(job) {
  const parts = [];
  const range = job.range || {kind: "all"};
  const zone = job.timezone || "UTC";
  const at = (iso) => formatIn(new Date(iso), zone);
  if (range.kind === "time") {
    if (range.from && range.to) parts.push(t("exp.range.between", {from: at(range.from), to: at(range.to)}));
    else if (range.from) parts.push(t("exp.range.since", {from: at(range.from)}));
    else parts.push(t("exp.range.until", {to: at(range.to)}));
  } else if (range.kind === "seq") {
    parts.push(t("exp.range.seqs", {from: range.from ?? 1, to: range.to ?? "…"}));
  } else {
    parts.push(t("exp.range.all"));
  }
  if (job.language) parts.push(t("exp.labelsIn", {language: languageName(job.language)}));
  parts.push(zone);
  if (job.includeDeleted) parts.push(t("exp.withDeleted"));
  return parts.join(" · ");
}

function failure(error) {
  if (!error) return t("exp.error.export_failed");
  if (!EXPORT_ERROR_KEYS[error.code]) return error.message || error.code;
  const known = t(EXPORT_ERROR_KEYS[error.code]);
  return error.code === "export_failed" && error.message ? `${known} (${error.message})` : known;
}

function formatIn(date, zone) {
  try {
    return new Intl.DateTimeFormat(currentLanguage(), {dateStyle: "medium", timeStyle: "short", timeZone: zone}).format(date);
  } catch {
    return formatDateTime(date);
  }
}

function languageName(code) {
  try {
    return new Intl.DisplayNames([currentLanguage()], {type: "language"}).of(code) || code;
  } catch {
    return code;
  }
}

const fmt = (n) => new Intl.NumberFormat(currentLanguage()).format(n);

export function formatSize(bytes) {
  const units = ["byte", "kilobyte", "megabyte", "gigabyte"];
  let value = bytes, unit = 0;
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit++; }
  return new Intl.NumberFormat(currentLanguage(), {style: "unit", unit: units[unit], unitDisplay: "short",
    maximumFractionDigits: unit ? 1 : 0}).format(value);
}

/** "in 47 hours", "in 12 minutes", "in a few seconds" in the page's language. */
function timeLeft(when) {
  const seconds = Math.max(0, (when - new Date()) / 1000);
  const rtf = new Intl.RelativeTimeFormat(currentLanguage(), {numeric: "auto"});
  if (seconds >= 2 * 86400) return rtf.format(Math.floor(seconds / 86400), "day");
  if (seconds >= 3600) return rtf.format(Math.floor(seconds / 3600), "hour");
  if (seconds >= 60) return rtf.format(Math.floor(seconds / 60), "minute");
  return rtf.format(Math.ceil(seconds), "second");
}

/** A row rises in once, when it first appears: the list re-attaches its rows on each redraw, which would
 * start the animation again (a flicker, and the row pale meanwhile). */
function newRow(job) {
  const row = h("li.exp-row.new", {dataset: {id: job.id}});
  row.addEventListener("animationend", () => row.classList.remove("new"), {once: true});
  return row;
}
