"""Analytics for admins: the daily roll-ups per conversation, made incrementally on beat and rebuilt
exactly from the messages when asked (rollup), and the figures of a period for a conversation or a group,
as JSON and CSV, read from the roll-ups only (report). The whole design: docs/analytics.md."""

# The repositories of infra/storage/ this capability uses (tests/pipelines/test_repositories.py holds
# every module of the package to them): a new one is a decision to make here, not a line to slip in.
REPOSITORIES = frozenset({"analytics", "conversations", "groups", "users"})
