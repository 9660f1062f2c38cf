"""One lease, written once: claim, renew, finish and release of a job kept in a document.

A worker claims a job with one conditional update that records its owner token and the lease's end and
counts the attempt; the filter the caller gives says which states may be taken, including a lease that
ran out (the take-over of a dead worker's job). Only the owner renews, finishes or releases: each is a
conditional update on the owner token, so a worker whose lease ran out and was taken over changes nothing.

The four jobs keep the fields they always stored (``schemas.documents`` pins them): notifications,
digests and scheduled messages keep ``claimToken`` and ``claimedUntil``; an export keeps one
subdocument ``lease: {owner, until}``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import ReturnDocument
from pymongo.collection import Collection


@dataclass(frozen=True)
class Lease:
    """Where a collection's documents keep their lease."""

    collection: Collection
    token: str = "claimToken"
    until: str = "claimedUntil"
    within: str | None = None  # the subdocument holding both (an export's ``lease``), set and cleared whole
    attempts: str = "attempts"

    def _path(self, field: str) -> str:
        return f"{self.within}.{field}" if self.within else field

    def held(self, token: str | None, until) -> dict[str, Any]:
        """The fields that record a lease held by ``token`` until ``until``."""
        if self.within:
            return {self.within: {self.token: token, self.until: until}}
        return {self.token: token, self.until: until}

    def ended(self) -> dict[str, Any]:
        """The fields that clear the lease's end (a finished or released job holds nothing)."""
        return {self.within: None} if self.within else {self.until: None}

    def ran_out(self, now) -> dict[str, Any]:
        """Filter: a lease whose end passed before ``now`` (its holder is taken to be dead)."""
        return {self._path(self.until): {"$lt": now}}

    def free(self, now) -> dict[str, Any]:
        """Filter: no lease, or one that ran out."""
        return {"$or": [{self.within or self.until: None}, self.ran_out(now)]}

    def owned(self, query: dict[str, Any], token: str | None) -> dict[str, Any]:
        """Filter: ``query``, and the lease is ``token``'s (None: a job nobody claimed)."""
        return {**query, self._path(self.token): token}

    def _claim_update(self, token: str | None, until, changes: dict[str, Any] | None) -> dict[str, Any]:
        return {"$set": {**(changes or {}), **self.held(token, until)}, "$inc": {self.attempts: 1}}

    def claim(self, query: dict[str, Any], token: str | None, until, *, changes: dict[str, Any] | None = None,
              sort: list | None = None) -> dict[str, Any] | None:
        """Take the first document matching ``query`` for ``token`` until ``until``, one attempt more, in
        one conditional update; the document as claimed, or None when none could be taken."""
        return self.collection.find_one_and_update(query, self._claim_update(token, until, changes), sort=sort,
                                                   return_document=ReturnDocument.AFTER)

    def claim_as_read(self, query: dict[str, Any], token: str | None, until, *,
                      changes: dict[str, Any] | None = None) -> bool:
        """``claim`` without reading the document back (the caller builds it from what it read)."""
        return self.collection.update_one(query, self._claim_update(token, until, changes)).modified_count == 1

    def renew(self, query: dict[str, Any], token: str, until, changes: dict[str, Any] | None = None) -> bool:
        """Extend the owner's lease (with ``changes``); False when the job is no longer ``token``'s."""
        return self.collection.update_one(self.owned(query, token),
                                          {"$set": {self._path(self.until): until, **(changes or {})}}
                                          ).matched_count == 1

    def finish(self, query: dict[str, Any], token: str | None, changes: dict[str, Any]) -> bool:
        """The owner's last word; False when the job is no longer ``token``'s."""
        return self.collection.update_one(self.owned(query, token), {"$set": changes}).modified_count == 1

    def finish_and_read(self, query: dict[str, Any], token: str | None,
                        changes: dict[str, Any]) -> dict[str, Any] | None:
        """``finish`` that returns the document as finished (None: not ``token``'s)."""
        return self.collection.find_one_and_update(self.owned(query, token), {"$set": changes},
                                                   return_document=ReturnDocument.AFTER)

    def release(self, query: dict[str, Any], token: str, changes: dict[str, Any]) -> bool:
        """Give the job back (to be claimed again), the lease ended; False when it is not ``token``'s."""
        return self.finish(query, token, {**changes, **self.ended()})

    def drop(self, query: dict[str, Any], token: str) -> bool:
        """Delete the job, by its owner only."""
        return self.collection.delete_one(self.owned(query, token)).deleted_count == 1
