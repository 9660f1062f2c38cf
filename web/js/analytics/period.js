// The period the page shows: presets (7, 30, 90 days, a year: ending today, in the browser's calendar) or
// two dates; at most 366 days counting both ends (the server takes one more). Dates are `YYYY-MM-DD` strings.
export const PRESETS = ["7", "30", "90", "365"];
export const MAX_DAYS = 366;
const DAY_MS = 86400000;

/** Today as YYYY-MM-DD: the later of the browser's day and UTC's, since the roll-ups' days are UTC days
 * (west of Greenwich in the evening, UTC's today already has messages). */
export function today() {
  const now = new Date();
  const local = isoDate(new Date(Date.UTC(now.getFullYear(), now.getMonth(), now.getDate())));
  const utc = isoDate(now);
  return local > utc ? local : utc;
}

function isoDate(date) {
  return date.toISOString().slice(0, 10);
}

const dayNumber = (text) => Date.parse(`${text}T00:00:00Z`) / DAY_MS;

/** The `days` days ending `to` (both included). */
export function presetRange(days, to = today()) {
  return {from: isoDate(new Date((dayNumber(to) - Number(days) + 1) * DAY_MS)), to};
}

/** Which preset a range is, or "custom". */
export function presetOf({from, to}) {
  return PRESETS.find((days) => presetRange(days).from === from && to === today()) || "custom";
}

/** null when the range is fine, else the reason: missing, order, long. */
export function rangeProblem({from, to}) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(from || "") || !/^\d{4}-\d{2}-\d{2}$/.test(to || "")) return "missing";
  if (dayNumber(from) > dayNumber(to)) return "order";
  if (dayNumber(to) - dayNumber(from) + 1 > MAX_DAYS) return "long";
  return null;
}
