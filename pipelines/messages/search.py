"""Search: in one conversation, and across every conversation the caller may read now (history's rule:
its members), grouped by conversation; the search words a message stores (``search_fields``, at each
store and edit) and their backfill for messages stored before them."""
from __future__ import annotations

from dataclasses import dataclass

from infra.storage import Page, Store, WordMatch
from pipelines.messages.words import SearchTerms, detect_language, message_words, parse_search
from pipelines.policy.access import check_conversation_member
from schemas.documents import Conversation, Message, User
from schemas.payloads import GlobalSearchQuery, SearchQuery

# Conversations an "everywhere" search reads: the caller's most recently active ones. One query takes them
# all (convId $in), so this bounds the index ranges it opens, not a number of round trips.
MAX_CONVERSATIONS = 500
BACKFILL_BATCH = 500


def search_fields(content: str, message_type: str, author: User | None) -> dict[str, object]:
    """``language`` and ``words`` for a message's stored content (masked already, if the filter masked it:
    what was masked is never findable). System messages are never searched: no words."""
    if message_type == "system":
        return {"language": "none", "words": []}
    language = detect_language(content, author.language if author else None)
    return {"language": language, "words": message_words(content, language)}


def _matches(terms: SearchTerms) -> list[WordMatch]:
    return [WordMatch(t.forms, t.prefix) for t in terms.required]


def search_conversation(store: Store, user: User, conv_id: str, query: SearchQuery) -> Page:
    """Members search the conversation, newest first by seq; deleted and system messages never match."""
    check_conversation_member(store, user, conv_id)
    terms = parse_search(query.text)
    if terms.empty:
        return Page([], has_more=False)
    return store.messages.search([conv_id], _matches(terms), list(terms.excluded), before_seq=query.before,
                                 limit=query.limit)


@dataclass(frozen=True)
class ConversationHits:
    conversation: Conversation
    messages: list[Message]


@dataclass(frozen=True)
class SearchResults:
    groups: list[ConversationHits]   # in the order of each conversation's newest match
    has_more: bool
    last_id: str | None              # the next page's ``before``

    def public(self) -> dict[str, object]:
        return {"results": [{"conversation": {"id": g.conversation.id, "groupId": g.conversation.groupId,
                                              "title": g.conversation.title},
                             "messages": [m.public() for m in g.messages]} for g in self.groups],
                "hasMore": self.has_more, "next": self.last_id if self.has_more else None}


def search_everywhere(store: Store, user: User, query: GlobalSearchQuery) -> SearchResults:
    """The newest ``limit`` matches in the conversations the caller is a member of now (a conversation left
    is no longer searched), grouped by conversation. Deleted and system messages never match; messages
    held for review were never stored, so they cannot."""
    terms = parse_search(query.text)
    mine = {conv.id: conv for conv, _ in store.conversations.conversations_of_user(user.id)[:MAX_CONVERSATIONS]}
    if terms.empty or not mine:
        return SearchResults([], has_more=False, last_id=None)
    page = store.messages.search(list(mine), _matches(terms), list(terms.excluded), before_id=query.before,
                                 across=True, limit=query.limit)
    groups: dict[str, list[Message]] = {}
    for message in page.messages:
        groups.setdefault(message.convId, []).append(message)
    return SearchResults([ConversationHits(mine[conv_id], hits) for conv_id, hits in groups.items()],
                         has_more=page.has_more, last_id=page.messages[-1].id if page.messages else None)


@dataclass(frozen=True)
class BackfillResult:
    read: int
    updated: int
    last_id: str | None   # where the next batch starts; None once the walk is done


def do_backfill_words(store: Store, after_id: str | None, batch: int = BACKFILL_BATCH) -> BackfillResult:
    """Give the search words to the next ``batch`` messages (by _id) stored without them: an older message
    is found by search only once it has them. Call again with ``last_id`` until it is None. Each batch
    is one range read of the _id index and one write per message that lacked the words."""
    docs = store.messages.messages_after(after_id, batch)
    authors: dict[str, User | None] = {}
    updated = 0
    for doc in docs:
        if "words" in doc:
            continue
        sender = doc.get("senderId")
        if sender not in authors:
            authors[sender] = store.users.get_user(sender) if sender else None
        fields = search_fields(doc.get("content") or "", doc.get("type", "text"), authors[sender])
        # (blind tokens in an encrypted conversation: the repository makes them)
        store.messages.set_search_words(doc["_id"], doc["convId"], fields["language"], fields["words"])
        updated += 1
    return BackfillResult(len(docs), updated, docs[-1]["_id"] if len(docs) == batch else None)
