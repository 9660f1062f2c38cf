"""REST routes of uploads and media (contract v2): the bytes go straight to S3; this only signs and reads."""
from __future__ import annotations

import functools

from flask import Blueprint, g, jsonify, request

from app.api import body, limited, presigned
from app.gate import write_gate
from app.auth import login_required
from app.sockets import web_notifier
from infra.runtime import get_runtime
from pipelines.messages import lifecycle
from pipelines.media import gallery, uploads
from schemas.errors import ApiError, Code
from schemas.payloads import (AlbumAdd, AlbumCreate, CaptionUpdate, CommentCreate, PartUrls,
                              UploadCreate, parse_gallery_query, parse_id_page)
from workers.enqueue import enqueue_process

media_api = Blueprint("media", __name__, url_prefix="/api")


def _limits() -> uploads.Limits:
    return get_runtime().media_limits


def after_chat(view):
    """An upload's control requests (each an S3 call or a Celery send) are bulk work next to chat: each
    gives way to chat first (the runtime's executor: on the event loop it waits until no chat is ready to
    run), so twenty files starting (or resuming) at once do not queue every message behind them."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        get_runtime().executor.give_way()
        return view(*args, **kwargs)
    return wrapper


@media_api.post("/uploads")
@after_chat
@login_required
@limited("upload", UploadCreate)
def create_upload(payload: UploadCreate):
    rt = get_runtime()
    return jsonify(uploads.do_create_upload(rt.store, rt.blobs, _limits(), g.user, payload, write_gate())), 201


@media_api.post("/uploads/<upload_id>/part-urls")
@after_chat
@login_required
def part_urls(upload_id: str):
    rt = get_runtime()
    return jsonify(uploads.part_urls(rt.store, rt.blobs, _limits(), g.user, upload_id, body(PartUrls).parts))


@media_api.get("/uploads/<upload_id>")
@after_chat
@login_required
def upload_status(upload_id: str):
    rt = get_runtime()
    return jsonify(uploads.upload_status(rt.store, rt.blobs, g.user, upload_id))


@media_api.post("/uploads/<upload_id>/complete")
@after_chat
@login_required
def complete_upload(upload_id: str):
    """202 at once: the media worker completes the upload from S3's own list of parts, then processes it."""
    return jsonify(uploads.do_complete_upload(get_runtime().store, enqueue_process, g.user, upload_id)), 202


@media_api.delete("/uploads/<upload_id>")
@after_chat
@login_required
def cancel_upload(upload_id: str):
    rt = get_runtime()
    uploads.do_cancel_upload(rt.store, rt.blobs, g.user, upload_id)
    return "", 204


@media_api.get("/media/<media_id>")
@login_required
def get_media(media_id: str):
    return jsonify(gallery.get_media(get_runtime().store, g.user, media_id).public())


@media_api.get("/media/<media_id>/content")
@login_required
def media_content(media_id: str):
    """302 to a short-lived presigned URL, after the membership check."""
    unknown = set(request.args) - {"variant", "redirect"}
    if unknown:
        raise ApiError(Code.INVALID_PAYLOAD, f"unknown query parameter(s): {', '.join(sorted(unknown))}")
    variant = request.args.get("variant", "original")
    if variant not in ("original", "small", "large"):
        raise ApiError(Code.INVALID_PAYLOAD, f"variant must be original, small or large, got {variant!r}")
    rt = get_runtime()
    return presigned(gallery.content_url(rt.store, rt.blobs, _limits(), g.user, media_id, variant),
                     _limits().presign_seconds)


@media_api.get("/conversations/<conv_id>/media")
@login_required
def conversation_gallery(conv_id: str):
    file_type, page = parse_gallery_query(request.args)
    return jsonify(gallery.gallery(get_runtime().store, g.user, conv_id, file_type, page))


@media_api.get("/conversations/<conv_id>/albums")
@login_required
def list_albums(conv_id: str):
    return jsonify(gallery.list_albums(get_runtime().store, g.user, conv_id, parse_id_page(request.args)))


@media_api.post("/conversations/<conv_id>/albums")
@login_required
def create_album(conv_id: str):
    album = gallery.do_create_album(get_runtime().store, g.user, conv_id, body(AlbumCreate), write_gate())
    return jsonify(album.public()), 201


@media_api.post("/albums/<album_id>/media")
@login_required
def add_to_album(album_id: str):
    album = gallery.do_add_to_album(get_runtime().store, g.user, album_id, body(AlbumAdd).mediaId, write_gate())
    return jsonify(album.public())


@media_api.post("/media/<media_id>/likes")
@login_required
@limited("reaction")
def like(media_id: str):
    return jsonify(gallery.do_like(get_runtime().store, g.user, media_id, add=True))


@media_api.delete("/media/<media_id>/likes")
@login_required
@limited("reaction")
def unlike(media_id: str):
    return jsonify(gallery.do_like(get_runtime().store, g.user, media_id, add=False))


@media_api.post("/media/<media_id>/comments")
@login_required
def comment(media_id: str):
    comment = gallery.do_comment(get_runtime().store, g.user, media_id, body(CommentCreate).content, write_gate())
    return jsonify(comment), 201


@media_api.patch("/media/<media_id>")
@login_required
def caption(media_id: str):
    """The uploader sets the file's caption ({caption}; "" removes it), through the write gate."""
    updated = gallery.do_set_caption(get_runtime().store, g.user, media_id, body(CaptionUpdate).caption, write_gate())
    return jsonify(updated.public())


@media_api.delete("/media/<media_id>")
@login_required
def delete_media(media_id: str):
    """The uploader or a group moderator: 410 at once for every reader; the S3 objects go after the grace."""
    rt = get_runtime()
    lifecycle.do_delete_media(rt.store, web_notifier(), g.user, media_id, rt.rate_limits)
    return "", 204


@media_api.delete("/media/<media_id>/comments/<comment_id>")
@login_required
def delete_comment(media_id: str, comment_id: str):
    rt = get_runtime()
    lifecycle.do_delete_comment(rt.store, web_notifier(), g.user, media_id, comment_id, rt.rate_limits)
    return "", 204
