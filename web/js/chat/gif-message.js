// A GIF in a message (a file whose summary carries `gif: {provider, title}`): the copy this server keeps in S3,
// never the provider's address. An animated GIF or WebP is an image; an MP4 a muted looping video without
// controls that plays only while it is on screen. Under "reduce motion" the still thumbnail is shown until the
// play button is pressed. The box has its final size before anything arrives (the server's dimensions).
import { h } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { t } from "../shared/i18n.js";
import { GIF_VIA_KEYS } from "../shared/texts.js";

const REDUCED = "(prefers-reduced-motion: reduce)";
const MAX_RATIO = 3;

export const isGif = (file) => Boolean(file?.gif);

// One observer for every GIF video of the page: each plays while visible, unless its person paused it.
let observer = null;
function watch(el) {
  observer ||= new IntersectionObserver((entries) => {
    for (const entry of entries) entry.target.gifVisible?.(entry.isIntersecting);
  }, {threshold: 0.25});
  observer.observe(el);
}

function ratioOf(file) {
  const d = file.dimensions || file.variants?.small || file.variants?.large;
  return d?.width && d?.height ? Math.min(MAX_RATIO, Math.max(1 / MAX_RATIO, d.width / d.height)) : 1;
}

/** file: a message's file summary with `gif`; ctx: {urls (MediaUrls), players (kept across redraws)}. */
export function renderGif(file, ctx) {
  const key = `gif|${file.mediaId}|${file.status}`;
  const kept = ctx.players?.get(key);
  if (kept) return kept;
  const title = file.gif.title || t("gifs.untitled");
  const ready = file.status === "ready";
  const box = h(`div.gif-box${ready ? "" : ".processing"}`);
  box.style.aspectRatio = String(ratioOf(file));
  const el = h("figure.gif-message", {dataset: {mediaId: file.mediaId, status: file.status, provider: file.gif.provider || ""}},
    box, GIF_VIA_KEYS[file.gif.provider] ? h("figcaption.gif-via", t(GIF_VIA_KEYS[file.gif.provider])) : null);
  if (!ready) {
    box.append(h("span.thumb-wait", h("span.spinner"), h("span", t("media.processing"))));
    box.setAttribute("role", "img");
    box.setAttribute("aria-label", `${title} · ${t("media.processing")}`);
    return el;
  }
  (file.mimeType === "video/mp4" ? gifVideo : gifImage)(file, ctx, box, title);
  ctx.players?.set(key, el);
  return el;
}

/** The play/pause button of a GIF (its name says which); onToggle(playing) does it. */
function toggleButton(box, title, onToggle) {
  const button = h("button.gif-toggle", {type: "button"});
  const draw = (playing) => {
    const label = playing ? t("gifs.pause", {title}) : t("gifs.play", {title});
    button.replaceChildren(icon(playing ? "pause" : "play"));
    button.title = label;
    button.setAttribute("aria-label", label);
    button.setAttribute("aria-pressed", String(playing));
    box.classList.toggle("playing", playing);
  };
  button.addEventListener("click", () => {
    const playing = button.getAttribute("aria-pressed") !== "true";
    draw(playing);
    onToggle(playing);
  });
  box.append(button);
  return draw;
}

/** A GIF or WebP: the original (animated) as an <img>; the still while reduced motion is asked or paused. */
function gifImage(file, ctx, box, title) {
  const img = h("img", {alt: title, decoding: "async", draggable: "false"});
  img.addEventListener("load", () => box.classList.add("loaded"));
  box.append(img);
  const show = (playing) => {
    img.dataset.variant = playing || !file.variants?.small ? "original" : "small";
    ctx.urls.show(img, file.mediaId, img.dataset.variant);
  };
  const playing = !window.matchMedia(REDUCED).matches;
  toggleButton(box, title, show)(playing);
  show(playing);
}

/** An MP4: muted, looping, inline, no controls; it plays while visible and not paused; the still is its poster. */
function gifVideo(file, ctx, box, title) {
  const video = h("video", {muted: true, loop: true, playsInline: true, preload: "none", disablePictureInPicture: true,
    "aria-label": title});
  video.muted = true;   // the attribute alone does not mute a video made by script
  box.setAttribute("role", "group");
  box.setAttribute("aria-label", title);
  box.append(video);
  video.addEventListener("loadeddata", () => box.classList.add("loaded"));
  if (file.variants?.small) ctx.urls.url(file.mediaId, "small").then((url) => { video.poster = url; }, () => {});
  let wanted = !window.matchMedia(REDUCED).matches;   // the person's choice (the button), reduced motion first
  let visible = false;
  const apply = async () => {
    if (!(wanted && visible)) return video.pause();
    try {
      if (!video.src) video.src = await ctx.urls.url(file.mediaId, "original");
      if (wanted && visible) await video.play();
    } catch (exc) {
      if (exc?.name !== "AbortError") box.classList.add("broken");   // a pause that interrupted play() is no failure
    }
  };
  const draw = toggleButton(box, title, (playing) => {
    wanted = playing;
    apply();
  });
  draw(wanted);
  box.gifVisible = (on) => {
    visible = on;
    apply();
  };
  watch(box);
}
