"""REST bodies about users, groups and conversations."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.common import AvatarUrl, Name, Title, Username
from schemas.documents import Language
from schemas.payloads.base import Email, Payload


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
    """PATCH /api/groups/{id}/settings (group admins)."""
    keepOriginalMetadata: bool
