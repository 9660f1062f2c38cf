// The conversation's files: a grid of images and a list of the others, newest first, filtered by type;
// albums (cover, count, total size; filter by album, new album, add a file to one); one file's page with
// likes and comments. REST only (GET /api/conversations/{id}/media, albums, likes, comments).
import { $, displayName, h, replace } from "../shared/dom.js";
import { icon } from "../shared/icons.js";
import { errorText, formatDateTime, t } from "../shared/i18n.js";
import { GALLERY_TYPE_KEYS } from "../shared/texts.js";
import { formatSize, renderFiles, typeIcon, typeLabel } from "./media.js";
import { state } from "./state.js";

const LIMIT = 30;
const TYPES = [null, "image", "video", "audio", "document"];

export class GalleryPanel {
  /** view: the open conversation (its id); bus: "panel:opened" ("gallery"); another side panel opening
   * closes this one. */
  constructor({api, dialogs, toast, mediaUrls, lightbox, view, bus}) {
    Object.assign(this, {api, dialogs, toast, mediaUrls, lightbox, view, bus});
    bus.on("panel:opened", (name) => ["search", "scheduled"].includes(name) && this.isOpen && this.close());
    this.panel = $("#gallery");
    this.body = $("#gallery-body");
    this.toggle = $("#gallery-toggle");
    this.toggle.addEventListener("click", () => (this.panel.hidden ? this.open() : this.close()));
    $("#gallery-close").addEventListener("click", () => this.close());
    this.panel.addEventListener("keydown", (e) => e.key === "Escape" && !this.lightbox.dialog.open && this.close());
    this.body.addEventListener("click", (e) => this.onClick(e));
    this.body.addEventListener("submit", (e) => (e.target.dataset.form === "comment" ? this.comment(e) : this.addToAlbum(e)));
    this.generation = 0;
    this.players = new Map();
  }

  reset() {
    this.close();
    this.convId = null;
  }

  open() {
    this.bus.emit("panel:opened", "gallery");
    this.convId = this.view.convId;
    this.type = null;
    this.album = null;
    this.detail = null;
    this.panel.hidden = false;
    this.toggle.setAttribute("aria-pressed", "true");
    this.load();
    this.loadAlbums();
  }

  close() {
    this.generation += 1;
    this.panel.hidden = true;
    this.toggle.setAttribute("aria-pressed", "false");
    replace(this.body);
  }

  get isOpen() {
    return !this.panel.hidden;
  }

  async load(more = false) {
    const gen = ++this.generation;
    if (!more) {
      this.items = [];
      this.hasMore = false;
      this.failed = null;
      this.loading = true;
      this.render();
    }
    const query = new URLSearchParams({limit: LIMIT});
    if (this.type) query.set("type", this.type);
    if (more && this.items.length) query.set("before", this.items.at(-1).id);
    try {
      const page = await this.api.get(`/api/conversations/${this.convId}/media?${query}`);
      if (gen !== this.generation) return;
      const known = new Set(this.items.map((m) => m.id));
      this.items.push(...page.media.filter((m) => !known.has(m.id)));
      this.hasMore = page.hasMore;
    } catch (exc) {
      if (gen !== this.generation) return;
      this.failed = exc;
    }
    this.loading = false;
    this.render();
  }

  async loadAlbums() {
    const convId = this.convId;
    try {
      const {albums} = await this.api.get(`/api/conversations/${convId}/albums?limit=50`);
      if (convId !== this.convId || !this.isOpen) return;
      this.albums = albums;
    } catch {
      this.albums = [];
    }
    this.render();
  }

  /** media:updated: a file of this conversation changed (one of ours finished processing). */
  onMedia(media) {
    if (!this.isOpen || media.convId !== this.convId) return;
    if (media.isDeleted) return this.forget(media.id);
    const index = this.items.findIndex((m) => m.id === media.id);
    if (index >= 0) this.items[index] = media;
    else if (media.status === "ready" && (!this.type || this.type === media.fileType)) this.items.unshift(media);
    if (this.detail?.id === media.id) this.detail = media;
    this.render();
  }

  /** A deleted file leaves the grid (and its detail view, if open). */
  forget(mediaId) {
    if (!this.isOpen || !this.items.some((m) => m.id === mediaId)) return;
    this.items = this.items.filter((m) => m.id !== mediaId);
    if (this.detail?.id === mediaId) this.detail = null;
    this.render();
  }

  rerender() {
    if (this.isOpen) this.render();
  }

  // -- drawing ------------------------------------------------------------------------------------------
  render() {
    if (!this.isOpen) return;
    if (this.detail) return replace(this.body, this.renderDetail(this.detail));
    const shown = this.items.filter((m) => !m.isDeleted && (!this.album || m.albumId === this.album));
    const images = shown.filter((m) => m.fileType === "image");
    const others = shown.filter((m) => m.fileType !== "image");
    replace(this.body,
      h("div.gallery-filters", {role: "group", "aria-label": t("gallery.filter")}, TYPES.map((type) =>
        h("button.filter-chip", {type: "button", dataset: {action: "type", type: type || ""},
          "aria-pressed": String(this.type === type)}, t(GALLERY_TYPE_KEYS[type || "all"])))),
      this.renderAlbums(),
      this.loading ? h("div.gallery-status", h("span.spinner"))
        : this.failed ? h("p.gallery-status", errorText(this.failed.code))
        : !shown.length ? h("p.gallery-status", this.album ? t("gallery.albumEmpty") : t("gallery.empty")) : null,
      images.length ? h("ul.gallery-grid", images.map((m) => h("li", this.gridItem(m)))) : null,
      others.length ? h("ul.gallery-list", others.map((m) => h("li", this.listItem(m)))) : null,
      this.hasMore && !this.loading ? h("button.button.wide.gallery-more", {type: "button", dataset: {action: "more"}},
        t("gallery.more")) : null);
  }

  renderAlbums() {
    const albums = this.albums || [];
    return h("section.albums",
      h("div.albums-head", h("h4", t("gallery.albums")),
        h("button.link", {type: "button", dataset: {action: "new-album"}}, t("gallery.newAlbum"))),
      albums.length ? h("ul.album-list", albums.map((a) => h("li", h(`button.album-card${this.album === a.id ? ".active" : ""}`,
        {type: "button", dataset: {action: "album", albumId: a.id}, "aria-pressed": String(this.album === a.id)},
        this.cover(a),
        h("span.album-text", h("strong", a.name),
          h("span", `${t("gallery.files", {count: a.mediaCount || 0})} · ${formatSize(a.totalSize || 0)}`))))))
        : h("p.albums-empty", t("gallery.noAlbums")));
  }

  cover(album) {
    const box = h("span.album-cover", icon("album"));
    if (album.coverMediaId) {
      const img = h("img", {alt: ""});
      img.addEventListener("load", () => box.classList.add("loaded"), {once: true});
      box.append(img);
      this.mediaUrls.show(img, album.coverMediaId, "small");
    }
    return box;
  }

  gridItem(m) {
    const ready = m.status === "ready" && m.variants?.small;
    const box = h(`button.grid-thumb${ready ? "" : ".processing"}`, {type: "button", dataset: {action: "detail", mediaId: m.id},
      "aria-label": m.filename, title: m.filename});
    if (ready) {
      const img = h("img", {alt: m.filename, decoding: "async"});
      img.addEventListener("load", () => box.classList.add("loaded"), {once: true});
      box.append(img);
      this.mediaUrls.show(img, m.id, "small");
    } else {
      box.append(icon(m.status === "quarantined" ? "shield" : m.status === "failed" ? "alert" : "image"));
    }
    if (m.likeCount) box.append(h("span.grid-likes", icon("heart"), String(m.likeCount)));
    return box;
  }

  listItem(m) {
    const facts = [typeLabel(m), formatSize(m.fileSize),
      m.metadata?.duration ? `${Math.round(m.metadata.duration)} s` : null,
      m.metadata?.pages ? t("gallery.pages", {count: m.metadata.pages}) : null];
    return h("button.gallery-item", {type: "button", dataset: {action: "detail", mediaId: m.id}},
      h(`span.file-icon.${m.fileType}`, icon(typeIcon(m.fileType))),
      h("span.file-text", h("strong", m.filename), h("span", facts.filter(Boolean).join(" · "))),
      h("time", {datetime: m.createdAt}, formatDateTime(new Date(m.createdAt))));
  }

  renderDetail(m) {
    const liked = (m.likes || []).some((l) => l.userId === state.me.id);
    const summary = {mediaId: m.id, filename: m.filename, mimeType: m.mimeType, fileType: m.fileType,
      fileSize: m.fileSize, status: m.status, dimensions: m.metadata?.dimensions, duration: m.metadata?.duration,
      variants: m.variants, error: m.error};
    const albums = this.albums || [];
    return h("div.media-detail",
      h("button.link.detail-back", {type: "button", dataset: {action: "back"}}, icon("back"), t("gallery.back")),
      h("div.detail-preview", renderFiles([summary], {urls: this.mediaUrls, players: this.players})),
      h("h4.detail-name", m.filename),
      h("p.detail-facts", [displayName(m.uploaderInfo), formatDateTime(new Date(m.createdAt)), formatSize(m.fileSize),
        m.metadata?.dimensions ? `${m.metadata.dimensions.width} × ${m.metadata.dimensions.height}` : null]
        .filter(Boolean).join(" · ")),
      h("div.detail-actions",
        h(`button.button.like${liked ? ".liked" : ""}`, {type: "button", dataset: {action: "like"}, "aria-pressed": String(liked)},
          icon("heart"), h("span.like-count", String(m.likeCount ?? (m.likes || []).length)),
          h("span.sr-only", liked ? t("gallery.unlike") : t("gallery.like"))),
        m.status === "ready" ? h("button.button", {type: "button", dataset: {action: "download", mediaId: m.id}},
          icon("download"), t("gallery.download")) : null),
      albums.length ? h("form.album-add", {dataset: {form: "album"}},
        h("label.sr-only", {for: "album-pick"}, t("gallery.addToAlbum")),
        h("select", {id: "album-pick", name: "albumId"}, albums.map((a) => h("option", {value: a.id, selected: a.id === m.albumId}, a.name))),
        h("button.button", {type: "submit"}, t("gallery.addToAlbum"))) : null,
      h("section.comments",
        h("h4", t("gallery.comments", {count: (m.comments || []).length})),
        h("ul.comment-list", (m.comments || []).map((c) => h("li.comment",
          h("div.comment-head", h("strong", displayName(c.userInfo)), h("time", {datetime: c.at}, formatDateTime(new Date(c.at)))),
          h("p", c.content)))),
        h("form.comment-form", {dataset: {form: "comment"}},
          h("input", {name: "content", required: true, maxlength: "2000", autocomplete: "off",
            placeholder: t("gallery.commentPlaceholder"), "aria-label": t("gallery.commentPlaceholder")}),
          h("button.button.primary", {type: "submit"}, t("gallery.comment")))));
  }

  // -- actions --------------------------------------------------------------------------------------------
  async onClick(e) {
    const target = e.target.closest("[data-action]");
    if (!target) return;
    const action = target.dataset.action;
    if (action === "type") {
      this.type = target.dataset.type || null;
      return this.load();
    }
    if (action === "more") return this.load(true);
    if (action === "album") {
      this.album = this.album === target.dataset.albumId ? null : target.dataset.albumId;
      return this.render();
    }
    if (action === "new-album") return this.newAlbum();
    if (action === "detail") return this.showDetail(target.dataset.mediaId);
    if (action === "back") {
      this.detail = null;
      return this.render();
    }
    if (action === "lightbox") {
      const images = this.items.filter((m) => m.fileType === "image" && m.status === "ready" && m.variants?.small)
        .map((m) => ({mediaId: m.id, filename: m.filename, by: displayName(m.uploaderInfo), at: m.createdAt}));
      return this.lightbox.open(images, images.findIndex((i) => i.mediaId === target.dataset.mediaId));
    }
    if (action === "download") return this.mediaUrls.download(target.dataset.mediaId).catch((exc) => this.toast(errorText(exc.code)));
    if (action === "like") return this.like();
  }

  async showDetail(id) {
    const listed = this.items.find((m) => m.id === id);
    this.detail = listed;
    this.render();
    try {
      const fresh = await this.api.get(`/api/media/${id}`);
      if (this.detail?.id === id) this.setDetail(fresh);
    } catch (exc) {
      this.toast(errorText(exc.code));
    }
  }

  setDetail(media) {
    this.detail = media;
    const index = this.items.findIndex((m) => m.id === media.id);
    if (index >= 0) this.items[index] = media;
    this.render();
  }

  async like() {
    const m = this.detail;
    const liked = (m.likes || []).some((l) => l.userId === state.me.id);
    try {
      const path = `/api/media/${m.id}/likes`;
      this.setDetail(await (liked ? this.api.del(path) : this.api.post(path, {})));
    } catch (exc) {
      this.toast(errorText(exc.code));
    }
  }

  async comment(e) {
    e.preventDefault();
    const m = this.detail;
    const input = e.target.elements.content;
    const content = input.value.trim();
    if (!content) return;
    input.disabled = true;
    try {
      const comment = await this.api.post(`/api/media/${m.id}/comments`, {content});
      if (this.detail?.id === m.id) this.setDetail({...m, comments: [...(m.comments || []), comment]});
    } catch (exc) {
      input.disabled = false;
      this.toast(errorText(exc.code));
    }
  }

  async addToAlbum(e) {
    e.preventDefault();
    const m = this.detail;
    const albumId = e.target.elements.albumId.value;
    try {
      const album = await this.api.post(`/api/albums/${albumId}/media`, {mediaId: m.id});
      this.albums = (this.albums || []).map((a) => (a.id === album.id ? album : a));
      this.setDetail({...m, albumId});
      this.toast(t("gallery.added", {name: album.name}));
    } catch (exc) {
      this.toast(errorText(exc.code));
    }
  }

  async newAlbum() {
    const album = await this.dialogs.form({
      title: t("gallery.newAlbum"), submit: t("action.create"),
      fields: [{name: "name", label: t("gallery.albumName"), required: true},
        {name: "description", label: t("gallery.albumDescription")}],
      onSubmit: ({name, description}) => this.api.post(`/api/conversations/${this.convId}/albums`,
        {name: name.trim(), ...(description.trim() ? {description: description.trim()} : {})}),
    });
    if (!album) return;
    this.albums = [album, ...(this.albums || [])];
    this.render();
  }
}
