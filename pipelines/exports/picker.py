"""The exporters' picker (GET /api/exportable-conversations): the conversations a user may export, across
groups, newest first, searched by title and group name. Who may export what is requests.export_scope, the
rule the request itself is checked with, so the list offers exactly what a request would accept."""
from __future__ import annotations

from typing import Any

from infra.storage import Store
from pipelines.exports.files import ExportSettings
from pipelines.exports.requests import export_scope
from schemas.documents import User
from schemas.payloads import ExportableQuery

# Groups whose name matches a search: beyond this many, a longer search narrows them (bounded query).
NAMED_GROUPS_LIMIT = 200


def list_exportable(store: Store, user: User, settings: ExportSettings, query: ExportableQuery) -> dict[str, Any]:
    """``{conversations: [{id, groupId, groupName, title, lastSeq, kind}], hasMore}``; ``before`` is the
    last id received (a stable cursor: ids never change and new conversations come before the first page)."""
    scope = export_scope(store, user, settings)
    if not scope.everything and not scope.groups and not scope.conversations:
        return {"conversations": [], "hasMore": False}
    named = store.groups.group_ids_named(query.text, NAMED_GROUPS_LIMIT) if query.text else []
    convs, more = store.conversations.conversations_page(
        group_ids=None if scope.everything else sorted(scope.groups), conv_ids=sorted(scope.conversations),
        text=query.text, text_group_ids=named, before=query.before, limit=query.limit)
    groups = store.groups.groups_by_ids(c.groupId for c in convs)
    return {"conversations": [{"id": c.id, "groupId": c.groupId, "title": c.title, "lastSeq": c.lastSeq,
                               "kind": c.kind,
                               "groupName": groups[c.groupId].name if c.groupId in groups else None}
                              for c in convs], "hasMore": more}
