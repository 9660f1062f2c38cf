"""Conversation exports: the request and its checks (requests), the worker's job with its lease and
heartbeat (job), the walk through the messages (walk), the writers that turn records into JSON and CSV
(writers) and PDF (pdf, pdf_text), the file's key and type (files), and the clean-up (cleanup). The whole
design: docs/exports.md."""

# The repositories of infra/storage/ this capability uses (tests/pipelines/test_repositories.py holds
# every module of the package to them): a new one is a decision to make here, not a line to slip in.
REPOSITORIES = frozenset({"conversations", "exports", "groups", "media", "messages", "users"})
