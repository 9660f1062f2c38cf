// Resumable uploads, the bytes straight from the browser to S3 (presigned part URLs), never through our server.
//
//   pick / drop / paste / record ─▶ POST /api/uploads ─▶ part-urls (batches) ─▶ PUT parts to S3, 4 at a time
//                                        ─▶ POST complete (202 processing) ─▶ media:updated … ready | failed
//
// A part that fails for want of a network is tried again (backoff 1 s → 15 s, at once when the browser says it
// is online); each new attempt first asks `GET /api/uploads/{id}` which parts S3 holds and sends only the
// others. What a reload needs is kept in sessionStorage (like the token and the outbox: this tab only):
// `{key, id, convId, name, size, lastModified, type, partSize, partCount, clientId}`. A browser cannot keep a
// File across a reload, so the page asks for the same file again and recognises it by name, size and
// lastModified; then only the missing parts go. (Not IndexedDB: it would copy every file, however large,
// into the browser's storage before a byte reached S3.)
import { ApiError } from "../shared/api.js";

const CONCURRENCY = 4;          // parts in flight per file
const URL_BATCH = 24;           // part URLs asked at a time (the server gives at most 100)
const RETRY_MS = [1000, 2000, 4000, 8000, 15000];
const TRANSIENT = new Set(["network", "unavailable", "rate_limited", "s3"]);
let serial = 0;

/** What a file is for the server: its MIME type without parameters (MediaRecorder says
 * `audio/webm;codecs=opus`), or one guessed from the name when the browser gives none. */
export function mimeOf(file) {
  const type = (file.type || "").split(";")[0].trim().toLowerCase();
  if (type) return type;
  const ext = (file.name || "").toLowerCase().split(".").pop();
  return {jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", gif: "image/gif", webp: "image/webp",
    webm: "audio/webm", ogg: "audio/ogg", opus: "audio/ogg", mp3: "audio/mpeg", m4a: "audio/mp4", wav: "audio/wav",
    mp4: "video/mp4", mov: "video/quicktime", pdf: "application/pdf", txt: "text/plain"}[ext] || "application/octet-stream";
}

export class Uploader {
  /** onChange(item, removed?) after every change of an item (progress is batched to one per frame). */
  constructor(api, onChange) {
    this.api = api;
    this.onChange = onChange;
    this.items = new Map();   // local key → item
    this.onOnline = () => { for (const item of this.items.values()) if (item.state === "waiting") this.run(item); };
  }

  /** Signed in: this user's uploads, as this tab kept them. */
  open(userId) {
    this.key = `chat.uploads.${userId}`;
    this.items = new Map();
    this.frame = 0;
    this.dirty = new Set();
    for (const saved of JSON.parse(sessionStorage.getItem(this.key) || "[]")) {
      // Reloaded: the File is gone; an unfinished upload waits for the same file to be chosen again.
      const unfinished = !["processing", "ready", "failed", "quarantined"].includes(saved.state);
      this.items.set(saved.key, this.fresh({...saved, loaded: saved.loaded || 0, state: unfinished ? "paused" : saved.state}));
    }
    window.addEventListener("online", this.onOnline);
  }

  fresh(fields) {
    return {file: null, preview: null, loaded: 0, partLoaded: new Map(), xhrs: new Set(), retries: 0,
      timer: null, running: false, media: null, error: null, clientId: null, ...fields};
  }

  stop() {
    window.removeEventListener("online", this.onOnline);
    for (const item of this.items.values()) this.halt(item);
  }

  /** The outbox's question (chat/outbox.js): can a send with files go? Not while one is still on its way;
   * then with the ids of those the server has. */
  prepare(entry) {
    const items = entry.attachments.map((key) => this.get(key)).filter(Boolean);
    if (items.some((i) => this.pending(i))) return {wait: true};
    const refused = items.filter((i) => !this.attachable(i));
    return {wait: false, ids: items.filter((i) => this.attachable(i)).map((i) => i.id),
      errors: refused.length ? refused.map((i) => i.error || {code: i.state}) : null};
  }

  /** The files waiting in the composer of a conversation (not yet part of a send). */
  tray(convId) {
    return [...this.items.values()].filter((i) => i.convId === convId && !i.clientId);
  }

  get(key) {
    return this.items.get(key);
  }

  byMediaId(id) {
    return [...this.items.values()].find((i) => i.id === id);
  }

  /** A file to upload into the conversation; if it is the file of an interrupted upload, that upload resumes
   * instead (only the parts S3 lacks are sent). Returns the item. */
  add(convId, file) {
    const paused = [...this.items.values()].find((i) => i.state === "paused" && i.convId === convId &&
      i.name === file.name && i.size === file.size && i.lastModified === file.lastModified);
    if (paused) {
      paused.file = file;
      this.setPreview(paused);
      this.run(paused);
      return paused;
    }
    const item = this.fresh({key: `u${Date.now().toString(36)}${(serial++).toString(36)}`, id: null, convId,
      name: file.name || "file", size: file.size, lastModified: file.lastModified, type: mimeOf(file),
      partSize: 0, partCount: 0, state: "starting", file});
    this.setPreview(item);
    this.items.set(item.key, item);
    this.changed(item);
    this.run(item);
    return item;
  }

  setPreview(item) {
    if (item.file && !item.preview && /^image\/(jpeg|png|gif|webp)$/.test(item.type) && item.size < 40e6) {
      item.preview = URL.createObjectURL(item.file);
    }
  }

  /** Attachable: the server has the whole file (it may still be processing it). */
  attachable(item) {
    return ["processing", "ready"].includes(item.state);
  }

  /** Still on its way (the send carrying it waits). */
  pending(item) {
    return ["starting", "uploading", "waiting", "paused", "completing"].includes(item.state);
  }

  claim(keys, clientId) {
    for (const key of keys) {
      const item = this.items.get(key);
      if (item) this.update(item, {clientId});
    }
  }

  async run(item) {
    if (item.running || !item.file) return;
    item.running = true;
    clearTimeout(item.timer);
    const resuming = Boolean(item.id);
    try {
      if (!item.id) {
        const made = await this.api.post("/api/uploads",
          {convId: item.convId, filename: item.name, size: item.size, mimeType: item.type});
        if (!this.items.has(item.key)) return this.api.del(`/api/uploads/${made.id}`).catch(() => {});
        Object.assign(item, {id: made.id, partSize: made.partSize, partCount: made.partCount, expiresAt: made.expiresAt});
      }
      let held = [];
      if (resuming) {
        const status = await this.api.get(`/api/uploads/${item.id}`);
        if (status.status !== "uploading") {
          // Completed meanwhile (the answer to complete was lost) or cancelled elsewhere.
          if (status.status === "completed") return this.update(item, {state: "processing", loaded: item.size});
          throw new ApiError(410, "upload_cancelled");
        }
        item.partSize = status.partSize || item.partSize;
        held = status.uploadedParts;
      }
      this.update(item, {state: "uploading", error: null});
      item.held = new Set(held);
      item.partLoaded.clear();
      this.progress(item);
      const todo = [];
      for (let n = 1; n <= item.partCount; n++) if (!item.held.has(n)) todo.push(n);
      await this.putParts(item, todo);
      if (!this.items.has(item.key)) return;
      this.update(item, {state: "completing"});
      try {
        await this.api.post(`/api/uploads/${item.id}/complete`);
      } catch (exc) {
        if (exc.code !== "already_completed") throw exc;
      }
      item.retries = 0;
      this.update(item, {state: item.media?.status === "ready" ? "ready" : "processing", loaded: item.size});
    } catch (exc) {
      if (!this.items.has(item.key) || exc.code === "aborted") return;
      if (TRANSIENT.has(exc.code)) {
        const delay = RETRY_MS[Math.min(item.retries++, RETRY_MS.length - 1)];
        this.update(item, {state: "waiting"});
        item.timer = setTimeout(() => this.run(item), delay);
      } else if (exc.code === "not_found" && resuming) {
        this.update(item, {state: "error", error: {code: "upload_expired", message: ""}});
      } else {
        this.update(item, {state: "error", error: {code: exc.code, message: exc.message || ""}});
      }
    } finally {
      item.running = false;
    }
  }

  /** PUT the parts, CONCURRENCY at a time, asking their URLs in batches just before they are needed. */
  async putParts(item, todo) {
    const queue = [...todo];
    const urls = new Map();
    let asking = null;
    const urlFor = async (n) => {
      while (!urls.has(n)) {
        if (!asking) {
          const batch = [n, ...queue.slice(0, URL_BATCH - 1)];
          asking = this.api.post(`/api/uploads/${item.id}/part-urls`, {parts: batch})
            .then(({urls: got}) => { for (const [k, v] of Object.entries(got)) urls.set(Number(k), v); })
            .finally(() => { asking = null; });
        }
        await asking;
      }
      return urls.get(n);
    };
    let failure = null;
    const worker = async () => {
      while (queue.length && !failure && this.items.has(item.key)) {
        const n = queue.shift();
        try {
          await this.putPart(item, n, await urlFor(n));
          item.held.add(n);
          item.partLoaded.delete(n);
          this.progress(item);
        } catch (exc) {
          item.partLoaded.delete(n);   // what it had sent of that part counts for nothing
          this.progress(item);
          failure ||= exc;
        }
      }
    };
    await Promise.all(Array.from({length: Math.min(CONCURRENCY, todo.length)}, worker));
    if (failure) {
      for (const xhr of item.xhrs) xhr.abort();
      throw failure;
    }
  }

  putPart(item, n, url) {
    const start = (n - 1) * item.partSize;
    const blob = item.file.slice(start, Math.min(item.size, start + item.partSize));
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      item.xhrs.add(xhr);
      const done = () => item.xhrs.delete(xhr);
      xhr.open("PUT", url);
      xhr.upload.onprogress = (e) => {
        item.partLoaded.set(n, e.loaded);
        this.progress(item);
      };
      xhr.onload = () => {
        done();
        if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.getResponseHeader("ETag"));
        // 403: the URL expired (or S3 refused it); 5xx: S3 is busy. Both: ask again.
        else reject(new ApiError(xhr.status, "s3", `S3 answered ${xhr.status}`));
      };
      xhr.onerror = () => { done(); reject(new ApiError(0, "network", "the part did not reach S3")); };
      xhr.onabort = () => { done(); reject(new ApiError(0, "aborted")); };
      xhr.send(blob);
    });
  }

  /** Stop an item's transfers (cancel, sign-out). */
  halt(item) {
    clearTimeout(item.timer);
    for (const xhr of item.xhrs) xhr.abort();
  }

  /** Cancel: the transfers stop and the server aborts the multipart upload (nothing stays in S3). */
  async cancel(key) {
    const item = this.items.get(key);
    if (!item) return;
    this.forget(key);
    this.halt(item);
    if (item.id && !this.attachable(item)) await this.api.del(`/api/uploads/${item.id}`).catch(() => {});
  }

  /** The message carrying the item is stored (or discarded): the page no longer tracks it. */
  forget(key) {
    const item = this.items.get(key);
    if (!item) return;
    this.items.delete(key);
    if (item.preview) URL.revokeObjectURL(item.preview);
    this.save();
    this.onChange(item, true);
  }

  /** media:updated (to the uploader): processing outcome of one of ours. */
  onMedia(media) {
    const item = this.byMediaId(media.id);
    if (!item) return;
    item.media = media;
    const state = ["ready", "failed", "quarantined"].includes(media.status) && this.attachable(item) ? media.status
      : item.state;
    this.update(item, {state, error: media.error || item.error});
  }

  progress(item) {
    let loaded = 0;
    for (const n of item.held || []) loaded += Math.min(item.partSize, item.size - (n - 1) * item.partSize);
    for (const bytes of item.partLoaded.values()) loaded += bytes;
    item.loaded = Math.min(item.size, loaded);
    this.dirty.add(item);
    this.frame ||= requestAnimationFrame(() => {
      this.frame = 0;
      for (const i of this.dirty) if (this.items.has(i.key)) this.onChange(i, false);
      this.dirty.clear();
    });
  }

  update(item, changes) {
    Object.assign(item, changes);
    this.changed(item);
  }

  changed(item) {
    this.save();
    if (this.items.has(item.key)) this.onChange(item, false);
  }

  save() {
    const keep = [...this.items.values()].filter((i) => i.id && i.state !== "error").map((i) => ({
      key: i.key, id: i.id, convId: i.convId, name: i.name, size: i.size, lastModified: i.lastModified, type: i.type,
      partSize: i.partSize, partCount: i.partCount, state: i.state, clientId: i.clientId, loaded: i.loaded}));
    sessionStorage.setItem(this.key, JSON.stringify(keep));
  }
}
