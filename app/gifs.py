"""The GIF picker's routes (contract v3): search and trending through the server, and the preview proxy."""
from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from app.auth import login_required
from infra.runtime import get_runtime
from pipelines.gifs.preview import serve_preview
from pipelines.gifs.search import search_gifs
from schemas.payloads import check_preview_token, parse_gif_search, parse_gif_trending

gifs_api = Blueprint("gifs", __name__, url_prefix="/api/gifs")


@gifs_api.get("/search")
@login_required
def search():
    """``{provider, gifs: [{id, title, width, height, previewUrl}]}`` for a member of ``convId``."""
    rt = get_runtime()
    return jsonify(search_gifs(rt.store, rt.redis, rt.gifs, g.user, parse_gif_search(request.args)).public())


@gifs_api.get("/trending")
@login_required
def trending():
    rt = get_runtime()
    return jsonify(search_gifs(rt.store, rt.redis, rt.gifs, g.user, parse_gif_trending(request.args)).public())


@gifs_api.get("/preview/<token>")
@login_required
def preview(token: str):
    """A search's preview, fetched and cached by this server; its type read from its bytes."""
    rt = get_runtime()
    shown = serve_preview(rt.redis, rt.gifs, check_preview_token(token))
    response = Response(shown.data, status=200, content_type=shown.content_type)
    response.headers.update({"Cache-Control": f"private, max-age={shown.max_age}", "X-Content-Type-Options": "nosniff",
                             "Content-Security-Policy": "default-src 'none'", "Content-Disposition": "inline"})
    return response
