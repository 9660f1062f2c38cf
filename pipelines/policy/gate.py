"""The write gate: the one place where every write that puts text (or files) in front of others is checked.

Checks, in this order (a refusal changes nothing, and the rate limit counts only what passed the checks
before it):
1. membership and ban: ``not_a_member`` (403), or ``banned`` with ``until`` for a banned user (a ban takes
   the user out of the group, so the ban is read only when the membership is missing);
2. mute, with its ``until`` (``muted``);
3. the per-user rate limit of the path (``rate_limited`` with ``retryAfter``; ``pipelines.rate_limits``);
4. the group's content filter, with the same compiled rules and Unicode folding as messages
   (``FilterCache.rules_for``, ``pipelines.content_filter``).

Messages (sends, replies, edits, scheduled messages at send time) pass 1-3 here, on the web side, and meet
the filter in the drain, with the very same rules: their text is scanned once, where it is stored
(``pipelines.messages.writer.InboxWriter.screen``). Every other text is screened here: ``block`` refuses with
``content_blocked``; ``hold`` refuses with ``content_held`` (a comment or a name waiting for a moderator would
be stored text nobody may see: the writer is told at once and may rephrase); ``mask`` stores the masked text;
``flag`` stores the text and opens a review item about it (``ReviewItem.target``).

``PATHS`` declares every write path: its rate-limit action, its scope (what membership and mute mean for
it), where its text meets the filter, what a flagged review item is about, and the routes and socket events
that take it. tests/pipelines/policy/test_gate.py runs every path through every check, and fails when a
writing route or event of app/ is neither in a path nor in ``EXEMPT``. docs/moderation.md has the matrix.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal, NoReturn

from infra.inbox import RateWindow
from infra.storage import Store
from pipelines.moderation.filters import RuleSet, Verdict
from pipelines.moderation.sanctions import active_mute_until
from pipelines.moderation.screening import FilterCache, hits_of
from pipelines.policy.access import log_denied
from pipelines.policy.rate_limits import Action, RateLimits
from schemas.common import iso, new_id, utcnow
from schemas.documents import ConversationMember, ReviewTarget, User
from schemas.errors import ApiError, Code
from schemas.tasks import ReviewRequest

# conversation: a member of the conversation, muted in its group; group: a member of the group (or a system
# admin), muted in it; groups: the user's own profile, seen in every group they belong to; new: a new group,
# which has no members, sanctions or rules yet.
Scope = Literal["conversation", "group", "groups", "new"]
# Where the text meets the group's rules: here (gate), in the drain (drain: messages), or nowhere (none:
# the write carries no text, or no group's rules can apply to it).
FilterAt = Literal["gate", "drain", "none"]
TargetType = Literal["comment", "album", "caption", "name", "title", "file", "reaction"]
# Where the per-user rate limit is counted: here, or by the route's or event's own declared limit in app/
# (uploads and reactions, whose limits are declared with the transport).
LimitAt = Literal["gate", "transport"]

# The checks of each scope (the test runs each path through each of its scope's checks).
CHECKS: dict[str, tuple[str, ...]] = {
    "conversation": ("not_a_member", "banned", "muted", "rate_limited"),
    "group": ("not_a_member", "banned", "muted", "rate_limited"),
    "groups": ("muted", "rate_limited"),
    "new": ("rate_limited",),
}


@dataclass(frozen=True)
class WritePath:
    name: str
    action: Action                  # its per-user rate limit (pipelines.rate_limits)
    scope: Scope
    filter_at: FilterAt
    target: TargetType | None       # what a flagged review item is about (filter_at "gate")
    routes: tuple[str, ...]         # "METHOD /api/rule" of app/, or a socket event's name
    limit_at: LimitAt = "gate"


PATHS: dict[str, WritePath] = {p.name: p for p in (
    WritePath("send", "send", "conversation", "drain", None,
              ("message:send", "POST /api/conversations/<conv_id>/messages")),  # a reply is a send with replyTo
    WritePath("edit", "edit", "conversation", "drain", None, ("message:edit",)),
    WritePath("scheduled", "scheduled", "conversation", "drain", None,
              ("POST /api/conversations/<conv_id>/scheduled-messages", "PATCH /api/scheduled-messages/<item_id>")),
    WritePath("comment", "comment", "conversation", "gate", "comment", ("POST /api/media/<media_id>/comments",)),
    WritePath("album", "text", "conversation", "gate", "album", ("POST /api/conversations/<conv_id>/albums",)),
    WritePath("album_media", "text", "conversation", "none", None, ("POST /api/albums/<album_id>/media",)),
    WritePath("caption", "text", "conversation", "gate", "caption", ("PATCH /api/media/<media_id>",)),
    WritePath("name", "text", "groups", "gate", "name", ("PATCH /api/me",)),
    WritePath("title", "text", "group", "gate", "title", ("POST /api/groups/<group_id>/conversations",)),
    WritePath("group", "text", "new", "none", None, ("POST /api/groups",)),
    WritePath("upload", "upload", "conversation", "gate", "file", ("POST /api/uploads",), "transport"),
    WritePath("reaction", "reaction", "conversation", "gate", "reaction", ("reaction:add",), "transport"),
)}

# The POST, PUT and PATCH routes and the socket events of app/ that are not write paths, and why (the test
# holds app/ to this). DELETE routes remove: they never put new content in front of anyone.
EXEMPT: dict[str, str] = {
    "POST /api/dev/token": "creates the account (dev login only): its names are in no group yet",
    "POST /api/groups/<group_id>/members": "membership: no text of the writer's (group admins)",
    "POST /api/conversations/<conv_id>/members": "membership: no text (the system message is the server's)",
    "POST /api/direct-conversations": "membership: no text of the writer's (pipelines.people.direct checks the shared group and bans)",
    "message:delete": "removes content; the author's or a moderator's right (pipelines.messages.submit_change)",
    "reaction:remove": "takes a reaction back",
    "message:read": "the reader's own read mark",
    "notification:delivered": "the user's own notifications",
    "conv:subscribe": "reads", "conv:unsubscribe": "reads", "typing:start": "not stored",
    "typing:stop": "not stored", "connect": "session", "disconnect": "session",
    "POST /api/uploads/<upload_id>/part-urls": "signs part uploads",
    "POST /api/uploads/<upload_id>/complete": "finishes an upload (its file reaches others through a send)",
    "POST /api/media/<media_id>/likes": "no text",
    "PATCH /api/groups/<group_id>/settings": "group admins' settings (media metadata, encryption, GIF rating): no text",
    "POST /api/conversations/<conv_id>/exports": "the requester's own file",
    "POST /api/notifications/read": "the user's own notifications",
    "PATCH /api/me/notification-settings": "the user's own settings",
    "POST /api/messages/<message_id>/reminders": "a reminder only the caller sees",
    "PUT /api/groups/<group_id>/retention": "group admins' retention settings",
    "POST /api/messages/<message_id>/reports": "a report's reason is read by the group's moderators only",
    "POST /api/reviews/<review_id>/decision": "moderators' decisions (pipelines.moderation.reviews)",
    "POST /api/groups/<group_id>/filters": "moderators' rules",
    "PATCH /api/groups/<group_id>/filters/<filter_id>": "moderators' rules",
    "POST /api/groups/<group_id>/filters/test": "moderators try a text; nothing stored",
    "PATCH /api/groups/<group_id>/moderation/settings": "moderators' settings",
    "POST /api/groups/<group_id>/mutes": "moderators' sanctions (their reason goes to the sanctioned user)",
    "POST /api/groups/<group_id>/bans": "group admins' sanctions",
    "PATCH /api/groups/<group_id>/members/<user_id>": "role changes (group admins)",
    "POST /api/analytics/rebuild": "system admins recompute the analytics' counts: no text",
}

OpenReviews = Callable[[list[ReviewRequest]], None]   # the moderation queue (workers.moderation.enqueue_reviews)


@dataclass
class Admitted:
    """What the gate let through: who, on which path, in which groups (one for a conversation or a group;
    every group of the user for their profile)."""
    user: User
    path: WritePath
    group_ids: list[str]
    conv_id: str | None = None
    member: ConversationMember | None = None


@dataclass
class Screened:
    """A write's texts after the filter (masked where a rule masks), and the review items that its flags
    and masks ask for, opened by ``Gate.opened`` once the write is stored."""
    texts: dict[str, str]
    reviews: list[ReviewRequest] = field(default_factory=list)


@dataclass
class Gate:
    """The gate's I/O: the store, the shared rate limits, this process's compiled rules, the moderation queue."""
    store: Store
    limits: RateLimits | None = None
    filters: FilterCache | None = None
    open_reviews: OpenReviews | None = None

    # -- 1 and 2: membership, ban, mute ------------------------------------------------------------------
    def conversation(self, user: User, conv_id: str, path: str, context: dict | None = None) -> Admitted:
        """A member of the conversation, not muted in its group (the mute is copied on the membership)."""
        conv = self.store.conversations.get_conversation(conv_id)
        if conv is None:
            raise ApiError(Code.NOT_FOUND, f"no conversation {conv_id}")
        member = self.store.conversations.get_conversation_member(conv_id, user.id)
        if member is None:
            self._outsider(user, conv.groupId, "conversation", conv_id, context)
        _check_mute(member.mutedUntil)
        return Admitted(user, PATHS[path], [conv.groupId], conv_id, member)

    def group(self, user: User, group_id: str, path: str) -> Admitted:
        """A member of the group (or a system admin), not muted in it."""
        if self.store.groups.get_group(group_id) is None:
            raise ApiError(Code.NOT_FOUND, f"no group {group_id}")
        if self.store.groups.get_group_member(group_id, user.id) is None and user.role != "ADMIN":
            self._outsider(user, group_id, "group", group_id)
        _check_mute(active_mute_until(self.store, group_id, user.id))
        return Admitted(user, PATHS[path], [group_id])

    def groups(self, user: User, path: str) -> Admitted:
        """The user's own profile, seen in every group of theirs: refused while they are muted in any."""
        group_ids = self.store.groups.group_ids_of_user(user.id)
        for group_id in group_ids:
            _check_mute(active_mute_until(self.store, group_id, user.id))
        return Admitted(user, PATHS[path], group_ids)

    def new(self, user: User, path: str) -> Admitted:
        """A new group: nobody and nothing in it yet, only the rate limit applies."""
        return Admitted(user, PATHS[path], [])

    def _outsider(self, user: User, group_id: str, resource: str, resource_id: str,
                  context: dict | None = None) -> None:
        ban = self.store.moderation.get_sanction("bans", group_id, user.id)
        banned = ban is not None and (ban.until is None or ban.until > utcnow())
        log_denied(self.store, user, resource, resource_id, "banned" if banned else "not a member", context)
        if banned:
            until = f"until {iso(ban.until)}" if ban.until else "until a group admin lifts the ban"
            raise ApiError(Code.BANNED, f"you are banned from this group {until}", {"until": iso(ban.until)})
        raise ApiError(Code.NOT_A_MEMBER, f"you are not a member of this {resource}")

    # -- 3: the rate limit -------------------------------------------------------------------------------
    def count(self, admitted: Admitted) -> None:
        if self.limits is not None and admitted.path.limit_at == "gate":
            self.limits.check(admitted.user.id, admitted.path.action)

    def count_with(self, admitted: Admitted) -> RateWindow | None:
        """Step 3 left to the caller's write when it can take it in the same round trip: the rate window to
        hit there (see ``refuse``), or None after counting here as ``count`` does."""
        window = None
        if self.limits is not None and admitted.path.limit_at == "gate":
            window = self.limits.window(admitted.user.id, admitted.path.action)
        if window is None:
            self.count(admitted)
        return window

    def refuse(self, admitted: Admitted) -> NoReturn:
        """The write that took ``count_with``'s window found it full: ``rate_limited``, with when to retry."""
        self.limits.refuse(admitted.user.id, admitted.path.action)

    # -- 4: the content filter ---------------------------------------------------------------------------
    def screen(self, admitted: Admitted, texts: dict[str, str], target_id: str) -> Screened:
        """Run each text (a field: ``{"name": ..., "description": ...}``) through the rules of each group of
        the write; refuse ``block`` and ``hold``, mask ``mask``, and prepare the review of ``flag`` (and of
        ``mask`` if the group reviews masks; the original text is kept in the review item only)."""
        screened = Screened(dict(texts))
        for group_id in admitted.group_ids:
            rules = self.filters.rules_for(group_id) if self.filters is not None else None
            if rules is None:
                continue
            for name, text in screened.texts.items():
                verdict = _scan(rules, text)
                if verdict is None:
                    continue
                _refuse(verdict, name)
                screened.texts[name] = verdict.masked
                if verdict.review:
                    screened.reviews.append(self._review(admitted, group_id, name, texts[name], verdict, target_id))
        return screened

    def check_blocked(self, admitted: Admitted, text: str) -> None:
        """A message written now but sent later (scheduled): ``block`` refuses it at once; the other
        actions are the drain's, at send time, as for any send."""
        for group_id in admitted.group_ids:
            rules = self.filters.rules_for(group_id) if self.filters is not None else None
            verdict = _scan(rules, text) if rules is not None else None
            if verdict is not None and verdict.action == "block":
                _refuse(verdict, "content")

    def opened(self, screened: Screened) -> None:
        """After the write is stored: queue the review items its flags and masks asked for."""
        if screened.reviews and self.open_reviews is not None:
            self.open_reviews(screened.reviews)

    def _review(self, admitted: Admitted, group_id: str, field_name: str, original: str, verdict: Verdict,
                target_id: str) -> ReviewRequest:
        target = ReviewTarget(type=admitted.path.target, id=target_id, field=field_name)
        return ReviewRequest(kind="text", groupId=group_id, convId=admitted.conv_id or "", senderId=admitted.user.id,
                             clientId=f"{target.type}:{target_id}:{field_name}:{new_id()}", content=original,
                             receivedAt=utcnow(), hits=hits_of(verdict), target=target)

    # -- the whole gate, for the paths that need nothing between the checks ---------------------------------
    def admit(self, user: User, path: str, *, conv_id: str | None = None, group_id: str | None = None,
              context: dict | None = None) -> Admitted:
        """Checks 1-3 for ``path``, in the scope it declares."""
        scope = PATHS[path].scope
        if scope == "conversation":
            admitted = self.conversation(user, conv_id, path, context)
        elif scope == "group":
            admitted = self.group(user, group_id, path)
        elif scope == "groups":
            admitted = self.groups(user, path)
        else:
            admitted = self.new(user, path)
        self.count(admitted)
        return admitted


def _check_mute(until) -> None:
    if until is not None and until > utcnow():
        raise ApiError(Code.MUTED, f"you are muted in this group until {iso(until)}", {"until": iso(until)})


def _scan(rules: RuleSet, text: str) -> Verdict | None:
    verdict = rules.scan(text) if text else None
    return verdict if verdict is not None and verdict.action else None


def _refuse(verdict: Verdict, field_name: str) -> None:
    if verdict.action not in ("block", "hold"):
        return
    hit = next(h for h in verdict.hits if h.action == verdict.action)
    details = {"field": field_name, "match": hit.match, "filterId": hit.rule_id}
    if verdict.action == "block":
        raise ApiError(Code.CONTENT_BLOCKED, f"“{hit.match}” is not allowed in this group", details)
    raise ApiError(Code.CONTENT_HELD, f"“{hit.match}” needs a moderator's approval in this group: "
                                      "this text was not saved", details)
