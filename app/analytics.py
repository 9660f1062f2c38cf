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


# /api/groups/{groupId}/analytics and /api/conversations/{convId}/analytics: the same report of either.
REPORTS = {"groups": report.group_report, "conversations": report.conversation_report}
OF = "/<any(groups, conversations):kind>/<item_id>"


@analytics_api.get(f"{OF}/analytics")
@login_required
def analytics(kind: str, item_id: str):
    rt = get_runtime()
    return jsonify(REPORTS[kind](rt.store, g.user, item_id, _query(), rt.export_settings)[0])


@analytics_api.get(f"{OF}/analytics.csv")
@login_required
def analytics_csv(kind: str, item_id: str):
    """The ``days`` table, as a file."""
    rt, query = get_runtime(), _query()
    data, name = REPORTS[kind](rt.store, g.user, item_id, query, rt.export_settings)
    response = Response(report.render_days_csv(data), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{report.csv_filename(name, query)}"'
    return response


@analytics_api.post("/analytics/rebuild")
@login_required
def rebuild():
    """System admins: every roll-up computed again from the messages, now (the request waits for it; in the
    embedded default the chat goes first at each pause)."""
    rt = get_runtime()
    report.check_may_rebuild(rt.store, g.user)
    result = rollup.do_rebuild(rt.store, datetime.now(timezone.utc), pause=rt.executor.give_way)
    return jsonify({"conversations": result.conversations, "days": result.days, "messages": result.messages})
