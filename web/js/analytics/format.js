// Figures for people, in the page's language: counts, calendar dates (a roll-up's `date` is a day, not an
// instant: formatted in UTC so no time zone moves it), durations in the largest fitting unit ("4 min"), and
// the week's day names, Monday first.
import { currentLanguage } from "../shared/i18n.js";

// A formatter costs far more to build than to use, and a year's tables format thousands of figures: one per
// language and options, kept.
const made = new Map();
function formatter(Kind, options = {}) {
  const key = `${Kind.name}|${currentLanguage()}|${JSON.stringify(options)}`;
  if (!made.has(key)) made.set(key, new Kind(currentLanguage(), options));
  return made.get(key);
}

export const count = (n) => formatter(Intl.NumberFormat).format(n);

const dayDate = (text) => new Date(`${text}T00:00:00Z`);

/** "7 Dec 2026" (en), "7 déc. 2026" (fr)… */
export function longDate(text) {
  return formatter(Intl.DateTimeFormat, {dateStyle: "medium", timeZone: "UTC"}).format(dayDate(text));
}

/** Seconds since the epoch of a UTC day → "7 Dec", for a chart's axis. */
export function shortDate(seconds) {
  return formatter(Intl.DateTimeFormat, {day: "numeric", month: "short", timeZone: "UTC"}).format(new Date(seconds * 1000));
}

export const epochSeconds = (text) => dayDate(text).getTime() / 1000;

const UNITS = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];

/** 240 → "4 min", 5400 → "1.5 hr", in the page's language. */
export function duration(seconds) {
  const [unit, size] = UNITS.find(([, size]) => seconds >= size) || UNITS.at(-1);
  const value = seconds / size;
  return formatter(Intl.NumberFormat, {style: "unit", unit, unitDisplay: "short",
    maximumFractionDigits: value < 10 && unit !== "second" ? 1 : 0}).format(value);
}

/** The week's days, Monday first: [{short, long}] (1 Jan 2024 was a Monday). */
export function weekDays() {
  return Array.from({length: 7}, (_, i) => {
    const date = new Date(Date.UTC(2024, 0, 1 + i));
    return {short: formatter(Intl.DateTimeFormat, {weekday: "short", timeZone: "UTC"}).format(date),
      long: formatter(Intl.DateTimeFormat, {weekday: "long", timeZone: "UTC"}).format(date)};
  });
}

/** Hour h (0-23) as the reader writes hours: "14" or "2 PM". */
export function hourLabel(h) {
  return formatter(Intl.DateTimeFormat, {hour: "numeric", timeZone: "UTC"}).format(new Date(Date.UTC(2024, 0, 1, h)));
}
