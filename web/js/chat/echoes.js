// The local echoes of the outbox's sends: what became of each, said once in the reader's words, and only
// what can help: Retry where sending again may work, Edit and Delete where it cannot.
import { h, richText } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { errorText, formatDateTime, t } from "../shared/i18n.js";
import { quoteOf } from "./bubble.js";
import { uploadChip } from "./media.js";

// Refusals that the same send cannot get past: the text must change, or the sender's standing must.
const REFUSED = new Set(["content_blocked", "rejected_by_moderator", "content_held", "content_too_long",
  "content_required", "invalid_payload", "unsupported_type", "muted", "banned", "not_a_member", "forbidden",
  "not_found", "request_too_large", "invalid_attachment", "file_too_large", "quota_exceeded", "invalid_gif"]);

/** An echo's <li>: its text and files as they will be sent, and its state under it. live: the socket is up
 * (a pending send says "Sending…", else "Waiting for the connection…"); uploader: the files' chips. */
export function renderEcho(entry, {live, uploader}) {
  return h(`li.msg.mine.echo.${entry.state}${refused(entry) ? ".refused" : ""}`, {dataset: {clientId: entry.clientId}},
    h("div.row", h("div.body",
      h("div.bubble",
        entry.quote ? quoteOf(entry.quote, "div.quote") : null,
        entry.attachments?.length ? h("div.chips", entry.attachments.map((key) => uploader.get(key))
          .filter(Boolean).map((item) => uploadChip(item))) : null,
        entry.gif ? h("div.gif-echo", icon("image"), h("span", t("gifs.echo", {title: entry.gif.title || t("gifs.untitled")}))) : null,
        entry.content ? h("div.text", richText(entry.content)) : null),
      h("div.echo-status", {role: entry.state === "failed" ? "alert" : null}, statusOf(entry, live)))));
}

/** Seconds until a rate-limited send goes again by itself (0: not waiting). */
export const waitOf = (entry, now = Date.now()) =>
  (entry.state === "pending" && entry.retryAt ? Math.max(0, Math.ceil((entry.retryAt - now) / 1000)) : 0);

const refused = (entry) => entry.state === "failed" && REFUSED.has(entry.error);

function statusOf(entry, live) {
  if (entry.state === "held") return [icon("shield"), h("span.echo-text", t("echo.held"))];
  if (entry.state === "uploading") return [icon("upload"), t("echo.uploading")];
  if (entry.state === "failed") return failure(entry);
  const wait = waitOf(entry);
  if (wait) return [icon("clock"), t("echo.retryIn", {seconds: wait})];
  return [icon("clock"), live ? t("echo.sending") : t("echo.waiting")];
}

function failure(entry) {
  const button = (action, label) => h("button.link", {type: "button", dataset: {action}}, label);
  if (!refused(entry)) {
    return [icon("alert"), h("span.echo-text", t("echo.failed", {reason: errorText(entry.error)})),
      button("retry", t("action.retry")), button("discard", t("action.discard"))];
  }
  // Files cannot go back into the input: a send with files is only deleted.
  return [icon("alert"), h("span.echo-text", refusalText(entry)),
    entry.content && !entry.attachments?.length ? button("edit-echo", t("echo.edit")) : null,
    button("discard", t("action.delete"))];
}

/** Why a send was refused, once: which word a filter blocked, a moderator's own note, until when a mute
 * lasts (from the event's details, in the reader's language; never the server's English sentence). */
function refusalText(entry) {
  if (entry.error === "content_blocked" && entry.match) return t("echo.blocked", {match: entry.match});
  if (entry.error === "rejected_by_moderator" && entry.note) return t("echo.rejectedNote", {note: entry.note});
  if (entry.error === "muted" && entry.until) {
    return t("echo.failed", {reason: t("echo.mutedUntil", {until: formatDateTime(new Date(entry.until))})});
  }
  return t("echo.failed", {reason: errorText(entry.error)});
}
