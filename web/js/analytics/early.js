// What the analytics page asks the server before anything else: the groups the user may read, and the figures
// the address names (?group=&from=&to=). This module is a script of its own (async, in analytics.html), so it
// runs as soon as it and api.js arrive, while the page's other modules (uPlot, the tables) still load; the page
// then takes these answers instead of asking again.
import { Api, session } from "../shared/api.js";

export const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** base: /api/groups/{id} or /api/conversations/{id}; range: {from, to}. */
export function figuresPath(base, {from, to}, csv = false) {
  return `${base}/analytics${csv ? ".csv" : ""}?${new URLSearchParams({from, to, tz: ZONE})}`;
}

function ask(api, path) {
  const answer = api.get(path);
  answer.catch(() => {});   // awaited by the page, which says a failure in words
  return {path, answer};
}

const token = session.load()?.token || null;
const api = new Api(token);
const asked = new URLSearchParams(location.search);
const [group, from, to] = ["group", "from", "to"].map((name) => asked.get(name) || "");

/** {path, answer} of GET /api/moderation/groups, or null when signed out. */
export const groupsAsked = token ? ask(api, "/api/moderation/groups") : null;
/** {path, answer} of the figures the address names, or null. */
export const figuresAsked = token && group && DATE.test(from) && DATE.test(to)
  ? ask(api, figuresPath(`/api/groups/${encodeURIComponent(group)}`, {from, to})) : null;
