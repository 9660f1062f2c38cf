"""REST routes of exports (contract v2): request, follow, download (a presigned URL), cancel; and the
conversations the caller may export (contract v3)."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from app.api import limited, presigned
from app.auth import login_required
from infra.runtime import get_runtime
from pipelines.exports import picker, requests
from schemas.payloads import ExportCreate, parse_exportable_query, parse_id_page
from workers.enqueue import enqueue_run

exports_api = Blueprint("exports", __name__, url_prefix="/api")


@exports_api.post("/conversations/<conv_id>/exports")
@login_required
@limited("export", ExportCreate)
def request_export(conv_id: str, payload: ExportCreate):
    """202 at once: the exports worker makes the file; export:progress/ready/failed follow."""
    job = requests.do_request_export(get_runtime().store, enqueue_run, get_runtime().export_settings, g.user, conv_id,
                                     payload)
    return jsonify({"id": job.id, "convId": job.convId, "format": job.format, "status": job.status}), 202


@exports_api.get("/exportable-conversations")
@login_required
def exportable_conversations():
    """The picker of /exports: what the caller may export, across groups, searched with ?q=, paged with ?before=."""
    rt = get_runtime()
    return jsonify(picker.list_exportable(rt.store, g.user, rt.export_settings, parse_exportable_query(request.args)))


@exports_api.get("/exports")
@login_required
def list_exports():
    return jsonify(requests.list_exports(get_runtime().store, g.user, parse_id_page(request.args)))


@exports_api.get("/exports/<export_id>")
@login_required
def get_export(export_id: str):
    return jsonify(requests.get_export(get_runtime().store, g.user, export_id))


@exports_api.get("/exports/<export_id>/download")
@login_required
def download(export_id: str):
    """302 to a short-lived presigned URL (attachment); ?redirect=0 answers {url, expiresIn} instead."""
    rt = get_runtime()
    return presigned(requests.download_url(rt.store, rt.blobs, rt.export_settings, g.user, export_id),
                     min(rt.settings.s3_presign_seconds, 300))


@exports_api.delete("/exports/<export_id>")
@login_required
def cancel(export_id: str):
    rt = get_runtime()
    requests.do_cancel_export(rt.store, rt.blobs, g.user, export_id)
    return "", 204
