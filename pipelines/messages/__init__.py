"""Messages: sends, edits and deletions accepted into a conversation's inbox (submit), the drain that
stores them in order exactly once (drain: the loop; writer: a batch), reading and search (history),
reactions, read receipts, and deletion reaching every reader (lifecycle)."""

# The repositories of infra/storage/ this capability uses (tests/pipelines/test_repositories.py holds
# every module of the package to them): a new one is a decision to make here, not a line to slip in.
REPOSITORIES = frozenset({"conversations", "media", "messages", "notifications", "users"})
