// The open conversation: history in pages of 50, live messages, local echoes, reactions, replies,
// edits and deletes, typing, "seen by", marking what is on screen as read, and where the view is: at the
// first unread message on opening (a "New messages" divider), kept at the bottom while the newest content
// grows, and "Jump to latest" while it is away from it.
import { $, $$, avatar, displayName, h, replace, richText } from "../shared/dom.js";
import { icon, iconButton } from "../shared/icons.js";
import { errorText, formatDateTime, formatDay, formatTime, t } from "../shared/i18n.js";
import { CONV_DENIED_KEYS, MESSAGE_ACTION_KEYS } from "../shared/texts.js";
import { LongTexts, markMasked, quoteOf } from "./bubble.js";
import { renderEcho, waitOf } from "./echoes.js";
import { refreshChip, renderFiles } from "./media.js";
import { rememberUser, state, userName } from "./state.js";

const PAGE = 50;
const CATCH_UP_PAGE = 200;               // also the server's largest page (HISTORY_MAX_LIMIT)
const UNREAD_CONTEXT = 5;                // read messages shown above the first unread on opening
const DIVIDER_MARGIN_PX = 56;            // the "New messages" divider this far below the top on opening
const GROUP_WITHIN_MS = 5 * 60 * 1000;   // a sender's messages this close together share one header
const LOAD_OLDER_PX = 600;               // start loading the previous page this far from the top

export class ConversationView {
  /** composer: the input under the conversation; bus: "conversation:loaded" (convId) once the first page is
   * drawn, "conversation:read" ({convId, seq}) to send a read mark, "message:remind" (message). */
  constructor({api, conn, outbox, uploader, mediaUrls, lightbox, dialogs, toast, requireLive, composer, bus}) {
    Object.assign(this, {api, conn, outbox, uploader, mediaUrls, lightbox, dialogs, toast, requireLive, composer, bus});
    this.root = $("#conv");
    this.scroller = $("#scroller");
    this.list = $("#messages");
    this.echoes = $("#outbox");
    this.top = $("#history-top");
    this.seenBy = $("#seen-by");
    this.typingEl = $("#typing");
    this.jump = $("#jump");
    this.jumpCount = $("#jump-count");
    this.longTexts = new LongTexts();
    this.generation = 0;
    this.convId = null;
    this.observer = new IntersectionObserver((entries) => this.onVisible(entries), {root: this.scroller, threshold: 0.5});
    this.scroller.addEventListener("scroll", () => this.onScroll(), {passive: true});
    // Whatever changes height in the conversation (a reaction, an edit, a failure notice, an image, a text
    // expanded, the input growing): a view that was at the bottom stays there.
    this.resizes = new ResizeObserver(() => this.keepBottom());
    for (const el of [this.scroller, this.list, this.echoes, this.seenBy]) this.resizes.observe(el);
    this.list.addEventListener("click", (e) => this.onClick(e));
    // Touch screens: one message's actions open at a time, and a tap anywhere else closes them.
    document.addEventListener("pointerdown", (e) => {
      if (!e.target.closest?.("li.msg.selected, #emoji-picker")) this.select(null);
    });
    this.echoes.addEventListener("click", (e) => this.onEchoClick(e));
    this.jump.addEventListener("click", () => this.scrollToBottom());
    document.addEventListener("visibilitychange", () => this.markRead());
  }

  // -- opening ----------------------------------------------------------------------------------
  reset(convId) {
    this.generation += 1;
    this.convId = convId;
    this.loaded = false;
    this.unavailable = null;
    this.messages = new Map();   // seq → stored message
    this.els = new Map();        // seq → its <li>
    this.minSeq = Infinity;
    this.maxSeq = 0;
    this.hasMore = false;
    this.loadingOlder = null;    // the older page or the catch-up under way (see single())
    this.catching = null;
    this.members = null;         // [{user, lastReadSeq}] once the server told us
    this.reads = new Map();      // userId → read up to seq
    this.visibleSeq = 0;
    this.sentRead = 0;
    this.unreadAfter = null;     // the read mark at opening, when there was something unread: the divider's place
    this.sticky = true;          // the view is at the bottom: growth below keeps it there
    this.longTexts.reset();
    clearTimeout(this.echoTimer);
    this.echoTimer = 0;
    for (const timer of this.typing?.values() || []) clearTimeout(timer);
    this.typing = new Map();     // userId → timer that forgets them
    this.players = new Map();    // audio players kept across redraws of their message (playback goes on)
    this.observer.disconnect();
    this.closePicker();
    replace(this.list);
    replace(this.echoes);
    replace(this.seenBy);
    replace(this.typingEl);
    replace(this.top);
    this.jump.hidden = true;
  }

  async open(convId) {
    this.reset(convId);
    const gen = this.generation;
    this.root.hidden = false;
    this.root.classList.remove("forbidden");
    this.renderHeader();
    this.top.textContent = t("conv.loading");
    this.composer.reset(convId);
    let page;
    try {
      page = await this.firstPage(convId);
    } catch (exc) {
      if (gen === this.generation) this.showUnavailable(exc);
      return;
    }
    if (gen !== this.generation) return;
    this.loaded = true;
    this.hasMore = page.hasMore;
    this.insertMessages(page.messages);
    this.renderTop();
    this.renderEchoes();
    if (!this.showFirstUnread()) this.scrollToBottom();
    this.composer.enable(true);
    this.composer.focus();
    // Usable now: the page subscribes (before catching up, so nothing falls between the page read and the
    // live room) and goes to a notification's target in this conversation, if any.
    this.bus.emit("conversation:loaded", convId);
    this.loadMembers(gen);
    this.fillScreen();
  }

  /** The first page: the newest 50; with unread messages, a page that starts a little above the first of
   * them: the newest ones when they fit in one page, else from there on (the catch-up that follows the
   * subscription brings the rest below). A conversation never opened (no read mark at all, not even on
   * its first message) opens at the bottom, as a channel just joined does in Slack: its whole past is not
   * news to wade through. */
  async firstPage(convId) {
    const conv = state.convs.get(convId);
    const lastRead = conv?.lastReadSeq || 0;
    const unread = Math.max(0, (conv?.lastSeq || 0) - lastRead);
    if (!unread || !lastRead) return this.api.history(convId, {limit: PAGE});
    this.unreadAfter = lastRead;
    if (unread + UNREAD_CONTEXT <= CATCH_UP_PAGE) {
      return this.api.history(convId, {limit: Math.max(PAGE, unread + UNREAD_CONTEXT)});
    }
    const page = await this.api.history(convId, {after: Math.max(0, lastRead - UNREAD_CONTEXT), limit: PAGE});
    if (!page.messages.length) return this.api.history(convId, {limit: PAGE});
    return {messages: page.messages, hasMore: page.messages[0].seq > 1};   // seq 1 is the conversation's first
  }

  /** The first unread message held, if the one after the read mark is loaded. */
  firstUnreadSeq() {
    if (this.unreadAfter === null || this.unreadAfter + 1 < this.minSeq) return null;
    for (let seq = this.unreadAfter + 1; seq <= this.maxSeq; seq += 1) if (this.els.has(seq)) return seq;
    return null;
  }

  /** "New messages" above the first unread, for as long as the conversation stays open. */
  placeDivider() {
    const el = this.els.get(this.firstUnreadSeq());
    const current = $(".new-divider", this.list);
    if (!el || current?.parentElement === el) return;
    current?.remove();
    const label = t("view.newDivider");   // a separator's children are not read out: its label is
    el.insertBefore(h("div.new-divider", {role: "separator", "aria-label": label}, h("span", label)),
      dayDivider(el)?.nextSibling || el.firstChild);
  }

  /** Opening with unread messages: the divider near the top of the view (or the bottom, if all fits). */
  showFirstUnread() {
    const divider = $(".new-divider", this.list);
    if (!divider) return false;
    const top = divider.getBoundingClientRect().top - this.scroller.getBoundingClientRect().top;
    this.scroller.scrollTop += top - DIVIDER_MARGIN_PX;
    this.sticky = this.atBottom();
    this.onScroll();
    return true;
  }

  close() {
    this.reset(null);
    this.root.hidden = true;
  }

  /** Not a member (or no such conversation): say so, show nothing of it. */
  showUnavailable(exc) {
    this.reset(this.convId);   // nothing of it stays on screen (it may have been open when access ended)
    this.unavailable = exc;
    const denied = exc.code === "forbidden" || exc.code === "not_found";
    this.root.classList.add("forbidden");
    this.composer.enable(false);
    replace($("#conv-title"), denied ? t("conv.forbiddenTitle") : t("conv.loadFailedTitle"));
    replace($("#conv-sub"));
    replace(this.top, h("div.notice-card", h("p", denied ? t(CONV_DENIED_KEYS[exc.code]) : t("conv.loadFailed")),
      denied ? h("a.button", {href: "#/"}, t("conv.backToList"))
             : h("button.button", {type: "button", onclick: () => this.open(this.convId)}, t("action.retry"))));
  }

  async loadMembers(gen) {
    if (!state.features.members) return;
    try {
      const {members} = await this.api.get(`/api/conversations/${this.convId}/members`);
      if (gen !== this.generation) return;
      this.members = members;
      for (const {user, lastReadSeq} of members) {
        rememberUser(user.id, user);
        this.reads.set(user.id, Math.max(lastReadSeq || 0, this.reads.get(user.id) || 0));
      }
      this.renderHeader();
      this.renderSeen();
    } catch (exc) {
      if (exc.missingRoute) state.features.members = false;   // the server has no members route yet
    }
  }

  /** The people of the conversation for @ suggestions: its members, else whoever wrote in it. */
  people() {
    if (this.members) return this.members.map((m) => m.user);
    const seen = new Map();
    for (const m of this.messages.values()) if (m.type !== "system") seen.set(m.senderId, {id: m.senderId, ...m.senderInfo});
    return [...seen.values()];
  }

  renderHeader() {
    const conv = state.convs.get(this.convId);
    replace($("#conv-title"), conv ? conv.title : "…", conv?.encrypted ? lockMark() : null);
    const beginning = $(".beginning strong", this.top);   // drawn before the list said the title
    if (beginning) beginning.textContent = conv?.title || "";
    const sub = $("#conv-sub");
    const group = state.groups.get(conv?.groupId);
    if (!this.members) return replace(sub, group ? t("conv.openedIn", {group: group.name}) : "");
    const online = this.members.filter((m) => state.presence.get(m.user.id) === "online").length;
    replace(sub,
      h("span.stack", this.members.slice(0, 4).map((m) => avatar(m.user, m.user.id, "xs", state.presence.get(m.user.id)))),
      t("conv.members", {count: this.members.length}),
      state.features.presence && online ? ` · ${t("conv.online", {count: online})}` : "");
  }

  // -- inserting stored messages ----------------------------------------------------------------
  /** Stored messages from any source (page, live event, catch-up, poll): each seq shown once, in order. */
  insertMessages(messages) {
    const fresh = [];
    let sentHere = false;   // one of this tab's sends came back through a catch-up: the view goes to it
    for (const m of messages) {
      if (m.convId !== this.convId) continue;
      sentHere ||= this.outbox.entries.has(m.clientId) && m.senderId === state.me.id;
      this.outbox.reconcile(m);
      if (m.type !== "system") rememberUser(m.senderId, m.senderInfo);
      const old = this.messages.get(m.seq);
      if (old) {
        if (m.updatedAt !== old.updatedAt) this.updateMessage(m);
      } else if (!fresh.some((f) => f.seq === m.seq)) {
        fresh.push(m);
      }
    }
    if (!fresh.length) return;
    fresh.sort((a, b) => a.seq - b.seq);
    const stick = this.atBottom();
    const olderThanAll = fresh.at(-1).seq < this.minSeq;
    const newerThanAll = fresh[0].seq > this.maxSeq;
    const frag = document.createDocumentFragment();
    for (const m of fresh) {
      this.messages.set(m.seq, m);
      const el = this.renderMessage(m);
      this.els.set(m.seq, el);
      if (olderThanAll || newerThanAll) frag.append(el);
      else this.list.insertBefore(el, this.els.get(this.neighbour(m.seq, +1)) || null);
    }
    if (olderThanAll) this.list.prepend(frag);
    else if (newerThanAll) this.list.append(frag);
    this.minSeq = Math.min(this.minSeq, fresh[0].seq);
    this.maxSeq = Math.max(this.maxSeq, fresh.at(-1).seq);
    const readUpTo = this.readMark();
    for (const m of fresh) {
      this.decorate(m.seq);
      const next = this.neighbour(m.seq, +1);
      if (next) this.decorate(next);
      this.watch(m.seq, readUpTo);
    }
    this.placeDivider();
    if (newerThanAll && (stick || sentHere)) this.scrollToBottom();
    else this.onScroll();   // the jump button and its count follow, in the next frame
    this.renderSeen();
  }

  /** Only what could move the read mark is watched: scrolling back costs no intersection checks. */
  watch(seq, readUpTo = this.readMark()) {
    if (seq > readUpTo) this.observer.observe(this.els.get(seq));
  }

  /** The nearest loaded seq before (-1) or after (+1) this one. */
  neighbour(seq, step) {
    for (let s = seq + step; s >= this.minSeq && s <= this.maxSeq; s += step) if (this.els.has(s)) return s;
    return null;
  }

  /** Day divider and grouping with the previous message: they change when a neighbour arrives. */
  decorate(seq) {
    const m = this.messages.get(seq);
    const el = this.els.get(seq);
    const prev = this.messages.get(this.neighbour(seq, -1));
    const at = new Date(m.createdAt);
    const newDay = !prev || new Date(prev.createdAt).toDateString() !== at.toDateString();
    const continued = Boolean(prev && !newDay && prev.senderId === m.senderId && prev.type !== "system" &&
      m.type !== "system" && at - new Date(prev.createdAt) < GROUP_WITHIN_MS && !m.metadata?.quote);
    el.classList.toggle("continued", continued);
    const divider = dayDivider(el);
    if (newDay && !divider) el.prepend(h("div.day", h("span", formatDay(at))));
    else if (!newDay && divider) divider.remove();
  }

  renderMessage(m) {
    const at = new Date(m.createdAt);
    if (m.type === "system") {
      return h("li.msg.system", {id: `m-${m.seq}`, dataset: {seq: m.seq, id: m.id}},
        h("div.system-text", systemText(m), " · ", timeOf(m.createdAt, at)));
    }
    const mine = m.senderId === state.me.id;
    const li = h(`li.msg${mine ? ".mine" : ""}`, {id: `m-${m.seq}`, dataset: {seq: m.seq, id: m.id, sender: m.senderId}});
    this.fillMessage(li, m, at, mine);
    return li;
  }

  fillMessage(li, m, at = new Date(m.createdAt), mine = m.senderId === state.me.id) {
    li.classList.toggle("deleted", m.isDeleted);
    const quote = m.metadata?.quote;
    const files = m.isDeleted ? [] : m.metadata?.files || [];
    const text = m.isDeleted || m.content || !files.length;
    li.classList.toggle("has-files", files.length > 0);
    li.classList.toggle("files-only", files.length > 0 && !text && !quote);
    const act = (action, name) => iconButton("button.act", t(MESSAGE_ACTION_KEYS[action]), name, {dataset: {action}});
    replace(li, dayDivider(li), $(":scope > .new-divider", li),
      h("div.row",
        avatar(m.senderInfo, m.senderId),
        h("div.body",
          h("div.meta", h("span.name", displayName(m.senderInfo)), timeOf(m.createdAt, at)),
          h("div.bubble",
            quote && !m.isDeleted
              ? quoteOf(quote, "button.quote", {type: "button", dataset: {action: "goto", seq: quote.seq}}) : null,
            files.length ? renderFiles(files, {urls: this.mediaUrls, players: this.players}) : null,
            text ? this.textOf(m) : null,
            m.isEdited && !m.isDeleted
              ? h("span.edited", {title: m.editedAt ? formatDateTime(new Date(m.editedAt)) : ""}, t("msg.edited")) : null),
          m.isDeleted ? null : this.renderReactions(m),
          m.isDeleted ? null : h("div.actions",
            act("react", "smile"), act("reply", "reply"), act("remind", "clock"),
            mine ? [act("edit", "edit"), act("delete", "trash")] : act("report", "flag")))));
  }

  /** A message's text: masked words explained, a long one collapsed. */
  textOf(m) {
    if (m.isDeleted) return h("div.text", t("msg.deleted"));
    const text = h("div.text", richText(m.content, mentionKind(m)));
    if (m.metadata?.masked) markMasked(text);
    return this.longTexts.wrap(text, m.id, m.content);
  }

  renderReactions(m) {
    if (!m.reactions?.length) return null;
    const byEmoji = new Map();
    for (const r of m.reactions) {
      const entry = byEmoji.get(r.emoji) || {users: [], mine: false};
      entry.users.push(r.userId);
      entry.mine ||= r.userId === state.me.id;
      byEmoji.set(r.emoji, entry);
    }
    return h("div.reactions", [...byEmoji].map(([emoji, {users, mine}]) =>
      h(`button.reaction${mine ? ".mine" : ""}`, {type: "button", dataset: {action: "toggle-reaction", emoji},
        "aria-pressed": String(mine), title: users.map((id) => userName(id) || "?").join(", ")},
      h("span.emoji", emoji), h("span.count", users.length))));
  }

  updateMessage(m) {
    this.messages.set(m.seq, m);
    const el = this.els.get(m.seq);
    if (el && m.type !== "system") this.fillMessage(el, m);
  }

  // -- live events --------------------------------------------------------------------------------
  onNew(m) {
    if (m.convId !== this.convId || !this.loaded) return;   // open() catches up after its first page
    if (m.seq > this.maxSeq + 1) return this.catchUp().catch(() => {});   // a gap: fetch it, this one with it
    this.insertMessages([m]);
    // The server moves an author's read mark to their own message without a message:read event.
    if (m.senderId !== state.me.id) this.onRead({convId: m.convId, userId: m.senderId, seq: m.seq});
  }

  onUpdated(m) {
    if (m.convId === this.convId && this.messages.has(m.seq)) this.updateMessage(m);
  }

  onRead({convId, userId, seq}) {
    if (convId !== this.convId) return;
    this.reads.set(userId, Math.max(seq, this.reads.get(userId) || 0));
    this.renderSeen();
  }

  onTyping(started, {convId, userId}) {
    if (convId !== this.convId || userId === state.me.id) return;
    clearTimeout(this.typing.get(userId));
    if (started) this.typing.set(userId, setTimeout(() => this.onTyping(false, {convId, userId}), 8000));
    else this.typing.delete(userId);
    this.renderTyping();
  }

  renderTyping() {
    const names = [...this.typing.keys()].map((id) => userName(id) || t("typing.someone"));
    replace(this.typingEl, names.length ? [h("span.dots", h("i"), h("i"), h("i")),
      names.length === 1 ? t("typing.one", {name: names[0]})
        : names.length === 2 ? t("typing.two", {a: names[0], b: names[1]}) : t("typing.many")] : []);
  }

  onUserUpdated(user) {
    for (const m of this.messages.values()) {
      if (m.senderId !== user.id || m.type === "system") continue;
      m.senderInfo = {...m.senderInfo, fname: user.fname, lname: user.lname, avatarUrl: user.avatarUrl};
      this.updateMessage(m);
    }
    if (this.loaded) this.renderHeader();
  }

  /** Everything again, in place (the language changed). */
  rerender() {
    if (this.unavailable) return this.showUnavailable(this.unavailable);
    if (!this.loaded) return;
    this.keepScroll(() => {
      for (const [seq, el] of this.els) {
        const fresh = this.renderMessage(this.messages.get(seq));
        this.observer.unobserve(el);
        el.replaceWith(fresh);
        this.els.set(seq, fresh);
        this.watch(seq);
      }
      for (const seq of this.els.keys()) this.decorate(seq);
      this.placeDivider();
      this.renderHeader();
      this.renderTop();
      this.renderEchoes();
      this.renderSeen();
      this.renderTyping();
    });
  }

  /** Everything after the newest message held (reconnect, poll tick, gap): until the server has no more.
   * A call while one runs makes it go round once more, and gets its promise. */
  catchUp() {
    if (!this.loaded) return Promise.resolve();
    this.catchAgain = Boolean(this.catching);
    return this.single("catching", async () => {
      const gen = this.generation;
      do {
        this.catchAgain = false;
        let more = true;
        while (more && gen === this.generation) {
          const page = await this.api.history(this.convId, {after: this.maxSeq, limit: CATCH_UP_PAGE});
          if (gen !== this.generation) return;
          this.insertMessages(page.messages);
          more = page.hasMore && page.messages.length > 0;
        }
      } while (this.catchAgain && gen === this.generation);
    });
  }

  /** One at a time: a call while `this[key]` runs gets the same promise. reset() forgets it. */
  single(key, run) {
    if (!this[key]) {
      const promise = this[key] = run().finally(() => {
        if (this[key] === promise) this[key] = null;
      });
    }
    return this[key];
  }

  // -- scrolling, older pages, reading -------------------------------------------------------------
  atBottom(slack = 80) {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight <= slack;
  }

  /** Run `change` keeping the distance from the bottom: what is on screen does not move. */
  keepScroll(change) {
    const fromBottom = this.scroller.scrollHeight - this.scroller.scrollTop;
    change();
    this.scroller.scrollTop = this.scroller.scrollHeight - fromBottom;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.sticky = true;
    this.jump.hidden = true;
  }

  /** Layout is read once per frame, in the frame's own time, never forced from a scroll event. Whether the
   * view is at the bottom is decided here, before any later change of height (see keepBottom). */
  onScroll() {
    if (this.scrollFrame) return;
    this.scrollFrame = requestAnimationFrame(() => {
      this.scrollFrame = 0;
      if (!this.loaded) return;
      if (this.scroller.scrollTop < LOAD_OLDER_PX) this.loadOlder();
      this.sticky = this.atBottom();
      if (this.sticky) this.markRead();
      this.renderJump();
    });
  }

  /** Something in the conversation changed height: at the bottom before, at the bottom after (a growth
   * below the view of someone who scrolled up moves nothing they see). */
  keepBottom() {
    if (this.loaded && this.sticky && !this.atBottom(1)) this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  /** "Jump to latest": while the view is more than a screen away from the bottom, or newer messages that
   * the person has not seen are below it (then with their count). */
  renderJump() {
    const s = this.scroller;
    const far = s.scrollHeight - s.scrollTop - s.clientHeight > s.clientHeight;
    const count = this.sticky ? 0 : this.unseenBelow();
    this.jump.hidden = !far && !count;
    this.jumpCount.hidden = !count;
    replace(this.jumpCount, count ? t("view.newCount", {count}) : "");
  }

  /** Others' messages after what the person has seen (the read mark, or what came into view since). */
  unseenBelow() {
    const seen = Math.max(this.visibleSeq, this.readMark());
    let count = 0;
    for (let seq = this.maxSeq; seq > seen; seq -= 1) {
      const m = this.messages.get(seq);
      if (m && m.type !== "system" && m.senderId !== state.me.id) count += 1;
    }
    return count;
  }

  /** The page before the oldest message held, one at a time; resolves true if it brought messages. */
  loadOlder(limit = PAGE) {
    if (!this.loaded || !this.hasMore) return Promise.resolve(false);
    return this.single("loadingOlder", async () => {
      const gen = this.generation;
      const started = performance.now();
      let page;
      try {
        page = await this.api.history(this.convId, {before: this.minSeq, limit});
      } catch {
        if (gen === this.generation) this.toast(t("conv.loadFailed"));
        return false;
      }
      if (gen !== this.generation) return false;
      // What is on screen stays where it is: the page (and, at the end, the "beginning" banner) goes above it.
      this.keepScroll(() => {
        this.hasMore = page.hasMore;
        this.insertMessages(page.messages);
        this.renderTop();
      });
      performance.measure("chat:older", {start: started, end: performance.now()});
      return page.messages.length > 0;
    });
  }

  /** A short first page leaves nothing to scroll: load more until there is, or nothing is left. */
  async fillScreen() {
    const gen = this.generation;
    const short = () => this.scroller.scrollHeight <= this.scroller.clientHeight + LOAD_OLDER_PX;
    while (gen === this.generation && this.hasMore && short()) {
      if (!(await this.loadOlder())) return;   // failed (and said so): the next scroll tries again
    }
  }

  renderTop() {
    const conv = state.convs.get(this.convId);
    replace(this.top, this.hasMore ? h("span.spinner") : h("div.beginning",
      h("div.beginning-icon", icon("hash")),
      h("strong", conv?.title || ""), h("p", t("conv.beginning"))));
  }

  /** Scroll to a message, loading older pages until it is there (a quote, a search result). */
  async goTo(seq) {
    const gen = this.generation;
    while (gen === this.generation && seq < this.minSeq && this.hasMore) {
      if (!(await this.loadOlder(CATCH_UP_PAGE))) break;
    }
    const el = this.els.get(seq);
    if (!el) return this.toast(t("conv.messageGone"));
    this.longTexts.open(el);
    el.scrollIntoView({block: "center"});
    el.classList.remove("flash");
    void el.offsetWidth;   // restart the animation
    el.classList.add("flash");
  }

  onVisible(entries) {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      this.visibleSeq = Math.max(this.visibleSeq, Number(entry.target.dataset.seq));
      this.observer.unobserve(entry.target);   // seen once is enough: the mark only moves forward
    }
    this.markRead();
    if (!this.jump.hidden) this.renderJump();   // fewer unseen below
  }

  readMark() {
    return Math.max(this.sentRead, state.convs.get(this.convId)?.lastReadSeq || 0);
  }

  /** Tell the server what the person has seen (message:read moves the mark forward only). */
  markRead() {
    if (!this.loaded || document.visibilityState !== "visible") return;
    const seq = Math.max(this.visibleSeq, this.atBottom() ? this.maxSeq : 0);
    if (seq <= this.readMark()) return;
    clearTimeout(this.readTimer);
    this.readTimer = setTimeout(() => {
      if (!this.conn.live || seq <= this.sentRead) return;
      this.sentRead = seq;
      this.bus.emit("conversation:read", {convId: this.convId, seq});
    }, 250);
  }

  renderSeen() {
    const last = this.messages.get(this.maxSeq);
    const readers = last ? [...this.reads].filter(([id, seq]) => seq >= last.seq && id !== state.me.id && id !== last.senderId)
      .map(([id]) => id) : [];
    if (!readers.length) return replace(this.seenBy);
    const names = readers.map((id) => userName(id) || "?");
    replace(this.seenBy,
      h("span.stack", readers.slice(0, 5).map((id) => avatar(state.users.get(id), id, "xs"))),
      h("span.seen-text", names.length > 3 ? t("seen.byMore", {names: names.slice(0, 3).join(", "), count: names.length - 3})
        : t("seen.by", {names: names.join(", ")})));
  }

  // -- local echoes of the outbox -----------------------------------------------------------------
  renderEchoes() {
    replace(this.echoes, this.outbox.forConversation(this.convId).map((e) => this.renderEcho(e)));
    this.tickEchoes();
  }

  renderEcho(entry) {
    return renderEcho(entry, {live: this.conn.live, uploader: this.uploader});
  }

  /** Sends waiting for the server's "retry after": their countdown, once a second while there are any. */
  tickEchoes() {
    clearTimeout(this.echoTimer);
    this.echoTimer = 0;
    const waiting = this.outbox.forConversation(this.convId).filter((e) => waitOf(e));
    if (!waiting.length) return;
    this.echoTimer = setTimeout(() => {
      // (one stored or discarded meanwhile is not drawn again)
      for (const entry of waiting) if (this.outbox.entries.get(entry.clientId) === entry) this.onOutboxChange(entry, false);
      this.tickEchoes();
    }, 1000);
  }

  onOutboxChange(entry, removed) {
    if (entry.convId !== this.convId || !this.loaded) return;
    const el = $$("li.echo", this.echoes).find((li) => li.dataset.clientId === entry.clientId);
    if (removed) return el?.remove();
    const fresh = this.renderEcho(entry);
    if (el) el.replaceWith(fresh);
    else {
      this.echoes.append(fresh);
      this.scrollToBottom();
    }
    if (waitOf(entry) && !this.echoTimer) this.tickEchoes();
  }

  onEchoClick(e) {
    const button = e.target.closest("[data-action]");
    const clientId = e.target.closest("li.echo")?.dataset.clientId;
    if (!button || !clientId) return;
    const action = button.dataset.action;
    if (action === "retry") return this.outbox.retry(clientId);
    if (action === "edit-echo") return this.editEcho(clientId);
    if (action === "resume-upload") return this.composer.fileInput.click();
    if (action === "cancel-upload") {
      return this.uploader.cancel(button.dataset.key).then(() => this.outbox.flush());
    }
    // Discard: what is still uploading for it stops, and the server drops it.
    for (const key of this.outbox.entries.get(clientId)?.attachments || []) this.uploader.cancel(key);
    this.outbox.remove(clientId);
  }

  /** A refused send's text goes back into the input (as a reply again, if it was one), to be changed. */
  editEcho(clientId) {
    const entry = this.outbox.entries.get(clientId);
    if (!entry) return;
    this.composer.cancel();
    const parent = entry.replyTo && [...this.messages.values()].find((m) => m.id === entry.replyTo);
    if (parent) this.composer.start("reply", parent);
    this.outbox.remove(clientId);
    this.composer.input.value = entry.content;
    this.composer.autosize?.();
    this.composer.focus();
  }

  /** An upload moved: its chip in an echo follows. */
  onUpload(item, removed) {
    if (item.convId !== this.convId || !item.clientId) return;
    for (const el of $$(".chip", this.echoes).filter((c) => c.dataset.upload === item.key)) {
      if (removed) el.remove();
      else refreshChip(el, item);
    }
  }

  /** The loaded conversation's images, oldest first, for the lightbox. */
  images() {
    const items = [];
    for (const seq of [...this.messages.keys()].sort((a, b) => a - b)) {
      const m = this.messages.get(seq);
      if (m.isDeleted) continue;
      for (const f of m.metadata?.files || []) {
        if (f.fileType === "image" && f.status === "ready" && f.variants?.small && !f.gif) {   // a GIF plays in place
          items.push({mediaId: f.mediaId, filename: f.filename, by: displayName(m.senderInfo), at: m.createdAt});
        }
      }
    }
    return items;
  }

  // -- actions on a message -------------------------------------------------------------------------
  onClick(e) {
    const li = e.target.closest("li.msg");
    const m = li && this.messages.get(Number(li.dataset.seq));
    if (!m || m.type === "system") return;
    const target = e.target.closest("[data-action]");
    if (target?.dataset.action === "more") return this.longTexts.toggle(target);
    if (target?.dataset.action === "masked") return this.toast(t("view.masked"));
    if (target?.dataset.action === "lightbox") {
      const images = this.images();
      return this.lightbox.open(images, images.findIndex((i) => i.mediaId === target.dataset.mediaId));
    }
    if (target?.dataset.action === "download") {
      return this.mediaUrls.download(target.dataset.mediaId).catch((exc) => this.toast(errorText(exc.code)));
    }
    if (!target || !target.dataset.action) {
      // Touch screens: a tap shows the message's actions (and closes any other's); a second tap hides them.
      if (!e.target.closest("a, button, .audio-player")) this.select(li.classList.contains("selected") ? null : li);
      return;
    }
    this.select(li.classList.contains("selected") ? li : null);
    const action = target.dataset.action;
    if (action === "goto") return this.goTo(Number(target.dataset.seq));
    if (action === "reply") return this.composer.start("reply", m);
    if (action === "react") return this.openPicker(target, m);
    if (action === "report") return this.report(m);
    if (action === "remind") return this.bus.emit("message:remind", m);
    if (!this.requireLive()) return;
    if (action === "toggle-reaction") this.react(m, target.dataset.emoji);
    else if (action === "edit") this.composer.start("edit", m);
    else if (action === "delete") this.confirmDelete(m);
  }

  /** The one message whose actions are open on a touch screen (null: none). */
  select(li) {
    for (const other of $$("li.msg.selected", this.list)) if (other !== li) other.classList.remove("selected");
    li?.classList.add("selected");
  }

  /** The composer's emoji picker (emoji.js), for a reaction to this message. */
  openPicker(button, m) {
    this.composer.emoji.show(button, (emoji) => this.onPick(m, emoji));
  }

  closePicker() {
    this.composer.emoji.close(false);
  }

  onPick(m, emoji) {
    if (this.requireLive()) this.react(m, emoji, true);
  }

  async react(m, emoji, add) {
    const current = this.messages.get(m.seq) || m;
    if (add === undefined) add = !current.reactions.some((r) => r.userId === state.me.id && r.emoji === emoji);
    try {
      await this.conn.emit(add ? "reaction:add" : "reaction:remove", {messageId: m.id, emoji});
    } catch (exc) {
      this.toast(errorText(exc.code));
    }
  }

  /** Tell the group's moderators about someone else's message (REST: it works while polling too). */
  async report(m) {
    const reported = await this.dialogs.form({
      title: t("report.title"), text: t("report.text", {name: displayName(m.senderInfo)}), submit: t("report.submit"),
      fields: [{name: "reason", label: t("report.reason"), required: true, placeholder: t("report.placeholder")}],
      onSubmit: ({reason}) => this.api.post(`/api/messages/${m.id}/reports`, {reason: reason.trim()}),
    });
    if (reported) this.toast(t("report.done"));
  }

  async confirmDelete(m) {
    const ok = await this.dialogs.confirm({title: t("delete.title"), text: t("delete.text"), confirm: t("action.delete")});
    if (!ok) return;
    try {
      await this.conn.emit("message:delete", {messageId: m.id});
    } catch (exc) {
      this.toast(errorText(exc.code));
    }
  }
}

/** The day divider a message's <li> starts with, if it has one. */
const dayDivider = (li) => (li.firstElementChild?.classList.contains("day") ? li.firstElementChild : null);

const timeOf = (iso, at = new Date(iso)) => h("time", {datetime: iso, title: formatDateTime(at)}, formatTime(at));

/** Which @names in a message stand out: the reader's own, and the members the server found named. */
function mentionKind(m) {
  const named = new Set((m.metadata?.mentions || []).map((id) => state.users.get(id)?.username).filter(Boolean));
  return (name) => (name === state.me.username ? "me" : named.has(name) ? "other" : false);
}

/** System messages are written from their action and data in the reader's language. */
function systemText(m) {
  const action = m.metadata?.systemAction;
  const data = m.metadata?.systemData || {};
  const name = data.username || userName(data.userId) || t("system.someone");
  const by = data.by ? userName(data.by) || data.by : null;
  switch (action) {
    case "conversation_created": return t("system.created", {name: by || name, title: data.title || ""});
    case "member_joined": return by && by !== name ? t("system.added", {name, by}) : t("system.joined", {name});
    case "member_left": return t("system.left", {name});
    default: return m.content;
  }
}

/** The mark of a conversation whose texts are encrypted at rest (its name says so; its tooltip says what it means). */
function lockMark() {
  return h("span.lock-mark", {role: "img", "aria-label": t("encryption.mark"), title: t("encryption.markTitle")}, icon("lock"));
}
