"""REST bodies about users, groups and conversations."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping

from pydantic import Field, StrictBool, model_validator
from pydantic_core import PydanticCustomError

from schemas.common import AvatarUrl, Name, Title, Username
from schemas.documents import Language
from schemas.errors import ApiError, Code
from schemas.payloads.base import Email, Payload, check_params, is_id, limit_param


class DevTokenRequest(Payload):
    username: Username
    fname: Name = ""
    lname: Name = ""
    avatarUrl: AvatarUrl | None = None
    email: Email | None = None    # notifications: where digests go (set on first login only)


class GroupCreate(Payload):
    name: Title


class GroupMemberAdd(Payload):
    username: Username
    role: Literal["GROUP_ADMIN", "MODERATOR", "MEMBER"] = "MEMBER"


class ConversationCreate(Payload):
    title: Title
    members: list[Username] = Field(default_factory=list, max_length=500)


class ConversationMemberAdd(Payload):
    username: Username


class DirectConversationCreate(Payload):
    """POST /api/direct-conversations: the other person of the pair."""
    username: Username


class ProfileUpdate(Payload):
    """PATCH /api/me: the fields given change; the others stay. ``avatarUrl: null`` removes the avatar.

    The username is not among them (an unknown field, refused): mentions are parsed by username, so
    renaming would silently change who an old ``@name`` in stored messages refers to, and free the old
    name for someone else to take.
    """
    fname: Name = ""
    lname: Name = ""
    avatarUrl: AvatarUrl | None = None
    email: Email | None = None    # null removes it; shown to nobody else
    language: Language = "en"     # the language of the user's emails


class GroupSettingsUpdate(Payload):
    """PATCH /api/groups/{id}/settings (group admins): the fields given change, at least one, none null;
    strict types (true or false, not "yes" or 1)."""
    keepOriginalMetadata: StrictBool | None = None
    encryption: StrictBool | None = None
    gifRating: Literal["g", "pg", "pg-13", "r"] | None = None

    @model_validator(mode="after")
    def _given(self) -> "GroupSettingsUpdate":
        if not self.model_fields_set:
            raise PydanticCustomError(Code.INVALID_PAYLOAD.value,
                                      "give at least one of keepOriginalMetadata, encryption, gifRating")
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise PydanticCustomError(Code.INVALID_PAYLOAD.value, "{fields} cannot be null", {"fields": ", ".join(nulls)})
        return self

    def changes(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.model_fields_set}


MEMBER_QUERY_MAX_CHARS = 64
MEMBER_PAGE_MAX = 100


@dataclass(frozen=True)
class MemberQuery:
    """A page of a group's members by user id (``after`` = the ``next`` of the previous page), those whose
    username, first or last name starts with ``q`` (case and accents ignored); ``q`` empty: all of them."""
    q: str
    after: str | None
    limit: int


def parse_member_query(args: Mapping[str, str]) -> MemberQuery | None:
    """?q=&after=&limit= ; None when none is given (the whole list in joining order, as before)."""
    if not args:
        return None
    check_params(args, {"q", "after", "limit"})
    q = (args.get("q") or "").strip()
    if len(q) > MEMBER_QUERY_MAX_CHARS:
        raise ApiError(Code.INVALID_PAYLOAD, f"q is at most {MEMBER_QUERY_MAX_CHARS} characters")
    after = args.get("after") or None
    if after is not None and not is_id(after):
        raise ApiError(Code.INVALID_CURSOR, f"after must be a user id (24 hex characters), got {after!r}")
    return MemberQuery(q=q, after=after, limit=limit_param(args, MEMBER_PAGE_MAX, 20))
