// What the side pages (the moderator dashboard, the export page) share around their content: icons in the
// static HTML, the language selects, the live-connection label, toasts, opening the tab's session.
import { Api, session } from "./api.js";
import { $, $$, h, replace } from "./dom.js";
import { icon } from "./icons.js";
import { LANGUAGES, currentLanguage, preferredLanguage, setLanguage, t } from "./i18n.js";

/** Icons in place of [data-icon]; each select.language lists the languages and calls onChange(code). */
export function setupPage(onChange) {
  for (const el of $$("[data-icon]")) el.replaceWith(icon(el.dataset.icon));
  for (const select of $$("select.language")) {
    select.append(...Object.entries(LANGUAGES).map(([code, name]) => h("option", {value: code}, name)));
    select.addEventListener("change", () => onChange(select.value));
  }
}

export function syncLanguageSelects() {
  for (const select of $$("select.language")) select.value = currentLanguage();
}

/** #live: a dot and the connection's mode in words (connecting, live, reconnecting, polling, offline). */
export function showMode(mode) {
  const live = $("#live");
  live.dataset.mode = mode;
  replace(live, h("span.dot"), t(`mod.mode.${mode}`));
}

export function toast(text) {
  const el = h("div.toast", {role: "status"}, text);
  $("#toasts").append(el);
  setTimeout(() => el.remove(), 5000);
}

/** What both side pages do first: the page's language, then this tab's session (or null: signed out).
 * `onExpired` runs when the server says the token no longer works. */
export async function openSession(onExpired) {
  await setLanguage(preferredLanguage());
  syncLanguageSelects();
  const saved = session.load();
  $("#boot").hidden = true;
  return saved && {me: saved.user, token: saved.token, api: new Api(saved.token, onExpired)};
}
