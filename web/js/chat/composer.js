// The message input: Enter sends, Shift+Enter breaks the line; replying and editing; @ suggestions
// from the conversation's members; typing:start / typing:stop; a draft kept per conversation.
// Long text: a counter from 90 % of the server's limit; over it, Send refuses with the reason (nothing is cut).
// ↑ in an empty input edits my last message; the emoji button inserts at the caret (emoji.js); the GIF button
// opens the GIF picker (gifs.js), shown only where the conversation's group has GIFs to offer.
// Files: the attach button, drag and drop onto the conversation, paste; each file starts uploading at once
// and waits in the tray (progress, cancel) until the message is sent. Voice messages: the microphone button.
import { $, $$, avatar, displayName, h, replace } from "../shared/dom.js";
import { icon, iconButton } from "../shared/icons.js";
import { currentLanguage, errorText, t } from "../shared/i18n.js";
import { plainText } from "../shared/markdown.js";
import { EmojiPicker } from "./emoji.js";
import { formatDuration, refreshChip, uploadChip } from "./media.js";
import { VoiceRecorder, canRecord } from "./recorder.js";
import { state } from "./state.js";

const MAX_ATTACHMENTS = 10;
const DEFAULT_MAX_CHARS = 10000;   // the server's default MAX_MESSAGE_CHARS, until session:ready says
const COUNT_FROM = 0.9;            // the counter shows from 90 % of the limit

const TYPING_REFRESH_MS = 2000;   // repeats keep the indicator alive (the server forgets after its TTL)
const TYPING_IDLE_MS = 4000;      // no keystroke for this long: typing:stop
const MENTION_AT_CARET = /(?:^|[^\w@])@([a-z0-9_.-]{0,32})$/i;

export class Composer {
  /** conn: the socket (edits, typing); uploader: the files of the tray; send(convId, content, parent, keys);
   * people(): who can be mentioned in the open conversation; messages(): the open conversation's stored
   * messages (↑ edits my last one); requireLive(): false (and says so) while offline; gifs: the GIF picker. */
  constructor({conn, uploader, toast, requireLive, send, people, messages, gifs}) {
    Object.assign(this, {conn, uploader, toast, requireLive, send, people, messages, gifs});
    this.maxChars = DEFAULT_MAX_CHARS;
    this.counter = $("#composer-count");
    this.sendButton = $(".composer-row .send");
    this.emoji = new EmojiPicker($("#emoji-picker"));   // also the reactions' picker (conversation.js)
    $("#emoji-button").addEventListener("click", (e) => this.openEmoji(e.currentTarget));
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
    this.tray = $("#tray");
    this.fileInput = $("#file-input");
    this.dropZone = $("#drop-zone");
    $("#attach").addEventListener("click", () => this.fileInput.click());
    this.fileInput.addEventListener("change", () => {
      this.addFiles([...this.fileInput.files]);
      this.fileInput.value = "";
    });
    this.input.addEventListener("paste", (e) => this.onPaste(e));
    this.tray.addEventListener("click", (e) => this.onTrayClick(e));
    this.watchDrops($(".conv-main"));
    this.voice = new VoiceRecorder({onTick: (s) => { $("#rec-time").textContent = formatDuration(Math.floor(s)); },
      onLimit: () => this.finishVoice(true)});
    $("#record").hidden = !canRecord();
    $("#record").addEventListener("click", () => this.startVoice());
    $("#rec-cancel").addEventListener("click", () => this.finishVoice(false));
    $("#rec-send").addEventListener("click", () => this.finishVoice(true));
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
    if (this.voice.active) this.finishVoice(false);
    this.convId = convId;
    this.cancel();
    this.input.value = this.drafts.get(convId) || "";
    this.closeSuggestions();
    this.gifs?.forConversation(convId);
    this.enable(false);
    this.autosize();
    this.count();
    this.renderTray();
  }

  /** session:ready's limits: the server's own (MAX_MESSAGE_CHARS), so the counter says what the server will do. */
  setLimits(limits) {
    if (Number.isInteger(limits?.maxMessageChars) && limits.maxMessageChars > 0) this.maxChars = limits.maxMessageChars;
    this.count();
  }

  enable(on) {
    this.wanted = on;           // what the conversation allows; a block() keeps it off until lifted
    on = on && !this.blocked;
    this.input.disabled = !on;
    for (const b of $$(".composer-row button", this.form)) b.disabled = !on;
  }

  /** A reason the user cannot write here (a mute or ban with its time left, a removal), or null. Blocked: the
   * input, its buttons and files are off, and the reason shows in the composer as a status (said again only
   * when its words change). Unblocked: back to what the conversation allows. */
  block(reason) {
    this.blocked = reason || null;
    const note = $("#composer-blocked");
    if (note.textContent !== (reason || "")) note.textContent = reason || "";
    note.hidden = !reason;
    this.form.classList.toggle("blocked", Boolean(reason));
    if (reason) {
      this.stopTyping();
      if (this.voice.active) this.finishVoice(false);
      this.closeSuggestions();
      this.gifs?.close(false);
    }
    this.enable(Boolean(this.wanted));
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
      h("div.context-text", h("strong", label), h("span", plainText(message.content))),
      iconButton("button.icon-button", t("action.cancel"), "close", {onclick: () => this.cancel()}));
    this.context.hidden = false;
    if (kind === "edit") this.input.value = message.content;
    this.autosize();
    this.count();
    this.focus();
  }

  cancel() {
    if (this.mode?.kind === "edit") this.input.value = "";
    this.mode = null;
    this.context.hidden = true;
    replace(this.context);
    this.count();
  }

  async submit() {
    const content = this.input.value;
    const files = this.mode?.kind === "edit" ? [] : this.uploader.tray(this.convId).filter((i) => i.state !== "error");
    if ((!content.trim() && !files.length) || this.input.disabled) return;
    if (this.over()) return this.count(true);
    const mode = this.mode;
    this.stopTyping();
    if (mode?.kind === "edit") {
      if (content === mode.message.content) return this.cancel();
      if (!this.requireLive()) return;
      try {
        await this.conn.emit("message:edit", {messageId: mode.message.id, content});
      } catch (exc) {
        return this.toast(errorText(exc.code));
      }
    } else {
      this.send(this.convId, content, mode?.kind === "reply" ? mode.message : null, files.map((i) => i.key));
      for (const item of this.uploader.tray(this.convId)) if (item.state === "error") this.uploader.forget(item.key);
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
    if (e.key === "ArrowUp" && !this.input.value && !this.mode && !e.isComposing &&
        !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey) return this.editLast(e);
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.submit();
    }
  }

  onInput() {
    this.autosize();
    this.count();
    this.suggest();
    if (!this.input.value.trim()) return this.stopTyping();
    const now = Date.now();
    if (this.conn.live && now - this.typingSince > TYPING_REFRESH_MS) {
      this.typingSince = now;
      this.conn.emit("typing:start", {convId: this.convId}).catch(() => {});
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    clearTimeout(this.idleTimer);
    if (!this.typingSince) return;
    this.typingSince = 0;
    if (this.conn.live) this.conn.emit("typing:stop", {convId: this.convId}).catch(() => {});
  }

  autosize() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 180)}px`;
  }

  // -- length, ↑, emoji -------------------------------------------------------------------------------
  /** Characters as the server counts them: code points (an emoji is one or more, never half of one). */
  length() {
    const text = this.input.value;
    return text.length - (text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length || 0);
  }

  over() {
    return this.length() > this.maxChars;
  }

  /** The counter from 90 % of the limit; over it, why Send refuses (a paste that overflowed says so): the text
   * is never cut. Send is aria-disabled rather than disabled, which enable() owns. */
  count() {
    const length = this.length();
    const over = length - this.maxChars;
    const shown = length >= this.maxChars * COUNT_FROM;
    if (over <= 0) this.pastedOver = false;
    this.counter.hidden = !shown;
    this.counter.classList.toggle("over", over > 0);
    this.sendButton.setAttribute("aria-disabled", String(over > 0));
    if (!shown) return replace(this.counter);
    const number = new Intl.NumberFormat(currentLanguage());
    const params = {length: number.format(length), limit: number.format(this.maxChars), over: number.format(over), count: over};
    this.counter.textContent = over <= 0 ? t("composer.count", params)
      : t(this.pastedOver ? "composer.pastedTooLong" : "composer.tooLong", params);
  }

  /** A paste of text: if it takes the message over the limit, the counter says the paste did (it is kept whole). */
  notePaste(text) {
    const selected = this.input.value.slice(this.input.selectionStart, this.input.selectionEnd);
    const codePoints = (s) => [...s].length;
    if (this.length() - codePoints(selected) + codePoints(text) > this.maxChars) this.pastedOver = true;
  }

  /** ↑ in the empty input, as in Slack: edit my latest text message of this conversation. */
  editLast(e) {
    let last = null;
    for (const m of this.messages?.() || []) {
      if (m.senderId === state.me?.id && m.type === "text" && !m.isDeleted && !(last?.seq > m.seq)) last = m;
    }
    if (!last || this.input.disabled) return;
    e.preventDefault();
    this.start("edit", last);
  }

  /** The emoji picker, for the input: the emoji goes where the caret was (over the selection, if any). */
  openEmoji(button) {
    const {selectionStart, selectionEnd} = this.input;
    this.emoji.show(button, (char) => {
      this.input.setRangeText(char, selectionStart, selectionEnd, "end");
      this.focus();
      this.onInput();
    });
  }

  // -- files ----------------------------------------------------------------------------------------
  /** Files picked, dropped or pasted: each starts uploading now (or resumes, if it is the file of an
   * interrupted upload) and waits in the tray for the send. */
  addFiles(files) {
    if (!this.convId || this.input.disabled || !files.length) return;
    const room = MAX_ATTACHMENTS - this.uploader.tray(this.convId).filter((i) => i.state !== "paused").length;
    const resumable = (f) => this.uploader.tray(this.convId).some((i) => i.state === "paused" &&
      i.name === f.name && i.size === f.size && i.lastModified === f.lastModified);
    let taken = 0;
    for (const file of files) {
      if (!file.size) {
        this.toast(t("upload.empty", {name: file.name}));
      } else if (resumable(file) || taken < room) {
        if (!resumable(file)) taken += 1;
        this.uploader.add(this.convId, file);
      } else {
        this.toast(t("upload.tooMany", {count: MAX_ATTACHMENTS}));
        break;
      }
    }
    this.focus();
  }

  onPaste(e) {
    const files = [...(e.clipboardData?.files || [])];
    if (!files.length) return this.notePaste(e.clipboardData?.getData("text/plain") || "");
    e.preventDefault();
    // A pasted screenshot is called image.png by every browser: give it a name worth keeping.
    const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
    this.addFiles(files.map((f, i) => (f.name === "image.png" || !f.name
      ? new File([f], `pasted-${stamp}${files.length > 1 ? `-${i + 1}` : ""}.${(f.type.split("/")[1] || "png").replace("jpeg", "jpg")}`,
        {type: f.type, lastModified: f.lastModified}) : f)));
  }

  watchDrops(area) {
    let depth = 0;
    const hasFiles = (e) => [...(e.dataTransfer?.types || [])].includes("Files");
    area.addEventListener("dragenter", (e) => {
      if (!hasFiles(e) || this.input.disabled) return;
      e.preventDefault();
      depth += 1;
      this.dropZone.hidden = false;
    });
    area.addEventListener("dragover", (e) => {
      if (!hasFiles(e) || this.input.disabled) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
    });
    area.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (!depth) this.dropZone.hidden = true;
    });
    area.addEventListener("drop", (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      this.dropZone.hidden = true;
      this.addFiles([...e.dataTransfer.files]);
    });
  }

  onTrayClick(e) {
    const button = e.target.closest("[data-action]");
    if (!button) return;
    if (button.dataset.action === "cancel-upload") this.uploader.cancel(button.dataset.key);
    if (button.dataset.action === "resume-upload") this.fileInput.click();
  }

  renderTray() {
    const items = this.convId ? this.uploader.tray(this.convId) : [];
    replace(this.tray, items.map((item) => uploadChip(item)));
    this.tray.hidden = !items.length;
  }

  /** An upload moved: its chip in the tray (if it is there) follows. */
  onUpload(item, removed) {
    if (item.convId !== this.convId) return;
    const el = $$(".chip", this.tray).find((c) => c.dataset.upload === item.key);
    if (removed || item.clientId) return el ? this.renderTray() : undefined;
    if (!el) return this.renderTray();
    refreshChip(el, item);
  }

  // -- voice messages ---------------------------------------------------------------------------------
  async startVoice() {
    if (this.voice.active || !this.convId) return;
    try {
      await this.voice.start();
    } catch (exc) {
      return this.toast(exc?.name === "NotAllowedError" ? t("voice.denied") : t("voice.unavailable"));
    }
    this.stopTyping();
    $(".composer-row", this.form).hidden = true;
    $("#recorder").hidden = false;
    $("#rec-send").focus();
  }

  /** Stop recording; send: the recording is uploaded and sent as a voice message (nothing to wait for). */
  async finishVoice(send) {
    const convId = this.convId;
    $("#recorder").hidden = true;
    $(".composer-row", this.form).hidden = false;
    const recording = await this.voice.finish(send);
    if (send && recording && convId) {
      if (recording.seconds < 0.5) return this.toast(t("voice.tooShort"));
      const item = this.uploader.add(convId, recording.file);
      this.send(convId, "", null, [item.key]);
    }
    this.focus();
  }

  // -- @ suggestions ---------------------------------------------------------------------------------
  suggest() {
    const before = this.input.value.slice(0, this.input.selectionStart);
    const match = before.match(MENTION_AT_CARET);
    if (!match) return this.closeSuggestions();
    const query = match[1].toLowerCase();
    const people = this.people()
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
