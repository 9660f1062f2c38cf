// Files in messages: thumbnails in a box whose size is known before they arrive (nothing moves when they do),
// a placeholder while the server processes them, failed and quarantined files said plainly, file cards,
// voice and audio players, the lightbox; and the chips of files on their way (composer, echoes).
// Every URL of a file is a short-lived presigned S3 URL, asked from `GET /api/media/{id}/content?redirect=0`
// after the server's membership check (an <img> cannot send the Bearer header).
import { h } from "../shared/dom.js";
import { icon, iconButton } from "../shared/icons.js";
import { currentLanguage, formatDateTime, t } from "../shared/i18n.js";
import { UPLOAD_ERROR_KEYS } from "../shared/texts.js";
import { isGif, renderGif } from "./gif-message.js";

const URL_MARGIN_MS = 30_000;   // a cached URL is asked again this long before it expires
const LOADS_AT_ONCE = 6;

/** Presigned URLs by (media, variant), reused until shortly before they expire (so a redrawn message
 * shows the same URL, which the browser has cached). */
export class MediaUrls {
  constructor(api) {
    this.api = api;
    this.cache = new Map();   // "id|variant" → {url, expires} or a pending promise
    this.active = 0;
    this.waiting = [];
  }

  /** Signed in: nothing cached from an earlier session. */
  open() {
    this.cache = new Map();
  }

  async url(id, variant = "original") {
    const key = `${id}|${variant}`;
    const hit = this.cache.get(key);
    if (hit instanceof Promise) return hit;
    if (hit && hit.expires - URL_MARGIN_MS > Date.now()) return hit.url;
    const promise = this.limited(() => this.api.get(`/api/media/${id}/content?variant=${variant}&redirect=0`))
      .then(({url, expiresAt, expiresIn}) => {
        const expires = expiresAt ? Date.parse(expiresAt) : Date.now() + (expiresIn || 300) * 1000;
        this.cache.set(key, {url, expires});
        return url;
      }, (exc) => {
        this.cache.delete(key);
        throw exc;
      });
    this.cache.set(key, promise);
    return promise;
  }

  /** A URL for an <img>: the cached one at once (no flash when a message is redrawn), else asked. */
  cached(id, variant) {
    const hit = this.cache.get(`${id}|${variant}`);
    return hit && !(hit instanceof Promise) && hit.expires - URL_MARGIN_MS > Date.now() ? hit.url : null;
  }

  async limited(run) {
    if (this.active >= LOADS_AT_ONCE) await new Promise((resolve) => this.waiting.push(resolve));
    this.active += 1;
    try {
      return await run();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }

  /** Show the variant in the <img> (the smaller one first, if we have it, while the larger one comes). */
  async show(img, id, variant) {
    const now = this.cached(id, variant);
    if (now) {
      img.classList.add("instant");   // seen before (a redraw): no fade-in
      return void (img.src = now);
    }
    try {
      const url = await this.url(id, variant);
      if (img.isConnected || !img.src) img.src = url;
    } catch {
      img.closest(".thumb")?.classList.add("broken");
    }
  }

  /** Open the original in a new tab (S3 sends it as an attachment unless it is a safe image). */
  async download(id) {
    const url = await this.url(id, "original");
    const a = h("a", {href: url, target: "_blank", rel: "noopener noreferrer", download: ""});
    document.body.append(a);
    a.click();
    a.remove();
  }
}

// -- formats ------------------------------------------------------------------------------------------------
const sizeFormats = {};
export function formatSize(bytes) {
  const units = [["gigabyte", 1e9], ["megabyte", 1e6], ["kilobyte", 1e3]];
  const [unit, scale] = units.find(([, s]) => bytes >= s) || ["byte", 1];
  const key = `${currentLanguage()}|${unit}`;
  sizeFormats[key] ||= new Intl.NumberFormat(currentLanguage(), {style: "unit", unit, unitDisplay: "short",
    maximumFractionDigits: unit === "byte" || unit === "kilobyte" ? 0 : 1});
  return sizeFormats[key].format(bytes / scale);
}

/** 75.2 → "1:15"; 3725 → "1:02:05". */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "–:––";
  const s = Math.round(seconds);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

const TYPE_ICON = {image: "image", video: "film", audio: "mic", document: "file"};
export const typeIcon = (fileType) => TYPE_ICON[fileType] || "file";

/** "PDF", "WEBM", "JPEG": what the file card says the type is. */
export function typeLabel(file) {
  const ext = /\.([a-z0-9]{1,5})$/i.exec(file.filename || file.name || "")?.[1];
  return (ext || (file.mimeType || file.type || "").split("/")[1] || "").toUpperCase();
}

/** The ratio a thumbnail box gets before its image arrives: from the rendition's size, else the original's. */
export function ratioOf(file) {
  const v = file.variants?.small || file.variants?.large;
  const d = v || file.dimensions || file.metadata?.dimensions;
  return d?.width && d?.height ? Math.min(3, Math.max(1 / 3, d.width / d.height)) : 4 / 3;
}

export const isVoice = (file) => /^voice-/.test(file.filename || file.name || "");

// -- a message's files ------------------------------------------------------------------------------------
/** files: metadata.files of a stored message. ctx: {urls, players: Map (kept across redraws), open(mediaId)}. */
export function renderFiles(files, ctx) {
  const images = files.filter((f) => f.fileType === "image" && !gone(f) && !isGif(f));
  const others = files.filter((f) => !images.includes(f));
  return h("div.files",
    images.length ? h(`div.thumbs${images.length > 1 ? ".grid" : ""}`, images.map((f) => thumb(f, ctx, images.length > 1))) : null,
    others.map((f) => fileBlock(f, ctx)));
}

const gone = (f) => f.status === "failed" || f.status === "quarantined" || f.status === "deleted";

function thumb(file, ctx, inGrid) {
  const ready = file.status === "ready" && file.variants?.small;
  const box = h(`button.thumb${ready ? ".ready" : ".processing"}`, {type: "button",
    dataset: {action: ready ? "lightbox" : "", mediaId: file.mediaId},
    "aria-label": ready ? t("media.open", {name: file.filename}) : t("media.processing"), disabled: !ready});
  if (!inGrid) box.style.aspectRatio = String(ratioOf(file));
  if (!ready) {
    box.append(h("span.thumb-wait", h("span.spinner"), h("span", t("media.processing"))));
    return box;
  }
  const img = h("img", {alt: file.filename, decoding: "async", draggable: "false"});
  img.addEventListener("load", () => box.classList.add("loaded"), {once: true});
  box.append(img);
  ctx.urls.show(img, file.mediaId, "small");
  return box;
}

function fileBlock(file, ctx) {
  if (file.status === "deleted") return h("div.file-card.gone", icon("trash"), h("div.file-text", h("span", t("media.deleted"))));
  if (file.status === "quarantined") {
    return h("div.file-card.gone", icon("shield"), h("div.file-text", h("strong", file.filename),
      h("span", t("media.quarantined"))));
  }
  if (file.status === "failed") {
    return h("div.file-card.gone", icon("alert"), h("div.file-text", h("strong", file.filename),
      h("span", t("media.failed", {reason: file.error?.message || file.error?.code || "?"}))));
  }
  if (file.fileType === "audio") return audioPlayer(file, ctx);
  if (isGif(file)) return renderGif(file, ctx);
  const ready = file.status === "ready";
  return h("div.file-card", {dataset: {mediaId: file.mediaId}},
    h(`span.file-icon.${file.fileType}`, icon(typeIcon(file.fileType))),
    h("div.file-text", h("strong", {title: file.filename}, file.filename),
      h("span", [typeLabel(file), formatSize(file.fileSize), ready ? null : t("media.processing")].filter(Boolean).join(" · "))),
    ready ? iconButton("button.icon-button.file-download", t("media.download", {name: file.filename}), "download",
      {dataset: {action: "download", mediaId: file.mediaId}}) : h("span.spinner.small"));
}

/** A voice message or audio file: play/pause, a bar to seek, the time; its length from metadata.duration
 * (a recording from MediaRecorder often has no duration in its header, so the <audio> cannot say). */
function audioPlayer(file, ctx) {
  const ready = file.status === "ready";
  const key = `${file.mediaId}|${ready}`;
  const kept = ctx.players?.get(key);
  if (kept) return kept;
  const duration = Number(file.duration) || 0;
  const audio = new Audio();
  audio.preload = "none";
  const fill = h("span.audio-fill");
  const bar = h("span.audio-bar", {role: "slider", tabindex: ready ? "0" : "-1", "aria-label": t("media.seek"),
    "aria-valuemin": "0", "aria-valuemax": String(Math.round(duration)), "aria-valuenow": "0"}, fill);
  const time = h("span.audio-time", formatDuration(duration));
  const play = iconButton("button.audio-play", t("media.play"), "play", {disabled: !ready});
  const el = h(`div.audio-player${isVoice(file) ? ".voice" : ""}`,
    {dataset: {mediaId: file.mediaId, duration: String(duration), status: file.status}},
    play, h("div.audio-main", bar, h("span.audio-info",
      isVoice(file) ? h("span.audio-name", icon("mic"), t("media.voice")) : h("span.audio-name", file.filename),
      ready ? time : h("span", t("media.processing")))));
  const length = () => (Number.isFinite(audio.duration) && audio.duration > 0 ? audio.duration : duration);
  const draw = () => {
    const at = audio.currentTime || 0;
    fill.style.width = `${Math.min(100, (at / (length() || 1)) * 100)}%`;
    bar.setAttribute("aria-valuenow", String(Math.round(at)));
    time.textContent = at > 0 || !audio.paused ? `${formatDuration(at)} / ${formatDuration(length())}` : formatDuration(length());
  };
  const setIcon = () => {
    const label = audio.paused ? t("media.play") : t("media.pause");
    play.replaceChildren(icon(audio.paused ? "play" : "pause"));
    play.title = label;
    play.setAttribute("aria-label", label);
    el.classList.toggle("playing", !audio.paused);
  };
  const load = async () => {
    if (!audio.src) audio.src = await ctx.urls.url(file.mediaId, "original");
  };
  play.addEventListener("click", async () => {
    try {
      await load();
      if (audio.paused) await audio.play();
      else audio.pause();
    } catch {
      el.classList.add("broken");
    }
  });
  const seek = async (fraction) => {
    await load();
    audio.currentTime = Math.max(0, Math.min(1, fraction)) * length();
    draw();
  };
  bar.addEventListener("click", (e) => {
    const box = bar.getBoundingClientRect();
    if (ready) seek((e.clientX - box.left) / box.width);
  });
  bar.addEventListener("keydown", (e) => {
    if (!ready || !["ArrowLeft", "ArrowRight"].includes(e.key)) return;
    e.preventDefault();
    seek((audio.currentTime + (e.key === "ArrowRight" ? 5 : -5)) / (length() || 1));
  });
  audio.addEventListener("timeupdate", draw);
  audio.addEventListener("play", setIcon);
  audio.addEventListener("pause", setIcon);
  audio.addEventListener("ended", () => { audio.currentTime = 0; draw(); setIcon(); });
  ctx.players?.set(key, el);
  return el;
}

// -- files on their way (composer tray, echoes) --------------------------------------------------------------
/** A chip for an upload: preview or type icon, name, progress bar and what it is doing, cancel. */
export function uploadChip(item) {
  const fraction = item.size ? item.loaded / item.size : 0;
  const bar = h("span.chip-bar", h("span.chip-fill"));
  bar.firstChild.style.width = `${Math.round(fraction * 100)}%`;
  const major = item.type.split("/")[0];
  const fileType = ["image", "audio", "video"].includes(major) ? major : "document";
  const thumbEl = item.preview ? h("img.chip-preview", {src: item.preview, alt: ""})
    : h(`span.file-icon.${fileType}`, icon(typeIcon(fileType)));
  const chip = h(`div.chip.${item.state}`, {dataset: {upload: item.key, state: item.state}},
    thumbEl,
    h("div.chip-text", h("strong", {title: item.name}, item.name), h("span.chip-status", chipStatus(item)),
      ["starting", "uploading", "waiting", "completing"].includes(item.state) ? bar : null,
      item.state === "paused"
        ? h("button.chip-resume.link", {type: "button", dataset: {action: "resume-upload", key: item.key}}, t("upload.choose"))
        : null),
    iconButton("button.icon-button.small.chip-cancel", item.state === "error" ? t("action.discard") : t("upload.cancel"),
      "close", {dataset: {action: "cancel-upload", key: item.key}}));
  return chip;
}

function chipStatus(item) {
  const percent = item.size ? Math.floor((item.loaded / item.size) * 100) : 0;
  switch (item.state) {
    case "starting": return t("upload.starting");
    case "uploading": return t("upload.progress", {percent, size: formatSize(item.size)});
    case "waiting": return t("upload.waiting", {percent});
    case "paused": return t("upload.paused", {percent});
    case "completing":
    case "processing": return t("upload.processing");
    case "ready": return t("upload.ready", {size: formatSize(item.size)});
    case "failed": return t("media.failed", {reason: item.error?.message || item.error?.code || "?"});
    case "quarantined": return t("media.quarantined");
    case "error": return uploadError(item.error);
    default: return "";
  }
}

/** The server's own words for a refused upload (what the limit is, which type), under our title. */
function uploadError(error) {
  const code = error?.code || "error";
  const text = UPLOAD_ERROR_KEYS[code] ? t(UPLOAD_ERROR_KEYS[code]) : t("upload.error.other", {code});
  return error?.message && code !== "upload_expired" ? `${text} (${error.message})` : text;
}

/** Update a chip in place while only its progress moves (no new preview <img> every frame). */
export function refreshChip(el, item) {
  if (el.dataset.state !== item.state) return el.replaceWith(uploadChip(item));
  const fill = el.querySelector(".chip-fill");
  if (fill) fill.style.width = `${Math.round((item.size ? item.loaded / item.size : 0) * 100)}%`;
  const status = el.querySelector(".chip-status");
  if (status) status.textContent = chipStatus(item);
}

// -- the lightbox ---------------------------------------------------------------------------------------------
/** Images one at a time at the large size; Esc closes, ← and → move, the original downloads. */
export class Lightbox {
  constructor(urls) {
    this.urls = urls;
    this.dialog = h("dialog.lightbox", {id: "lightbox", "aria-label": t("media.lightbox")});
    document.body.append(this.dialog);
    this.dialog.addEventListener("keydown", (e) => {
      if (e.key === "ArrowLeft") this.move(-1);
      else if (e.key === "ArrowRight") this.move(+1);
    });
    this.dialog.addEventListener("click", (e) => {
      if (e.target === this.dialog || e.target.classList.contains("lb-stage")) this.close();
    });
    this.dialog.addEventListener("close", () => this.dialog.replaceChildren());
  }

  /** items: [{mediaId, filename, ratio, by, at}], index: the one to show. */
  open(items, index) {
    if (!items.length) return;
    this.items = items;
    this.index = Math.max(0, index);
    this.render();
    if (!this.dialog.open) this.dialog.showModal();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  move(step) {
    const next = this.index + step;
    if (next < 0 || next >= this.items.length) return;
    this.index = next;
    this.render();
  }

  render() {
    const item = this.items[this.index];
    const img = h("img.lb-image", {alt: item.filename, decoding: "async"});
    const small = this.urls.cached(item.mediaId, "small");
    if (small) img.src = small;
    this.urls.url(item.mediaId, "large").catch(() => this.urls.url(item.mediaId, "small"))
      .then((url) => { if (this.items[this.index] === item) img.src = url; }, () => {});
    const nav = (step, name, label) => iconButton(`button.lb-nav.${step < 0 ? "prev" : "next"}`, label, name,
      {disabled: step < 0 ? this.index === 0 : this.index === this.items.length - 1, onclick: () => this.move(step)});
    this.dialog.replaceChildren(
      h("div.lb-bar",
        h("div.lb-caption", h("strong", item.filename),
          h("span", [item.by, item.at ? formatDateTime(new Date(item.at)) : null,
            this.items.length > 1 ? t("media.position", {n: this.index + 1, count: this.items.length}) : null]
            .filter(Boolean).join(" · "))),
        iconButton("button.icon-button.lb-download", t("media.download", {name: item.filename}), "download",
          {onclick: () => this.urls.download(item.mediaId).catch(() => {})}),
        iconButton("button.icon-button.lb-close", t("action.close"), "close", {onclick: () => this.close()})),
      h("div.lb-stage", img),
      ...(this.items.length > 1 ? [nav(-1, "back", t("media.previous")), nav(+1, "forward", t("media.next"))] : []));
    this.dialog.querySelector(".lb-close").focus();
  }
}
