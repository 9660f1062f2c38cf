"""Search across the caller's conversations (contract v3: GET /api/search)."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from app.auth import login_required
from infra.runtime import get_runtime
from pipelines.messages.search import search_everywhere
from schemas.payloads import parse_global_search_query

search_api = Blueprint("search", __name__, url_prefix="/api")


@search_api.get("/search")
@login_required
def search():
    """Newest first, grouped by conversation; the next page: before = ``next`` (the last message's id)."""
    results = search_everywhere(get_runtime().store, g.user, parse_global_search_query(request.args))
    return jsonify(results.public())
