// Messages and active members per day, drawn by uPlot (a canvas; the table view next to it says the same
// in text for screen readers and keyboards). uPlot styles its own elements through the CSSOM, which the
// page's style-src 'self' allows. The chart follows its card's width (window resized, phone turned).
import uPlot from "/vendor/uPlot.esm.js";
import { t } from "../shared/i18n.js";
import { count, epochSeconds, shortDate, longDate } from "./format.js";

const HEIGHT = 240;

function colour(name, fallback) {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

export class DaysChart {
  constructor(box) {
    this.box = box;
    this.plot = null;
    new ResizeObserver(() => this.fit()).observe(box);
  }

  /** days: [{date, messages, activeMembers, media}]; drawn anew (language, new data). */
  draw(days) {
    this.plot?.destroy();
    this.plot = null;
    if (!days.length) return;
    const data = [days.map((d) => epochSeconds(d.date)), days.map((d) => d.messages), days.map((d) => d.activeMembers)];
    const text = colour("--muted", "#666");
    const grid = colour("--border", "#ddd");
    const axis = {stroke: text, grid: {stroke: grid, width: 1}, ticks: {stroke: grid, width: 1}};
    const value = (u, v) => (v === null || v === undefined ? "–" : count(v));
    this.plot = new uPlot({
      width: this.width(), height: HEIGHT,
      scales: {x: {time: true}},
      // The days are UTC days: ticks at UTC midnights, whatever the browser's zone (else a tick labelled
      // 6 Dec would sit at Tokyo's midnight, next to the 7 Dec point).
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      series: [
        {label: t("analytics.day"), value: (u, v) => (v === null || v === undefined ? "–"
          : longDate(new Date(v * 1000).toISOString().slice(0, 10)))},
        {label: t("analytics.messages"), stroke: colour("--accent", "#4f46e5"), width: 2,
          fill: colour("--accent-soft", "rgba(79,70,229,.12)"), value, points: {show: days.length <= 45}},
        {label: t("analytics.activeMembers"), stroke: colour("--ok", "#16a34a"), width: 2, dash: [6, 4], value,
          points: {show: days.length <= 45}},
      ],
      axes: [{...axis, values: (u, splits) => splits.map((s) => (s === null ? "" : shortDate(s)))},
        {...axis, values: (u, splits) => splits.map((s) => (Number.isInteger(s) ? count(s) : ""))}],
    }, data, this.box);
  }

  width() {
    return Math.max(240, Math.floor(this.box.clientWidth || this.box.parentElement.clientWidth));
  }

  fit() {
    if (this.plot && Math.abs(this.plot.width - this.width()) > 1) this.plot.setSize({width: this.width(), height: HEIGHT});
  }
}
