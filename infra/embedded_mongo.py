"""The embedded store under the name the speed anchor imports.

``../shared/tools/bare_chat.py`` (the anchor of bench/ and docs/performance.md, not ours to change) runs
``from infra.embedded_mongo import embedded_client`` so that it pays the same storage cost as the project.
Without this name it falls back to plain mongomock, whose unique-index check scans the collection per
insert, and the side-by-side figures stop comparing like with like. tests/infra/test_anchor_store.py holds
the name."""
from infra.embedded.mongo import embedded_client

__all__ = ["embedded_client"]
