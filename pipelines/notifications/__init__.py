"""Notifications kept for a user: stored, emitted, delivered and read, with preferences and reminders
(stored), and the email digests of what an offline user missed (digests). Socket events are
pipelines.events'; scheduled messages are pipelines.scheduling's."""

# The repositories of infra/storage/ this capability uses (tests/pipelines/test_repositories.py holds
# every module of the package to them): a new one is a decision to make here, not a line to slip in.
REPOSITORIES = frozenset({"conversations", "digests", "messages", "notifications", "users"})
