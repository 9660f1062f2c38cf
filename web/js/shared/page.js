// The setup the pages share: icons in the static HTML, the language selects and the switch, the
// page's language and this tab's session at start, toasts, the side pages' live-connection label and the
// gate they show instead of their content.
import { session } from "./api.js";
import { $, $$, h, replace } from "./dom.js";
import { icon } from "./icons.js";
import { LANGUAGES, currentLanguage, preferredLanguage, setLanguage, t } from "./i18n.js";
import { GATE_TITLE_KEYS, MODE_KEYS } from "./texts.js";

/** Icons in place of [data-icon]; each select.language lists the languages and switches to the one picked,
 * then calls onLanguage() to redraw. Then the page's language; returns this tab's session {token, user}, or
 * null when signed out. */
export async function openPage(onLanguage) {
  for (const el of $$("[data-icon]")) el.replaceWith(icon(el.dataset.icon));
  for (const select of $$("select.language")) {
    select.append(...Object.entries(LANGUAGES).map(([code, name]) => h("option", {value: code}, name)));
    select.addEventListener("change", async () => {
      await setLanguage(select.value, true);
      syncLanguageSelects();
      onLanguage();
    });
  }
  await setLanguage(preferredLanguage());
  syncLanguageSelects();
  const saved = session.load();
  showAnalyticsLink(saved !== null && sessionStorage.getItem(ANALYTICS_KEY) === "1");
  return saved;
}

// Whether the session may read analytics (group admins and system admins): the chat page knows it from its
// session:ready and keeps it for the side pages opened in the same tab, which show #analytics-link by it.
const ANALYTICS_KEY = "chat.analytics";

/** #analytics-link shown or not (and remembered for this tab's other pages). */
export function showAnalyticsLink(may) {
  if (may) sessionStorage.setItem(ANALYTICS_KEY, "1");
  else sessionStorage.removeItem(ANALYTICS_KEY);
  const link = $("#analytics-link");
  if (link) link.hidden = !may;
}

function syncLanguageSelects() {
  for (const select of $$("select.language")) select.value = currentLanguage();
}

/** The page is ready to be seen (the loading screen goes). */
export function shown() {
  $("#boot").hidden = true;
}

/** A notice for 5 s; with href, a link. */
export function toast(text, href = null) {
  const el = h(href ? "a.toast" : "div.toast", {href, role: "status"}, text);
  $("#toasts").append(el);
  setTimeout(() => el.remove(), 5000);
}

/** #live: a dot and the connection's mode in words (connecting, live, reconnecting, polling, offline). */
export function showMode(mode) {
  const live = $("#live");
  live.dataset.mode = mode;
  replace(live, h("span.dot"), t(MODE_KEYS[mode]));
}

/** A side page's gate instead of its content (`content`, e.g. "#mod"): signed out, not allowed, session over,
 * or the server unreachable. reason: the gate's data-reason; text: what it says under the title. */
export function showGate(content, reason, text) {
  $(content).hidden = true;
  $("#gate").hidden = false;
  $("#gate").dataset.reason = reason;
  replace($("#gate-title"), t(GATE_TITLE_KEYS[reason]));
  replace($("#gate-text"), text);
}

/** The reason of the gate shown, or null when the page's content is shown. */
export function gateShown() {
  return $("#gate").hidden === false ? $("#gate").dataset.reason : null;
}
