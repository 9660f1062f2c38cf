"""Socket events and REST bodies about messages, and the history and search queries."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

import regex
from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from schemas.common import ClientId, Id
from schemas.errors import ApiError, Code
from schemas.payloads.base import Payload, check_content, check_params, content_limit, is_id, limit_param, seq_param

MAX_ATTACHMENTS = 10


class ConvRef(Payload):
    """conv:subscribe, conv:unsubscribe, typing:start, typing:stop."""
    convId: Id


class ReadUpTo(Payload):
    """message:read: the reader has read up to and including ``seq``."""
    convId: Id
    seq: int = Field(ge=1, le=2**62)


EMOJI_MAX_CHARS = 16  # the longest emoji (a kiss with two skin tones) is 10 code points
# One emoji, whole: a single grapheme cluster that is a keycap (#️⃣), a flag (two regional indicators), or a
# pictograph with what may follow it (variation selector, skin tone, ZWJ sequence, the tags of a subdivision flag). Emoji
# added after this Unicode version stay accepted: Extended_Pictographic covers the blocks' unassigned points.
_ONE_EMOJI = regex.compile(
    r"(?=\X\Z)(?:[#*0-9]\uFE0F?\u20E3|\p{Regional_Indicator}{2}"
    r"|\p{Extended_Pictographic}[\p{Extended_Pictographic}\p{Emoji_Modifier}\u200D\uFE0E\uFE0F\U000E0020-\U000E007F]*)\Z")
# A variation selector after a character that is shown as an emoji anyway changes nothing: without it, "👍"
# and "👍\uFE0F" (as some keyboards and emoji sets write it) are one reaction, not two.
_REDUNDANT_SELECTOR = regex.compile(r"(?<=\p{Emoji_Presentation})\uFE0F")


def check_emoji(value: str) -> str:
    """The emoji, without redundant variation selectors, or ``invalid_emoji``: letters, ":+1:", two emoji at once or
    a lone skin tone are refused."""
    if not (0 < len(value) <= EMOJI_MAX_CHARS and _ONE_EMOJI.match(value)):
        raise PydanticCustomError(Code.INVALID_EMOJI.value, "emoji must be one emoji, such as 👍 or 🇫🇷, got '{value}'",
                                  {"value": value[:EMOJI_MAX_CHARS]})
    return _REDUNDANT_SELECTOR.sub("", value)


Emoji = Annotated[str, AfterValidator(check_emoji)]
# What a reaction stored before the one-emoji check may hold (1-16 characters, no white space or ASCII): its
# author can still take it back. Redundant variation selectors go, as when it is added.
StoredEmoji = Annotated[str, StringConstraints(min_length=1, max_length=EMOJI_MAX_CHARS, pattern=r"^[^\s\x00-\x7f]+$"),
                        AfterValidator(lambda v: _REDUNDANT_SELECTOR.sub("", v))]


class ReactionChange(Payload):
    """reaction:add: one emoji."""
    messageId: Id
    emoji: Emoji


class ReactionRemove(Payload):
    """reaction:remove: any reaction the user may have, including one stored before the one-emoji check."""
    messageId: Id
    emoji: StoredEmoji


GifId = Annotated[str, StringConstraints(pattern=r"^(giphy|tenor|library):[A-Za-z0-9_.-]{1,128}$")]


class GifChoice(Payload):
    """``message:send {gif: {id}}``: a GIF from one of this user's own searches (contract v3)."""
    id: GifId


class MessageSend(Payload):
    """message:send and POST /api/conversations/{convId}/messages. With ``attachments`` (the sender's own
    media of that conversation) the content may be empty, and the server sets the type from the files."""
    convId: Id
    clientId: ClientId
    content: str | None = None
    type: Literal["text", "image", "file", "system", "media"] = "text"
    replyTo: Id | None = None
    attachments: list[Id] | None = Field(None, max_length=MAX_ATTACHMENTS)
    gif: GifChoice | None = None   # the GIF, copied into S3 by the media worker, is the message's file

    @field_validator("type")
    @classmethod
    def _only_text(cls, value: str) -> str:
        # System messages are written by the server; a media message's type follows its attachments.
        if value != "text":
            raise PydanticCustomError(Code.UNSUPPORTED_TYPE.value,
                                      "a message is sent as 'text'; with attachments the server sets its type")
        return value

    @model_validator(mode="after")
    def _content(self, info: ValidationInfo) -> "MessageSend":
        limit = content_limit(info)
        if self.gif is not None and self.attachments:
            raise PydanticCustomError(Code.INVALID_PAYLOAD.value, "send a GIF or attachments, not both")
        if self.attachments or self.gif is not None:
            self.attachments = list(dict.fromkeys(self.attachments)) if self.attachments else None
            if self.content is not None and self.content.strip():
                check_content(self.content, limit)
            else:
                self.content = ""
        else:
            self.content = check_content(self.content, limit)
        return self


class MessageEdit(Payload):
    """message:edit: the author replaces the content."""
    messageId: Id
    content: str | None = Field(None, validate_default=True)

    @field_validator("content")
    @classmethod
    def _content(cls, value: str | None, info: ValidationInfo) -> str | None:
        return check_content(value, content_limit(info))


class MessageDelete(Payload):
    """message:delete: the author, or a moderator or admin of the group, deletes (softly)."""
    messageId: Id


class RestMessageSend(MessageSend):
    """The REST body: the conversation comes from the path."""
    convId: Id | None = None  # type: ignore[assignment]


HISTORY_VIEWS = ("member", "moderation")


def parse_history_query(args: Mapping[str, str], max_limit: int, default_limit: int) -> HistoryWindow:
    """GET /api/conversations/{convId}/messages?before=&after=&limit=&view= -> a window, or a specific error."""
    check_params(args, {"before", "after", "limit", "view"})
    before, after = seq_param(args, "before"), seq_param(args, "after")
    if before is not None and after is not None:
        raise ApiError(Code.INVALID_CURSOR, "give either before or after, not both")
    view = args.get("view") or "member"
    if view not in HISTORY_VIEWS:
        raise ApiError(Code.INVALID_PAYLOAD, f"view must be one of {', '.join(HISTORY_VIEWS)}, got {view!r}")
    return HistoryWindow(before=before, after=after, limit=limit_param(args, max_limit, default_limit), view=view)


@dataclass(frozen=True)
class HistoryWindow:
    before: int | None
    after: int | None
    limit: int
    view: str = "member"  # "moderation": deleted messages with their content (moderators only)


SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT = 20, 50
SEARCH_MAX_QUERY_CHARS = 200


SEARCH_MAX_QUERY_WORDS = 10


def _search_text(args: Mapping[str, str]) -> str:
    """q, trimmed; one trailing space is kept when there was one: it says the last word is complete (no
    prefix match on it)."""
    raw = (args.get("q") or "").lstrip()
    text = raw.rstrip()
    if not text:
        raise ApiError(Code.INVALID_QUERY, "q (the words to search for) is required and must not be blank")
    if len(text) > SEARCH_MAX_QUERY_CHARS:
        raise ApiError(Code.INVALID_QUERY, f"q is {len(text)} characters; the limit is {SEARCH_MAX_QUERY_CHARS}",
                       {"length": len(text), "limit": SEARCH_MAX_QUERY_CHARS})
    words = len(text.replace('"', " ").split())
    if words > SEARCH_MAX_QUERY_WORDS:
        raise ApiError(Code.INVALID_QUERY, f"q has {words} words; the limit is {SEARCH_MAX_QUERY_WORDS}",
                       {"words": words, "limit": SEARCH_MAX_QUERY_WORDS})
    return text + " " if raw != text else text


def parse_search_query(args: Mapping[str, str]) -> SearchQuery:
    """GET /api/conversations/{convId}/search?q=&before=&limit= -> a query, or a specific error."""
    check_params(args, {"q", "before", "limit"})
    return SearchQuery(text=_search_text(args), before=seq_param(args, "before"),
                       limit=limit_param(args, SEARCH_MAX_LIMIT, SEARCH_DEFAULT_LIMIT))


def parse_global_search_query(args: Mapping[str, str]) -> GlobalSearchQuery:
    """GET /api/search?q=&before=&limit= -> a query, or a specific error."""
    check_params(args, {"q", "before", "limit"})
    before = args.get("before") or None
    if before is not None and not is_id(before):
        raise ApiError(Code.INVALID_CURSOR, "before must be the id of the last message received (24 hex digits)")
    return GlobalSearchQuery(text=_search_text(args), before=before,
                             limit=limit_param(args, SEARCH_MAX_LIMIT, SEARCH_DEFAULT_LIMIT))


@dataclass(frozen=True)
class SearchQuery:
    text: str            # words as typed (pipelines.messages.words.parse_search): all must match; -word, "exact"
    before: int | None   # only messages with seq < before (the next page: the last seq received)
    limit: int


@dataclass(frozen=True)
class GlobalSearchQuery:
    text: str
    before: str | None   # only messages stored before this one (the next page: the last id received)
    limit: int
