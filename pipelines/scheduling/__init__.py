"""Scheduled messages ("send later"): created, listed, edited, claimed when due and sent through the inbox
exactly once (scheduled). Reminders are stored notifications (pipelines.notifications)."""

# The repositories of infra/storage/ this capability uses (tests/pipelines/test_repositories.py holds
# every module of the package to them): a new one is a decision to make here, not a line to slip in.
REPOSITORIES = frozenset({"conversations", "messages", "scheduled", "users"})
