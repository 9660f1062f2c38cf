"""Who may do what, checked the same way on every path: ownership, membership and authority between
ranks (access), the one gate every write passes (gate), and the per-user rates (rate_limits)."""

# The repositories of infra/storage/ this capability uses (tests/pipelines/test_repositories.py holds
# every module of the package to them): a new one is a decision to make here, not a line to slip in.
REPOSITORIES = frozenset({"audit", "conversations", "groups", "moderation", "users"})
