// The figures as text: the summary (totals, first-response time), the per-day table (the chart's data),
// the day × hour heat map (a table whose cells say their count; the colour only repeats it) and the top
// posters. Each has its CSV rows (csv.js quotes them), in the reader's language for the headers.
import { $, h, replace } from "../shared/dom.js";
import { t } from "../shared/i18n.js";
import { count, duration, hourLabel, longDate, weekDays } from "./format.js";

export const LEVELS = 5;   // colour steps of the heat map, besides 0 (analytics.css: .heat-1 … .heat-5)

/** A table whose first column heads its rows; `texts`: the columns (by index) that are words, not numbers. */
function table(el, headers, rows, caption, texts = new Set()) {
  const cls = (i) => (texts.has(i) ? "td" : "td.num");
  replace(el, h("caption.sr-only", caption),
    h("thead", h("tr", headers.map((text, i) => h(i && !texts.has(i) ? "th.num" : "th", {scope: "col"}, text)))),
    h("tbody", rows.map((cells) => h("tr", cells.map((cell, i) => (i === 0 ? h("th", {scope: "row"}, cell)
      : h(cls(i), cell)))))));
}

// -- summary -------------------------------------------------------------------------------------------
export function summaryRows(data) {
  const {totals, firstResponse: fr} = data;
  return [[t("analytics.figure"), t("analytics.value")],
    [t("analytics.messages"), totals.messages], [t("analytics.activeMembers"), totals.activeMembers],
    [t("analytics.media"), totals.media], [t("analytics.exports"), totals.exports],
    [t("analytics.medianSeconds"), fr.medianSeconds ?? ""], [t("analytics.p90Seconds"), fr.p90Seconds ?? ""],
    [t("analytics.samples"), fr.samples]];
}

export function drawSummary(data) {
  const {totals, firstResponse: fr} = data;
  const items = [["messages", totals.messages], ["activeMembers", totals.activeMembers], ["media", totals.media],
    ["exports", totals.exports]];
  replace($("#ana-totals"), items.map(([key, value]) => h("div.ana-total", {dataset: {figure: key}},
    h("dt", t(TOTAL_KEYS[key])), h("dd", count(value)))));
  replace($("#ana-response"), fr.samples && fr.medianSeconds !== null
    ? t("analytics.response", {median: duration(fr.medianSeconds), p90: duration(fr.p90Seconds),
      count: fr.samples, samples: count(fr.samples)})
    : t("analytics.noResponse"));
}

const TOTAL_KEYS = {messages: "analytics.messages", activeMembers: "analytics.activeMembers",
  media: "analytics.media", exports: "analytics.exports"};

// -- per day -------------------------------------------------------------------------------------------
const dayHeaders = () => [t("analytics.day"), t("analytics.messages"), t("analytics.activeMembers"), t("analytics.media")];

export function drawDays(days) {
  table($("#ana-days-table"), dayHeaders(),
    days.map((d) => [longDate(d.date), count(d.messages), count(d.activeMembers), count(d.media)]),
    t("analytics.perDay"));
}

// -- heat map ------------------------------------------------------------------------------------------
/** The colour step of a count: 0 for none, else 1…LEVELS in proportion to the busiest hour. */
export function level(value, max) {
  return value > 0 && max > 0 ? Math.max(1, Math.ceil((value / max) * LEVELS)) : 0;
}

export function heatRows(heatmap) {
  const days = weekDays();
  return [[t("analytics.weekday"), ...Array.from({length: 24}, (_, hour) => String(hour))],
    ...heatmap.map((hours, i) => [days[i].long, ...hours])];
}

export function drawHeatmap(heatmap, zone) {
  const days = weekDays();
  const max = Math.max(0, ...heatmap.flat());
  const hours = Array.from({length: 24}, (_, hour) => hour);
  replace($("#ana-heat"), h("caption.sr-only", t("analytics.heatCaption", {zone})),
    h("thead", h("tr", h("td"), hours.map((hour) => h("th", {scope: "col", title: hourLabel(hour)}, String(hour))))),
    h("tbody", heatmap.map((row, day) => h("tr",
      h("th", {scope: "row"}, h("abbr", {title: days[day].long}, days[day].short)),
      row.map((value, hour) => h(`td.heat.heat-${level(value, max)}`, {dataset: {day: String(day), hour: String(hour)},
        title: t("analytics.heatCell", {day: days[day].long, hour: hourLabel(hour), count: value,
          messages: count(value)})}, count(value)))))));
  replace($("#ana-heat-zone"), t("analytics.heatZone", {zone}));
  const steps = Array.from({length: LEVELS + 1}, (_, i) => i);
  replace($("#ana-heat-legend"), h("span.muted", t("analytics.fewer")),
    steps.map((i) => h(`span.heat-swatch.heat-${i}`, {"aria-hidden": "true"})), h("span.muted", t("analytics.more")),
    h("span.muted.ana-max", t("analytics.busiest", {count: max, messages: count(max)})));
}

// -- top posters ---------------------------------------------------------------------------------------
const topHeaders = () => [t("analytics.rank"), t("analytics.poster"), t("analytics.messages")];

export function topRows(posters) {
  return [topHeaders(), ...posters.map((p, i) => [i + 1, p.username, p.messages])];
}

export function drawTop(posters) {
  $("#ana-top-empty").hidden = posters.length > 0;
  $("#ana-top").hidden = posters.length === 0;
  table($("#ana-top"), topHeaders(), posters.map((p, i) => [count(i + 1), p.username, count(p.messages)]),
    t("analytics.topPosters"), new Set([1]));
}
