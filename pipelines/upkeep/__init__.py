"""Upkeep on beat: repair of what drifted (repair), each group's retention (retention), the sweeper that
ends every record stuck in a non-final state (sweeper), and the sealing of what was stored before a
conversation was encrypted (sealing)."""

# The repositories of infra/storage/ this capability uses (tests/pipelines/test_repositories.py holds
# every module of the package to them): a new one is a decision to make here, not a line to slip in.
REPOSITORIES = frozenset({"audit", "conversations", "digests", "exports", "keys", "media", "messages",
                          "moderation", "notifications", "scheduled", "upkeep"})
