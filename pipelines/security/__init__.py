"""Encryption at rest's key management (docs/security.md): the status of the data keys by master key, and
the rotation that re-wraps them under the current master key (keys)."""

# The repositories of infra/storage/ this capability uses (tests/pipelines/test_repositories.py holds
# every module of the package to them): a new one is a decision to make here, not a line to slip in.
REPOSITORIES = frozenset({"keys"})
