// The message input: Enter sends, Shift+Enter breaks the line; replying and editing; @ suggestions
// from the conversation's members; typing:start / typing:stop; a draft kept per conversation.
import { $, avatar, displayName, h, replace } from "./dom.js";
import { icon, iconButton } from "./icons.js";
import { errorText, t } from "./i18n.js";
import { state } from "./state.js";

const TYPING_REFRESH_MS = 2000;   // repeats keep the indicator alive (the server forgets after its TTL)
const TYPING_IDLE_MS = 4000;      // no keystroke for this long: typing:stop
const MENTION_AT_CARET = /(?:^|[^\w@])@([a-z0-9_.-]{0,32})$/i;

export class Composer {
  constructor(app) {
    this.app = app;
    this.form = $("#composer");
    this.input = $("#input");
    this.context = $("#composer-context");
    this.suggestions = $("#mentions");
    this.drafts = new Map();
    this.mode = null;        // {kind: "reply" | "edit", message}
    this.typingSince = 0;
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (e) => this.onKey(e));
    this.input.addEventListener("input", () => this.onInput());
    this.input.addEventListener("blur", () => this.stopTyping());
    this.suggestions.addEventListener("mousedown", (e) => {
      const item = e.target.closest("li");
      if (!item) return;
      e.preventDefault();   // keep the focus in the input
      this.pick(item.dataset.username);
    });
  }

  reset(convId) {
    if (this.convId && this.mode?.kind !== "edit") this.drafts.set(this.convId, this.input.value);
    this.stopTyping();
    this.convId = convId;
    this.cancel();
    this.input.value = this.drafts.get(convId) || "";
    this.closeSuggestions();
    this.enable(false);
    this.autosize();
  }

  enable(on) {
    this.input.disabled = !on;
    this.form.querySelector("button[type=submit]").disabled = !on;
  }

  focus() {
    this.input.focus({preventScroll: true});
  }

  /** Reply to or edit a message: a banner above the input says which, Escape cancels. */
  start(kind, message) {
    this.mode = {kind, message};
    const label = kind === "edit" ? t("composer.editing")
      : t("composer.replyingTo", {name: displayName(message.senderInfo)});
    replace(this.context,
      icon(kind === "edit" ? "edit" : "reply"),
      h("div.context-text", h("strong", label), h("span", message.content)),
      iconButton("button.icon-button", t("action.cancel"), "close", {onclick: () => this.cancel()}));
    this.context.hidden = false;
    if (kind === "edit") this.input.value = message.content;
    this.autosize();
    this.focus();
  }

  cancel() {
    if (this.mode?.kind === "edit") this.input.value = "";
    this.mode = null;
    this.context.hidden = true;
    replace(this.context);
  }

  async submit() {
    const content = this.input.value;
    if (!content.trim() || this.input.disabled) return;
    const mode = this.mode;
    this.stopTyping();
    if (mode?.kind === "edit") {
      if (content === mode.message.content) return this.cancel();
      if (!this.app.requireLive()) return;
      try {
        await this.app.conn.emit("message:edit", {messageId: mode.message.id, content});
      } catch (exc) {
        return this.app.toast(errorText(exc.code));
      }
    } else {
      this.app.send(this.convId, content, mode?.kind === "reply" ? mode.message : null);
    }
    this.input.value = "";
    this.drafts.delete(this.convId);
    this.cancel();
    this.autosize();
    this.focus();
  }

  onKey(e) {
    if (!this.suggestions.hidden) {
      const items = [...this.suggestions.children];
      const current = items.findIndex((li) => li.classList.contains("active"));
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        const next = (current + (e.key === "ArrowDown" ? 1 : -1) + items.length) % items.length;
        items.forEach((li, i) => li.classList.toggle("active", i === next));
        return;
      }
      if ((e.key === "Enter" || e.key === "Tab") && current >= 0) {
        e.preventDefault();
        return this.pick(items[current].dataset.username);
      }
      if (e.key === "Escape") return this.closeSuggestions();
    }
    if (e.key === "Escape" && this.mode) return this.cancel();
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.submit();
    }
  }

  onInput() {
    this.autosize();
    this.suggest();
    if (!this.input.value.trim()) return this.stopTyping();
    const now = Date.now();
    if (this.app.conn.live && now - this.typingSince > TYPING_REFRESH_MS) {
      this.typingSince = now;
      this.app.conn.emit("typing:start", {convId: this.convId}).catch(() => {});
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    clearTimeout(this.idleTimer);
    if (!this.typingSince) return;
    this.typingSince = 0;
    if (this.app.conn.live) this.app.conn.emit("typing:stop", {convId: this.convId}).catch(() => {});
  }

  autosize() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 180)}px`;
  }

  // -- @ suggestions ---------------------------------------------------------------------------------
  suggest() {
    const before = this.input.value.slice(0, this.input.selectionStart);
    const match = before.match(MENTION_AT_CARET);
    if (!match) return this.closeSuggestions();
    const query = match[1].toLowerCase();
    const people = this.app.view.people()
      .filter((u) => u.username !== state.me.username)
      .filter((u) => u.username.startsWith(query) || displayName(u).toLowerCase().split(/\s+/).some((w) => w.startsWith(query)))
      .slice(0, 6);
    if (!people.length) return this.closeSuggestions();
    replace(this.suggestions, people.map((u, i) =>
      h(`li${i === 0 ? ".active" : ""}`, {role: "option", dataset: {username: u.username}},
        avatar(u, u.id, "xs", state.presence.get(u.id)), h("span.name", displayName(u)), h("span.handle", "@" + u.username))));
    this.suggestions.hidden = false;
  }

  pick(username) {
    const caret = this.input.selectionStart;
    const before = this.input.value.slice(0, caret).replace(/@([a-z0-9_.-]{0,32})$/i, `@${username} `);
    this.input.value = before + this.input.value.slice(caret);
    this.input.setSelectionRange(before.length, before.length);
    this.closeSuggestions();
    this.focus();
  }

  closeSuggestions() {
    this.suggestions.hidden = true;
    replace(this.suggestions);
  }
}
