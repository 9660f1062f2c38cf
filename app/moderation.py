"""REST routes of moderation (contract v2): rules, the review queue, reports, mutes, bans, the log."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from app.api import announce, body, limited
from app.auth import login_required
from app.sockets import move_user_sockets, web_notifier
from infra.runtime import get_runtime
from pipelines.moderation import moderators, rules, sanctions, screening
from pipelines.moderation.log import list_log
from pipelines.moderation import reviews
from schemas.payloads import (BanCreate, FilterCreate, FilterTest, FilterUpdate, ModerationSettingsUpdate, MuteCreate,
                              ReportCreate, ReviewDecision, RoleChange, parse_id_page, parse_review_query)
from workers.enqueue import enqueue_decision, enqueue_notify

moderation_api = Blueprint("moderation", __name__, url_prefix="/api")


def _move(user_id: str, room: str, enter: bool) -> None:
    move_user_sockets(user_id, room, enter=enter)


def _store():
    return get_runtime().store


@moderation_api.get("/moderation/groups")
@login_required
def moderated_groups():
    return jsonify(groups=moderators.moderated_groups(_store(), g.user))


# -- filter rules and settings -----------------------------------------------------------------------
@moderation_api.get("/groups/<group_id>/filters")
@login_required
def list_filters(group_id: str):
    return jsonify(rules.list_filters(_store(), g.user, group_id, parse_id_page(request.args, max_limit=200)))


@moderation_api.post("/groups/<group_id>/filters")
@login_required
def create_filter(group_id: str):
    rule = rules.do_create_filter(_store(), web_notifier(), g.user, group_id, body(FilterCreate))
    return jsonify(rule.public()), 201


@moderation_api.patch("/groups/<group_id>/filters/<filter_id>")
@login_required
def update_filter(group_id: str, filter_id: str):
    rule = rules.do_update_filter(_store(), web_notifier(), g.user, group_id, filter_id, body(FilterUpdate))
    return jsonify(rule.public())


@moderation_api.delete("/groups/<group_id>/filters/<filter_id>")
@login_required
def delete_filter(group_id: str, filter_id: str):
    rules.do_delete_filter(_store(), web_notifier(), g.user, group_id, filter_id)
    return "", 204


@moderation_api.post("/groups/<group_id>/filters/test")
@login_required
def test_filter(group_id: str):
    return jsonify(screening.do_test_filter(_store(), g.user, group_id, body(FilterTest)))


@moderation_api.get("/groups/<group_id>/moderation/settings")
@login_required
def get_settings(group_id: str):
    return jsonify(rules.get_moderation_settings(_store(), g.user, group_id))


@moderation_api.patch("/groups/<group_id>/moderation/settings")
@login_required
def update_settings(group_id: str):
    return jsonify(rules.do_update_moderation_settings(_store(), web_notifier(), g.user, group_id,
                                                            body(ModerationSettingsUpdate)))


# -- reports and the review queue --------------------------------------------------------------------
@moderation_api.post("/messages/<message_id>/reports")
@login_required
@limited("report", ReportCreate)
def report(message_id: str, payload: ReportCreate):
    item = reviews.do_report(_store(), web_notifier(), g.user, message_id, payload.reason)
    return jsonify(item.public()), 201


@moderation_api.get("/groups/<group_id>/reviews")
@login_required
def list_reviews(group_id: str):
    return jsonify(reviews.list_reviews(_store(), g.user, group_id, parse_review_query(request.args)))


@moderation_api.get("/reviews/<review_id>")
@login_required
def get_review(review_id: str):
    return jsonify(reviews.get_review(_store(), g.user, review_id).public())


@moderation_api.post("/reviews/<review_id>/decision")
@login_required
def decide(review_id: str):
    """The item after the decision at once; its effects (delivery, deletion, notices) follow from the
    moderation queue."""
    item = reviews.do_decide(_store(), enqueue_decision, g.user, review_id, body(ReviewDecision))
    return jsonify(item.public())


# -- mutes, bans, roles, the log -----------------------------------------------------------------------
@moderation_api.get("/groups/<group_id>/<any(mutes, bans):kind>")
@login_required
def list_sanctions(group_id: str, kind: str):
    """Mutes (the group's moderators) or bans (its admins) in force."""
    parse_id_page(request.args)
    return jsonify(sanctions.list_sanctions(_store(), g.user, group_id, kind))


@moderation_api.post("/groups/<group_id>/mutes")
@login_required
def mute(group_id: str):
    mute = sanctions.do_mute(_store(), web_notifier(), g.user, group_id, body(MuteCreate), tell=enqueue_notify)
    return jsonify(mute.public()), 201


@moderation_api.post("/groups/<group_id>/bans")
@login_required
def ban(group_id: str):
    sanction = sanctions.do_ban(_store(), web_notifier(), _move, announce(), g.user, group_id, body(BanCreate),
                                 tell=enqueue_notify)
    return jsonify(sanction.public()), 201


@moderation_api.delete("/groups/<group_id>/<any(mutes, bans):kind>/<user_id>")
@login_required
def lift(group_id: str, kind: str, user_id: str):
    sanctions.do_lift(_store(), web_notifier(), g.user, group_id, user_id, kind[:-1])
    return "", 204


@moderation_api.patch("/groups/<group_id>/members/<user_id>")
@login_required
def change_role(group_id: str, user_id: str):
    return jsonify(sanctions.do_change_role(_store(), web_notifier(), _move, g.user, group_id, user_id,
                                             body(RoleChange)))


@moderation_api.get("/groups/<group_id>/moderation/log")
@login_required
def moderation_log(group_id: str):
    return jsonify(list_log(_store(), g.user, group_id, parse_id_page(request.args)))
