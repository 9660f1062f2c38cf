"""Sealing what was stored before a conversation was encrypted (docs/security.md): when a conversation gets
its data key after it already had content (a group turning encryption on, ENCRYPT_ALL set on a running
deployment), a bounded walk on beat (with the repair job) seals its messages (text, edits, quotes, search
words turned into blind tokens) and archived messages, its scheduled messages, its review items and its
moderation log's reasons, and the texts other capabilities keep about it (``STORED_SEALERS``).

The conversations to walk are those whose data key has no ``sealedAt`` (the keys' sealedAt index); each
key keeps where its walk stands (``sealWalk``), so a run goes on where the last stopped. Until the walk has
passed, the old values stay readable: a repository opens a sealed value and takes a plain one as it is.
Every step is conditional and finds only what is still in clear: a second run changes nothing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from infra.storage import Store
from pipelines.gifs.library import do_seal_stored_library
from pipelines.media.sealing import do_seal_stored_media
from pipelines.notifications.sealing import do_seal_stored_notifications

log = logging.getLogger(__name__)

# A message received before the key was made but stored just after it may have been sealed or not (another
# process may still believe the conversation plain for the vault's few seconds of negative cache): the
# walk reads the messages created up to this long after the key, then stops.
CLOCK_SLACK = timedelta(minutes=5)
CONVERSATIONS_PER_RUN = 50
MESSAGES_PER_RUN = 5000

# The other capabilities' texts about a conversation, sealed the same way: ``(store, conv_id, limit) -> how
# many plain values were found`` (0: none is left), called until they answer 0: notifications' bodies, media
# captions and comments, and the GIF library's words (indexed again as blind tokens).
Sealer = Callable[[Store, str, int], int]
STORED_SEALERS: list[Sealer] = [do_seal_stored_notifications, do_seal_stored_media, do_seal_stored_library]


@dataclass
class SealResult:
    conversations: int = 0                  # conversations walked this run
    finished: list[str] = field(default_factory=list)   # whose walk ended this run
    sealed: dict[str, int] = field(default_factory=dict)  # what -> how many documents sealed or found

    def count(self, what: str, n: int) -> None:
        self.sealed[what] = self.sealed.get(what, 0) + n


def seal_stored(store: Store, *, now: datetime, conversations: int = CONVERSATIONS_PER_RUN,
                messages: int = MESSAGES_PER_RUN, batch: int = 500,
                sealers: list[Sealer] | None = None) -> SealResult:
    """One run of the walk: up to ``conversations`` conversations, ``messages`` messages read in all."""
    result = SealResult()
    budget = messages
    for key in store.keys.keys_to_seal(conversations):
        if budget <= 0:
            break
        result.conversations += 1
        budget -= _walk(store, key, result, budget, batch, STORED_SEALERS if sealers is None else sealers)
        if key["sealWalk"].get("done"):
            store.keys.mark_sealed(key["_id"], now)
            result.finished.append(key["scope"])
    if result.conversations:
        log.info("sealing walk: %s", {"conversations": result.conversations, "finished": len(result.finished),
                                      **result.sealed})
    return result


def _walk(store: Store, key: dict, result: SealResult, budget: int, batch: int, sealers: list[Sealer]) -> int:
    """The key's conversation, until ``budget`` documents are read; sets ``key["sealWalk"]["done"]`` once
    everything is. Returns how many documents were read."""
    conv_id = key["scope"]
    progress = key["sealWalk"] = dict(key.get("sealWalk") or {})
    created = key.get("createdAt")
    made = datetime.fromtimestamp(created, timezone.utc) if isinstance(created, (int, float)) else created
    until = (made or datetime.now(timezone.utc)) + CLOCK_SLACK
    # (what, step, whether a step's answer below ``batch`` means none is left, or only 0 does)
    steps = [("scheduled", store.scheduled.seal_stored, True), ("reviews", store.moderation.seal_stored, True),
             ("log", store.audit.seal_stored, True), *((s.__name__, _bound(store, s), False) for s in sealers)]
    read = 0
    for part in ("messages", "archive"):
        while not progress.get(f"{part}Done"):
            if read >= budget:
                return read
            sealed, next_seq = store.messages.seal_stored(conv_id, archive=part == "archive",
                                                          after_seq=progress.get(part, 0), created_before=until,
                                                          limit=batch)
            result.count(part, sealed)
            read += batch
            if next_seq is None:
                progress[f"{part}Done"] = True
            else:
                progress[part] = next_seq
            store.keys.set_seal_progress(key["_id"], progress)
    for what, step, counts_found in steps:
        while True:
            if read >= budget:
                return read
            found = step(conv_id, batch)
            result.count(what, found)
            read += found
            if found == 0 or (counts_found and found < batch):
                break
    progress["done"] = True
    store.keys.set_seal_progress(key["_id"], progress)
    return read


def _bound(store: Store, sealer: Sealer) -> Callable[[str, int], int]:
    return lambda conv_id, limit: sealer(store, conv_id, limit)
