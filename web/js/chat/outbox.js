// The outbox (seed 004): every send keeps its clientId until the stored message comes back, and is retried
// with the same clientId (socket or REST: the server stores it once) when the connection is back.
import { POLL_MS } from "../shared/connection.js";

// Ack errors worth retrying with the same clientId; any other error marks the send failed.
const TRANSIENT = new Set(["network", "unavailable", "rate_limited"]);
const MAX_RETRY_AFTER_S = 120;   // a retryAfter the page waits at most (a wrong one must not park a send)

/** Sends not yet seen stored, by clientId; kept in sessionStorage so a reload does not lose them. */
export class Outbox {
  /** files (optional): {prepare(entry) → {wait, ids}}: a send with attachments (upload keys) waits until
   * every file is on the server, then carries their media ids. */
  constructor(conn, api, onChange, files = null) {
    this.files = files;
    this.conn = conn;
    this.api = api;
    this.onChange = onChange;   // (entry, removed?) → void
    this.entries = new Map();
  }

  /** Signed in: this user's waiting sends, as this tab kept them. */
  open(userId) {
    clearTimeout(this.retryTimer);
    this.userId = userId;
    this.key = `chat.outbox.${userId}`;
    this.inFlight = new Set();
    this.retryTimer = null;
    this.entries = new Map((JSON.parse(sessionStorage.getItem(this.key) || "[]")).map((e) => [e.clientId, e]));
  }

  forConversation(convId) {
    return [...this.entries.values()].filter((e) => e.convId === convId);
  }

  add(entry) {
    const added = {...entry, state: "pending", error: null};
    this.entries.set(added.clientId, added);
    this.save();
    this.onChange(added, false);
    this.send(added);
  }

  /** A stored message came back: if it was one of ours, its send is done. */
  reconcile(message) {
    const entry = this.entries.get(message.clientId);
    if (entry && entry.convId === message.convId && message.senderId === this.userId) this.remove(entry.clientId);
  }

  /** message:rejected: the send was acked but not stored. details: which word a filter blocked ({match}),
   * the moderator's note ({note}), until when a mute lasts ({until}); the page says them in its language. */
  reject({clientId, code, reason, details}) {
    const entry = this.entries.get(clientId);
    if (entry) {
      this.update(entry, {state: "failed", error: code, detail: reason || null, match: details?.match || null,
        note: details?.note || null, until: details?.until || null});
    }
  }

  /** message:held: a moderator must approve it first; then it comes back as message:new like any send. */
  hold({clientId, reviewId}) {
    const entry = this.entries.get(clientId);
    if (entry) this.update(entry, {state: "held", reviewId: reviewId || null});
  }

  retry(clientId) {
    const entry = this.entries.get(clientId);
    if (entry) this.update(entry, {state: "pending", error: null, detail: null, until: null, retryAt: null});
    this.flush();
  }

  remove(clientId) {
    const entry = this.entries.get(clientId);
    if (!entry) return;
    this.entries.delete(clientId);
    this.save();
    this.onChange(entry, true);
  }

  /** Send what waits; after a reconnect also what was acked but not seen stored (the server stores a
   * clientId once and announces it again, so a repeat is harmless). */
  flush({includeQueued = false} = {}) {
    if (this.conn.stopped) return;
    const now = Date.now();
    let next = Infinity;   // the earliest send the server asked to wait for (rate_limited)
    for (const entry of this.entries.values()) {
      if (entry.state === "pending" && entry.retryAt > now) next = Math.min(next, entry.retryAt);
      else if (["pending", "uploading"].includes(entry.state) || (includeQueued && entry.state === "queued")) this.send(entry);
    }
    if (next < Infinity) this.retryLater(next - now);
  }

  async send(entry) {
    if (this.inFlight.has(entry.clientId)) return;
    let attachments = null;
    if (entry.attachments?.length && this.files) {
      const files = this.files.prepare(entry);
      if (files.wait) {
        if (entry.state !== "uploading" && entry.state !== "failed") this.update(entry, {state: "uploading"});
        return;
      }
      attachments = files.ids;
      if (!attachments.length && !entry.content.trim()) {
        // Every file was refused or cancelled: there is nothing left to send.
        if (!files.errors) return this.remove(entry.clientId);
        return this.update(entry, {state: "failed", error: files.errors[0].code, detail: files.errors[0].message || null});
      }
    }
    this.inFlight.add(entry.clientId);
    const body = {clientId: entry.clientId, content: entry.content, ...(entry.replyTo ? {replyTo: entry.replyTo} : {}),
      ...(attachments?.length ? {attachments} : {}), ...(entry.gif ? {gif: {id: entry.gif.id}} : {})};
    try {
      const ack = this.conn.live ? await this.conn.emit("message:send", {convId: entry.convId, ...body})
        : await this.api.post(`/api/conversations/${entry.convId}/messages`, body);
      // A held send is never sent again: it waits for a moderator (message:new or message:rejected follows).
      const held = ack?.status === "held" || entry.state === "held";
      if (this.entries.has(entry.clientId) && entry.state !== "failed") this.update(entry, {state: held ? "held" : "queued"});
    } catch (exc) {
      if (!this.entries.has(entry.clientId)) return;
      if (exc.code === "rate_limited") {
        // Sent again by itself when the server said it may be (the echo counts the seconds down).
        const seconds = Math.min(MAX_RETRY_AFTER_S, Math.max(1, Number(exc.details?.retryAfter) || 1));
        this.update(entry, {state: "pending", retryAt: Date.now() + seconds * 1000});
        this.retryLater(seconds * 1000);
      } else if (TRANSIENT.has(exc.code)) {
        this.update(entry, {state: "pending"});
        // Offline, the next poll or the reconnect flushes; live, a busy server is asked again shortly.
        if (this.conn.live) this.retryLater();
      } else if (exc.code === "content_held") {
        this.update(entry, {state: "held"});   // a moderator decides; sending again would change nothing
      } else {
        // muted: the ack says until when (details.until); the server's message says why.
        this.update(entry, {state: "failed", error: exc.code, detail: exc.message || null, until: exc.details?.until || null});
      }
    } finally {
      this.inFlight.delete(entry.clientId);
    }
  }

  retryLater(ms = POLL_MS) {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.flush(), ms);
  }

  update(entry, changes) {
    Object.assign(entry, changes);
    this.save();
    this.onChange(entry, false);
  }

  save() {
    sessionStorage.setItem(this.key, JSON.stringify([...this.entries.values()]));
  }
}
