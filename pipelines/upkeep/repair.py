"""The repair job on beat (seeds 000 and 002): what drifted put right, expired notifications removed.

It is bounded per run, idempotent (a second run finds nothing to fix), logs what it did and
returns it as a small result, which beat's task result and the log show. What it found and fixed is
counted by kind of inconsistency (``chat_repair_found``, ``chat_repair_fixed``: last_seq,
members_outside_group, stranded_inbox, search_words); a kind found and not fixed is a fix that failed or
that another writer made first. Expired notifications are not counted: their removal is housekeeping (the
TTL index's work, done here too), not an inconsistency.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Callable

from infra.metrics import REPAIR_FIXED, REPAIR_FOUND
from infra.storage import Store
from infra.storage.upkeep import UpkeepRepo
from pipelines.messages.search import do_backfill_words
from pipelines.upkeep.sealing import seal_stored

log = logging.getLogger(__name__)

KINDS = ("last_seq", "members_outside_group", "stranded_inbox", "search_words")


@dataclass
class RepairResult:
    last_seq_fixed: dict[str, tuple[int, int]] = field(default_factory=dict)   # convId -> (was, now)
    members_removed: list[tuple[str, str]] = field(default_factory=list)      # (convId, userId) not in the group
    drains_scheduled: list[str] = field(default_factory=list)                 # inboxes with entries, no drain
    expired_notifications: int = 0
    conversations_checked: int = 0
    search_words_given: int = 0    # older messages stored before search kept words, given them now
    conversations_sealed: int = 0  # conversations whose texts stored before they were encrypted are now sealed

    def summary(self) -> dict:
        return {k: (len(v) if isinstance(v, (dict, list)) else v) for k, v in asdict(self).items()}


def repair(store: Store, *, stranded_inboxes: Callable[[], list[str]], enqueue_drain: Callable[[str], None],
           now: datetime, batch: int = 500, max_conversations: int = 100_000) -> RepairResult:
    """Find and fix inconsistencies:
    - a conversation whose ``lastSeq`` is behind its newest stored message (a drain that died between
      storing and recording it): moved forward, so unread counts and catch-up see the message;
    - members of a conversation who are no longer members of its group (a removal cut short): removed;
    - inboxes holding entries with no drain scheduled or running (a lost task): a drain is enqueued;
    - messages stored without their search words (before search kept them): given them, ``batch`` × 10 a
      run, resuming where the last run stopped, until the walk is done;
    - texts stored in clear before their conversation was encrypted: sealed, a bounded part a run
      (pipelines.upkeep.sealing).
    """
    result = RepairResult()
    found, fixed = _children()
    after = None
    while result.conversations_checked < max_conversations:
        convs = store.upkeep.conversations_page(after, batch)
        if not convs:
            break
        for conv in convs:
            result.conversations_checked += 1
            newest = store.messages.newest_message(conv.id)
            if newest is not None and newest.seq > conv.lastSeq:
                found["last_seq"].inc()
                if store.upkeep.repair_last_seq(conv.id, newest.seq, newest.createdAt):
                    result.last_seq_fixed[conv.id] = (conv.lastSeq, newest.seq)
                    fixed["last_seq"].inc()
            for member in store.upkeep.members_outside_group(conv, 1000):
                found["members_outside_group"].inc()
                if store.conversations.remove_conversation_member(conv.id, member.userId):
                    result.members_removed.append((conv.id, member.userId))
                    fixed["members_outside_group"].inc()
        after = convs[-1].id
    for conv_id in stranded_inboxes():
        found["stranded_inbox"].inc()
        enqueue_drain(conv_id)
        result.drains_scheduled.append(conv_id)
        fixed["stranded_inbox"].inc()
    result.expired_notifications = store.notifications.delete_expired_notifications(now, 10_000)
    result.search_words_given = backfill_search_words(store, batch=batch, batches=10)
    # (the walk finds and fixes in one write per message lacking its words)
    found["search_words"].inc(result.search_words_given)
    fixed["search_words"].inc(result.search_words_given)
    result.conversations_sealed = len(seal_stored(store, now=now).finished)
    for conv_id, (was, fixed) in result.last_seq_fixed.items():
        log.warning("repair: conversation %s lastSeq %d -> %d", conv_id, was, fixed)
    for conv_id, user_id in result.members_removed:
        log.warning("repair: removed %s from conversation %s (no longer in its group)", user_id, conv_id)
    for conv_id in result.drains_scheduled:
        log.warning("repair: inbox of %s had entries and no drain: drain enqueued", conv_id)
    log.info("repair: %s", result.summary())
    return result


def _children():
    return ({k: REPAIR_FOUND.labels(k) for k in KINDS}, {k: REPAIR_FIXED.labels(k) for k in KINDS})


def backfill_search_words(store: Store, *, batch: int, batches: int) -> int:
    """Up to ``batches`` batches of the walk that gives older messages their search words; the cursor is
    kept between runs, so each run goes on where the last one stopped and the walk is made once."""
    after = store.upkeep.walk_cursor("search-words")
    given = 0
    for _ in range(batches):
        if after == UpkeepRepo.DONE:
            break
        done = do_backfill_words(store, after, batch)
        given += done.updated
        after = done.last_id or UpkeepRepo.DONE
        store.upkeep.set_walk_cursor("search-words", after)
    return given
