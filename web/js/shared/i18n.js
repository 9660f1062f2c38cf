// Languages: a JSON catalogue per language (web/i18n/), chosen from the browser, switchable, remembered.
import { $$ } from "./dom.js";
import { ERROR_KEYS } from "./texts.js";

export const LANGUAGES = {en: "English", fr: "Français", es: "Español", de: "Deutsch"};
const STORAGE_KEY = "chat.lang";
let lang = "en";
let catalogue = {};
let plurals = new Intl.PluralRules("en");

/** The remembered choice, else the first of the browser's languages we have, else English. */
export function preferredLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved in LANGUAGES) return saved;
  for (const tag of navigator.languages || [navigator.language]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (base in LANGUAGES) return base;
  }
  return "en";
}

export async function setLanguage(code, remember = false) {
  const response = await fetch(`/static/i18n/${code}.json`);
  catalogue = await response.json();
  lang = code;
  plurals = new Intl.PluralRules(code);
  if (remember) localStorage.setItem(STORAGE_KEY, code);
  document.documentElement.lang = code;
  translatePage();
  // Building a formatter loads locale data (tens of ms the first time): do it now, not while the
  // first page of history renders.
  formatTime(new Date());
  formatDateTime(new Date());
  formatDay(new Date(0));
  formatDay(new Date(Date.now() - 3 * 86400000));
}

export const currentLanguage = () => lang;

/** t("key", {name}) → the text, with {placeholders} filled; a {count} picks the plural form. */
export function t(key, params = {}) {
  let text = catalogue[key];
  if (text && typeof text === "object") text = text[plurals.select(params.count ?? 0)] ?? text.other;
  if (typeof text !== "string") return key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

/** An error code in the reader's language; a code the catalogue does not know is named in a generic sentence. */
export function errorText(code) {
  return ERROR_KEYS[code] ? t(ERROR_KEYS[code]) : t("error.other", {code});
}

/** Static text in the page: data-i18n (text), data-i18n-placeholder, -title and -label (aria-label). */
function translatePage() {
  for (const el of $$("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of $$("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of $$("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of $$("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
}

const formats = {};
function format(kind, options) {
  const key = `${lang}|${kind}`;
  return (formats[key] ||= kind === "relative"
    ? new Intl.RelativeTimeFormat(lang, options)
    : new Intl.DateTimeFormat(lang, options));
}

export const formatTime = (date) => format("time", {hour: "numeric", minute: "2-digit"}).format(date);
export const formatDateTime = (date) => format("datetime", {dateStyle: "medium", timeStyle: "short"}).format(date);

/** "Today", "Yesterday", or the date, for the day dividers of a conversation. */
export function formatDay(date, now = new Date()) {
  const days = Math.round((startOfDay(now) - startOfDay(date)) / 86400000);
  if (days === 0) return t("day.today");
  if (days === 1) return t("day.yesterday");
  return days > 300 ? format("day-year", {weekday: "long", day: "numeric", month: "long", year: "numeric"}).format(date)
    : format("day", {weekday: "long", day: "numeric", month: "long"}).format(date);
}

/** Last activity in the conversation list: "now", "5 min", the time today, else the date. */
export function formatActivity(date, now = new Date()) {
  const seconds = (now - date) / 1000;
  if (seconds < 60) return t("time.now");
  if (seconds < 3600) {
    return format("relative", {style: "narrow", numeric: "always"}).format(-Math.floor(seconds / 60), "minute");
  }
  if (startOfDay(now) - startOfDay(date) === 0) return formatTime(date);
  return format("short", {day: "numeric", month: "short"}).format(date);
}

function startOfDay(date) {
  const d = new Date(date);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}
