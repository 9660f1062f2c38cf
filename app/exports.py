"""REST routes of exports (contract v2): request, follow, download (a presigned URL, or for an encrypted
conversation's file a signed link to this server's ``/file`` route, which streams it decrypted), cancel;
and the conversations the caller may export (contract v3)."""
from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request, stream_with_context, url_for

from app.api import limited, presigned
from app.auth import authenticate, bearer_token, login_required, server_secret
from infra.blobs import content_disposition
from infra.runtime import get_runtime
from pipelines.exports import picker, requests
from schemas.common import utcnow
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
    """302 to a short-lived URL of the file (attachment): presigned on S3, or this server's ``/file`` route
    for an encrypted conversation's file; ?redirect=0 answers {url, expiresIn} instead."""
    rt = get_runtime()
    links = requests.FileLinks(server_secret(rt.settings), lambda export_id_, token: url_for(
        "exports.export_file", export_id=export_id_, token=token, _external=True))
    return presigned(requests.download_url(rt.store, rt.blobs, rt.export_settings, g.user, export_id, links),
                     requests.link_seconds(rt.export_settings))


@exports_api.get("/exports/<export_id>/file")
def export_file(export_id: str):
    """An encrypted export's file, decrypted as it streams, under the signed token of its download link
    (a navigation carries no bearer token; one that does must be the link's user)."""
    rt = get_runtime()
    caller = authenticate(bearer_token()) if bearer_token() else None
    export = requests.check_file_token(rt.store, rt.export_settings, server_secret(rt.settings), export_id,
                                       request.args.get("token"), caller, utcnow())
    file = requests.open_export_file(rt.store, rt.blobs, export)
    response = Response(stream_with_context(file.chunks), content_type=file.content_type)
    response.headers["Content-Disposition"] = content_disposition(file.filename, True)
    response.headers["Cache-Control"] = "private, no-store"
    if file.size is not None:
        response.headers["Content-Length"] = str(file.size)
    return response


@exports_api.delete("/exports/<export_id>")
@login_required
def cancel(export_id: str):
    rt = get_runtime()
    requests.do_cancel_export(rt.store, rt.blobs, g.user, export_id)
    return "", 204
