"""REST routes of analytics (contract v3): a conversation's and a group's figures over a period, as JSON
and the ``days`` table as CSV; and the rebuild of the roll-ups (system admins)."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, Response, g, jsonify, request

from app.auth import login_required
from infra.runtime import get_runtime
from pipelines.analytics import report, rollup
from schemas.payloads import parse_analytics_query

analytics_api = Blueprint("analytics", __name__, url_prefix="/api")


def _query():
    return parse_analytics_query(request.args, datetime.now(timezone.utc).date())


def _csv(data: dict, name: str, query) -> Response:
    response = Response(report.render_days_csv(data), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{report.csv_filename(name, query)}"'
    return response


@analytics_api.get("/conversations/<conv_id>/analytics")
@login_required
def conversation_analytics(conv_id: str):
    rt = get_runtime()
    return jsonify(report.conversation_report(rt.store, g.user, conv_id, _query(), rt.export_settings)[0])


@analytics_api.get("/conversations/<conv_id>/analytics.csv")
@login_required
def conversation_analytics_csv(conv_id: str):
    rt, query = get_runtime(), _query()
    return _csv(*report.conversation_report(rt.store, g.user, conv_id, query, rt.export_settings), query)


@analytics_api.get("/groups/<group_id>/analytics")
@login_required
def group_analytics(group_id: str):
    rt = get_runtime()
    return jsonify(report.group_report(rt.store, g.user, group_id, _query(), rt.export_settings)[0])


@analytics_api.get("/groups/<group_id>/analytics.csv")
@login_required
def group_analytics_csv(group_id: str):
    rt, query = get_runtime(), _query()
    return _csv(*report.group_report(rt.store, g.user, group_id, query, rt.export_settings), query)


@analytics_api.post("/analytics/rebuild")
@login_required
def rebuild():
    """System admins: every roll-up computed again from the messages, now (the request waits for it)."""
    report.check_may_rebuild(get_runtime().store, g.user)
    result = rollup.do_rebuild(get_runtime().store, datetime.now(timezone.utc))
    return jsonify({"conversations": result.conversations, "days": result.days, "messages": result.messages})
