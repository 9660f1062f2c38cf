"""Reading a conversation: its history (members, or the moderation view for its moderators) and search."""
from __future__ import annotations

from infra.storage import Page, Store
from pipelines.messages.search import search_conversation
from pipelines.policy.access import check_conversation_member, check_moderator
from schemas.documents import User
from schemas.payloads import HistoryWindow, SearchQuery


def read_history(store: Store, user: User, conv_id: str, window: HistoryWindow) -> Page:
    """Members read the conversation; the moderation view (deleted content shown by the caller) is for
    the group's moderators and admins, and system admins."""
    if window.view == "moderation":
        check_moderator(store, user, conv_id)
    else:
        check_conversation_member(store, user, conv_id)
    return store.messages.history(conv_id, before=window.before, after=window.after, limit=window.limit)


def search_messages(store: Store, user: User, conv_id: str, query: SearchQuery) -> Page:
    """Members search the conversation, newest first; deleted and system messages never match (the
    matching itself: pipelines.messages.search)."""
    return search_conversation(store, user, conv_id, query)
