"""REST routes of the v1 contract: thin wrappers that validate, call a pipeline and answer JSON."""
from __future__ import annotations

import logging
from functools import partial, wraps
from typing import TypeVar

from flask import Blueprint, g, jsonify, redirect, request
from pydantic import BaseModel

from app.auth import issue_token, login_required
from app.gate import gif_sending, write_gate
from app.http import validated
from app.sockets import move_user_sockets, web_notifier
from infra.runtime import get_runtime
from pipelines.people import direct, directory, group_settings
from pipelines.messages.history import read_history, search_messages
from pipelines.messages.submit import submit_message, submit_system
from pipelines.people import presence
from pipelines.people import profiles
from pipelines.policy.access import MODERATING_ROLES
from pipelines.policy.rate_limits import Action
from schemas import events
from schemas.documents import Message
from schemas.errors import ApiError, Code
from schemas.payloads import (ConversationCreate, ConversationMemberAdd, DevTokenRequest, DirectConversationCreate,
                              GroupCreate, GroupMemberAdd, GroupSettingsUpdate, ProfileUpdate, RestMessageSend,
                              parse_history_query, parse_member_query, parse_search_query)
from schemas.common import new_id
from schemas.tasks import NotificationRequest
from workers.enqueue import enqueue_drain, enqueue_notify, enqueue_profile_sync

log = logging.getLogger(__name__)
api = Blueprint("api", __name__, url_prefix="/api")
M = TypeVar("M", bound=BaseModel)


def body(model: type[M]) -> M:
    """The request's JSON body as ``model``, with the limits that come from settings (MAX_MESSAGE_CHARS)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(Code.INVALID_PAYLOAD, "the body must be a JSON object")
    return validated(model, data)


def limited(action: Action, model: type[M] | None = None):
    """A REST route that counts against the caller's per-user ``action`` limit (``RateLimits``, shared by
    every web process): under ``login_required``, it validates the body (``model``, passed to the view as
    ``payload``), then counts, then runs the view; past the limit ``429 rate_limited`` with ``Retry-After``."""
    def wrap(view):
        @wraps(view)
        def limited_view(*args, **kwargs):
            if model is not None:
                kwargs["payload"] = body(model)
            get_runtime().rate_limits.check(g.user.id, action)
            return view(*args, **kwargs)
        return limited_view
    return wrap


def presigned(url: str, expires_in: int):
    """A download: ``302`` to the presigned URL, or ``{url, expiresIn}`` with ``?redirect=0`` (for ``<img>``,
    ``<audio>`` and pages that cannot follow a redirect with the token); never cached."""
    if request.args.get("redirect") == "0":
        response = jsonify(url=url, expiresIn=expires_in)
    else:
        response = redirect(url, code=302)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def announce():
    """Queue a system message in a conversation (pipelines.directory.Announce). The membership change
    it records is already stored: if Redis is away the note is skipped (and logged), not the change,
    so a client never retries a change that was made."""
    submit = partial(submit_system, get_runtime().inbox, enqueue_drain)

    def post(conv_id: str, actor, action: str, data: dict) -> None:
        try:
            submit(conv_id, actor, action, data)
        except Exception:  # noqa: BLE001
            log.exception("could not queue the %s system message of conversation %s", action, conv_id)
    return post


def notify_added(user_id: str, kind: str, target_id: str, name: str, conv_id: str | None = None) -> None:
    """An ``added`` notification for who was added (notifications queue); the addition is stored already,
    so if Redis is away this is skipped and logged, never the addition."""
    try:
        enqueue_notify(NotificationRequest(
            userId=user_id, type="added", key=f"added:{kind}:{target_id}:{user_id}:{new_id()}", convId=conv_id,
            title=f"{g.user.username} added you to {name}", data={f"{kind}Id": target_id, "by": g.user.id,
                                                                   "byName": g.user.username}))
    except Exception:  # noqa: BLE001
        log.exception("could not queue the added notification of %s", user_id)


def context() -> dict:
    return {"ip": request.remote_addr, "userAgent": request.user_agent.string, "platform": "api"}


@api.post("/dev/token")
def dev_token():
    rt = get_runtime()
    if not rt.settings.dev_login_enabled:
        raise ApiError(Code.DEV_LOGIN_DISABLED, "dev login is disabled on this server (DEV_LOGIN=0)")
    user = directory.do_dev_login(rt.store, body(DevTokenRequest), rt.settings.admins)
    return jsonify(token=issue_token(user), user=user.for_self())


@api.get("/me")
@login_required
def me():
    return jsonify(g.user.for_self())  # with the user's own email (public() leaves it out)


@api.patch("/me")
@login_required
def update_me():
    """The new user at once; their messages' senderInfo is updated by a worker (user:updated when done)."""
    user = profiles.do_update_profile(get_runtime().store, enqueue_profile_sync, g.user, body(ProfileUpdate),
                                      write_gate())
    return jsonify(user.for_self())


@api.post("/groups")
@login_required
def create_group():
    return jsonify(directory.do_create_group(get_runtime().store, g.user, body(GroupCreate), write_gate())), 201


@api.post("/groups/<group_id>/members")
@login_required
def add_group_member(group_id: str):
    rt = get_runtime()
    added = directory.do_add_group_member(rt.store, web_notifier(), g.user, group_id, body(GroupMemberAdd))
    move_user_sockets(added["user"]["id"], events.group_room(group_id), enter=True)
    group = rt.store.groups.get_group(group_id)
    notify_added(added["user"]["id"], "group", group_id, group.name if group else "a group")
    if added["role"] in MODERATING_ROLES:
        move_user_sockets(added["user"]["id"], events.mod_room(group_id), enter=True)
    return jsonify(added), 201


@api.get("/groups/<group_id>/presence")
@login_required
def group_presence(group_id: str):
    rt = get_runtime()
    return jsonify(presence.group_presence(rt.store, rt.presence, g.user, group_id))


@api.get("/groups/<group_id>/members")
@login_required
def group_members(group_id: str):
    """?q=&after=&limit=: one page of the members whose names match (the picker of the moderation page)."""
    return jsonify(directory.list_group_members(get_runtime().store, g.user, group_id,
                                                parse_member_query(request.args)))


# --- a group's settings (group admins): media metadata, encryption at rest, GIF rating ---
@api.get("/groups/<group_id>/settings")
@login_required
def get_group_settings(group_id: str):
    return jsonify(group_settings.get_group_settings(get_runtime().store, g.user, group_id))


@api.patch("/groups/<group_id>/settings")
@login_required
def update_group_settings(group_id: str):
    """Any non-empty subset of {keepOriginalMetadata, encryption, gifRating}; each change in the moderation log."""
    return jsonify(group_settings.do_update_group_settings(get_runtime().store, web_notifier(), g.user, group_id,
                                                           body(GroupSettingsUpdate)))


@api.post("/groups/<group_id>/conversations")
@login_required
def create_conversation(group_id: str):
    rt = get_runtime()
    return jsonify(directory.do_create_conversation(rt.store, web_notifier(), announce(), g.user, group_id,
                                                    body(ConversationCreate), write_gate())), 201


@api.get("/conversations")
@login_required
def conversations():
    return jsonify(conversations=directory.list_conversations(get_runtime().store, g.user))


@api.post("/direct-conversations")
@login_required
@limited("text", DirectConversationCreate)
def start_direct_conversation(payload: DirectConversationCreate):
    """The pair's direct conversation: 201 when this request made it, 200 with the same one afterwards."""
    made = direct.do_start_direct(get_runtime().store, web_notifier(), g.user, payload)
    for user_id in made.joined:
        move_user_sockets(user_id, events.conv_room(made.conversation["id"]), enter=True)
    return jsonify(made.conversation), 201 if made.created else 200


@api.post("/conversations/<conv_id>/members")
@login_required
def add_conversation_member(conv_id: str):
    rt = get_runtime()
    added = directory.do_add_conversation_member(rt.store, web_notifier(), announce(), g.user, conv_id,
                                                 body(ConversationMemberAdd).username)
    conv = rt.store.conversations.get_conversation(conv_id)
    notify_added(added["user"]["id"], "conversation", conv_id, conv.title if conv else "a conversation", conv_id)
    return jsonify(added), 201


@api.delete("/conversations/<conv_id>/members/<user_id>")
@login_required
def remove_conversation_member(conv_id: str, user_id: str):
    """Leave (your own id) or remove a member (the conversation's creator or a group admin)."""
    rt = get_runtime()
    gone = directory.do_remove_conversation_member(rt.store, web_notifier(), announce(), g.user, conv_id, user_id)
    move_user_sockets(gone.id, events.conv_room(conv_id), enter=False)
    return "", 204


@api.get("/conversations/<conv_id>/members")
@login_required
def conversation_members(conv_id: str):
    return jsonify(directory.list_conversation_members(get_runtime().store, g.user, conv_id))


@api.get("/conversations/<conv_id>/messages")
@login_required
def history(conv_id: str):
    rt = get_runtime()
    window = parse_history_query(request.args, rt.settings.history_max_limit, rt.settings.history_default_limit)
    page = read_history(rt.store, g.user, conv_id, window)
    render = Message.for_moderators if window.view == "moderation" else Message.public
    return jsonify(messages=[render(m) for m in page.messages], hasMore=page.has_more)


@api.get("/conversations/<conv_id>/search")
@login_required
def search(conv_id: str):
    """Newest first; the next page: before = the seq of the last message received."""
    page = search_messages(get_runtime().store, g.user, conv_id, parse_search_query(request.args))
    return jsonify(messages=[m.public() for m in page.messages], hasMore=page.has_more)


@api.post("/conversations/<conv_id>/messages")
@login_required
def send(conv_id: str):
    """The same path as the socket's message:send (seed 000): validate, queue, answer 202."""
    rt = get_runtime()
    payload = body(RestMessageSend)
    if payload.convId not in (None, conv_id):
        raise ApiError(Code.INVALID_PAYLOAD, "convId in the body differs from the path")
    payload.convId = conv_id
    submit_message(rt.store, rt.inbox, enqueue_drain, g.user, payload, context(),
                   rt.settings.inbox_max_backlog, write_gate(), gif_sending())
    return jsonify(clientId=payload.clientId, status="queued"), 202
