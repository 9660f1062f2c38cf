"""Moderation of a group: its filter rules and settings (rules), their compilation (filters) and the filter
step of the message path (screening), mutes, bans and roles (sanctions), the moderation log (log), the
review queue (reviews), and who moderates what (moderators)."""

# The repositories of infra/storage/ this capability uses (tests/pipelines/test_repositories.py holds
# every module of the package to them): a new one is a decision to make here, not a line to slip in.
REPOSITORIES = frozenset({"audit", "conversations", "groups", "messages", "moderation", "users"})
