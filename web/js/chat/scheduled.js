// Send later and remind me: the composer's clock (a date and time in the user's time zone), the list of
// the user's scheduled messages of the open conversation (edit, cancel; failed ones with the reason), and
// the "remind me" presets of a message's menu.
import { $, h, newClientId, replace } from "../shared/dom.js";
import { icon, iconButton } from "../shared/icons.js";
import { errorText, formatDateTime, t } from "../shared/i18n.js";
import { REMIND_KEYS } from "../shared/texts.js";

const OPEN = new Set(["pending", "claimed", "failed"]);
const DISMISSED_KEY = "chat.dismissedScheduled";

/** The browser's IANA zone: a local date and time is sent with it, and the server applies it. */
export const timeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

/** A Date as a datetime-local value in the browser's zone: 2026-12-01T21:02:05. */
export function localInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:` +
    `${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** datetime-local gives "…T21:02" or "…T21:02:05": the server wants seconds or not, both are ISO-8601. */
const normalLocal = (value) => (value.length === 16 ? `${value}:00` : value);

/** invalid_time and invalid_time_zone: our sentence, then the server's own reason (past, too far ahead). */
function timeError(exc) {
  const text = errorText(exc.code);
  return (exc.code === "invalid_time" || exc.code === "invalid_time_zone") && exc.message && exc.message !== exc.code
    ? `${text} (${exc.message})` : text;
}

export class ScheduledPanel {
  /** composer: what "send later" schedules; bus: "panel:opened" ("scheduled") when its panel opens;
   * "message:remind" (message) asks for a reminder, "scheduled:open" opens the panel. */
  constructor({api, dialogs, toast, composer, bus}) {
    Object.assign(this, {api, dialogs, toast, composer, bus});
    bus.on("message:remind", (m) => this.remind(m));
    bus.on("scheduled:open", () => this.open());
    this.panel = $("#scheduled");
    this.list = $("#scheduled-list");
    this.strip = $("#scheduled-strip");
    this.items = new Map();
    this.convId = null;
    $("#send-later").addEventListener("click", () => this.sendLater());
    this.strip.addEventListener("click", () => (this.panel.hidden ? this.open() : this.close()));
    $("#scheduled-close").addEventListener("click", () => this.close());
    this.list.addEventListener("click", (e) => this.onClick(e));
    // One side panel at a time: search and the gallery close this one.
    for (const id of ["#search-toggle", "#gallery-toggle"]) $(id).addEventListener("click", () => this.close());
  }

  reset(convId) {
    this.convId = convId;
    this.items = new Map();
    this.generation = (this.generation || 0) + 1;
    this.close();
    this.render();
    if (convId) this.load(convId, this.generation);
  }

  /** After a reconnect: what changed while the socket was down (sent, failed, edited elsewhere). */
  refresh() {
    if (this.convId) this.load(this.convId, this.generation);
  }

  async load(convId, gen) {
    try {
      const {scheduledMessages} = await this.api.get(`/api/conversations/${convId}/scheduled-messages?limit=100`);
      if (gen !== this.generation) return;
      for (const item of scheduledMessages) this.items.set(item.id, item);
      this.render();
    } catch {
      // A server without scheduled messages, or not a member: nothing to list.
    }
  }

  open() {
    this.bus.emit("panel:opened", "scheduled");
    this.panel.hidden = false;
    this.render();
  }

  close() {
    this.panel.hidden = true;
  }

  dismissed() {
    try {
      return new Set(JSON.parse(localStorage.getItem(DISMISSED_KEY) || "[]"));
    } catch {
      return new Set();
    }
  }

  shown() {
    const dismissed = this.dismissed();
    return [...this.items.values()].filter((i) => OPEN.has(i.status) && !dismissed.has(i.id))
      .sort((a, b) => Date.parse(a.sendAt) - Date.parse(b.sendAt));
  }

  render() {
    const items = this.shown();
    const failed = items.filter((i) => i.status === "failed").length;
    this.strip.hidden = !items.length;
    this.strip.classList.toggle("has-failed", failed > 0);
    replace(this.strip, icon(failed ? "alert" : "clock"),
      h("span", t("later.strip", {count: items.length})),
      failed ? h("span.strip-failed", t("later.stripFailed", {count: failed})) : null,
      icon("forward"));
    replace(this.list, items.length ? items.map((i) => this.renderItem(i)) : h("li.scheduled-empty", t("later.none")));
  }

  renderItem(item) {
    const at = new Date(item.sendAt);
    const failed = item.status === "failed";
    const action = (name, iconName, label) => iconButton("button.icon-button.small", label, iconName, {dataset: {action: name}});
    return h(`li.scheduled-item.${item.status}`, {dataset: {id: item.id, status: item.status}},
      h("div.scheduled-when", icon(failed ? "alert" : "clock"),
        h("time", {datetime: item.sendAt}, formatDateTime(at)),
        item.status === "claimed" ? h("span.scheduled-state", t("later.sending")) : null),
      h("p.scheduled-text", item.content),
      failed ? h("p.scheduled-error", t("later.failed", {reason: failureText(item)})) : null,
      h("div.scheduled-actions", item.status === "pending"
        ? [action("edit", "edit", t("later.edit")), action("cancel", "trash", t("later.cancel"))]
        : failed ? h("button.link", {type: "button", dataset: {action: "dismiss"}}, t("action.discard")) : null));
  }

  onClick(e) {
    const button = e.target.closest("[data-action]");
    const item = this.items.get(e.target.closest("li.scheduled-item")?.dataset.id);
    if (!button || !item) return;
    if (button.dataset.action === "edit") return this.edit(item);
    if (button.dataset.action === "cancel") return this.cancel(item);
    if (button.dataset.action === "dismiss") {
      const dismissed = [...this.dismissed(), item.id].slice(-200);
      localStorage.setItem(DISMISSED_KEY, JSON.stringify(dismissed));
      this.render();
    }
  }

  /** scheduled:updated (sent, failed, edited, cancelled), from any device of the user. */
  onUpdated(item) {
    if (item.convId !== this.convId) return;
    this.items.set(item.id, item);
    this.render();
  }

  // -- send later ---------------------------------------------------------------------------------------
  async sendLater() {
    const composer = this.composer;
    const content = composer.input.value;
    const convId = this.convId;
    if (!convId || composer.input.disabled) return;
    if (composer.mode?.kind === "edit") return this.toast(t("later.notWhileEditing"));
    if (!content.trim()) {
      composer.focus();
      return this.toast(t("later.empty"));
    }
    const parent = composer.mode?.kind === "reply" ? composer.mode.message : null;
    const inHour = new Date(Date.now() + 3600_000);
    inHour.setMinutes(Math.ceil(inHour.getMinutes() / 5) * 5, 0, 0);
    const clientId = newClientId();
    const item = await this.dialogs.form({
      title: t("later.title"), text: content.length > 200 ? `${content.slice(0, 200)}…` : content, submit: t("later.submit"),
      fields: [{name: "sendAt", label: t("later.when"), type: "datetime-local", value: localInput(inHour), required: true,
        step: 1, hint: t("later.zone", {zone: timeZone()})}],
      onSubmit: async ({sendAt}) => {
        let made;
        try {
          made = await this.api.post(`/api/conversations/${convId}/scheduled-messages`,
            {clientId, content, sendAt: normalLocal(sendAt), timeZone: timeZone(), ...(parent ? {replyTo: parent.id} : {})});
        } catch (exc) {
          exc.text = exc.code === "limit_reached" ? t("later.limit") : timeError(exc);
          throw exc;
        }
        // Emptied now, before the dialog closes: what is typed once it has closed is the next message, and
        // the dialog's close event (a task later) must not wipe it.
        if (composer.convId === convId) {
          composer.input.value = "";
          composer.drafts.delete(convId);
          composer.cancel();
          composer.autosize();
        }
        return made;
      },
    });
    if (!item || item === true) return;
    if (composer.convId === convId) composer.focus();
    if (item.convId === this.convId) this.items.set(item.id, item);
    this.render();
    this.toast(t("later.done", {at: formatDateTime(new Date(item.sendAt))}));
  }

  async edit(item) {
    const updated = await this.dialogs.form({
      title: t("later.editTitle"), submit: t("action.save"),
      fields: [{name: "content", label: t("later.content"), value: item.content, required: true},
        {name: "sendAt", label: t("later.when"), type: "datetime-local", value: localInput(new Date(item.sendAt)),
          required: true, step: 1, hint: t("later.zone", {zone: timeZone()})}],
      onSubmit: async ({content, sendAt}) => {
        const changes = {};
        if (content !== item.content) changes.content = content;
        if (normalLocal(sendAt) !== localInput(new Date(item.sendAt))) {
          Object.assign(changes, {sendAt: normalLocal(sendAt), timeZone: timeZone()});
        }
        if (!Object.keys(changes).length) return item;
        try {
          return await this.api.patch(`/api/scheduled-messages/${item.id}`, changes);
        } catch (exc) {
          exc.text = exc.code === "invalid_state" ? t("later.tooLate") : timeError(exc);
          throw exc;
        }
      },
    });
    if (updated && updated !== true) this.onUpdated(updated);
  }

  async cancel(item) {
    const ok = await this.dialogs.form({
      title: t("later.cancelTitle"), text: item.content, submit: t("later.cancelConfirm"), danger: true,
      onSubmit: async () => {
        try {
          await this.api.del(`/api/scheduled-messages/${item.id}`);
        } catch (exc) {
          exc.text = exc.code === "invalid_state" ? t("later.tooLate") : errorText(exc.code);
          throw exc;
        }
      },
    });
    if (!ok) return;
    this.onUpdated({...item, status: "cancelled"});
  }

  // -- remind me ----------------------------------------------------------------------------------------
  remind(m) {
    const dialog = this.dialogs.dialog;
    const error = h("p.form-error", {role: "alert"});
    const create = async (body, button) => {
      button.disabled = true;
      error.textContent = "";
      try {
        const reminder = await this.api.post(`/api/messages/${m.id}/reminders`, body);
        dialog.close();
        this.toast(t("remind.done", {at: formatDateTime(new Date(reminder.scheduledFor))}));
      } catch (exc) {
        error.textContent = timeError(exc);
        button.disabled = false;
      }
    };
    const now = new Date();
    const tomorrow = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1, 9, 0, 0);
    const presets = [["in20", new Date(now.getTime() + 20 * 60_000)], ["in1h", new Date(now.getTime() + 3600_000)],
      ["tomorrow", tomorrow]];
    const custom = h("input", {id: "remind-at", type: "datetime-local", name: "at", required: true, step: 1,
      value: localInput(new Date(now.getTime() + 3 * 3600_000)).slice(0, 16) + ":00"});
    const customButton = h("button.button.primary", {type: "submit"}, t("remind.submit"));
    const form = h("form.dialog-form", {method: "dialog"},
      h("h2", t("remind.title")),
      h("p.dialog-text", m.content ? (m.content.length > 140 ? `${m.content.slice(0, 140)}…` : m.content) : t("remind.aFile")),
      h("div.presets", presets.map(([key, at]) => h("button.preset", {type: "button", dataset: {preset: key},
        onclick: (e) => create({at: at.toISOString()}, e.currentTarget)},
        icon("clock"), h("span.preset-label", t(REMIND_KEYS[key])), h("span.preset-time", formatDateTime(at))))),
      h("label.field", {for: "remind-at"}, h("span.field-label", t("remind.custom")), custom,
        h("span.field-hint", t("later.zone", {zone: timeZone()}))),
      error,
      h("div.dialog-actions",
        h("button.button", {type: "button", onclick: () => dialog.close()}, t("action.cancel")), customButton));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      create({at: normalLocal(custom.value), timeZone: timeZone()}, customButton);
    });
    replace(dialog, form);
    dialog.showModal();
  }
}

/** Why a scheduled message was not sent, from the server's code (not_a_member, muted, scheduled_late…). */
const failureText = (item) => errorText(item.error?.code || "error");
