"""Files: resumable uploads and their quota (uploads), a stored file's processing steps (job, step_calls),
the work on its bytes (filetypes, images and the renditions table, strip, probe), what members do with
files (gallery), files attached to messages (attachments), and the clean-up (cleanup)."""

# The repositories of infra/storage/ this capability uses (tests/pipelines/test_repositories.py holds
# every module of the package to them): a new one is a decision to make here, not a line to slip in.
REPOSITORIES = frozenset({"conversations", "groups", "media", "messages"})
